package storage

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
)

// Defaults for Options.
const (
	// DefaultSegmentSize is 16 MiB: a few SD-card erase blocks, small
	// enough that a quarantined segment costs little, large enough that a
	// million 300-byte events fit in ~20 files.
	DefaultSegmentSize = 16 << 20
	// DefaultMaxRecordSize is 1 MiB.
	DefaultMaxRecordSize = 1 << 20
	// MinSegmentSize is the smallest accepted Options.SegmentSize.
	MinSegmentSize = 4 << 10
	// MaxSegmentSize is the largest accepted Options.SegmentSize; offsets
	// in a Location are uint32.
	MaxSegmentSize = 1 << 30

	// lockName is the lock file in the data directory.
	lockName = "LOCK"
	// pageSize is the page size used to estimate device-level writes.
	pageSize = 4096
)

// Options configures a Log. The zero value means all defaults on the OS
// filesystem.
type Options struct {
	// FS is the filesystem; nil means OSFS.
	FS FS
	// SegmentSize bounds the size in bytes of each segment file
	// (MinSegmentSize..MaxSegmentSize); 0 means DefaultSegmentSize.
	SegmentSize int64
	// MaxRecordSize bounds the payload length of one appended record; 0
	// means DefaultMaxRecordSize. It must leave room for one frame in an
	// empty segment. Decoding does not use it: it accepts any length the
	// format allows that fits in the file (never allocating more than
	// the file holds), so lowering MaxRecordSize or SegmentSize never makes
	// existing records unreadable.
	MaxRecordSize int
	// Logger receives recovery warnings; nil discards them.
	Logger *slog.Logger
}

// withDefaults validates o and fills in defaults.
func (o Options) withDefaults() (Options, error) {
	if o.FS == nil {
		o.FS = OSFS{}
	}
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.SegmentSize < MinSegmentSize || o.SegmentSize > MaxSegmentSize {
		return o, fmt.Errorf("%w: SegmentSize %d outside %d..%d", ErrBadOptions, o.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	if o.MaxRecordSize == 0 {
		o.MaxRecordSize = min(DefaultMaxRecordSize, int(o.SegmentSize-HeaderSize-FrameHeaderSize-Alignment))
	}
	if o.MaxRecordSize < 1 || o.MaxRecordSize > MaxFormatRecordSize ||
		HeaderSize+frameSize(o.MaxRecordSize) > o.SegmentSize {
		return o, fmt.Errorf("%w: MaxRecordSize %d does not fit a %d-byte segment", ErrBadOptions, o.MaxRecordSize, o.SegmentSize)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// Location names a record: the sequence number of its segment and the byte
// offset of its frame in the segment file. The zero Location names no
// record. A Location stays valid for the life of the data directory unless
// recovery quarantines the bytes it points at.
type Location struct {
	Segment uint32 // segment sequence number (file name), ≥ 1
	Offset  uint32 // byte offset of the frame header, ≥ HeaderSize, multiple of Alignment
}

// IsZero reports whether l is the zero Location.
func (l Location) IsZero() bool { return l == Location{} }

// String formats l as "segment:offset", e.g. "1:32".
func (l Location) String() string { return fmt.Sprintf("%d:%d", l.Segment, l.Offset) }

// Stats are cumulative counters of a Log since Open.
type Stats struct {
	Records      int64 // records appended
	PayloadBytes int64 // payload bytes appended
	FileBytes    int64 // bytes written to segment files (headers, frames, padding)
	Syncs        int64 // file fsyncs (each one a group commit or segment creation)
	DirSyncs     int64 // directory fsyncs
	PagesSynced  int64 // 4 KiB pages dirtied between consecutive fsyncs: an estimate of device writes
	Batches      int64 // group commits (each one write and one fsync)
	Segments     int   // live segment files
}

// segment is one live segment file.
type segment struct {
	seq  uint64
	path string
	size atomic.Int64 // end of the durable, valid records

	mu sync.Mutex // guards rf
	rf File       // read handle, opened lazily
}

func (s *segment) reader(fsys FS) (File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rf == nil {
		f, err := fsys.OpenFile(s.path, os.O_RDONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("storage: open segment %s: %w", s.path, err)
		}
		s.rf = f
	}
	return s.rf, nil
}

// request is one Append/AppendBatch call waiting for a group commit.
type request struct {
	recs [][]byte
	locs []Location
	err  error
	done bool
}

// Log is an open data directory. Append, AppendBatch, Read, Iterate and
// Stats are safe for concurrent use; concurrent appends are committed
// together with one fsync (group commit).
type Log struct {
	dir  string
	opts Options
	fsys FS

	// closeMu is held shared by readers and exclusively by Close while it
	// closes the files.
	closeMu sync.RWMutex

	mu         sync.Mutex
	cond       sync.Cond
	segments   []*segment // sorted by seq; the last one is active
	pending    []*request
	committing bool // a leader is writing; it alone touches wf and wbuf
	closing    bool // Close is waiting for pending appends; new ones are refused
	closed     bool
	failed     error // sticky: set after a failed fsync or rollback
	unlock     func() error

	// Owned by the committing leader.
	wf   File   // append handle of the active segment
	wbuf []byte // frame buffer, reused

	stats struct {
		records, payload, file, syncs, dirSyncs, pages, batches atomic.Int64
	}
}

// Open opens (creating if needed) the log in dir, runs recovery and returns
// the log with a Report of what recovery found and did: a torn tail of the
// last segment is truncated, corruption anywhere else is moved aside into a
// *.broken file with everything before it kept (see doc.go). Open never
// fails because of damage; it fails if the directory cannot be read or
// written, is locked (ErrLocked), or holds a segment of a newer format
// (ErrUnsupportedVersion).
func Open(dir string, o Options) (*Log, *Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, nil, err
	}
	fsys := o.FS
	if err := mkdirDurable(fsys, dir); err != nil {
		return nil, nil, fmt.Errorf("storage: create %s: %w", dir, err)
	}
	unlock, err := fsys.Lock(filepath.Join(dir, lockName))
	if err != nil {
		return nil, nil, fmt.Errorf("storage: lock %s: %w", dir, err)
	}
	l := &Log{dir: dir, opts: o, fsys: fsys, unlock: unlock}
	l.cond.L = &l.mu
	rep, live, err := recoverDir(fsys, dir, o, true)
	if err == nil {
		err = l.openSegments(live, rep)
	}
	if err != nil {
		l.closeFiles()
		return nil, rep, err
	}
	for _, d := range rep.Damage {
		o.Logger.Warn("storage: recovered damage", "kind", d.Kind, "file", d.File, "offset", d.Offset,
			"bytes", d.Length, "salvageable_records", d.Salvageable, "moved_to", d.MovedTo, "reason", d.Reason)
	}
	return l, rep, nil
}

// openSegments installs the recovered segments and opens (or creates) the
// active one.
func (l *Log) openSegments(live []liveSegment, rep *Report) error {
	for _, ls := range live {
		s := &segment{seq: ls.seq, path: filepath.Join(l.dir, SegmentName(ls.seq))}
		s.size.Store(ls.size)
		l.segments = append(l.segments, s)
	}
	if len(live) > 0 && live[len(live)-1].seq == rep.maxSeq {
		act := l.segments[len(l.segments)-1]
		f, err := l.fsys.OpenFile(act.path, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			return fmt.Errorf("storage: open active segment: %w", err)
		}
		size, err := f.Size()
		if err == nil && size != act.size.Load() {
			err = fmt.Errorf("size %d after recovery, want %d", size, act.size.Load())
		}
		if err != nil {
			_ = f.Close() // reporting the size problem
			return fmt.Errorf("storage: active segment %s: %w", act.path, err)
		}
		l.wf = f
		return nil
	}
	// No segment, or the newest file was moved aside: start a new one with
	// a sequence number above everything seen so names never repeat.
	return l.rotate(rep.maxSeq + 1)
}

// rotate creates segment seq through a temporary file (header, fsync,
// rename, directory fsync) and makes it active. On failure the previous
// active segment stays active.
func (l *Log) rotate(seq uint64) error {
	if seq > 1<<32-1 {
		return fmt.Errorf("storage: segment sequence %d exceeds uint32", seq)
	}
	final := filepath.Join(l.dir, SegmentName(seq))
	tmp := final + tmpExt
	f, err := l.fsys.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("storage: create segment %s: %w", tmp, err)
	}
	fail := func(err error) error {
		_ = f.Close()          // the file is abandoned; err says why
		_ = l.fsys.Remove(tmp) // best effort: a stray *.tmp is removed by the next Open
		return fmt.Errorf("storage: create segment %s: %w", final, err)
	}
	hdr := appendHeader(nil, seq)
	if _, err := f.Write(hdr); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	l.stats.syncs.Add(1)
	l.stats.pages.Add(1)
	l.stats.file.Add(HeaderSize)
	if err := l.fsys.Rename(tmp, final); err != nil {
		return fail(err)
	}
	if err := l.fsys.SyncDir(l.dir); err != nil {
		// The rename may or may not survive a power cut; the segment holds
		// no record yet, so abandoning it loses nothing.
		_ = f.Close()
		return fmt.Errorf("storage: sync dir after creating %s: %w", final, err)
	}
	l.stats.dirSyncs.Add(1)
	if l.wf != nil {
		if err := l.wf.Close(); err != nil {
			l.opts.Logger.Warn("storage: close full segment", "err", err)
		}
	}
	l.wf = f
	s := &segment{seq: seq, path: final}
	s.size.Store(HeaderSize)
	l.mu.Lock()
	l.segments = append(l.segments, s)
	l.mu.Unlock()
	return nil
}

// Append appends rec and returns its Location once it is durable (written
// and fsynced). Concurrent calls share one fsync. rec must be 1 to
// Options.MaxRecordSize bytes; Append does not retain it. After an error the
// record may or may not be in the log (it is not acknowledged).
func (l *Log) Append(rec []byte) (Location, error) {
	locs, err := l.AppendBatch([][]byte{rec})
	if err != nil {
		return Location{}, err
	}
	return locs[0], nil
}

// AppendBatch appends recs in order, contiguously in the log unless a
// segment fills up, and returns their Locations once all are durable. It
// does not retain recs. On error none of the records is acknowledged (some
// may be in the log).
func (l *Log) AppendBatch(recs [][]byte) ([]Location, error) {
	for _, r := range recs {
		if len(r) == 0 {
			return nil, ErrEmptyRecord
		}
		if len(r) > l.opts.MaxRecordSize {
			return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, len(r), l.opts.MaxRecordSize)
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	req := &request{recs: recs}
	l.mu.Lock()
	if l.closed || l.closing {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		return nil, err
	}
	l.pending = append(l.pending, req)
	for l.committing && !req.done {
		l.cond.Wait()
	}
	if req.done {
		l.mu.Unlock()
		return req.locs, req.err
	}
	// Lead a group commit of everything pending, including req.
	batch := l.pending
	l.pending = nil
	l.committing = true
	failed := l.failed
	l.mu.Unlock()

	if failed != nil {
		for _, r := range batch {
			r.err = failed
		}
	} else {
		l.commit(batch)
	}

	l.mu.Lock()
	for _, r := range batch {
		r.done = true
	}
	l.committing = false
	l.cond.Broadcast()
	l.mu.Unlock()
	return req.locs, req.err
}

// commit writes and fsyncs the records of batch, rotating segments as they
// fill, and sets each request's locs or err. Only the leader calls it.
func (l *Log) commit(batch []*request) {
	act := l.active()
	start := act.size.Load() // durable end of the active segment
	buf := l.wbuf[:0]
	durable := 0 // requests fully durable so far
	var pendingReqs []*request
	flush := func() error {
		if len(buf) == 0 {
			return nil
		}
		if err := l.writeSync(act, start, buf); err != nil {
			return err
		}
		start += int64(len(buf))
		buf = buf[:0]
		durable += len(pendingReqs)
		pendingReqs = pendingReqs[:0]
		return nil
	}
	var err error
	for _, r := range batch {
		r.locs = make([]Location, len(r.recs))
		for i, rec := range r.recs {
			fsz := frameSize(len(rec))
			if start+int64(len(buf))+fsz > l.opts.SegmentSize && start+int64(len(buf)) > HeaderSize {
				if err = flush(); err == nil {
					err = l.rotate(act.seq + 1)
				}
				if err != nil {
					break
				}
				act = l.active()
				start = act.size.Load()
			}
			r.locs[i] = Location{Segment: uint32(act.seq), Offset: uint32(start + int64(len(buf)))}
			buf = appendFrame(buf, rec)
		}
		if err != nil {
			break
		}
		pendingReqs = append(pendingReqs, r)
	}
	if err == nil {
		err = flush()
	}
	if cap(buf) <= 1<<20 {
		l.wbuf = buf[:0] // keep a modest buffer; drop a huge one
	}
	// Requests before the first non-durable one succeed; a request whose
	// records straddle a failure fails as a whole.
	var n, payload int64
	for i, r := range batch {
		if i >= durable {
			r.locs, r.err = nil, err
			continue
		}
		n += int64(len(r.recs))
		for _, rec := range r.recs {
			payload += int64(len(rec))
		}
	}
	l.stats.records.Add(n)
	l.stats.payload.Add(payload)
	l.stats.batches.Add(1)
}

// writeSync appends buf to the active segment whose durable end is start,
// fsyncs it and publishes the new size. A failed write is rolled back by
// truncating to start (the log stays usable, e.g. after ENOSPC); a failed
// fsync or rollback fails the log (ErrFailed).
func (l *Log) writeSync(act *segment, start int64, buf []byte) error {
	if _, err := l.wf.Write(buf); err != nil {
		if terr := l.wf.Truncate(start); terr != nil {
			return l.fail(fmt.Errorf("%w: write %s: %w; rollback: %w", ErrFailed, act.path, err, terr))
		}
		return fmt.Errorf("storage: write %s: %w", act.path, err)
	}
	if err := l.wf.Sync(); err != nil {
		// After a failed fsync the kernel may have dropped the dirty pages:
		// the file's contents are unknown until recovery reads them again.
		return l.fail(fmt.Errorf("%w: fsync %s: %w", ErrFailed, act.path, err))
	}
	end := start + int64(len(buf))
	l.stats.file.Add(int64(len(buf)))
	l.stats.syncs.Add(1)
	l.stats.pages.Add((end+pageSize-1)/pageSize - start/pageSize)
	act.size.Store(end)
	return nil
}

func (l *Log) fail(err error) error {
	l.mu.Lock()
	if l.failed == nil {
		l.failed = err
	}
	l.mu.Unlock()
	return err
}

func (l *Log) active() *segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.segments[len(l.segments)-1]
}

// segment returns the live segment seq, or nil.
func (l *Log) segment(seq uint64) *segment {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.segments), func(i int) bool { return l.segments[i].seq >= seq })
	if i < len(l.segments) && l.segments[i].seq == seq {
		return l.segments[i]
	}
	return nil
}

// Read returns a copy of the record at loc, checking its CRC. It returns
// ErrBadLocation if loc cannot name a durable record and a *CorruptError if
// the bytes there do not decode.
func (l *Log) Read(loc Location) ([]byte, error) {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.isClosed() {
		return nil, ErrClosed
	}
	s := l.segment(uint64(loc.Segment))
	off := int64(loc.Offset)
	if s == nil {
		return nil, fmt.Errorf("%w: %v: no such segment", ErrBadLocation, loc)
	}
	size := s.size.Load()
	if off < HeaderSize || off%Alignment != 0 || off+FrameHeaderSize > size {
		return nil, fmt.Errorf("%w: %v: outside the records of the segment", ErrBadLocation, loc)
	}
	f, err := s.reader(l.fsys)
	if err != nil {
		return nil, err
	}
	var h [FrameHeaderSize]byte
	if _, err := f.ReadAt(h[:], off); err != nil {
		return nil, fmt.Errorf("storage: read %v: %w", loc, err)
	}
	n := int(uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16 | uint32(h[3])<<24)
	if n < 1 || n > MaxFormatRecordSize || off+frameSize(n) > size {
		return nil, &CorruptError{Segment: s.seq, Offset: off, Err: ErrBadLength}
	}
	b := make([]byte, frameSize(n))
	if _, err := f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("storage: read %v: %w", loc, err)
	}
	p, _, err := DecodeFrame(b, MaxFormatRecordSize)
	if err != nil {
		return nil, &CorruptError{Segment: s.seq, Offset: off, Err: err}
	}
	return p[:n:n], nil
}

// Iterate calls fn for every durable record in log order (segment, then
// offset): the segments that exist when it is called, each up to its
// durable end when Iterate reaches it. rec is only valid until fn returns; copy it to
// keep it. fn may call Append and Read but not Close. Iterate stops at the
// first error from fn and returns it, or returns a *CorruptError if a
// record no longer decodes (damage since Open).
func (l *Log) Iterate(fn func(loc Location, rec []byte) error) error {
	l.closeMu.RLock()
	defer l.closeMu.RUnlock()
	if l.isClosed() {
		return ErrClosed
	}
	l.mu.Lock()
	segs := append([]*segment(nil), l.segments...)
	l.mu.Unlock()
	for _, s := range segs {
		f, err := s.reader(l.fsys)
		if err != nil {
			return err
		}
		size := s.size.Load()
		r := newWindowReader(f, size)
		for off := int64(HeaderSize); off < size; {
			b, err := r.frame(off, MaxFormatRecordSize)
			if err != nil {
				return err
			}
			p, n, err := DecodeFrame(b, MaxFormatRecordSize)
			if err != nil {
				return &CorruptError{Segment: s.seq, Offset: off, Err: err}
			}
			if err := fn(Location{Segment: uint32(s.seq), Offset: uint32(off)}, p); err != nil {
				return err
			}
			off += int64(n)
		}
	}
	return nil
}

// Stats returns the counters since Open.
func (l *Log) Stats() Stats {
	l.mu.Lock()
	nseg := len(l.segments)
	l.mu.Unlock()
	return Stats{
		Records:      l.stats.records.Load(),
		PayloadBytes: l.stats.payload.Load(),
		FileBytes:    l.stats.file.Load(),
		Syncs:        l.stats.syncs.Load(),
		DirSyncs:     l.stats.dirSyncs.Load(),
		PagesSynced:  l.stats.pages.Load(),
		Batches:      l.stats.batches.Load(),
		Segments:     nseg,
	}
}

// Dir returns the data directory.
func (l *Log) Dir() string { return l.dir }

func (l *Log) isClosed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed
}

// Close refuses new appends, waits for pending ones to commit, closes the
// files and releases the directory lock. It returns ErrClosed if already
// closed (or closing). It must not be called from an Iterate callback.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed || l.closing {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closing = true
	for l.committing || len(l.pending) > 0 {
		l.cond.Wait()
	}
	l.closed = true
	l.mu.Unlock()
	l.closeMu.Lock()
	defer l.closeMu.Unlock()
	return l.closeFiles()
}

func (l *Log) closeFiles() error {
	var errs []error
	if l.wf != nil {
		errs = append(errs, l.wf.Close())
		l.wf = nil
	}
	for _, s := range l.segments {
		s.mu.Lock()
		if s.rf != nil {
			errs = append(errs, s.rf.Close())
			s.rf = nil
		}
		s.mu.Unlock()
	}
	if l.unlock != nil {
		errs = append(errs, l.unlock())
		l.unlock = nil
	}
	return errors.Join(errs...)
}

// windowReader serves byte windows of a file from a reusable buffer, for
// sequential scans. It never reads or allocates past size.
type windowReader struct {
	r    io.ReaderAt
	size int64
	buf  []byte
	off  int64 // file offset of buf[0]
	n    int   // valid bytes in buf
}

func newWindowReader(r io.ReaderAt, size int64) *windowReader {
	return &windowReader{r: r, size: size}
}

// window returns the n bytes at off, or fewer if the file ends first. The
// slice is only valid until the next call.
func (w *windowReader) window(off int64, n int) ([]byte, error) {
	if off >= w.size {
		return nil, nil
	}
	if rem := w.size - off; int64(n) > rem {
		n = int(rem)
	}
	if off >= w.off && off+int64(n) <= w.off+int64(w.n) {
		return w.buf[off-w.off : off-w.off+int64(n)], nil
	}
	want := max(n, 64<<10)
	if rem := w.size - off; int64(want) > rem {
		want = int(rem)
	}
	if cap(w.buf) < want {
		w.buf = make([]byte, want)
	}
	w.buf = w.buf[:want]
	m, err := w.r.ReadAt(w.buf, off)
	if m < n {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file shrank under us
		}
		w.n = 0
		return nil, fmt.Errorf("storage: read at %d: %w", off, err)
	}
	w.off, w.n = off, m
	return w.buf[:n], nil
}

// frame returns the bytes of the frame at off as far as its length field
// (bounded by maxRecord and the file size) says, for DecodeFrame.
func (w *windowReader) frame(off int64, maxRecord int) ([]byte, error) {
	h, err := w.window(off, FrameHeaderSize)
	if err != nil || len(h) < FrameHeaderSize {
		return h, err
	}
	n := int64(uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16 | uint32(h[3])<<24)
	if n == 0 || n > int64(maxRecord) {
		return h, nil // DecodeFrame reports it without reading further
	}
	return w.window(off, int(frameSize(int(n))))
}
