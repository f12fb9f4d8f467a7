package confine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOpenFile(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "data")
	outside := filepath.Join(base, "elsewhere")
	require.NoError(t, os.MkdirAll(filepath.Join(root, "real"), 0o755))
	require.NoError(t, os.MkdirAll(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "victim"), []byte("keep\n"), 0o644))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "link")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "victim"), filepath.Join(root, "filelink.jsonl")))
	require.NoError(t, os.Symlink("real", filepath.Join(root, "inlink")))
	require.NoError(t, os.Symlink(root, filepath.Join(base, "rootlink")))
	d := New(root)

	tests := []struct {
		name, path string
		ok         bool
		lands      string // where the file must appear, when ok
	}{
		{"plain", filepath.Join(root, "tickets.jsonl"), true, filepath.Join(root, "tickets.jsonl")},
		{"new directories under the root", filepath.Join(root, "a", "b", "c.jsonl"), true, filepath.Join(root, "a", "b", "c.jsonl")},
		{"dot-dot out", filepath.Join(root, "..", "x.jsonl"), false, ""},
		{"dot-dot out after a directory", root + "/by-sender/../../../../tmp/x.jsonl", false, ""},
		{"dot-dot that stays inside", root + "/a/../inside.jsonl", true, filepath.Join(root, "inside.jsonl")},
		{"percent-encoded dot-dot is a plain name", root + "/%2e%2e/%2e%2e/x.jsonl", true, filepath.Join(root, "%2e%2e", "%2e%2e", "x.jsonl")},
		{"absolute path elsewhere", filepath.Join(outside, "x.jsonl"), false, ""},
		{"the root itself", root, false, ""},
		{"a prefix of the root is not the root", root + "-evil/x.jsonl", false, ""},
		{"symlinked directory pointing outside", filepath.Join(root, "link", "x.jsonl"), false, ""},
		{"new directory under a symlink pointing outside", filepath.Join(root, "link", "new", "x.jsonl"), false, ""},
		{"symlinked file pointing outside", filepath.Join(root, "filelink.jsonl"), false, ""},
		{"symlinked directory inside", filepath.Join(root, "inlink", "x.jsonl"), true, filepath.Join(root, "real", "x.jsonl")},
		{"through a link to the root from outside it", filepath.Join(base, "rootlink", "y.jsonl"), false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := d.OpenFile(tt.path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
			if !tt.ok {
				require.Error(t, err)
				assert.ErrorIs(t, err, ErrOutside)
				return
			}
			require.NoError(t, err)
			_, err = f.WriteString("x\n")
			require.NoError(t, err)
			require.NoError(t, f.Close())
			assert.FileExists(t, tt.lands)
		})
	}
	viaLink := New(filepath.Join(base, "rootlink"))
	for _, p := range []string{filepath.Join(base, "rootlink", "z1.jsonl"), filepath.Join(root, "z2.jsonl")} {
		f, err := viaLink.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644)
		require.NoError(t, err, "an allowed directory that is itself a link: %s", p)
		require.NoError(t, f.Close())
	}
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing was created outside")
	data, err := os.ReadFile(filepath.Join(outside, "victim"))
	require.NoError(t, err)
	assert.Equal(t, "keep\n", string(data), "nothing was written through a link")
	entries, err = os.ReadDir(base)
	require.NoError(t, err)
	assert.Len(t, entries, 3, "data, elsewhere and rootlink only")
}

func TestRelativeAndEmpty(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	f, err := New("triage-data").OpenFile("triage-data/tickets.jsonl", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	require.NoError(t, err, "relative paths and roots are taken from the working directory")
	require.NoError(t, f.Close())
	assert.FileExists(t, filepath.Join(dir, "triage-data", "tickets.jsonl"))

	_, err = New("triage-data").OpenFile("tickets.jsonl", os.O_RDWR|os.O_CREATE, 0o644)
	assert.ErrorIs(t, err, ErrOutside)
	_, err = New().OpenFile(filepath.Join(dir, "x"), os.O_RDWR|os.O_CREATE, 0o644)
	assert.ErrorIs(t, err, ErrOutside, "no directories: nothing is allowed")
}
