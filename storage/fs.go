package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// FS is the small filesystem surface the log uses. OSFS implements it on the
// real filesystem; storage/crashfs implements it in memory and can simulate a
// power cut (bytes not yet synced vanish or tear). Paths are slash- or
// OS-separated paths as produced by filepath.Join.
type FS interface {
	// OpenFile opens a file like os.OpenFile. The log only uses the flags
	// os.O_RDONLY, os.O_RDWR, os.O_CREATE, os.O_EXCL, os.O_TRUNC and
	// os.O_APPEND, and only appends when writing.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	// ReadDir returns the names of the entries of dir, sorted.
	ReadDir(dir string) ([]string, error)
	// MkdirAll creates dir and its parents like os.MkdirAll.
	MkdirAll(dir string, perm fs.FileMode) error
	// Rename renames a file like os.Rename; durable only after SyncDir.
	Rename(oldname, newname string) error
	// Remove removes a file; durable only after SyncDir.
	Remove(name string) error
	// SyncDir makes the directory's entries (creations, renames, removals)
	// durable, like fsync on a directory file descriptor.
	SyncDir(dir string) error
	// Lock takes an exclusive advisory lock on the file name (created if
	// missing) and returns its release function. It returns ErrLocked if
	// another holder has it.
	Lock(name string) (unlock func() error, err error)
}

// File is an open file of an FS. Writes always append at the end of the file.
type File interface {
	io.ReaderAt
	// Write appends p at the end of the file. A short write returns an
	// error (e.g. one wrapping syscall.ENOSPC).
	Write(p []byte) (int, error)
	// Truncate changes the size of the file.
	Truncate(size int64) error
	// Sync makes the file's contents and size durable (fsync).
	Sync() error
	// Size returns the current size of the file.
	Size() (int64, error)
	// Close closes the file.
	Close() error
}

// OSFS is the FS of the operating system.
type OSFS struct{}

var _ FS = OSFS{}

// OpenFile implements FS.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

// ReadDir implements FS.
func (OSFS) ReadDir(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// MkdirAll implements FS.
func (OSFS) MkdirAll(dir string, perm fs.FileMode) error { return os.MkdirAll(dir, perm) }

// Rename implements FS.
func (OSFS) Rename(oldname, newname string) error { return os.Rename(oldname, newname) }

// Remove implements FS.
func (OSFS) Remove(name string) error { return os.Remove(name) }

// SyncDir implements FS by fsyncing a descriptor of the directory.
func (OSFS) SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Lock implements FS with flock(2) where available (see lock_*.go).
func (OSFS) Lock(name string) (func() error, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		// A read-only directory: flock works on a read-only descriptor
		// of an existing lock file.
		var rerr error
		if f, rerr = os.Open(name); rerr != nil {
			return nil, err
		}
	}
	if err := lockFile(f); err != nil {
		_ = f.Close() // the lock error is what matters
		return nil, err
	}
	return f.Close, nil // closing the descriptor releases the flock
}

type osFile struct{ f *os.File }

func (o osFile) ReadAt(p []byte, off int64) (int, error) { return o.f.ReadAt(p, off) }
func (o osFile) Write(p []byte) (int, error)             { return o.f.Write(p) }
func (o osFile) Truncate(size int64) error               { return o.f.Truncate(size) }
func (o osFile) Sync() error                             { return o.f.Sync() }
func (o osFile) Close() error                            { return o.f.Close() }
func (o osFile) Size() (int64, error) {
	st, err := o.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// mkdirDurable creates dir and any missing parents, then fsyncs every
// directory that gained an entry (from the deepest existing ancestor down to
// dir's parent), so a freshly created data directory survives a power cut.
func mkdirDurable(fsys FS, dir string) error {
	dir = filepath.Clean(dir)
	var created []string // dir and its missing ancestors, deepest first
	for p := dir; ; p = filepath.Dir(p) {
		if _, err := fsys.ReadDir(p); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		created = append(created, p)
		if filepath.Dir(p) == p {
			break
		}
	}
	if err := fsys.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range created {
		if err := fsys.SyncDir(filepath.Dir(p)); err != nil {
			return fmt.Errorf("sync %s: %w", filepath.Dir(p), err)
		}
	}
	return nil
}
