package mailfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// IsMaildir reports whether dir is a Maildir: it has cur/ and new/
// subdirectories.
func IsMaildir(dir string) bool {
	for _, sub := range []string{"cur", "new"} {
		st, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || !st.IsDir() {
			return false
		}
	}
	return true
}

// Walk calls fn for every file to scan under root, in a stable order.
//
// A file root is passed to fn as it is. In a directory, names starting with
// '.' are skipped, and entries are visited in name order: regular files
// (and symbolic links to them) are passed to fn, subdirectories entered;
// symbolic links to directories are not followed, so a link cycle cannot
// trap the walk. A Maildir (see IsMaildir) is visited as new/, then cur/,
// then its other subdirectories; its tmp/, where deliveries are still
// being written, is skipped.
//
// An error from fn stops the walk and is returned as it is, so a caller
// can stop on context cancellation. A directory that cannot be read does
// not stop the walk: the rest is visited, and Walk then returns the joined
// errors, each naming the directory.
func Walk(root string, fn func(path string) error) error {
	return walk(root, fn, os.ReadDir)
}

// walk is Walk with the directory reader as a parameter, for tests.
func walk(root string, fn func(string) error, readDir func(string) ([]fs.DirEntry, error)) error {
	st, err := os.Stat(root)
	if err != nil {
		return fmt.Errorf("mailfile: %w", err)
	}
	if !st.IsDir() {
		return fn(root)
	}
	w := walker{fn: fn, readDir: readDir}
	if err := w.dir(root); err != nil {
		return err
	}
	return errors.Join(w.errs...)
}

type walker struct {
	fn      func(string) error
	readDir func(string) ([]fs.DirEntry, error)
	errs    []error
}

// dir visits one directory; it returns only fn's errors.
func (w *walker) dir(dir string) error {
	if IsMaildir(dir) {
		return w.maildir(dir)
	}
	entries, err := w.readDir(dir)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("mailfile: read directory %s: %w", dir, unwrapPath(err)))
		// ReadDir returns what it read before the error; visit that too.
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := w.entry(filepath.Join(dir, e.Name()), e); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) maildir(dir string) error {
	for _, sub := range []string{"new", "cur"} {
		if err := w.files(filepath.Join(dir, sub)); err != nil {
			return err
		}
	}
	entries, err := w.readDir(dir)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("mailfile: read directory %s: %w", dir, unwrapPath(err)))
	}
	for _, e := range entries {
		switch name := e.Name(); {
		case strings.HasPrefix(name, "."), name == "new", name == "cur", name == "tmp":
			continue
		case e.IsDir():
			if err := w.dir(filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// files visits the files of a Maildir's new/ or cur/.
func (w *walker) files(dir string) error {
	entries, err := w.readDir(dir)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("mailfile: read directory %s: %w", dir, unwrapPath(err)))
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || e.IsDir() {
			continue
		}
		if err := w.entry(filepath.Join(dir, e.Name()), e); err != nil {
			return err
		}
	}
	return nil
}

func (w *walker) entry(path string, e fs.DirEntry) error {
	mode := e.Type()
	if mode&fs.ModeSymlink != 0 {
		st, err := os.Stat(path)
		if err != nil || !st.Mode().IsRegular() {
			// A dangling link or a link to a directory.
			return nil
		}
		return w.fn(path)
	}
	switch {
	case mode.IsDir():
		return w.dir(path)
	case mode.IsRegular():
		return w.fn(path)
	}
	// Sockets, pipes and devices are not files to scan.
	return nil
}

// unwrapPath drops the *PathError wrapper whose path the message repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
