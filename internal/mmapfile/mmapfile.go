//go:build unix

// Package mmapfile lends a file's bytes without copying them, one window
// at a time: each window is mapped when asked for and
// unmapped when released, so the process holds only the windows in use,
// never the whole file.
package mmapfile

import (
	"fmt"
	"os"
	"syscall"
)

// File lends windows of an open file.
type File struct {
	f    *os.File
	size int64
	page int64
}

// New returns a File for f, whose size is size.
func New(f *os.File, size int64) *File {
	return &File{f: f, size: size, page: int64(os.Getpagesize())}
}

// Window maps n bytes at off (clipped to the file's end) and returns them
// with a release function that unmaps them. The bytes must not be used
// after release.
func (m *File) Window(off, n int64) ([]byte, func(), error) {
	if off < 0 || off > m.size {
		return nil, nil, fmt.Errorf("mmapfile: offset %d outside a file of %d bytes", off, m.size)
	}
	n = min(n, m.size-off)
	if n == 0 {
		return nil, func() {}, nil
	}
	// Not MAP_POPULATE: faulting pages in as the scan reaches them maps
	// them in batches (the kernel's fault-around) and measured faster.
	start := off &^ (m.page - 1)
	data, err := syscall.Mmap(int(m.f.Fd()), start, int(off-start+n), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil, nil, fmt.Errorf("mmapfile: map %d bytes at %d of %s: %w", n, off, m.f.Name(), err)
	}
	return data[off-start:], func() { _ = syscall.Munmap(data) }, nil
}

// ReadAt copies, for callers that want an io.ReaderAt.
func (m *File) ReadAt(p []byte, off int64) (int, error) { return m.f.ReadAt(p, off) }
