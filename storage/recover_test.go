package storage_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path"
	"runtime"
	"testing"

	"github.com/meshlogd/meshlogd/storage"
	"github.com/meshlogd/meshlogd/storage/crashfs"
)

// buildLog writes n records with crashfs and returns the filesystem, the
// options and the records with their locations.
func buildLog(t *testing.T, seed uint64, segSize int64, n int) (*crashfs.FS, storage.Options, []entry) {
	t.Helper()
	fsys, o := memLog(t, seed, segSize)
	l, _ := mustOpen(t, "/d", o)
	var want []entry
	for i := range n {
		loc, err := l.Append(record(i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, entry{loc, record(i)})
	}
	mustClose(t, l)
	return fsys, o, want
}

// frameEnd returns the end offset of e's frame.
func frameEnd(e entry) int64 {
	return int64(e.loc.Offset) + (int64(storage.FrameHeaderSize+len(e.rec)+storage.Alignment-1) &^ (storage.Alignment - 1))
}

// reopenAndAppend checks that after recovery the log accepts an append and
// then opens clean with want plus that record.
func reopenAndAppend(t *testing.T, l *storage.Log, o storage.Options, want []entry) {
	t.Helper()
	loc, err := l.Append([]byte("after recovery"))
	if err != nil {
		t.Fatalf("append after recovery: %v", err)
	}
	mustClose(t, l)
	l, rep := mustOpen(t, "/d", o)
	defer mustClose(t, l)
	if !rep.Clean() {
		t.Fatalf("second open not clean: %+v", rep.Damage)
	}
	sameEntries(t, all(t, l), append(append([]entry(nil), want...), entry{loc, []byte("after recovery")}))
}

// TestTruncateEveryOffset cuts a segment at every byte offset: recovery
// keeps exactly the whole frames before the cut and reports the rest as a
// torn tail.
func TestTruncateEveryOffset(t *testing.T) {
	fsys, o, recs := buildLog(t, 1, 1<<20, 12)
	seg := "/d/" + storage.SegmentName(1)
	full, err := fsys.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut <= len(full); cut++ {
		if err := fsys.WriteFile(seg, full[:cut]); err != nil {
			t.Fatal(err)
		}
		// Remove what a previous iteration left.
		names, _ := fsys.ReadDir("/d")
		for _, n := range names {
			if n != "LOCK" && n != storage.SegmentName(1) {
				if err := fsys.Remove(path.Join("/d", n)); err != nil {
					t.Fatal(err)
				}
			}
		}
		l, rep, err := storage.Open("/d", o)
		if err != nil {
			t.Fatalf("cut %d: %v", cut, err)
		}
		if cut < storage.HeaderSize {
			if len(rep.Damage) != 1 || rep.Damage[0].Kind != storage.BadHeader || rep.Damage[0].MovedTo != storage.SegmentName(1)+storage.BrokenExt {
				t.Fatalf("cut %d: report %+v", cut, rep.Damage)
			}
			reopenAndAppend(t, l, o, nil)
			continue
		}
		var want []entry
		end := int64(storage.HeaderSize)
		for _, e := range recs {
			if frameEnd(e) <= int64(cut) {
				want = append(want, e)
				end = frameEnd(e)
			}
		}
		sameEntries(t, all(t, l), want)
		if end == int64(cut) {
			if !rep.Clean() {
				t.Fatalf("cut %d at a frame boundary: %+v", cut, rep.Damage)
			}
		} else {
			d := rep.Damage
			if len(d) != 1 || d[0].Kind != storage.TornTail || d[0].Offset != end || d[0].Length != int64(cut)-end || d[0].Salvageable != 0 {
				t.Fatalf("cut %d: report %+v (want torn tail at %d)", cut, d, end)
			}
			moved, err := fsys.ReadFile(path.Join("/d", d[0].MovedTo))
			if err != nil || !bytes.Equal(moved, full[end:cut]) {
				t.Fatalf("cut %d: moved-aside bytes %x, %v", cut, moved, err)
			}
		}
		reopenAndAppend(t, l, o, want)
	}
}

// TestZeroFilledTails appends zeros to a segment or zeroes its last bytes
// (the size reached the disk but the data did not).
func TestZeroFilledTails(t *testing.T) {
	fsys, o, recs := buildLog(t, 2, 1<<20, 8)
	seg := "/d/" + storage.SegmentName(1)
	full, err := fsys.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, data []byte, want []entry, wantTail int64) {
		t.Run(name, func(t *testing.T) {
			fsys, o := memLog(t, 2, o.SegmentSize)
			if err := fsys.WriteFile(seg, data); err != nil {
				t.Fatal(err)
			}
			l, rep := mustOpen(t, "/d", o)
			sameEntries(t, all(t, l), want)
			d := rep.Damage
			if len(d) != 1 || d[0].Kind != storage.TornTail || d[0].Length != wantTail || d[0].MovedTo != "" {
				t.Fatalf("report %+v, want a zero torn tail of %d bytes", d, wantTail)
			}
			reopenAndAppend(t, l, o, want)
		})
	}
	for _, n := range []int{1, 7, 8, 9, 512, 4096} {
		check(fmt.Sprintf("append %d zeros", n), append(bytes.Clone(full), make([]byte, n)...), recs, int64(n))
	}
	last := recs[len(recs)-1]
	pad := int(frameEnd(last)) - int(last.loc.Offset) - storage.FrameHeaderSize - len(last.rec)
	for _, n := range []int{pad + 1, pad + 8, pad + 9, int(frameEnd(last) - int64(last.loc.Offset))} {
		data := bytes.Clone(full)
		clear(data[len(data)-n:])
		if n == len(data)-int(last.loc.Offset) {
			check("zero the whole last frame", data, recs[:len(recs)-1], int64(n))
			continue
		}
		// Part of the last frame is zero: it fails its CRC; the nonzero
		// remainder is moved aside.
		t.Run(fmt.Sprintf("zero last %d bytes", n), func(t *testing.T) {
			fsys, o := memLog(t, 2, o.SegmentSize)
			if err := fsys.WriteFile(seg, data); err != nil {
				t.Fatal(err)
			}
			l, rep := mustOpen(t, "/d", o)
			want := recs[:len(recs)-1]
			sameEntries(t, all(t, l), want)
			if d := rep.Damage; len(d) != 1 || d[0].Kind != storage.TornTail || d[0].Offset != int64(last.loc.Offset) || d[0].MovedTo == "" {
				t.Fatalf("report %+v", d)
			}
			reopenAndAppend(t, l, o, want)
		})
	}
}

// TestRandomBitFlips flips one random bit anywhere in a multi-segment log.
// Recovery must keep every record outside the damaged frame's segment
// remainder, report the damage precisely, keep the removed bytes, and never
// return a damaged record.
func TestRandomBitFlips(t *testing.T) {
	trials := 400
	if runtime.GOARCH == "arm" {
		trials = 100
	}
	_, o, recs := buildLog(t, 3, 4096, 90)
	var segs []uint32
	bySeg := map[uint32][]entry{}
	for _, e := range recs {
		if len(bySeg[e.loc.Segment]) == 0 {
			segs = append(segs, e.loc.Segment)
		}
		bySeg[e.loc.Segment] = append(bySeg[e.loc.Segment], e)
	}
	if len(segs) < 3 {
		t.Fatalf("only %d segments", len(segs))
	}
	rng := rand.New(rand.NewPCG(3, 3))
	for trial := range trials {
		// Rebuild the same log, then damage it.
		fsys, o2, _ := buildLog(t, 3, o.SegmentSize, 90)
		s := segs[rng.IntN(len(segs))]
		name := "/d/" + storage.SegmentName(uint64(s))
		data, err := fsys.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		pos := rng.IntN(len(data))
		data[pos] ^= 1 << rng.IntN(8)
		if err := fsys.WriteFile(name, data); err != nil {
			t.Fatal(err)
		}
		l, rep := mustOpen(t, "/d", o2)
		var want, lost []entry
		for _, e := range recs {
			switch {
			case e.loc.Segment != s:
				want = append(want, e)
			case pos >= storage.HeaderSize && frameEnd(e) <= int64(pos):
				want = append(want, e)
			case pos < storage.HeaderSize || int64(e.loc.Offset) > int64(pos):
				lost = append(lost, e) // intact, after the damage or behind a bad header
			}
		}
		sameEntries(t, all(t, l), want)
		if len(rep.Damage) != 1 {
			t.Fatalf("trial %d (segment %d byte %d): damage %+v", trial, s, pos, rep.Damage)
		}
		d := rep.Damage[0]
		wantKind := storage.Corrupt
		switch {
		case pos < storage.HeaderSize:
			wantKind = storage.BadHeader
		case s == segs[len(segs)-1] && len(lost) == 0:
			wantKind = storage.TornTail
		}
		if d.Kind != wantKind || d.Segment != uint64(s) || d.Salvageable != len(lost) || d.MovedTo == "" {
			t.Fatalf("trial %d (segment %d byte %d): damage %+v, want %s with %d salvageable", trial, s, pos, d, wantKind, len(lost))
		}
		// The removed bytes are kept, and the intact records after the
		// damage (or behind a bad header) can be salvaged.
		var got [][]byte
		if _, err := storage.Salvage(fsys, path.Join("/d", d.MovedTo), o2.MaxRecordSize, func(_ int64, rec []byte) error {
			got = append(got, bytes.Clone(rec))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(lost) {
			t.Fatalf("trial %d: salvaged %d records, want %d", trial, len(got), len(lost))
		}
		for i := range got {
			if !bytes.Equal(got[i], lost[i].rec) {
				t.Fatalf("trial %d: salvaged record %d differs", trial, i)
			}
		}
		reopenAndAppend(t, l, o2, want)
	}
}
