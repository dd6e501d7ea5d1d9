package rns

import (
	"bytes"
	"errors"
	"testing"
)

func TestRatchetFileRoundTrip(t *testing.T) {
	id := mustIdentity(t)
	ring := NewRatchetRing(60, 8, nil, 0)
	rnd := bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 5, 7, 11, 13}, 100))
	for i := int64(0); i < 5; i++ {
		if _, err := ring.Rotate(rnd, 1000+i*61); err != nil {
			t.Fatal(err)
		}
	}
	data, err := ring.MarshalFile(id)
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalRatchetFile(data, id, 60, 8)
	if err != nil {
		t.Fatal(err)
	}
	a, b := ring.List(), back.List()
	if len(a) != 5 || len(b) != 5 {
		t.Fatalf("%d/%d ratchets", len(a), len(b))
	}
	for i := range a {
		if a[i].ID() != b[i].ID() {
			t.Fatalf("ratchet %d differs", i)
		}
	}
	// A loaded ring rotates on the next announce, as the reference does.
	if rotated, _ := back.Rotate(rnd, 1735689600); !rotated {
		t.Fatal("loaded ring did not rotate")
	}
	// Another identity's signature, or any flipped byte, is refused.
	if _, err := UnmarshalRatchetFile(data, mustOther(t), 60, 8); !errors.Is(err, ErrRatchetFile) {
		t.Fatalf("foreign identity: %v", err)
	}
	for i := range data {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x40
		if _, err := UnmarshalRatchetFile(bad, id, 60, 8); err == nil {
			t.Fatalf("flipped byte %d accepted", i)
		}
	}
	for n := 0; n < len(data); n++ {
		if _, err := UnmarshalRatchetFile(data[:n], id, 60, 8); err == nil {
			t.Fatalf("truncation to %d accepted", n)
		}
	}
}

func mustOther(t *testing.T) *Identity {
	id, err := NewIdentity(bytes.NewReader(bytes.Repeat([]byte{0x24}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func FuzzRatchetFile(f *testing.F) {
	id, _ := FromPrivateKey(bytes.Repeat([]byte{0x42}, 64))
	f.Fuzz(func(t *testing.T, data []byte) {
		ring, err := UnmarshalRatchetFile(data, id, 0, 0)
		if err != nil {
			if !errors.Is(err, ErrRatchetFile) && !errors.Is(err, ErrOversized) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := ring.MarshalFile(id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := UnmarshalRatchetFile(again, id, 0, 0); err != nil {
			t.Fatalf("re-marshalled file refused: %v", err)
		}
	})
}
