package node

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
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
