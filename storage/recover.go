package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DamageKind classifies what recovery found.
type DamageKind string

// Damage kinds. See doc.go for how each is told apart and repaired.
const (
	// TornTail: the last segment ends in bytes that are not a valid record
	// and no valid record follows them: an interrupted, unacknowledged
	// write (or damage to the very last record). Repair truncates it; any
	// nonzero bytes are first copied to a *.broken file.
	TornTail DamageKind = "torn-tail"
	// Corrupt: an invalid record followed by valid ones, or any invalid
	// record in a segment that is not the last (those were fully fsynced
	// before the next segment was created). Repair keeps every record
	// before it, copies the remainder to a *.broken file and truncates.
	Corrupt DamageKind = "corrupt"
	// BadHeader: a segment file whose header is missing or invalid (wrong
	// magic, CRC or sequence number). Repair renames the whole file to
	// *.broken. (An intact header of an unknown version is not damage:
	// Open and Check fail with ErrUnsupportedVersion.)
	BadHeader DamageKind = "bad-header"
	// MissingSegment: segment numbers are not contiguous from 1 and the
	// missing files were not moved aside by an earlier repair (someone
	// deleted them). Nothing to repair; the records are gone.
	MissingSegment DamageKind = "missing-segment"
)

// Damage is one problem found by recovery and, when Report.Repaired, what
// was done about it.
type Damage struct {
	Kind    DamageKind `json:"kind"`
	Segment uint64     `json:"segment"` // sequence number of the segment (first missing one for MissingSegment)
	File    string     `json:"file"`    // segment file name within the data directory
	Offset  int64      `json:"offset"`  // first damaged byte in the file; records before it are kept
	Length  int64      `json:"length"`  // bytes removed from the log (file size - Offset)
	// Salvageable counts CRC-valid records found in the removed bytes:
	// records the log no longer holds (the node re-fetches them from peers,
	// or reads them back with Salvage). SalvageComplete is false if the
	// search stopped at its work limit, making Salvageable a lower bound.
	Salvageable     int    `json:"salvageable_records"`
	SalvageComplete bool   `json:"salvage_complete"`
	Reason          string `json:"reason"`             // the decoding error at Offset
	MovedTo         string `json:"moved_to,omitempty"` // file now holding the removed bytes (empty if they were all zero, or not repaired)
}

// Report says what recovery found in a data directory and what it did.
type Report struct {
	Dir          string   `json:"dir"`
	Segments     int      `json:"segments"`      // segment files with a valid header
	Records      int64    `json:"records"`       // valid records kept
	RecordBytes  int64    `json:"record_bytes"`  // payload bytes of those records
	ScannedBytes int64    `json:"scanned_bytes"` // bytes of segment files read
	Damage       []Damage `json:"damage"`        // empty when clean
	StrayTemp    []string `json:"stray_temp,omitempty"`
	Repaired     bool     `json:"repaired"` // Damage was repaired and StrayTemp removed

	maxSeq uint64 // highest segment number seen, including moved-aside ones
}

// Clean reports whether no damage was found.
func (r *Report) Clean() bool { return r != nil && len(r.Damage) == 0 }

// Lost returns the total number of bytes removed from the log by repairs
// (or that a repair would remove).
func (r *Report) Lost() int64 {
	var n int64
	for _, d := range r.Damage {
		n += d.Length
	}
	return n
}

// liveSegment is a segment kept by recovery, with its valid size.
type liveSegment struct {
	seq  uint64
	size int64
}

// Repair runs Open's recovery on dir (see doc.go) without opening the log
// for appends, and returns its Report. It takes the directory lock.
func Repair(dir string, o Options) (*Report, error) {
	return lockedRecover(dir, o, true)
}

// Check verifies every segment and record in dir without changing
// anything, and returns the Report that Open would produce (with Repaired
// false and no MovedTo). It takes the directory lock, so it fails with
// ErrLocked while a node has the log open; in a directory where the lock
// cannot be taken otherwise (read-only), it checks without it.
func Check(dir string, o Options) (*Report, error) {
	return lockedRecover(dir, o, false)
}

func lockedRecover(dir string, o Options, repair bool) (*Report, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := o.FS.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("storage: read %s: %w", dir, err)
	}
	unlock, err := o.FS.Lock(filepath.Join(dir, lockName))
	switch {
	case err == nil:
	case !repair && !errors.Is(err, ErrLocked):
		// A read-only directory (a card mounted read-only on another
		// machine) has no writer to exclude; checking it changes nothing.
		unlock = func() error { return nil }
	default:
		return nil, fmt.Errorf("storage: lock %s: %w", dir, err)
	}
	rep, _, err := recoverDir(o.FS, dir, o, repair)
	if uerr := unlock(); err == nil && uerr != nil {
		err = uerr
	}
	return rep, err
}

// brokenBase returns the segment number of a moved-aside file name
// "<16 hex>.seg[.<hex>].broken".
func brokenBase(name string) (uint64, bool) {
	if !strings.HasSuffix(name, BrokenExt) || len(name) < 16+len(SegmentExt) {
		return 0, false
	}
	return parseSegmentName(name[:16+len(SegmentExt)])
}

// recoverDir scans dir and, if repair, fixes what it finds. It returns the
// segments to keep with their valid sizes.
func recoverDir(fsys FS, dir string, o Options, repair bool) (*Report, []liveSegment, error) {
	rep := &Report{Dir: dir, Damage: []Damage{}}
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return rep, nil, fmt.Errorf("storage: read %s: %w", dir, err)
	}
	var seqs []uint64
	movedAside := map[uint64]bool{}
	for _, name := range names {
		if seq, ok := parseSegmentName(name); ok {
			seqs = append(seqs, seq)
			rep.maxSeq = max(rep.maxSeq, seq)
		} else if seq, ok := brokenBase(name); ok {
			movedAside[seq] = true
			rep.maxSeq = max(rep.maxSeq, seq)
		} else if strings.HasSuffix(name, SegmentExt+tmpExt) {
			rep.StrayTemp = append(rep.StrayTemp, name)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })

	// Segments are numbered from 1 without gaps; a gap not explained by a
	// moved-aside file means a deleted segment.
	next := uint64(1)
	for _, seq := range append(seqs, rep.maxSeq+1) {
		for m := next; m < seq; m++ {
			if movedAside[m] {
				continue
			}
			end := m
			for end+1 < seq && !movedAside[end+1] {
				end++
			}
			rep.Damage = append(rep.Damage, Damage{
				Kind: MissingSegment, Segment: m, File: SegmentName(m),
				Reason: fmt.Sprintf("segments %d..%d missing", m, end),
			})
			m = end
		}
		next = seq + 1
	}

	var live []liveSegment
	dirty := false // a directory entry changed and needs a directory fsync
	for i, seq := range seqs {
		name := SegmentName(seq)
		path := filepath.Join(dir, name)
		sc, err := scanSegment(fsys, path, seq, MaxFormatRecordSize)
		if err != nil {
			return rep, nil, err
		}
		rep.ScannedBytes += sc.size
		if errors.Is(sc.headerErr, ErrUnsupportedVersion) {
			// Written by a newer meshlogd: not ours to repair.
			return rep, nil, fmt.Errorf("storage: %s: %w", name, sc.headerErr)
		}
		if sc.headerErr != nil {
			d := Damage{Kind: BadHeader, Segment: seq, File: name, Offset: 0, Length: sc.size,
				Salvageable: sc.salvage, SalvageComplete: sc.salvageComplete, Reason: sc.headerErr.Error()}
			if repair {
				to, err := uniqueName(fsys, dir, name+BrokenExt)
				if err == nil {
					err = fsys.Rename(path, filepath.Join(dir, to))
				}
				if err != nil {
					return rep, nil, fmt.Errorf("storage: move aside %s: %w", name, err)
				}
				d.MovedTo = to
				dirty = true
			}
			rep.Damage = append(rep.Damage, d)
			continue
		}
		rep.Segments++
		rep.Records += sc.records
		rep.RecordBytes += sc.payload
		live = append(live, liveSegment{seq: seq, size: sc.goodEnd})
		if sc.badErr == nil {
			continue
		}
		kind := Corrupt
		if i == len(seqs)-1 && sc.salvage == 0 && sc.salvageComplete {
			kind = TornTail
		}
		d := Damage{Kind: kind, Segment: seq, File: name, Offset: sc.goodEnd, Length: sc.size - sc.goodEnd,
			Salvageable: sc.salvage, SalvageComplete: sc.salvageComplete, Reason: sc.badErr.Error()}
		if repair {
			if !sc.zeroTail {
				to, err := uniqueName(fsys, dir, fmt.Sprintf("%s.%08x%s", name, sc.goodEnd, BrokenExt))
				if err == nil {
					err = copyTail(fsys, path, filepath.Join(dir, to), sc.goodEnd, sc.size)
				}
				if err != nil {
					return rep, nil, fmt.Errorf("storage: move aside tail of %s: %w", name, err)
				}
				// The copy must be durable before the original is cut.
				if err := fsys.SyncDir(dir); err != nil {
					return rep, nil, fmt.Errorf("storage: sync %s: %w", dir, err)
				}
				d.MovedTo = to
			}
			if err := truncateFile(fsys, path, sc.goodEnd); err != nil {
				return rep, nil, fmt.Errorf("storage: truncate %s at %d: %w", name, sc.goodEnd, err)
			}
		}
		rep.Damage = append(rep.Damage, d)
	}
	if repair {
		for _, name := range rep.StrayTemp {
			// A *.seg.tmp never holds records (they are written only after
			// the rename), so removing it destroys no evidence.
			if err := fsys.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return rep, nil, fmt.Errorf("storage: remove %s: %w", name, err)
			}
			dirty = true
		}
		if dirty {
			if err := fsys.SyncDir(dir); err != nil {
				return rep, nil, fmt.Errorf("storage: sync %s: %w", dir, err)
			}
		}
		rep.Repaired = len(rep.Damage) > 0 || len(rep.StrayTemp) > 0
	}
	return rep, live, nil
}

// uniqueName returns name, or name with ".N" inserted before BrokenExt if a
// file of that name already exists (evidence is never overwritten).
func uniqueName(fsys FS, dir, name string) (string, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return "", err
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	base := strings.TrimSuffix(name, BrokenExt)
	cand := name
	for i := 1; have[cand]; i++ {
		cand = fmt.Sprintf("%s.%d%s", base, i, BrokenExt)
	}
	return cand, nil
}

// copyTail copies bytes [from, to) of src into a new file dst and fsyncs it.
func copyTail(fsys FS, src, dst string, from, to int64) error {
	in, err := fsys.OpenFile(src, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := fsys.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, min(to-from, 1<<20))
	for off := from; off < to; {
		n := min(int64(len(buf)), to-off)
		if _, err := in.ReadAt(buf[:n], off); err != nil {
			_ = out.Close() // the read error is what matters
			return err
		}
		if _, err := out.Write(buf[:n]); err != nil {
			_ = out.Close() // the write error is what matters
			return err
		}
		off += n
	}
	if err := out.Sync(); err != nil {
		_ = out.Close() // the sync error is what matters
		return err
	}
	return out.Close()
}

// truncateFile cuts path to size and fsyncs it.
func truncateFile(fsys FS, path string, size int64) error {
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		_ = f.Close() // the truncate error is what matters
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close() // the sync error is what matters
		return err
	}
	return f.Close()
}

// segScan is what scanning one segment file found.
type segScan struct {
	size            int64
	headerErr       error // header missing or invalid: nothing else is trusted
	goodEnd         int64 // offset just past the last valid record
	records         int64 // valid records before goodEnd
	payload         int64 // their payload bytes
	badErr          error // why decoding stopped at goodEnd; nil if it reached size
	zeroTail        bool  // bytes [goodEnd, size) are all zero
	salvage         int   // CRC-valid frames found in [goodEnd, size)
	salvageComplete bool
}

// scanSegment decodes segment file path. The returned error is an I/O
// error; damage is described in segScan.
func scanSegment(fsys FS, path string, seq uint64, maxRecord int) (segScan, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return segScan{}, fmt.Errorf("storage: open %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return segScan{}, fmt.Errorf("storage: stat %s: %w", path, err)
	}
	sc, err := scanReader(newWindowReader(f, size), size, seq, maxRecord)
	if err != nil {
		return sc, fmt.Errorf("storage: scan %s: %w", path, err)
	}
	return sc, nil
}

// scanReader is scanSegment on a windowReader (also used by the fuzzer).
func scanReader(r *windowReader, size int64, seq uint64, maxRecord int) (segScan, error) {
	sc := segScan{size: size}
	h, err := r.window(0, HeaderSize)
	if err != nil {
		return sc, err
	}
	hdr, err := parseHeader(h)
	if err == nil && hdr.Seq != seq {
		err = fmt.Errorf("%w: header names segment %d, file name %d", ErrBadHeader, hdr.Seq, seq)
	}
	if err != nil {
		sc.headerErr = err
		sc.salvage, sc.salvageComplete, err = salvageScan(r, 0, size, maxRecord, nil)
		return sc, err
	}
	off := int64(HeaderSize)
	for off < size {
		b, err := r.frame(off, maxRecord)
		if err != nil {
			return sc, err
		}
		p, n, derr := DecodeFrame(b, maxRecord)
		if derr != nil {
			sc.badErr = derr
			break
		}
		sc.records++
		sc.payload += int64(len(p))
		off += int64(n)
	}
	sc.goodEnd = off
	if sc.badErr == nil {
		return sc, nil
	}
	sc.zeroTail = true
	for o := off; o < size && sc.zeroTail; {
		b, err := r.window(o, 64<<10)
		if err != nil {
			return sc, err
		}
		for _, c := range b {
			if c != 0 {
				sc.zeroTail = false
				break
			}
		}
		o += int64(len(b))
	}
	if sc.zeroTail {
		sc.salvageComplete = true
		return sc, nil
	}
	sc.salvage, sc.salvageComplete, err = salvageScan(r, off+Alignment, size, maxRecord, nil)
	return sc, err
}

// salvageScan looks for CRC-valid frames at every aligned offset in
// [from, to), skipping over each one found, and calls fn (if not nil) for
// each. Its work (bytes checked) is bounded to a multiple of the range so a
// hostile file cannot make it quadratic; complete is false if it stopped
// early.
func salvageScan(r *windowReader, from, to int64, maxRecord int, fn func(off int64, rec []byte) error) (count int, complete bool, err error) {
	budget := 64*(to-from) + 16<<20
	from = (from + Alignment - 1) &^ (Alignment - 1)
	for off := from; off+FrameHeaderSize <= to; {
		b, err := r.frame(off, maxRecord)
		if err != nil {
			return count, false, err
		}
		budget -= int64(len(b))
		if budget < 0 {
			return count, false, nil
		}
		p, n, derr := DecodeFrame(b, maxRecord)
		if derr != nil {
			off += Alignment
			continue
		}
		count++
		if fn != nil {
			if err := fn(off, p); err != nil {
				return count, false, err
			}
		}
		off += int64(n)
	}
	return count, true, nil
}

// Salvage calls fn for every CRC-valid record it can find in the file at
// path, typically a *.broken file written by recovery: it tries every
// aligned offset, so it also finds records after damage. off is the frame's
// offset in that file; rec is only valid until fn returns. The records are
// only as trustworthy as a CRC-32C makes them: callers must verify them
// (meshlogd events carry signatures). complete is false if the search hit
// its work limit on a pathological file. A nil fsys means OSFS; maxRecord
// bounds the payload lengths considered (0 means MaxFormatRecordSize).
func Salvage(fsys FS, path string, maxRecord int, fn func(off int64, rec []byte) error) (complete bool, err error) {
	if fsys == nil {
		fsys = OSFS{}
	}
	if maxRecord <= 0 {
		maxRecord = MaxFormatRecordSize
	}
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return false, fmt.Errorf("storage: salvage %s: %w", path, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return false, fmt.Errorf("storage: salvage %s: %w", path, err)
	}
	_, complete, err = salvageScan(newWindowReader(f, size), 0, size, maxRecord, fn)
	return complete, err
}
