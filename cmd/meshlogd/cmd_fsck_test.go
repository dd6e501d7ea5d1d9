package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshlogd/meshlogd/storage"
)

func fsckDir(t *testing.T) (string, []storage.Location) {
	t.Helper()
	dir := t.TempDir()
	l, _, err := storage.Open(dir, storage.Options{SegmentSize: 4096})
	if err != nil {
		t.Fatal(err)
	}
	var locs []storage.Location
	for i := range 100 {
		loc, err := l.Append(bytes.Repeat([]byte{byte(i + 1)}, 50+i))
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, loc)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir, locs
}

func fsckRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestFsckCleanAndDamaged(t *testing.T) {
	dir, locs := fsckDir(t)
	code, out, errs := fsckRun("fsck", "--data", dir)
	if code != exitOK || !strings.Contains(out, "100 records") || !strings.Contains(out, "clean") {
		t.Fatalf("clean fsck: %d %q %q", code, out, errs)
	}

	// Flip a byte in the middle of segment 2's first record.
	seg := filepath.Join(dir, storage.SegmentName(uint64(locs[50].Segment)))
	b, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	b[storage.HeaderSize+12] ^= 0xff
	if err := os.WriteFile(seg, b, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = fsckRun("fsck", "--data", dir, "--json")
	var res struct {
		Clean    bool `json:"clean"`
		Repaired bool `json:"repaired"`
		Damage   []storage.Damage
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if code != exitFailure || res.Clean || res.Repaired || len(res.Damage) != 1 || res.Damage[0].Kind != storage.Corrupt ||
		res.Damage[0].Offset != storage.HeaderSize || res.Damage[0].Salvageable == 0 {
		t.Fatalf("damaged fsck --json: %d %+v", code, res)
	}
	if after, _ := os.ReadFile(seg); !bytes.Equal(after, b) {
		t.Fatal("fsck without --repair changed the segment")
	}

	code, out, _ = fsckRun("fsck", "--data", dir, "--repair")
	if code != exitFailure || !strings.Contains(out, "repaired") || !strings.Contains(out, "moved to") {
		t.Fatalf("fsck --repair: %d %q", code, out)
	}
	code, out, _ = fsckRun("fsck", "--data", dir)
	if code != exitOK {
		t.Fatalf("fsck after repair: %d %q", code, out)
	}
}

func TestFsckNodeDataDir(t *testing.T) {
	logDir, _ := fsckDir(t)
	data := t.TempDir()
	if err := os.Rename(logDir, filepath.Join(data, "log")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MESHLOGD_DATA", data)
	if code, out, errs := fsckRun("fsck", "--json"); code != exitOK || !strings.Contains(out, `"records": 100`) {
		t.Fatalf("fsck of $MESHLOGD_DATA/log: %d %q %q", code, out, errs)
	}
}

func TestFsckUsage(t *testing.T) {
	t.Setenv("MESHLOGD_DATA", filepath.Join(t.TempDir(), "none"))
	if code, _, errs := fsckRun("fsck"); code != exitFailure || !strings.Contains(errs, "none") {
		t.Errorf("default data dir missing: %d %q", code, errs)
	}
	if code, _, _ := fsckRun("fsck", "--data", t.TempDir(), "extra"); code != exitUsage {
		t.Errorf("extra argument: %d", code)
	}
	if code, _, errs := fsckRun("fsck", "--help"); code != exitOK || !strings.Contains(errs, "--repair") {
		t.Errorf("--help: %d %q", code, errs)
	}
	if code, _, _ := fsckRun("fsck", "--data", filepath.Join(t.TempDir(), "missing")); code != exitFailure {
		t.Errorf("missing dir: %d", code)
	}
}
