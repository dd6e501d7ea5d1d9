package crashfs_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/meshlogd/meshlogd/storage/crashfs"
)

// write creates name with synced content a, then appends b without a sync.
func write(t *testing.T, f *crashfs.FS, name string, a, b []byte) {
	t.Helper()
	h, err := f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Write(a); err != nil {
		t.Fatal(err)
	}
	if err := h.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestCrashKeepsSyncedLosesOrTearsTheRest(t *testing.T) {
	synced, unsynced := []byte("durable."), bytes.Repeat([]byte{'x'}, 2000)
	outcomes := map[string]bool{}
	for seed := range uint64(200) {
		f := crashfs.New(seed)
		if err := f.MkdirAll("/d", 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, f, "/d/a", synced, unsynced)
		if err := f.SyncDir("/d"); err != nil {
			t.Fatal(err)
		}
		old := f
		f = f.Crash()
		if !old.Stale() || f.Stale() {
			t.Fatal("Stale wrong after Crash")
		}
		if _, err := old.ReadDir("/d"); !errors.Is(err, crashfs.ErrCrashed) {
			t.Fatalf("old FS still works: %v", err)
		}
		got, err := f.ReadFile("/d/a")
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(got, synced) || len(got) > len(synced)+len(unsynced) {
			t.Fatalf("seed %d: after crash %q", seed, got)
		}
		tail := got[len(synced):]
		trimmed := bytes.TrimRight(tail, "\x00")
		switch {
		case len(tail) == 0:
			outcomes["lost"] = true
		case bytes.Count(trimmed, []byte{'x'}) == len(trimmed) && len(trimmed) == len(tail):
			outcomes["torn"] = true
		case bytes.Count(trimmed, []byte{'x'}) == len(trimmed):
			outcomes["zero-filled"] = true
		default:
			outcomes["sectors"] = true
		}
	}
	if len(outcomes) != 4 {
		t.Fatalf("crash outcomes seen: %v", outcomes)
	}
}

func TestUnsyncedDirectoryEntries(t *testing.T) {
	kept, lost := 0, 0
	for seed := range uint64(100) {
		f := crashfs.New(seed)
		if err := f.MkdirAll("/d", 0o755); err != nil {
			t.Fatal(err)
		}
		write(t, f, "/d/tmp", []byte("header"), nil)
		if err := f.Rename("/d/tmp", "/d/final"); err != nil {
			t.Fatal(err)
		}
		f = f.Crash()
		names, err := f.ReadDir("/d")
		if err != nil {
			t.Fatal(err)
		}
		switch len(names) {
		case 0:
			lost++ // neither the creation nor the rename survived
		case 1:
			kept++
			if got, err := f.ReadFile("/d/" + names[0]); err != nil || string(got) != "header" {
				t.Fatalf("seed %d: %s = %q %v", seed, names[0], got, err)
			}
		default:
			t.Fatalf("seed %d: entries %v", seed, names)
		}
	}
	if kept == 0 || lost == 0 {
		t.Fatalf("kept %d lost %d: directory changes should survive only sometimes", kept, lost)
	}
}

func TestCrashAfterAndFaults(t *testing.T) {
	f := crashfs.New(1)
	if err := f.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	h, err := f.OpenFile("/d/a", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.CrashAfter(2)
	if _, err := h.Write([]byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Write([]byte("two")); !errors.Is(err, crashfs.ErrCrashed) {
		t.Fatalf("second write: %v", err)
	}
	if _, err := h.Write([]byte("three")); !errors.Is(err, crashfs.ErrCrashed) {
		t.Fatalf("after crash: %v", err)
	}
	if !f.Stale() || f.Crashes() != 1 {
		t.Fatal("CrashAfter did not crash")
	}
	f = f.Reboot()
	if _, err := f.Lock("/d/LOCK"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lock("/d/LOCK"); err == nil {
		t.Fatal("second lock granted")
	}

	h, err = f.OpenFile("/d/b", os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.SetCapacity(10)
	if n, err := h.Write(make([]byte, 20)); err == nil || n > 10 {
		t.Fatalf("write over capacity: %d %v", n, err)
	}
	f.FailNextSync(errors.New("boom"))
	if err := h.Sync(); err == nil {
		t.Fatal("FailNextSync ignored")
	}
	if err := h.Sync(); err != nil {
		t.Fatalf("second sync: %v", err)
	}
}
