package rns

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

type identityVectors struct {
	Cases []struct {
		Name         string `json:"name"`
		PrivateKey   string `json:"private_key"`
		PublicKey    string `json:"public_key"`
		IdentityHash string `json:"identity_hash"`
		Signatures   []struct {
			Message           string `json:"message"`
			Signature         string `json:"signature"`
			TamperedSignature string `json:"tampered_signature"`
		} `json:"signatures"`
	} `json:"cases"`
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestIdentityVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/identity.json")
	if err != nil {
		t.Fatal(err)
	}
	var v identityVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatal("no identity cases")
	}
	n := 0
	for _, c := range v.Cases {
		if c.PrivateKey == "" {
			continue // decryption cases, covered by the encryption tests
		}
		n++
		id, err := FromPrivateKey(unhex(t, c.PrivateKey))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if got := hex.EncodeToString(id.PublicKey()); got != c.PublicKey {
			t.Errorf("%s: public key %s, want %s", c.Name, got, c.PublicKey)
		}
		if got := id.Hash().String(); got != c.IdentityHash {
			t.Errorf("%s: hash %s, want %s", c.Name, got, c.IdentityHash)
		}
		pubOnly, err := FromPublicKey(id.PublicKey())
		if err != nil || pubOnly.Hash() != id.Hash() || pubOnly.HasPrivateKey() {
			t.Errorf("%s: public-only identity mismatch (%v)", c.Name, err)
		}
		for _, s := range c.Signatures {
			msg := unhex(t, s.Message)
			sig, err := id.Sign(msg)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(sig); got != s.Signature {
				t.Errorf("%s: signature %s, want %s", c.Name, got, s.Signature)
			}
			if !pubOnly.Verify(sig, msg) {
				t.Errorf("%s: reference signature rejected", c.Name)
			}
			if pubOnly.Verify(unhex(t, s.TamperedSignature), msg) {
				t.Errorf("%s: tampered signature accepted", c.Name)
			}
			if pubOnly.Verify(sig, append(msg, 0)) {
				t.Errorf("%s: tampered message accepted", c.Name)
			}
		}
	}
	if n < 3 {
		t.Fatalf("only %d identity key cases", n)
	}
}

func TestIdentityFileRoundTrip(t *testing.T) {
	id, err := NewIdentity(bytes.NewReader(bytes.Repeat([]byte{7}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "identity")
	if err := SaveIdentityFile(id, p); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o600 || st.Size() != KeySize {
		t.Fatalf("identity file: %v %v", st, err)
	}
	back, err := LoadIdentityFile(p)
	if err != nil || !back.Equal(id) || !bytes.Equal(back.PrivateKey(), id.PrivateKey()) {
		t.Fatalf("round trip mismatch: %v", err)
	}
	if err := os.WriteFile(p, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentityFile(p); !errors.Is(err, ErrIdentityFile) {
		t.Fatalf("short identity file: %v", err)
	}
	if err := os.WriteFile(p, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadIdentityFile(p); !errors.Is(err, ErrIdentityFile) {
		t.Fatalf("large identity file: %v", err)
	}
	if _, err := FromPublicKey(make([]byte, 10)); err == nil {
		t.Fatal("short public key accepted")
	}
	pub, _ := FromPublicKey(id.PublicKey())
	if _, err := pub.Sign([]byte("x")); err == nil {
		t.Fatal("public-only identity signed")
	}
}
