// Package crashfs is an in-memory storage.FS that can lose power.
//
// It keeps, for every file, its current contents and the contents at its
// last Sync, and for every directory its current entries, the entries at
// its last SyncDir and the list of entry changes (create, rename, remove)
// since then. Crash simulates a power cut followed by a reboot:
//
//   - Directory changes not yet made durable by SyncDir are replayed only
//     up to a random point (journaling filesystems commit metadata in
//     order, so a prefix survives).
//   - A file's bytes appended since its last Sync are lost, survive up to a
//     random byte, survive up to a random byte with the rest of the new
//     size zero-filled (the size reached the disk, the data did not), or
//     survive as random whole 512-byte sectors with zeros in between.
//   - A file truncated since its last Sync comes back either as synced or
//     as current.
//   - The FS value the crashed "process" used, and every file handle opened
//     through it, fail every operation with ErrCrashed from then on, like a
//     process that died with the power; Crash returns a new FS value for
//     the rebooted system, sharing the surviving disk state. Locks are
//     released.
//
// It also injects faults: SetCapacity makes writes fail with ENOSPC, and
// FailNextSync makes the next Sync fail. All randomness comes from the seed
// given to New, so a failing test reproduces from its seed. An FS is safe
// for concurrent use.
package crashfs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"

	"github.com/meshlogd/meshlogd/storage"
)

// ErrCrashed is returned by every operation on an FS value or a file handle
// from before a Crash.
var ErrCrashed = errors.New("crashfs: handle from before a crash")

// sectorSize is the granularity of torn writes in the "sectors" crash mode.
const sectorSize = 512

type inode struct {
	data   []byte // current contents
	synced []byte // contents at the last Sync
}

type dirOp struct {
	name string // entry created or removed (or renamed away)
	node *inode // nil for a removal
}

type dir struct {
	entries map[string]*inode
	durable map[string]*inode
	ops     []dirOp // entry changes since the last SyncDir, in order
}

// disk is the state shared by all generations of an FS.
type disk struct {
	mu       sync.Mutex
	rng      *rand.Rand
	dirs     map[string]*dir
	gen      int // incremented by Crash
	locks    map[string]bool
	capacity int64 // 0: unlimited
	syncErr  error
	crashes  int
	crashIn  int // mutating operations until an armed crash; 0: disarmed
}

// tick counts one mutating operation and reports whether the armed crash
// happens during it. d.mu must be held.
func (d *disk) tick() bool {
	if d.crashIn == 0 {
		return false
	}
	d.crashIn--
	return d.crashIn == 0
}

// crashDuring performs the power cut inside operation op and returns the
// error the operation reports. d.mu must be held.
func (d *disk) crashDuring(op, name string) error {
	d.crashLocked()
	return &fs.PathError{Op: op, Path: name, Err: ErrCrashed}
}

// FS is the in-memory filesystem as seen by one boot of the system. Create
// it with New; after Crash, use the FS that Crash returns.
type FS struct {
	*disk
	gen int
}

var _ storage.FS = (*FS)(nil)

// New returns an empty FS whose crashes are drawn from seed.
func New(seed uint64) *FS {
	return &FS{disk: &disk{
		rng:   rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		dirs:  map[string]*dir{},
		locks: map[string]bool{},
	}}
}

// live returns ErrCrashed (as a *fs.PathError) if f is from before a crash.
// f.mu must be held.
func (f *FS) live(op, name string) error {
	if f.gen != f.disk.gen {
		return &fs.PathError{Op: op, Path: name, Err: ErrCrashed}
	}
	return nil
}

// SetCapacity limits the total size of all files to n bytes (0: no limit).
// A write that would exceed it writes what fits and fails with an error
// wrapping syscall.ENOSPC.
func (f *FS) SetCapacity(n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.capacity = n
}

// FailNextSync makes the next File.Sync return err without syncing.
func (f *FS) FailNextSync(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncErr = err
}

// CrashAfter arms a power cut during the n-th (n ≥ 1) mutating operation
// from now (file create, write, truncate, sync, rename, remove, directory
// sync). That operation takes partial or no effect (a write keeps a random
// prefix; a sync, rename or removal may or may not land) and returns
// ErrCrashed, as does everything after it; use Reboot to continue. n ≤ 0
// disarms.
func (f *FS) CrashAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashIn = max(n, 0)
}

// Reboot returns the FS of the current boot: f itself if no crash happened
// since f was made, otherwise the FS after the latest crash.
func (f *FS) Reboot() *FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &FS{disk: f.disk, gen: f.disk.gen}
}

// Stale reports whether f is from before a crash (its operations fail with
// ErrCrashed; use Reboot).
func (f *FS) Stale() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gen != f.disk.gen
}

// Crashes returns how many times Crash was called.
func (f *FS) Crashes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.crashes
}

func split(name string) (string, string) {
	name = filepath.Clean(name)
	return filepath.Dir(name), filepath.Base(name)
}

func (f *FS) lookupDir(name string, op string) (*dir, error) {
	if err := f.live(op, name); err != nil {
		return nil, err
	}
	d := f.dirs[filepath.Clean(name)]
	if d == nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return d, nil
}

// MkdirAll implements storage.FS. Directories are durable at once.
func (f *FS) MkdirAll(name string, _ fs.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.live("mkdir", name); err != nil {
		return err
	}
	for p := filepath.Clean(name); ; p = filepath.Dir(p) {
		if f.dirs[p] == nil {
			f.dirs[p] = &dir{entries: map[string]*inode{}, durable: map[string]*inode{}}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// ReadDir implements storage.FS.
func (f *FS) ReadDir(name string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.lookupDir(name, "readdir")
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(d.entries))
	for n := range d.entries {
		names = append(names, n)
	}
	for p := range f.dirs {
		if p != filepath.Clean(name) && filepath.Dir(p) == filepath.Clean(name) {
			names = append(names, filepath.Base(p))
		}
	}
	sort.Strings(names)
	return names, nil
}

// OpenFile implements storage.FS.
func (f *FS) OpenFile(name string, flag int, _ fs.FileMode) (storage.File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn, base := split(name)
	d, err := f.lookupDir(dn, "open")
	if err != nil {
		return nil, err
	}
	n := d.entries[base]
	switch {
	case n == nil && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case n != nil && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case n == nil:
		n = &inode{}
		d.entries[base] = n
		d.ops = append(d.ops, dirOp{name: base, node: n})
		if f.tick() {
			return nil, f.crashDuring("open", name)
		}
	}
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	if flag&os.O_TRUNC != 0 && writable {
		n.data = n.data[:0:0]
	}
	return &file{fs: f.disk, n: n, name: name, gen: f.gen, writable: writable}, nil
}

// Rename implements storage.FS; durable after SyncDir of both directories.
func (f *FS) Rename(oldname, newname string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	od, ob := split(oldname)
	nd, nb := split(newname)
	from, err := f.lookupDir(od, "rename")
	if err != nil {
		return err
	}
	to, err := f.lookupDir(nd, "rename")
	if err != nil {
		return err
	}
	n := from.entries[ob]
	if n == nil {
		return &fs.PathError{Op: "rename", Path: oldname, Err: fs.ErrNotExist}
	}
	delete(from.entries, ob)
	from.ops = append(from.ops, dirOp{name: ob})
	to.entries[nb] = n
	to.ops = append(to.ops, dirOp{name: nb, node: n})
	if f.tick() {
		return f.crashDuring("rename", oldname)
	}
	return nil
}

// Remove implements storage.FS; durable after SyncDir.
func (f *FS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn, base := split(name)
	d, err := f.lookupDir(dn, "remove")
	if err != nil {
		return err
	}
	if d.entries[base] == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(d.entries, base)
	d.ops = append(d.ops, dirOp{name: base})
	if f.tick() {
		return f.crashDuring("remove", name)
	}
	return nil
}

// SyncDir implements storage.FS.
func (f *FS) SyncDir(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, err := f.lookupDir(name, "sync")
	if err != nil {
		return err
	}
	crash := f.tick()
	if crash && f.rng.IntN(2) == 0 {
		return f.crashDuring("sync", name) // before the directory reached the disk
	}
	d.durable = make(map[string]*inode, len(d.entries))
	for k, v := range d.entries {
		d.durable[k] = v
	}
	d.ops = nil
	if crash {
		return f.crashDuring("sync", name) // after it did
	}
	return nil
}

// Lock implements storage.FS. Locks are released by Crash.
func (f *FS) Lock(name string) (func() error, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name = filepath.Clean(name)
	if err := f.live("lock", name); err != nil {
		return nil, err
	}
	if f.locks[name] {
		return nil, fmt.Errorf("%w: %s", storage.ErrLocked, name)
	}
	dn, base := split(name)
	d, err := f.lookupDir(dn, "lock")
	if err != nil {
		return nil, err
	}
	if d.entries[base] == nil {
		n := &inode{}
		d.entries[base] = n
		d.ops = append(d.ops, dirOp{name: base, node: n})
	}
	f.locks[name] = true
	gen := f.gen
	return func() error {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.disk.gen == gen {
			delete(f.locks, name)
		}
		return nil
	}, nil
}

// Crash simulates a power cut and reboot (see the package doc) and returns
// the FS of the rebooted system. It may be called on any generation.
func (f *FS) Crash() *FS {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.crashLocked()
	return &FS{disk: f.disk, gen: f.disk.gen}
}

// crashLocked is Crash with d.mu held.
func (f *disk) crashLocked() {
	f.crashIn = 0
	f.gen++
	f.crashes++
	f.locks = map[string]bool{}
	f.syncErr = nil
	done := map[*inode]bool{}
	paths := make([]string, 0, len(f.dirs))
	for p := range f.dirs {
		paths = append(paths, p)
	}
	sort.Strings(paths) // deterministic use of the rng
	for _, p := range paths {
		d := f.dirs[p]
		m := make(map[string]*inode, len(d.durable))
		for k, v := range d.durable {
			m[k] = v
		}
		for _, op := range d.ops[:f.rng.IntN(len(d.ops)+1)] {
			if op.node == nil {
				delete(m, op.name)
			} else {
				m[op.name] = op.node
			}
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			n := m[k]
			if !done[n] {
				done[n] = true
				f.crashInode(n)
			}
		}
		d.entries = m
		d.durable = make(map[string]*inode, len(m))
		for k, v := range m {
			d.durable[k] = v
		}
		d.ops = nil
	}
}

// crashInode decides what survives of n's unsynced bytes.
func (f *disk) crashInode(n *inode) {
	cur, syn := n.data, n.synced
	var out []byte
	if len(cur) >= len(syn) && bytes.Equal(cur[:len(syn)], syn) {
		extra := cur[len(syn):]
		k := 0
		if len(extra) > 0 {
			k = f.rng.IntN(len(extra) + 1)
		}
		out = append([]byte(nil), syn...)
		switch f.rng.IntN(4) {
		case 0: // unsynced bytes lost
		case 1: // torn at a random byte
			out = append(out, extra[:k]...)
		case 2: // torn, and the size reached the disk but not the data
			out = append(out, extra[:k]...)
			out = append(out, make([]byte, len(extra)-k)...)
		case 3: // random whole sectors reached the disk
			out = append(out, make([]byte, len(extra))...)
			for s := len(syn) &^ (sectorSize - 1); s < len(cur); s += sectorSize {
				if f.rng.IntN(2) == 0 {
					continue
				}
				for i := max(s, len(syn)); i < min(s+sectorSize, len(cur)); i++ {
					out[i] = cur[i]
				}
			}
		}
	} else if f.rng.IntN(2) == 0 {
		out = append([]byte(nil), syn...)
	} else {
		out = append([]byte(nil), cur...)
	}
	n.data = out
	n.synced = append([]byte(nil), out...)
}

// used returns the total size of all files reachable from a directory.
func (f *disk) used() int64 {
	var total int64
	seen := map[*inode]bool{}
	for _, d := range f.dirs {
		for _, n := range d.entries {
			if !seen[n] {
				seen[n] = true
				total += int64(len(n.data))
			}
		}
	}
	return total
}

// ReadFile returns a copy of the current contents of name (for tests).
func (f *FS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn, base := split(name)
	d, err := f.lookupDir(dn, "read")
	if err != nil {
		return nil, err
	}
	n := d.entries[base]
	if n == nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return append([]byte(nil), n.data...), nil
}

// WriteFile replaces the contents of name, creating it, durably (for tests
// that damage files).
func (f *FS) WriteFile(name string, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	dn, base := split(name)
	d, err := f.lookupDir(dn, "write")
	if err != nil {
		return err
	}
	n := d.entries[base]
	if n == nil {
		n = &inode{}
		d.entries[base] = n
		d.durable[base] = n
	}
	n.data = append([]byte(nil), data...)
	n.synced = append([]byte(nil), data...)
	return nil
}

type file struct {
	fs       *disk
	n        *inode
	name     string
	gen      int
	writable bool
	closed   bool
}

func (h *file) check(op string) error {
	if h.closed {
		return &fs.PathError{Op: op, Path: h.name, Err: fs.ErrClosed}
	}
	if h.gen != h.fs.gen {
		return &fs.PathError{Op: op, Path: h.name, Err: ErrCrashed}
	}
	return nil
}

func (h *file) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: h.name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(h.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *file) Write(p []byte) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("write"); err != nil {
		return 0, err
	}
	if !h.writable {
		return 0, &fs.PathError{Op: "write", Path: h.name, Err: fs.ErrPermission}
	}
	n := len(p)
	var err error
	if h.fs.capacity > 0 {
		if free := h.fs.capacity - h.fs.used(); int64(n) > free {
			n = int(max(free, 0))
			err = &fs.PathError{Op: "write", Path: h.name, Err: syscall.ENOSPC}
		}
	}
	if h.fs.tick() {
		h.n.data = append(h.n.data, p[:h.fs.rng.IntN(n+1)]...)
		return 0, h.fs.crashDuring("write", h.name)
	}
	h.n.data = append(h.n.data, p[:n]...)
	return n, err
}

func (h *file) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("truncate"); err != nil {
		return err
	}
	if !h.writable || size < 0 {
		return &fs.PathError{Op: "truncate", Path: h.name, Err: fs.ErrInvalid}
	}
	if size <= int64(len(h.n.data)) {
		h.n.data = h.n.data[:size:size]
	} else {
		h.n.data = append(h.n.data, make([]byte, size-int64(len(h.n.data)))...)
	}
	if h.fs.tick() {
		return h.fs.crashDuring("truncate", h.name)
	}
	return nil
}

func (h *file) Sync() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("sync"); err != nil {
		return err
	}
	if err := h.fs.syncErr; err != nil {
		h.fs.syncErr = nil
		return &fs.PathError{Op: "sync", Path: h.name, Err: err}
	}
	crash := h.fs.tick()
	if crash && h.fs.rng.IntN(2) == 0 {
		return h.fs.crashDuring("sync", h.name) // before the data reached the disk
	}
	h.n.synced = append(h.n.synced[:0:0], h.n.data...)
	if crash {
		return h.fs.crashDuring("sync", h.name) // after it did
	}
	return nil
}

func (h *file) Size() (int64, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("stat"); err != nil {
		return 0, err
	}
	return int64(len(h.n.data)), nil
}

func (h *file) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return &fs.PathError{Op: "close", Path: h.name, Err: fs.ErrClosed}
	}
	h.closed = true
	return nil
}
