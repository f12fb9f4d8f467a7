package mailfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tree creates files (and directories for names ending in '/') under a
// temp dir and returns it.
func tree(t *testing.T, names ...string) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range names {
		p := filepath.Join(root, filepath.FromSlash(n))
		if n[len(n)-1] == '/' {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
	}
	return root
}

// walkRel collects the paths Walk visits, relative to root.
func walkRel(t *testing.T, root string) ([]string, error) {
	t.Helper()
	var got []string
	err := Walk(root, func(p string) error {
		rel, err := filepath.Rel(root, p)
		require.NoError(t, err)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	return got, err
}

func TestIsMaildir(t *testing.T) {
	root := tree(t, "md/cur/", "md/new/", "md/tmp/", "half/cur/", "plain/a.eml")
	assert.True(t, IsMaildir(filepath.Join(root, "md")))
	assert.False(t, IsMaildir(filepath.Join(root, "half")))
	assert.False(t, IsMaildir(filepath.Join(root, "plain")))
	assert.False(t, IsMaildir(filepath.Join(root, "missing")))
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name  string
		files []string
		want  []string
	}{
		{
			name: "maildir: new before cur, tmp and dotfiles skipped",
			files: []string{
				"cur/1700000002.M2.host:2,S", "cur/1700000001.M1.host:2,S", "new/1700000003.M3.host",
				"tmp/1700000004.M4.host", "new/.hidden", ".Sent/cur/1.host:2,S", "dovecot-uidlist",
			},
			want: []string{"new/1700000003.M3.host", "cur/1700000001.M1.host:2,S", "cur/1700000002.M2.host:2,S"},
		},
		{
			name:  "maildir with nested folder",
			files: []string{"cur/a", "new/b", "Archive/cur/c", "Archive/new/d", "Archive/tmp/e"},
			want:  []string{"new/b", "cur/a", "Archive/new/d", "Archive/cur/c"},
		},
		{
			name: "nested folder tree sorted",
			files: []string{
				"b.eml", "a/z.mbox", "a/b/c.txt", "a/.git/config", ".cache/x", "c/inbox/cur/1", "c/inbox/new/2", "c/inbox/tmp/3",
			},
			want: []string{"a/b/c.txt", "a/z.mbox", "b.eml", "c/inbox/new/2", "c/inbox/cur/1"},
		},
		{name: "empty folder", files: []string{"empty/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := tree(t, tt.files...)
			got, err := walkRel(t, root)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWalkFile(t *testing.T) {
	root := tree(t, "one.eml")
	var got []string
	require.NoError(t, Walk(filepath.Join(root, "one.eml"), func(p string) error {
		got = append(got, p)
		return nil
	}))
	assert.Equal(t, []string{filepath.Join(root, "one.eml")}, got)
}

func TestWalkMissing(t *testing.T) {
	err := Walk(filepath.Join(t.TempDir(), "nope"), func(string) error { return nil })
	require.Error(t, err)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestWalkStopsOnCallbackError(t *testing.T) {
	root := tree(t, "a", "b", "c")
	stop := errors.New("stop")
	var n int
	err := Walk(root, func(string) error {
		n++
		return stop
	})
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, n)
}

func TestWalkSymlinks(t *testing.T) {
	root := tree(t, "real/a.eml", "dir/b.eml")
	require.NoError(t, os.Symlink(filepath.Join(root, "real", "a.eml"), filepath.Join(root, "dir", "link.eml")))
	require.NoError(t, os.Symlink(root, filepath.Join(root, "dir", "loop")))
	require.NoError(t, os.Symlink(filepath.Join(root, "gone"), filepath.Join(root, "dir", "dangling")))
	got, err := walkRel(t, root)
	require.NoError(t, err)
	assert.Equal(t, []string{"dir/b.eml", "dir/link.eml", "real/a.eml"}, got)
}

func TestWalkUnreadableDirectory(t *testing.T) {
	root := tree(t, "a/x.eml", "locked/y.eml", "z.eml")
	locked := filepath.Join(root, "locked")
	// Permissions do not stop root, so the failure is injected.
	readDir := func(dir string) ([]fs.DirEntry, error) {
		if dir == locked {
			return nil, &fs.PathError{Op: "open", Path: dir, Err: fs.ErrPermission}
		}
		return os.ReadDir(dir)
	}
	var got []string
	err := walk(root, func(p string) error {
		rel, _ := filepath.Rel(root, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	}, readDir)
	assert.Equal(t, []string{"a/x.eml", "z.eml"}, got, "the rest is still visited")
	require.Error(t, err)
	assert.Equal(t, "mailfile: read directory "+locked+": permission denied", err.Error())
	assert.ErrorIs(t, err, fs.ErrPermission)
}
