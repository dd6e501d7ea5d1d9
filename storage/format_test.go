package storage

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/golden.seg and the fuzz seed corpora")

// goldenRecords are the records of testdata/golden.seg.
var goldenRecords = [][]byte{
	[]byte("a"),
	[]byte("hello, mesh"),
	[]byte("exactly8"),
	bytes.Repeat([]byte{0xA5}, 21),
}

func goldenSegment() []byte {
	b := appendHeader(nil, 1)
	for _, r := range goldenRecords {
		b = appendFrame(b, r)
	}
	return b
}

// TestGoldenSegment pins the on-disk format byte for byte (the README
// documents the same bytes). Run with -update after a deliberate change.
func TestGoldenSegment(t *testing.T) {
	got := goldenSegment()
	path := filepath.Join("testdata", "golden.seg")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("segment encoding changed:\ngot  % x\nwant % x", got, want)
	}
	// The written bytes must also be what Open produces.
	dir := t.TempDir()
	l, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AppendBatch(goldenRecords); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile(filepath.Join(dir, SegmentName(1)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(disk, want) {
		t.Fatalf("Log wrote\n% x\nwant\n% x", disk, want)
	}
}

func TestFrameSizes(t *testing.T) {
	for _, tc := range []struct{ n, want int }{{1, 16}, {7, 16}, {8, 16}, {9, 24}, {16, 24}, {17, 32}} {
		if got := frameSize(tc.n); got != int64(tc.want) {
			t.Errorf("frameSize(%d) = %d, want %d", tc.n, got, tc.want)
		}
		f := appendFrame(nil, bytes.Repeat([]byte{1}, tc.n))
		if len(f) != tc.want {
			t.Errorf("appendFrame(%d bytes) is %d bytes, want %d", tc.n, len(f), tc.want)
		}
	}
}

func TestDecodeFrameErrors(t *testing.T) {
	good := appendFrame(nil, []byte("payload"))
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	badLen := bytes.Clone(good)
	badLen[3] = 0x7f
	for _, tc := range []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"empty", nil, 0, ErrTruncated},
		{"short header", good[:7], 0, ErrTruncated},
		{"short payload", good[:10], 0, ErrTruncated},
		{"zero header", make([]byte, 16), 0, ErrZeroFrame},
		{"zero length nonzero crc", []byte{0, 0, 0, 0, 1, 0, 0, 0}, 0, ErrBadLength},
		{"length over limit", good, 6, ErrBadLength},
		{"length over format limit", badLen, 0, ErrBadLength},
		{"flipped length", flip(0), 0, ErrBadCRC},
		{"flipped crc", flip(5), 0, ErrBadCRC},
		{"flipped payload", flip(9), 0, ErrBadCRC},
		{"flipped padding", flip(15), 0, ErrBadPadding},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeFrame(tc.in, tc.max)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
	p, n, err := DecodeFrame(good, 0)
	if err != nil || string(p) != "payload" || n != 16 {
		t.Fatalf("good frame: %q %d %v", p, n, err)
	}
}

func TestParseHeader(t *testing.T) {
	h := appendHeader(nil, 7)
	if got, err := parseHeader(h); err != nil || got.Seq != 7 || got.Version != FormatVersion {
		t.Fatalf("parseHeader = %+v, %v", got, err)
	}
	for i := range h {
		b := bytes.Clone(h)
		b[i] ^= 1
		if _, err := parseHeader(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("bit flip at %d accepted", i)
		}
	}
	if _, err := parseHeader(h[:31]); !errors.Is(err, ErrBadHeader) {
		t.Errorf("short header: %v", err)
	}
}

func TestSegmentNames(t *testing.T) {
	if got := SegmentName(0x1f); got != "000000000000001f.seg" {
		t.Fatalf("SegmentName = %q", got)
	}
	for _, tc := range []struct {
		name string
		seq  uint64
		ok   bool
	}{
		{"000000000000001f.seg", 0x1f, true},
		{"0000000000000000.seg", 0, false},
		{"000000000000001F.seg", 0, false},
		{"00000000000001f.seg", 0, false},
		{"000000000000001f.seg.tmp", 0, false},
		{"+00000000000001f.seg", 0, false},
	} {
		seq, ok := parseSegmentName(tc.name)
		if seq != tc.seq || ok != tc.ok {
			t.Errorf("parseSegmentName(%q) = %d, %v", tc.name, seq, ok)
		}
	}
	if seq, ok := brokenBase("0000000000000003.seg.00000040.broken"); !ok || seq != 3 {
		t.Errorf("brokenBase = %d %v", seq, ok)
	}
}

// writeSeeds writes a go-fuzz v1 corpus file per seed (with -update).
func writeSeeds(t *testing.T, target string, seeds [][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(s)))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func segmentSeeds() [][]byte {
	g := goldenSegment()
	torn := bytes.Clone(g[:len(g)-5])
	flipped := bytes.Clone(g)
	flipped[50] ^= 4
	zeroTail := append(bytes.Clone(g), make([]byte, 40)...)
	hugeLen := append(bytes.Clone(g), 0xff, 0xff, 0xff, 0x00, 1, 2, 3, 4)
	return [][]byte{g, g[:HeaderSize], torn, flipped, zeroTail, hugeLen, {}}
}

func TestFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite the seed corpora")
	}
	writeSeeds(t, "FuzzSegmentReader", segmentSeeds())
	writeSeeds(t, "FuzzDecodeFrame", [][]byte{appendFrame(nil, []byte("x")), appendFrame(nil, []byte("payload!!")), make([]byte, 8), {1, 0, 0, 0}})
}

// FuzzDecodeFrame checks that DecodeFrame never panics and that whatever it
// accepts re-encodes to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendFrame(nil, []byte("seed")))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := DecodeFrame(b, 1<<16)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if re := appendFrame(nil, p); !bytes.Equal(re, b[:n]) {
			t.Fatalf("accepted frame does not re-encode:\n% x\n% x", b[:n], re)
		}
	})
}

// FuzzSegmentReader feeds arbitrary bytes as segment 1 to the recovery
// scanner and the salvage search. The valid prefix must re-encode to the
// same bytes, scanning must stay inside the file, and every salvaged
// record must be a canonical frame at its offset.
func FuzzSegmentReader(f *testing.F) {
	for _, s := range segmentSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		const maxRecord = 1 << 12
		size := int64(len(b))
		sc, err := scanReader(newWindowReader(bytes.NewReader(b), size), size, 1, maxRecord)
		if err != nil {
			t.Fatalf("I/O error from an in-memory file: %v", err)
		}
		check := func(off int64, rec []byte) error {
			if off%Alignment != 0 || off < 0 || off+frameSize(len(rec)) > size {
				t.Fatalf("salvaged frame at %d (%d bytes) outside file of %d", off, len(rec), size)
			}
			if re := appendFrame(nil, rec); !bytes.Equal(re, b[off:off+int64(len(re))]) {
				t.Fatalf("salvaged frame at %d does not re-encode", off)
			}
			return nil
		}
		if _, _, err := salvageScan(newWindowReader(bytes.NewReader(b), size), 0, size, maxRecord, check); err != nil {
			t.Fatal(err)
		}
		if sc.headerErr != nil {
			return
		}
		if sc.goodEnd < HeaderSize || sc.goodEnd > size || sc.goodEnd%Alignment != 0 {
			t.Fatalf("goodEnd %d in file of %d", sc.goodEnd, size)
		}
		if (sc.badErr == nil) != (sc.goodEnd == size) {
			t.Fatalf("badErr %v with goodEnd %d of %d", sc.badErr, sc.goodEnd, size)
		}
		// Re-encode the valid prefix.
		re := appendHeader(nil, 1)
		var n int64
		for off := int64(HeaderSize); off < sc.goodEnd; {
			p, fs, err := DecodeFrame(b[off:], maxRecord)
			if err != nil {
				t.Fatalf("prefix frame at %d: %v", off, err)
			}
			re = appendFrame(re, p)
			off += int64(fs)
			n++
		}
		if n != sc.records || !bytes.Equal(re, b[:sc.goodEnd]) {
			t.Fatalf("valid prefix (%d records) does not re-encode", n)
		}
	})
}
