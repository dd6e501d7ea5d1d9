package rns

import (
	"bytes"
	"errors"
	"testing"
)

func TestHKDFVectors(t *testing.T) {
	for _, c := range loadCases(t, "hkdf.json") {
		name := c["name"].(string)
		length := int(num(t, c, "length"))
		var info []byte
		if c["context"] != nil {
			info = hx(t, c, "context")
		}
		var salt []byte
		if c["salt"] != nil {
			salt = hx(t, c, "salt")
		}
		out, err := HKDF(length, hx(t, c, "input_key_material"), salt, info)
		if res, ok := c["result"].(obj); ok && res["ok"] == false {
			if !errors.Is(err, ErrHKDFLength) {
				t.Errorf("%s: got %v, want ErrHKDFLength", name, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := c["output"]; ok {
			eq(t, name, out, hx(t, c, "output"))
		}
	}
}

func TestHKDFCounterWrap(t *testing.T) {
	// Beyond 255 blocks the reference's one-byte counter wraps to 0.
	long, err := HKDF(257*32, []byte("ikm"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	short, _ := HKDF(255*32, []byte("ikm"), nil, nil)
	if !bytes.Equal(long[:len(short)], short) {
		t.Fatal("prefix differs")
	}
	if bytes.Equal(long[255*32:256*32], long[254*32:255*32]) {
		t.Fatal("blocks repeat")
	}
	if _, err := HKDF(HKDFMaxLength+1, nil, nil, nil); !errors.Is(err, ErrHKDFLength) {
		t.Fatal(err)
	}
}

func TestTokenVectors(t *testing.T) {
	n := 0
	for _, c := range loadCases(t, "token.json") {
		name := c["name"].(string)
		tok, err := NewToken(hx(t, c, "key"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		switch c["kind"] {
		case "encrypt":
			n++
			pt := hx(t, c, "plaintext")
			got := tok.AppendEncrypt(nil, iv16(t, hx(t, sub(t, c, "injected"), "iv")), pt)
			eq(t, name, got, hx(t, c, "token"))
			if len(got) != TokenSize(len(pt)) || len(got) != int(num(t, c, "token_length")) {
				t.Errorf("%s: size %d", name, len(got))
			}
			dec, err := tok.Decrypt(got)
			if err != nil || !bytes.Equal(dec, pt) {
				t.Errorf("%s: decrypt %x %v", name, dec, err)
			}
		case "decrypt_must_fail":
			n++
			if _, err := tok.Decrypt(hx(t, c, "token")); err == nil {
				t.Errorf("%s: tampered token accepted", name)
			} else if !errors.Is(err, ErrTokenMAC) && !errors.Is(err, ErrTokenTooShort) {
				t.Errorf("%s: untyped error %v", name, err)
			}
		case "padding_quirk":
			n++
			_, err := tok.Decrypt(hx(t, c, "token"))
			// Both quirk tokens have inconsistent padding; RNS accepts the
			// second one, meshlogd's strict PKCS#7 check refuses both.
			if !errors.Is(err, ErrTokenPadding) {
				t.Errorf("%s: got %v, want ErrTokenPadding", name, err)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d token cases", n)
	}
	if _, err := NewToken(make([]byte, 48)); !errors.Is(err, ErrTokenKeySize) {
		t.Fatal(err)
	}
}

func TestTokenRejectsGarbage(t *testing.T) {
	tok, _ := NewToken(bytes.Repeat([]byte{7}, 64))
	for n := 0; n < 100; n++ {
		if _, err := tok.Decrypt(make([]byte, n)); err == nil {
			t.Fatalf("%d zero bytes decrypted", n)
		}
	}
}

func TestIdentityEncryptionVectors(t *testing.T) {
	n := 0
	for _, c := range loadCases(t, "identity.json") {
		name := c["name"].(string)
		if _, ok := c["encryptions"]; !ok {
			// Short-input decrypt cases.
			id, err := FromPrivateKey(hx(t, c, "identity_private_key"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := id.Decrypt(hx(t, c, "ciphertext")); !errors.Is(err, ErrTruncated) {
				t.Errorf("%s: got %v, want ErrTruncated", name, err)
			}
			n++
			continue
		}
		id, err := FromPrivateKey(hx(t, c, "private_key"))
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := FromPublicKey(id.PublicKey())
		for _, e := range c["encryptions"].([]any) {
			n++
			e := e.(obj)
			inj := sub(t, e, "injected")
			pt := hx(t, e, "plaintext")
			ct, err := pub.EncryptWith(hx(t, inj, "ephemeral_x25519_private_key"), iv16(t, hx(t, inj, "token_iv")), pt, nil)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, name+" ciphertext", ct, hx(t, e, "ciphertext"))
			// The same through the io.Reader path (ephemeral key, then IV).
			r := bytes.NewReader(append(hx(t, inj, "ephemeral_x25519_private_key"), hx(t, inj, "token_iv")...))
			ct2, err := pub.Encrypt(r, pt, nil)
			if err != nil || !bytes.Equal(ct, ct2) {
				t.Errorf("%s: Encrypt(reader) differs: %v", name, err)
			}
			dec, err := id.Decrypt(ct)
			if err != nil || !bytes.Equal(dec, pt) {
				t.Errorf("%s: decrypt %x %v", name, dec, err)
			}
			if _, err := id.Decrypt(hx(t, e, "tampered_ciphertext")); !errors.Is(err, ErrDecrypt) {
				t.Errorf("%s: tampered ciphertext: %v", name, err)
			}
			if _, err := pub.Decrypt(ct); !errors.Is(err, ErrNoPrivateKey) {
				t.Errorf("%s: public-only decrypt: %v", name, err)
			}
		}
		if c["ratchet_encryption"] == nil {
			continue
		}
		re := sub(t, c, "ratchet_encryption")
		n++
		ratchet, err := RatchetFromPrivateKey(hx(t, re, "ratchet_private_key"))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, name+" ratchet public", ratchet.PublicKey(), hx(t, re, "ratchet_public_key"))
		rid := ratchet.ID()
		eq(t, name+" ratchet id", rid[:], hx(t, re, "ratchet_id"))
		inj := sub(t, re, "injected")
		pt := hx(t, re, "plaintext")
		ct, err := pub.EncryptWith(hx(t, inj, "ephemeral_x25519_private_key"), iv16(t, hx(t, inj, "token_iv")), pt, ratchet.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		eq(t, name+" ratchet ciphertext", ct, hx(t, re, "ciphertext"))
		other, _ := RatchetFromPrivateKey(bytes.Repeat([]byte{9}, 32))
		dec, used, err := id.DecryptWithRatchets(ct, []*Ratchet{other, ratchet}, true)
		if err != nil || !bytes.Equal(dec, pt) || used != ratchet {
			t.Errorf("%s: ratchet decrypt %x %v", name, dec, err)
		}
		if _, err := id.Decrypt(ct); !errors.Is(err, ErrDecrypt) {
			t.Errorf("%s: decrypted without the ratchet: %v", name, err)
		}
		if _, _, err := id.DecryptWithRatchets(ct, []*Ratchet{other}, true); !errors.Is(err, ErrRatchetEnforced) {
			t.Errorf("%s: enforced with wrong ratchet: %v", name, err)
		}
		// Enforcement refuses a packet encrypted to the identity key itself.
		plainCT, _ := pub.EncryptWith(bytes.Repeat([]byte{5}, 32), [16]byte{}, pt, nil)
		if _, _, err := id.DecryptWithRatchets(plainCT, []*Ratchet{ratchet}, true); !errors.Is(err, ErrRatchetEnforced) {
			t.Errorf("%s: enforcement let identity-key packet through: %v", name, err)
		}
		if got, used, err := id.DecryptWithRatchets(plainCT, []*Ratchet{ratchet}, false); err != nil || used != nil || !bytes.Equal(got, pt) {
			t.Errorf("%s: unenforced fallback failed: %v", name, err)
		}
	}
	if n < 15 {
		t.Fatalf("only %d cases", n)
	}
}
