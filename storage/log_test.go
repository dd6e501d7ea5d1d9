package storage_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/meshlogd/meshlogd/storage"
	"github.com/meshlogd/meshlogd/storage/crashfs"
)

// record returns the deterministic payload number i: 1..200 bytes derived
// from i, so a test can tell every record apart and detect any change.
func record(i int) []byte {
	n := 1 + (i*37)%200
	b := make([]byte, n)
	h := fnv.New64a()
	fmt.Fprintf(h, "record %d", i)
	x := h.Sum64()
	for j := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[j] = byte(x)
	}
	copy(b, fmt.Sprintf("%d", i)) // readable prefix in hex dumps
	return b
}

type entry struct {
	loc storage.Location
	rec []byte
}

// all iterates l and returns every record with its location (copied).
func all(t *testing.T, l *storage.Log) []entry {
	t.Helper()
	var out []entry
	err := l.Iterate(func(loc storage.Location, rec []byte) error {
		out = append(out, entry{loc, bytes.Clone(rec)})
		return nil
	})
	if err != nil {
		t.Fatalf("Iterate: %v", err)
	}
	return out
}

func mustOpen(t *testing.T, dir string, o storage.Options) (*storage.Log, *storage.Report) {
	t.Helper()
	l, rep, err := storage.Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, rep
}

func mustClose(t *testing.T, l *storage.Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func sameEntries(t *testing.T, got, want []entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i].loc != want[i].loc || !bytes.Equal(got[i].rec, want[i].rec) {
			t.Fatalf("record %d: got %v %q, want %v %q", i, got[i].loc, got[i].rec, want[i].loc, want[i].rec)
		}
	}
}

func TestAppendReadIterateReopen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // Open creates it
	o := storage.Options{SegmentSize: 4096}
	l, rep := mustOpen(t, dir, o)
	if !rep.Clean() || rep.Records != 0 {
		t.Fatalf("fresh report %+v", rep)
	}
	var want []entry
	for i := 0; i < 300; {
		if i%7 == 0 {
			batch := [][]byte{record(i), record(i + 1), record(i + 2)}
			locs, err := l.AppendBatch(batch)
			if err != nil {
				t.Fatal(err)
			}
			for j, loc := range locs {
				want = append(want, entry{loc, batch[j]})
			}
			i += 3
			continue
		}
		loc, err := l.Append(record(i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, entry{loc, record(i)})
		i++
	}
	for _, e := range want {
		got, err := l.Read(e.loc)
		if err != nil || !bytes.Equal(got, e.rec) {
			t.Fatalf("Read(%v) = %q, %v", e.loc, got, err)
		}
	}
	sameEntries(t, all(t, l), want)
	st := l.Stats()
	if st.Records != int64(len(want)) || st.Segments < 5 {
		t.Fatalf("stats %+v", st)
	}
	mustClose(t, l)
	if err := l.Close(); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := l.Append([]byte("x")); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}

	l, rep = mustOpen(t, dir, o)
	if !rep.Clean() || rep.Records != int64(len(want)) || rep.Segments != st.Segments {
		t.Fatalf("reopen report %+v", rep)
	}
	sameEntries(t, all(t, l), want)
	loc, err := l.Append([]byte("after reopen"))
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, entry{loc, []byte("after reopen")})
	sameEntries(t, all(t, l), want)
	mustClose(t, l)

	names, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n.Name() != "LOCK" && !strings.HasSuffix(n.Name(), storage.SegmentExt) {
			t.Errorf("unexpected file %s", n.Name())
		}
		if fi, _ := n.Info(); strings.HasSuffix(n.Name(), storage.SegmentExt) && fi.Size() > 4096 {
			t.Errorf("segment %s is %d bytes, limit 4096", n.Name(), fi.Size())
		}
	}
}

func TestBadInput(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), storage.Options{SegmentSize: 8192, MaxRecordSize: 100})
	defer mustClose(t, l)
	if _, err := l.Append(nil); !errors.Is(err, storage.ErrEmptyRecord) {
		t.Errorf("empty: %v", err)
	}
	if _, err := l.Append(make([]byte, 101)); !errors.Is(err, storage.ErrRecordTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if _, err := l.AppendBatch([][]byte{{1}, nil}); !errors.Is(err, storage.ErrEmptyRecord) {
		t.Errorf("batch with empty: %v", err)
	}
	if locs, err := l.AppendBatch(nil); err != nil || locs != nil {
		t.Errorf("empty batch: %v %v", locs, err)
	}
	loc, err := l.Append(make([]byte, 100))
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []storage.Location{
		{}, {Segment: 9, Offset: 32}, {Segment: loc.Segment, Offset: 8},
		{Segment: loc.Segment, Offset: loc.Offset + 4}, {Segment: loc.Segment, Offset: 1 << 20},
	} {
		if _, err := l.Read(bad); !errors.Is(err, storage.ErrBadLocation) {
			t.Errorf("Read(%v): %v", bad, err)
		}
	}
	// A location inside a payload decodes as garbage: reported, never returned.
	if _, err := l.Read(storage.Location{Segment: loc.Segment, Offset: loc.Offset + 8}); !errors.Is(err, storage.ErrCorrupt) {
		t.Errorf("Read inside payload: %v", err)
	}
	for _, o := range []storage.Options{
		{SegmentSize: 100}, {SegmentSize: 2 << 30}, {SegmentSize: 4096, MaxRecordSize: 4096}, {MaxRecordSize: -1},
	} {
		if _, _, err := storage.Open(t.TempDir(), o); !errors.Is(err, storage.ErrBadOptions) {
			t.Errorf("Open(%+v): %v", o, err)
		}
	}
}

func TestLocked(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, storage.Options{})
	if _, _, err := storage.Open(dir, storage.Options{}); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("second Open: %v", err)
	}
	if _, err := storage.Check(dir, storage.Options{}); !errors.Is(err, storage.ErrLocked) {
		t.Fatalf("Check while open: %v", err)
	}
	mustClose(t, l)
	rep, err := storage.Check(dir, storage.Options{})
	if err != nil || !rep.Clean() {
		t.Fatalf("Check after Close: %+v %v", rep, err)
	}
}

// memLog opens a log on a fresh crashfs with small segments.
func memLog(t *testing.T, seed uint64, segSize int64) (*crashfs.FS, storage.Options) {
	t.Helper()
	fsys := crashfs.New(seed)
	if err := fsys.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	return fsys, storage.Options{FS: fsys, SegmentSize: segSize, MaxRecordSize: 512}
}

func TestDiskFull(t *testing.T) {
	fsys, o := memLog(t, 1, 4096)
	l, _ := mustOpen(t, "/d", o)
	var want []entry
	fsys.SetCapacity(3 * 4096)
	var full error
	for i := 0; i < 1000 && full == nil; i++ {
		loc, err := l.AppendBatch([][]byte{record(i), record(i + 1000)})
		if err != nil {
			full = err
			break
		}
		want = append(want, entry{loc[0], record(i)}, entry{loc[1], record(i + 1000)})
	}
	if !errors.Is(full, syscall.ENOSPC) {
		t.Fatalf("expected ENOSPC, got %v", full)
	}
	if errors.Is(full, storage.ErrFailed) {
		t.Fatalf("ENOSPC must not fail the log: %v", full)
	}
	sameEntries(t, all(t, l), want)
	// Still full: another append fails the same clean way.
	if _, err := l.Append(bytes.Repeat([]byte{7}, 500)); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("second append while full: %v", err)
	}
	fsys.SetCapacity(0)
	loc, err := l.Append([]byte("space again"))
	if err != nil {
		t.Fatalf("append after freeing space: %v", err)
	}
	want = append(want, entry{loc, []byte("space again")})
	sameEntries(t, all(t, l), want)
	mustClose(t, l)
	l, rep := mustOpen(t, "/d", o)
	if !rep.Clean() {
		t.Fatalf("disk full left damage: %+v", rep.Damage)
	}
	sameEntries(t, all(t, l), want)
	mustClose(t, l)
}

func TestFsyncFailureFailsLog(t *testing.T) {
	fsys, o := memLog(t, 2, 4096)
	l, _ := mustOpen(t, "/d", o)
	loc, err := l.Append([]byte("kept"))
	if err != nil {
		t.Fatal(err)
	}
	fsys.FailNextSync(syscall.EIO)
	if _, err := l.Append([]byte("lost")); !errors.Is(err, storage.ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("append with failing fsync: %v", err)
	}
	if _, err := l.Append([]byte("after")); !errors.Is(err, storage.ErrFailed) {
		t.Fatalf("append after failed fsync: %v", err)
	}
	if got, err := l.Read(loc); err != nil || string(got) != "kept" {
		t.Fatalf("Read: %q %v", got, err)
	}
	_ = l.Close() // the failed log still closes its files
	fsys = fsys.Crash()
	o.FS = fsys
	l, _ = mustOpen(t, "/d", o)
	got := all(t, l)
	if len(got) == 0 || got[0].loc != loc || string(got[0].rec) != "kept" {
		t.Fatalf("after reopen: %v", got)
	}
	if _, err := l.Append([]byte("works")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
}

func TestStrayTempAndMissingSegment(t *testing.T) {
	fsys, o := memLog(t, 3, 4096)
	l, _ := mustOpen(t, "/d", o)
	for i := range 100 {
		if _, err := l.Append(record(i)); err != nil {
			t.Fatal(err)
		}
	}
	mustClose(t, l)
	if err := fsys.WriteFile("/d/0000000000000009.seg.tmp", []byte("half a header")); err != nil {
		t.Fatal(err)
	}
	seg2, err := fsys.ReadFile("/d/" + storage.SegmentName(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.Remove("/d/" + storage.SegmentName(2)); err != nil {
		t.Fatal(err)
	}
	rep, err := storage.Check("/d", o)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) != 1 || rep.Damage[0].Kind != storage.MissingSegment || rep.Damage[0].Segment != 2 ||
		!slices.Equal(rep.StrayTemp, []string{"0000000000000009.seg.tmp"}) || rep.Repaired {
		t.Fatalf("Check report %+v", rep)
	}
	l, rep = mustOpen(t, "/d", o)
	if !rep.Repaired || len(rep.Damage) != 1 {
		t.Fatalf("Open report %+v", rep)
	}
	if _, err := fsys.ReadFile("/d/0000000000000009.seg.tmp"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stray temp not removed: %v", err)
	}
	for _, e := range all(t, l) {
		if e.loc.Segment == 2 {
			t.Fatalf("record from deleted segment: %v", e.loc)
		}
	}
	mustClose(t, l)
	// Putting the segment back heals the log.
	if err := fsys.WriteFile("/d/"+storage.SegmentName(2), seg2); err != nil {
		t.Fatal(err)
	}
	l, rep = mustOpen(t, "/d", o)
	if !rep.Clean() || rep.Records != 100 {
		t.Fatalf("healed report %+v", rep)
	}
	mustClose(t, l)
}

func TestNewerFormatRefused(t *testing.T) {
	fsys, o := memLog(t, 4, 4096)
	l, _ := mustOpen(t, "/d", o)
	if _, err := l.Append([]byte("v1 record")); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	// Segment 2 written by a future version: intact header, version 2.
	h := make([]byte, storage.HeaderSize)
	copy(h, "MESHLOG\x1a")
	h[8], h[16] = 2, 2
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], crc32.MakeTable(crc32.Castagnoli)))
	if err := fsys.WriteFile("/d/"+storage.SegmentName(2), h); err != nil {
		t.Fatal(err)
	}
	if _, _, err := storage.Open("/d", o); !errors.Is(err, storage.ErrUnsupportedVersion) || errors.Is(err, storage.ErrCorrupt) {
		t.Fatalf("Open: %v", err)
	}
	if _, err := storage.Check("/d", o); !errors.Is(err, storage.ErrUnsupportedVersion) {
		t.Fatalf("Check: %v", err)
	}
	if got, err := fsys.ReadFile("/d/" + storage.SegmentName(2)); err != nil || !bytes.Equal(got, h) {
		t.Fatalf("newer segment touched: %v", err)
	}
}

// roFS is a filesystem mounted read-only: no lock file can be created.
type roFS struct{ storage.FS }

func (roFS) Lock(string) (func() error, error) { return nil, syscall.EROFS }

func TestCheckReadOnlyDirectory(t *testing.T) {
	_, o, _ := buildLog(t, 6, 4096, 20)
	o.FS = roFS{o.FS}
	rep, err := storage.Check("/d", o)
	if err != nil || !rep.Clean() || rep.Records != 20 {
		t.Fatalf("Check on a read-only directory: %+v %v", rep, err)
	}
	if _, err := storage.Repair("/d", o); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Repair without the lock: %v", err)
	}
	if _, _, err := storage.Open("/d", o); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Open without the lock: %v", err)
	}
}

func TestIndex(t *testing.T) {
	x := storage.NewIndex()
	a, b := storage.Key{1}, storage.Key{2}
	loc := func(i int) storage.Location { return storage.Location{Segment: 1, Offset: uint32(32 + 8*i)} }
	for i := 1; i <= 1000; i++ {
		x.Put(a, uint64(i), loc(i))
	}
	x.Put(b, 5000, loc(1))    // new key, far seq
	x.Put(a, 1000000, loc(2)) // far jump: sparse
	x.Put(a, 0, loc(3))       // below base: sparse
	x.Put(a, 1002, loc(4))    // small gap: dense
	x.Put(a, 10, loc(5))      // overwrite
	x.Put(a, 11, storage.Location{})
	if x.Len() != 1004 || x.Keys() != 2 {
		t.Fatalf("Len %d Keys %d", x.Len(), x.Keys())
	}
	for _, tc := range []struct {
		k   storage.Key
		seq uint64
		loc storage.Location
		ok  bool
	}{
		{a, 1, loc(1), true}, {a, 10, loc(5), true}, {a, 11, loc(11), true}, {a, 1000, loc(1000), true},
		{a, 1001, storage.Location{}, false}, {a, 1002, loc(4), true}, {a, 0, loc(3), true},
		{a, 1000000, loc(2), true}, {b, 5000, loc(1), true}, {b, 4999, storage.Location{}, false},
		{storage.Key{3}, 1, storage.Location{}, false},
	} {
		if got, ok := x.Get(tc.k, tc.seq); got != tc.loc || ok != tc.ok {
			t.Errorf("Get(%x, %d) = %v %v, want %v %v", tc.k[0], tc.seq, got, ok, tc.loc, tc.ok)
		}
	}
	// Filling the gap below a sparse entry promotes it without double counting.
	x.Put(b, 5002, loc(7))
	x.Put(b, 4990, loc(8))
	x.Put(b, 5001, loc(9))
	if x.Len() != 1007 {
		t.Fatalf("Len %d after promotions", x.Len())
	}
}

// TestIndexMemoryPerEvent checks the ≤ 32 bytes/event goal on a realistic
// shape: 200 authors with 5000 consecutive events each.
func TestIndexMemoryPerEvent(t *testing.T) {
	authors, per := 200, 5000
	if runtime.GOARCH == "arm" {
		per = 1000
	}
	x := storage.NewIndex()
	for s := 1; s <= per; s++ {
		for a := range authors {
			x.Put(storage.Key{byte(a), byte(a >> 8)}, uint64(s), storage.Location{Segment: 1, Offset: uint32(32 + 8*s)})
		}
	}
	perEvent := float64(x.MemoryBytes()) / float64(x.Len())
	t.Logf("index: %.1f bytes/event over %d events", perEvent, x.Len())
	if perEvent > 32 {
		t.Fatalf("index uses %.1f bytes/event, goal ≤ 32", perEvent)
	}
}

// TestStatsCountBytesWritten checks the counters behind the write
// amplification figures against the files on disk.
func TestStatsCountBytesWritten(t *testing.T) {
	fsys, o := memLog(t, 5, 4096)
	l, _ := mustOpen(t, "/d", o)
	var payload int64
	for i := range 200 {
		r := record(i)
		payload += int64(len(r))
		if _, err := l.AppendBatch([][]byte{r}); err != nil {
			t.Fatal(err)
		}
	}
	st := l.Stats()
	mustClose(t, l)
	var onDisk int64
	names, err := fsys.ReadDir("/d")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, storage.SegmentExt) {
			b, err := fsys.ReadFile("/d/" + n)
			if err != nil {
				t.Fatal(err)
			}
			onDisk += int64(len(b))
		}
	}
	if st.FileBytes != onDisk || st.PayloadBytes != payload || st.Records != 200 || st.Batches != 200 {
		t.Fatalf("stats %+v; files hold %d bytes, payload %d", st, onDisk, payload)
	}
	// One sync per batch plus one per segment header.
	if st.Syncs != st.Batches+int64(st.Segments) || st.DirSyncs != int64(st.Segments) {
		t.Fatalf("stats %+v", st)
	}
	if st.PagesSynced < st.Syncs || st.PagesSynced > st.Syncs*2 {
		t.Fatalf("pages synced %d for %d small syncs", st.PagesSynced, st.Syncs)
	}
}
