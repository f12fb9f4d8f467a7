// Package confine opens files whose paths were rendered from templates —
// paths a ticket's sender or subject may have shaped — only under the
// directories an operator allowed (data_dir and allowed_dirs).
//
// A path is accepted when, after cleaning ("a/../b" is "b") and after
// following every symbolic link of the directories it names, it lies
// under one of the directories; its last component must not be a
// symbolic link, and a link inside an allowed directory must be relative
// (os.Root's rule). Missing directories are created, and only under the
// allowed directory. The file is then opened through os.Root, so a link
// swapped in between the check and the open still cannot lead outside.
// Anything else fails with an error that wraps ErrOutside and says why:
// callers treat it as permanent (retrying cannot help).
package confine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrOutside is wrapped by every refusal of a path outside the allowed
// directories.
var ErrOutside = errors.New("outside the allowed directories")

// Dirs is a set of allowed directories. The zero value allows nothing.
type Dirs struct {
	roots []string
}

// New returns the set of the given directories (relative ones are taken
// from the working directory when a file is opened); empty ones are
// ignored. It does no I/O.
func New(dirs ...string) *Dirs {
	d := &Dirs{}
	for _, r := range dirs {
		if strings.TrimSpace(r) != "" {
			d.roots = append(d.roots, r)
		}
	}
	return d
}

// String lists the directories, for messages.
func (d *Dirs) String() string { return strings.Join(d.roots, ", ") }

// OpenFile opens name (absolute, or relative to the working directory) with
// flag and perm as os.OpenFile would, creating missing parent directories
// (0o755) under the allowed directory that holds it. See the package
// comment for what is refused.
func (d *Dirs) OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error) {
	if len(d.roots) == 0 {
		return nil, fmt.Errorf("%q: no directory is allowed for files: %w", name, ErrOutside)
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	root, rel, err := d.locate(abs)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	if err := checkLinks(root, abs); err != nil {
		return nil, fmt.Errorf("%q: %w", name, err)
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if dir := filepath.Dir(rel); dir != "." {
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return nil, escapes(name, err)
		}
	}
	f, err := r.OpenFile(rel, flag, perm)
	if err != nil {
		return nil, escapes(name, err)
	}
	return f, nil
}

// Holds reports whether path, cleaned, lies under one of the directories:
// the first check OpenFile makes (links are not looked at).
func (d *Dirs) Holds(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	_, _, err = d.locate(abs)
	return err == nil
}

// locate returns the allowed directory (absolute) that lexically holds
// abs, and abs relative to it; abs is matched against each directory as
// written and with its own links resolved.
func (d *Dirs) locate(abs string) (root, rel string, err error) {
	for _, r := range d.roots {
		ra, err := filepath.Abs(r)
		if err != nil {
			continue
		}
		forms := []string{ra}
		if real, err := filepath.EvalSymlinks(ra); err == nil && real != ra {
			forms = append(forms, real)
		}
		for _, f := range forms {
			if rel, ok := within(f, abs); ok {
				if rel == "." {
					return "", "", fmt.Errorf("is the allowed directory %s itself, not a file in it: %w", r, ErrOutside)
				}
				return f, rel, nil
			}
		}
	}
	return "", "", fmt.Errorf("resolves to %s, which is not under %s: %w", abs, d, ErrOutside)
}

// within reports whether path is dir or under it, and path relative to dir.
func within(dir, path string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// checkLinks follows the links of abs's deepest existing directory and
// refuses abs when that lies outside root (with root's own links
// followed), or when abs itself is a symbolic link.
func checkLinks(root, abs string) error {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	if fi, err := os.Lstat(abs); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("is a symbolic link, which is not followed: %w", ErrOutside)
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		real, err := filepath.EvalSymlinks(dir)
		if errors.Is(err, fs.ErrNotExist) && dir != root && dir != filepath.Dir(dir) {
			continue // not there yet: look at its parent
		}
		if err != nil {
			return err
		}
		if _, ok := within(realRoot, real); !ok {
			return fmt.Errorf("%s leads to %s, outside %s, through a symbolic link: %w", dir, real, root, ErrOutside)
		}
		return nil
	}
}

// escapes marks os.Root's refusal of a path that leaves the root (a link
// changed after checkLinks looked) as ErrOutside.
func escapes(name string, err error) error {
	if strings.Contains(err.Error(), "path escapes from parent") {
		return fmt.Errorf("%q: %w (%v)", name, ErrOutside, err)
	}
	return err
}
