package mmapfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWindow(t *testing.T) {
	data := strings.Repeat("0123456789", 1000) // crosses a page boundary
	path := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o600))
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	m := New(f, int64(len(data)))
	for _, tc := range []struct {
		name    string
		off, n  int64
		want    string
		wantErr bool
	}{
		{name: "from the start", off: 0, n: 10, want: data[:10]},
		{name: "not on a page boundary", off: 4093, n: 20, want: data[4093:4113]},
		{name: "clipped at the end", off: 9995, n: 100, want: data[9995:]},
		{name: "at the end", off: 10000, n: 10, want: ""},
		{name: "past the end", off: 10001, n: 1, wantErr: true},
		{name: "before the start", off: -1, n: 1, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, release, err := m.Window(tc.off, tc.n)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, string(b))
			release()
		})
	}
	p := make([]byte, 5)
	n, err := m.ReadAt(p, 3)
	require.NoError(t, err)
	assert.Equal(t, "34567", string(p[:n]))
}
