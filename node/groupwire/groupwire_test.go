package groupwire

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/meshlogd/meshlogd/node/rns"
)

func TestWrapUnwrap(t *testing.T) {
	founder, _ := rns.NewIdentity(rand.Reader)
	key := bytes.Repeat([]byte{1}, 64)
	w, err := New(founder, key, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, MaxPlaintextFrame, MaxPlaintextMTU} {
		payload := bytes.Repeat([]byte{0xAB}, n)
		raw, err := w.Wrap(payload)
		if err != nil {
			t.Fatal(err)
		}
		if n == MaxPlaintextFrame && len(raw) > 254 {
			t.Fatalf("%d-byte payload makes a %d-byte packet: more than one LoRa frame", n, len(raw))
		}
		if n == MaxPlaintextMTU && len(raw) > rns.MTU {
			t.Fatalf("%d-byte payload makes a %d-byte packet: over the MTU", n, len(raw))
		}
		got, err := w.Unwrap(raw)
		if err != nil || !bytes.Equal(got, payload) {
			t.Fatalf("n=%d: %v", n, err)
		}
	}
	// Another dataset's key: not ours (different destination or bad token).
	other, _ := rns.NewIdentity(rand.Reader)
	w2, _ := New(other, key, rand.Reader)
	raw, _ := w2.Wrap([]byte("x"))
	if _, err := w.Unwrap(raw); !errors.Is(err, ErrNotOurs) {
		t.Fatalf("other dataset: %v", err)
	}
	w3, _ := New(founder, bytes.Repeat([]byte{2}, 64), rand.Reader)
	raw, _ = w3.Wrap([]byte("x"))
	if _, err := w.Unwrap(raw); err == nil {
		t.Fatal("packet under another group key decrypted")
	}
}

func FuzzUnwrap(f *testing.F) {
	founder, _ := rns.NewIdentity(bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	w, _ := New(founder, bytes.Repeat([]byte{1}, 64), bytes.NewReader(make([]byte, 1<<20)))
	raw, _ := w.Wrap([]byte("seed"))
	f.Add(raw)
	f.Add([]byte{0x08, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = w.Unwrap(b)
	})
}
