package storage_test

import (
	"errors"
	"testing"

	"github.com/meshlogd/meshlogd/storage"
	"github.com/meshlogd/meshlogd/storage/crashfs"
)

// segmentHeaders returns valid headers of segments 1 and 2, made by the log
// itself.
func segmentHeaders(t testing.TB) (h1, h2 []byte) {
	fsys := crashfs.New(0)
	if err := fsys.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	o := storage.Options{FS: fsys, SegmentSize: storage.MinSegmentSize}
	l, _, err := storage.Open("/d", o)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := l.Append(make([]byte, storage.MinSegmentSize-100)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := fsys.ReadFile("/d/" + storage.SegmentName(1))
	if err != nil {
		t.Fatal(err)
	}
	b, err := fsys.ReadFile("/d/" + storage.SegmentName(2))
	if err != nil {
		t.Fatal(err)
	}
	return a[:storage.HeaderSize], b[:storage.HeaderSize]
}

// FuzzRecover opens a data directory whose two segments hold arbitrary
// bytes after valid headers (or, when the first input byte is odd, no
// header at all). Recovery must not fail, must leave a log that iterates
// without error and accepts an append, and a second open must be clean
// with exactly the records the first one kept plus the new one.
func FuzzRecover(f *testing.F) {
	f.Add([]byte{0}, []byte{})
	f.Add([]byte{0, 1, 0, 0, 0, 0xf8, 0x09, 0xce, 0xee, 'a', 0, 0, 0, 0, 0, 0, 0}, []byte{1, 0, 0, 0})
	f.Add([]byte{1, 2, 3}, []byte{0, 0, 0, 0, 0, 0, 0, 0})
	h1, h2 := segmentHeaders(f)
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fsys := crashfs.New(1)
		if err := fsys.MkdirAll("/d", 0o755); err != nil {
			t.Fatal(err)
		}
		seg1 := append([]byte(nil), a...)
		if len(a) == 0 || a[0]%2 == 0 {
			seg1 = append(append([]byte(nil), h1...), a...)
		}
		if err := fsys.WriteFile("/d/"+storage.SegmentName(1), seg1); err != nil {
			t.Fatal(err)
		}
		if err := fsys.WriteFile("/d/"+storage.SegmentName(2), append(append([]byte(nil), h2...), b...)); err != nil {
			t.Fatal(err)
		}
		o := storage.Options{FS: fsys, SegmentSize: storage.MinSegmentSize}
		l, _, err := storage.Open("/d", o)
		if err != nil {
			if errors.Is(err, storage.ErrUnsupportedVersion) {
				return // an intact header of another version: refused, untouched
			}
			t.Fatalf("Open: %v", err)
		}
		kept := 0
		if err := l.Iterate(func(storage.Location, []byte) error { kept++; return nil }); err != nil {
			t.Fatalf("Iterate after recovery: %v", err)
		}
		if _, err := l.Append([]byte("after")); err != nil {
			t.Fatalf("Append after recovery: %v", err)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		l, rep, err := storage.Open("/d", o)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if !rep.Clean() || rep.Records != int64(kept+1) {
			t.Fatalf("second open: %d records (want %d), damage %+v", rep.Records, kept+1, rep.Damage)
		}
	})
}
