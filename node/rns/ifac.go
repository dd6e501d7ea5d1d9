package rns

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// IFACSalt is the reference's fixed salt for deriving IFAC keys (RNS/Reticulum.py IFAC_SALT).
var IFACSalt = [32]byte{
	0xad, 0xf5, 0x4d, 0x88, 0x2c, 0x9a, 0x9b, 0x80, 0x77, 0x1e, 0xb4, 0x99, 0x5d, 0x70, 0x2d, 0x4a,
	0x3e, 0x73, 0x33, 0x91, 0xb2, 0xa0, 0xf5, 0x3f, 0x41, 0x6d, 0x9f, 0x90, 0x7e, 0x55, 0xcf, 0xf8,
}

// Default IFAC sizes in bytes (DEFAULT_IFAC_SIZE in RNS/Interfaces/*.py).
const (
	// IFACSizeTCP is the default for TCP, UDP and Auto interfaces.
	IFACSizeTCP = 16
	// IFACSizeRadio is the default for RNode, KISS and serial interfaces.
	IFACSizeRadio = 8
	// IFACFlag is bit 7 of the flags byte, set on packets carrying an access code.
	IFACFlag = 0x80
)

// IFAC errors.
var (
	ErrIFACConfig     = errors.New("rns: IFAC needs a network name and/or a passphrase and a size of 1..64 bytes")
	ErrIFACMissing    = errors.New("rns: packet lacks the access code this interface requires")
	ErrIFACUnexpected = errors.New("rns: packet carries an access code on an open interface")
	ErrIFACMismatch   = errors.New("rns: interface access code does not verify")
)

// IFAC is an interface's access code configuration: the key and identity
// derived from a network name and/or passphrase, and the code size.
type IFAC struct {
	size int
	key  []byte
	id   *Identity
}

// NewIFAC derives an interface access code exactly as the reference's
// Reticulum._add_interface: origin = SHA256(networkName) ‖ SHA256(passphrase)
// (an empty string means "not configured" and is left out), key =
// HKDF(64, SHA256(origin), salt = IFACSalt), identity = the identity whose
// private key is the key. size is in bytes (1..64; the reference configures
// it in bits, ifac_size = bits/8).
func NewIFAC(networkName, passphrase string, size int) (*IFAC, error) {
	if (networkName == "" && passphrase == "") || size < IFACMinSize || size > SigLength {
		return nil, ErrIFACConfig
	}
	var origin []byte
	if networkName != "" {
		h := sha256.Sum256([]byte(networkName))
		origin = append(origin, h[:]...)
	}
	if passphrase != "" {
		h := sha256.Sum256([]byte(passphrase))
		origin = append(origin, h[:]...)
	}
	oh := sha256.Sum256(origin)
	key, err := HKDF(64, oh[:], IFACSalt[:], nil)
	if err != nil {
		return nil, err
	}
	id, err := FromPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &IFAC{size: size, key: key, id: id}, nil
}

// Size returns the access code length in bytes.
func (f *IFAC) Size() int { return f.size }

// Key returns a copy of the 64-byte IFAC key.
func (f *IFAC) Key() []byte { return append([]byte(nil), f.key...) }

// Identity returns the IFAC identity.
func (f *IFAC) Identity() *Identity { return f.id }

// Signature returns the interface's IFAC signature as the reference keeps it
// (a signature of SHA-256 of the key; informational).
func (f *IFAC) Signature() []byte {
	h := sha256.Sum256(f.key)
	s, _ := f.id.Sign(h[:])
	return s
}

// code returns the last size bytes of the Ed25519 signature of raw.
func (f *IFAC) code(raw []byte) ([]byte, error) {
	s, err := f.id.Sign(raw)
	if err != nil {
		return nil, err
	}
	return s[len(s)-f.size:], nil
}

// Apply adds the access code to an outgoing raw packet (RNS/Transport.py
// transmit): the code is the tail of the IFAC identity's signature of the
// packet, inserted after the two header bytes; the IFAC flag is set; and
// every byte except the code is XOR-masked with HKDF(len, code, salt = key),
// keeping the flag set. Packets of 2 bytes or less (which no receiver
// accepts), or already carrying the IFAC flag, are refused.
func (f *IFAC) Apply(raw []byte) ([]byte, error) {
	if len(raw) <= 2 {
		return nil, parseErr("packet", len(raw), ErrTruncated)
	}
	if raw[0]&IFACFlag != 0 {
		return nil, fmt.Errorf("%w: IFAC flag already set", ErrMalformed)
	}
	code, err := f.code(raw)
	if err != nil {
		return nil, err
	}
	mask, err := HKDF(len(raw)+f.size, code, f.key, nil)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(raw)+f.size)
	out = append(out, raw[0]|IFACFlag, raw[1])
	out = append(out, code...)
	out = append(out, raw[2:]...)
	out[0] = (out[0] ^ mask[0]) | IFACFlag
	out[1] ^= mask[1]
	for i := 2 + f.size; i < len(out); i++ {
		out[i] ^= mask[i]
	}
	return out, nil
}

// Verify checks and removes the access code of an incoming packet
// (RNS/Transport.py inbound), returning the plain raw packet. It fails with
// ErrIFACMissing when the flag is clear, a *ParseError wrapping ErrTruncated
// when the packet is not longer than 2 + size bytes, and ErrIFACMismatch
// when the code does not verify.
func (f *IFAC) Verify(wire []byte) ([]byte, error) {
	if len(wire) <= 2 {
		return nil, parseErr("IFAC packet", len(wire), ErrTruncated)
	}
	if wire[0]&IFACFlag == 0 {
		return nil, ErrIFACMissing
	}
	if len(wire) <= 2+f.size {
		return nil, parseErr("IFAC packet", len(wire), ErrTruncated)
	}
	if len(wire) > MaxRawPacket+SigLength {
		return nil, parseErr("IFAC packet", len(wire), ErrOversized)
	}
	code := wire[2 : 2+f.size]
	mask, err := HKDF(len(wire), code, f.key, nil)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 0, len(wire)-f.size)
	raw = append(raw, (wire[0]^mask[0])&^IFACFlag, wire[1]^mask[1])
	for i := 2 + f.size; i < len(wire); i++ {
		raw = append(raw, wire[i]^mask[i])
	}
	want, err := f.code(raw)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(want, code) != 1 {
		return nil, ErrIFACMismatch
	}
	return raw, nil
}

// CheckOpen applies the rule of an interface without IFAC: packets with the
// IFAC flag are dropped (ErrIFACUnexpected), as are packets of 2 bytes or less.
func CheckOpen(wire []byte) error {
	if len(wire) <= 2 {
		return parseErr("packet", len(wire), ErrTruncated)
	}
	if wire[0]&IFACFlag != 0 {
		return ErrIFACUnexpected
	}
	return nil
}

// String describes the configuration without revealing the key.
func (f *IFAC) String() string { return fmt.Sprintf("IFAC(%d bytes, id %s)", f.size, f.id.Hash()) }
