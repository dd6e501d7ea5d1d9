package rns

import (
	"crypto/hmac"
	"crypto/sha256"
)

// HKDFMaxLength bounds HKDF output. The reference (unlike RFC 5869) has no
// 255-block limit — its block counter wraps modulo 256, which matters for
// IFAC masks of TCP packets above 8160 bytes — so HKDF reproduces the wrap
// and only caps the length to keep allocations bounded.
const HKDFMaxLength = 1 << 22

// HKDF derives length bytes from ikm with HKDF-SHA256 exactly as the
// reference's RNS/Cryptography/HKDF.py: RFC 5869 for lengths up to 8160
// bytes (a nil or empty salt means 32 zero bytes; info, the reference's
// "context", is normally empty), continuing with a wrapped one-byte block
// counter beyond that. A length below 1 or above HKDFMaxLength is refused
// with ErrHKDFLength.
func HKDF(length int, ikm, salt, info []byte) ([]byte, error) {
	if length <= 0 || length > HKDFMaxLength {
		return nil, ErrHKDFLength
	}
	if len(salt) == 0 {
		salt = make([]byte, sha256.Size)
	}
	ext := hmac.New(sha256.New, salt)
	ext.Write(ikm)
	prk := ext.Sum(nil)

	out := make([]byte, 0, (length+sha256.Size-1)/sha256.Size*sha256.Size)
	m := hmac.New(sha256.New, prk)
	var block []byte
	for i := 0; len(out) < length; i++ {
		m.Reset()
		m.Write(block)
		m.Write(info)
		m.Write([]byte{byte(i + 1)})
		out = m.Sum(out)
		block = out[len(out)-sha256.Size:]
	}
	return out[:length], nil
}
