package node

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testInvite(t testing.TB) (Invite, string) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	newDataset(t.(*testing.T), a)
	idB, _, err := Init(b, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Open(Options{DataDir: a})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	inv, err := n.Invite(hex.EncodeToString(idB.PublicKey()), false)
	if err != nil {
		t.Fatal(err)
	}
	return inv, b
}

func TestInviteRoundTripAndTypos(t *testing.T) {
	inv, dirB := testInvite(t)
	s := inv.String()
	back, err := ParseInvite(s)
	if err != nil {
		t.Fatal(err)
	}
	if back.Genesis.ID() != inv.Genesis.ID() || back.Authorisation.ID() != inv.Authorisation.ID() {
		t.Fatal("invite round trip changed it")
	}
	// Line breaks and lower case from copy and paste are tolerated.
	if _, err := ParseInvite(strings.ToLower(s[:40]) + "\n  " + s[40:]); err != nil {
		t.Fatalf("pasted invite: %v", err)
	}
	// Every single-character typo is caught.
	body := s[len(InvitePrefix):]
	for i := 0; i < len(body); i += 7 {
		c := byte('A')
		if body[i] == 'A' {
			c = 'B'
		}
		typo := InvitePrefix + body[:i] + string(c) + body[i+1:]
		if _, err := ParseInvite(typo); !errors.Is(err, ErrBadInvite) {
			t.Fatalf("typo at %d not detected: %v", i, err)
		}
	}
	if err := JoinDataset(dirB, back); err != nil {
		t.Fatal(err)
	}
	if err := JoinDataset(dirB, back); err != nil {
		t.Fatalf("joining twice: %v", err)
	}
	// An invite for someone else is refused.
	other := filepath.Join(t.TempDir(), "c")
	if _, _, err := Init(other, rand.Reader); err != nil {
		t.Fatal(err)
	}
	if err := JoinDataset(other, back); err == nil || !strings.Contains(err.Error(), "admits identity") {
		t.Fatalf("join with someone else's invite: %v", err)
	}
}

func TestDamagedDatasetFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	newDataset(t, dir)
	p := filepath.Join(dir, DatasetFile)
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o600)
	if _, err := Open(Options{DataDir: dir}); !errors.Is(err, ErrDatasetFile) {
		t.Fatalf("truncated dataset file: %v", err)
	}
}

func FuzzParseInvite(f *testing.F) {
	f.Add(InvitePrefix + "AAAA")
	f.Add("MESHLOGD1-")
	f.Fuzz(func(t *testing.T, s string) {
		inv, err := ParseInvite(s)
		if err == nil {
			if _, err := ParseInvite(inv.String()); err != nil {
				t.Fatalf("re-encoded invite does not parse: %v", err)
			}
		}
	})
}

func FuzzDecodeDataset(f *testing.F) {
	f.Add([]byte(`{"version":1,"genesis":"","group_key":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeDataset(b)
	})
}
