package rns

import (
	"errors"
	"fmt"
)

// Errors returned by the wire-format parsers and the cryptographic
// primitives. Parsers wrap these with details; test with errors.Is.
var (
	// ErrTruncated reports input shorter than its format requires.
	ErrTruncated = errors.New("rns: truncated input")
	// ErrOversized reports input longer than its format allows.
	ErrOversized = errors.New("rns: oversized input")
	// ErrMalformed reports input whose structure is invalid.
	ErrMalformed = errors.New("rns: malformed input")

	// ErrHKDFLength reports a zero or too large HKDF output length.
	ErrHKDFLength = errors.New("rns: invalid HKDF output length")

	// ErrTokenKeySize reports a Token key that is neither 32 nor 64 bytes.
	ErrTokenKeySize = errors.New("rns: token key must be 32 or 64 bytes")
	// ErrTokenTooShort reports a token of 32 bytes or less, or one without a whole ciphertext block.
	ErrTokenTooShort = errors.New("rns: token too short")
	// ErrTokenMAC reports a token whose HMAC does not verify (tampered or wrong key).
	ErrTokenMAC = errors.New("rns: token HMAC invalid")
	// ErrTokenPadding reports a token whose ciphertext is not block aligned or whose PKCS#7 padding is invalid.
	ErrTokenPadding = errors.New("rns: token padding invalid")

	// ErrDecrypt reports that no available key decrypts a ciphertext.
	ErrDecrypt = errors.New("rns: decryption failed")
	// ErrRatchetEnforced reports that a ciphertext could only have been
	// decrypted with the identity key while ratchets are enforced.
	ErrRatchetEnforced = errors.New("rns: ratchets enforced and no ratchet decrypts")
	// ErrRatchetSize reports a ratchet key that is not 32 bytes.
	ErrRatchetSize = errors.New("rns: ratchet key must be 32 bytes")
	// ErrKeyExchange reports an X25519 exchange that produced the all-zero value.
	ErrKeyExchange = errors.New("rns: X25519 key exchange failed")
)

// ParseError describes why a parser rejected its input.
type ParseError struct {
	What string // the structure being parsed, e.g. "packet"
	Len  int    // input length
	Err  error  // ErrTruncated, ErrOversized, ErrMalformed, ...
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%v: %s of %d bytes", e.Err, e.What, e.Len)
}

// Unwrap returns the underlying sentinel error.
func (e *ParseError) Unwrap() error { return e.Err }

func parseErr(what string, n int, err error) error {
	return &ParseError{What: what, Len: n, Err: err}
}
