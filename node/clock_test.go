package node

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestClockStateRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), ClockFile)
	s, err := LoadClockState(p)
	if err != nil || s.HLCFloor != 0 || s.Source != "free-running" {
		t.Fatalf("missing file: %+v %v", s, err)
	}
	want := ClockState{HLCFloor: PackHLC(1_790_000_000_000, 7), AnnounceFloor: 1_790_000_000, Source: "peers"}
	if err := SaveClockState(p, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadClockState(p)
	if err != nil || got != want {
		t.Fatalf("got %+v %v, want %+v", got, err, want)
	}
	if HLCMillis(got.HLCFloor) != 1_790_000_000_000 {
		t.Fatal("HLCMillis")
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
	// Every single-byte corruption and every truncation is detected.
	raw, _ := os.ReadFile(p)
	for i := range raw {
		bad := append([]byte(nil), raw...)
		bad[i] ^= 0x40
		if _, err := decodeClockState(bad); !errors.Is(err, ErrClockFile) {
			t.Fatalf("flip at %d not detected: %v", i, err)
		}
		if _, err := decodeClockState(raw[:i]); !errors.Is(err, ErrClockFile) {
			t.Fatalf("truncation at %d not detected", i)
		}
	}
}

func TestDefaultDataDir(t *testing.T) {
	t.Setenv(EnvData, "/tmp/x")
	if d, _ := DefaultDataDir(); d != "/tmp/x" {
		t.Fatalf("env: %s", d)
	}
	t.Setenv(EnvData, "")
	t.Setenv("XDG_DATA_HOME", "/tmp/xdg")
	d, err := DefaultDataDir()
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 && d != "/var/lib/meshlogd" || os.Geteuid() != 0 && d != "/tmp/xdg/meshlogd" {
		t.Fatalf("default %s", d)
	}
}

func FuzzClockState(f *testing.F) {
	f.Add(ClockState{HLCFloor: 5, AnnounceFloor: 6, Source: "gps"}.encode())
	f.Add([]byte("MLCK"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeClockState(b)
		if err != nil {
			return
		}
		if got, _ := decodeClockState(s.encode()); got != s {
			t.Fatalf("re-encode mismatch %+v %+v", got, s)
		}
	})
}

func TestClockNeverGoesBackAndLearnsFromPeers(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, ClockFile)
	wall := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	var c clockKeeper
	if err := c.load(p, func() time.Time { return wall }); err != nil {
		t.Fatal(err)
	}
	if err := c.save(false); err != nil { // persists now + lease, as while running
		t.Fatal(err)
	}
	// Reboot on a board without RTC: the system clock says 1970.
	var c2 clockKeeper
	if err := c2.load(p, func() time.Time { return time.Unix(30, 0) }); err != nil {
		t.Fatal(err)
	}
	now, off, src := c2.status()
	if src != "restored-floor" || now.Before(wall.Add(ClockLease)) || off <= 0 {
		t.Fatalf("after reboot: now %s offset %s source %s", now, off, src)
	}
	// A member's event from the real present sets the clock.
	real := time.Date(2026, 6, 3, 8, 0, 0, 0, time.UTC)
	if !c2.learn(real.UnixMilli()) {
		t.Fatal("clock did not learn from the dataset")
	}
	if now, _, src := c2.status(); src != "peers" || now.Before(real) {
		t.Fatalf("after learning: %s %s", now, src)
	}
	// A trustworthy clock is not moved by peers.
	var c3 clockKeeper
	_ = c3.load(filepath.Join(dir, "other"), func() time.Time { return wall })
	if c3.learn(wall.Add(time.Hour).UnixMilli()) {
		t.Fatal("system clock moved by a peer")
	}
	// Never backwards while running, even if the system clock steps back.
	w := wall
	var c4 clockKeeper
	_ = c4.load(filepath.Join(dir, "x"), func() time.Time { return w })
	a := c4.now()
	w = w.Add(-time.Hour)
	if b := c4.now(); b.Before(a) {
		t.Fatalf("clock went back: %s then %s", a, b)
	}
}

// Crashes with a sane system clock do not push the node's time ahead: the
// clock holds at the floor until the system clock passes it.
func TestRepeatedCrashesDoNotDriftAhead(t *testing.T) {
	p := filepath.Join(t.TempDir(), ClockFile)
	wall := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	for crash := 0; crash < 10; crash++ {
		var c clockKeeper
		if err := c.load(p, func() time.Time { return wall }); err != nil {
			t.Fatal(err)
		}
		if err := c.maybeSave(); err != nil { // persists a lease ahead, then "crashes"
			t.Fatal(err)
		}
		wall = wall.Add(5 * time.Second) // restarted by systemd
	}
	var c clockKeeper
	_ = c.load(p, func() time.Time { return wall })
	now, off, _ := c.status()
	if off != 0 || now.Sub(wall) > ClockLease {
		t.Fatalf("after 10 crashes the clock reads %s ahead (offset %s)", now.Sub(wall), off)
	}
}
