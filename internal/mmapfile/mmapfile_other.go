//go:build !unix

package mmapfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// File lends windows of an open file. Without memory maps on this
// platform, a window is a copy read with ReadAt.
type File struct {
	f    *os.File
	size int64
}

// New returns a File for f, whose size is size.
func New(f *os.File, size int64) *File { return &File{f: f, size: size} }

// Window reads n bytes at off (clipped to the file's end) into a new
// buffer; release does nothing.
func (m *File) Window(off, n int64) ([]byte, func(), error) {
	if off < 0 || off > m.size {
		return nil, nil, fmt.Errorf("mmapfile: offset %d outside a file of %d bytes", off, m.size)
	}
	b := make([]byte, min(n, m.size-off))
	k, err := m.f.ReadAt(b, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, nil, fmt.Errorf("mmapfile: read %d bytes at %d of %s: %w", len(b), off, m.f.Name(), err)
	}
	return b[:k], func() {}, nil
}

// ReadAt reads from the file.
func (m *File) ReadAt(p []byte, off int64) (int, error) { return m.f.ReadAt(p, off) }
