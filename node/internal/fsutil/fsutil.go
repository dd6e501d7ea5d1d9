// Package fsutil holds small file-system helpers shared by meshlogd's node
// packages.
package fsutil

import (
	"os"
	"path/filepath"
)

// WriteFileDurable replaces path with data atomically and durably: it writes
// a temporary file in the same directory with mode perm, fsyncs it, renames
// it over path and fsyncs the directory. A crash at any moment leaves either
// the old file or the new one, never a mix.
func WriteFileDurable(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
