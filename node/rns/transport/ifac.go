package transport

// Interface access codes (RETICULUM.md §11; RNS/Transport.py transmit and
// inbound), applied at the interface boundary by WithIFAC.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"errors"

	"github.com/meshlogd/meshlogd/node/rns"
)

// ErrIFAC reports a packet whose interface access code is missing,
// unexpected or wrong.
var ErrIFAC = errors.New("transport: interface access code rejected")

// IFAC holds the access code material of one interface (RETICULUM.md §11).
type IFAC struct {
	size int
	key  []byte             // 64-byte HKDF output
	sign ed25519.PrivateKey // Ed25519 key from key[32:64]
}

// ifacSalt is the reference's IFAC_SALT.
var ifacSalt = []byte{
	0xad, 0xf5, 0x4d, 0x88, 0x2c, 0x9a, 0x9b, 0x80, 0x77, 0x1e, 0xb4, 0x99, 0x5d, 0x70, 0x2d, 0x4a,
	0x3e, 0x73, 0x33, 0x91, 0xb2, 0xa0, 0xf5, 0x3f, 0x41, 0x6d, 0x9f, 0x90, 0x7e, 0x55, 0xcf, 0xf8,
}

// DefaultIFACSize is the reference's IFAC size on TCP interfaces (bytes).
const DefaultIFACSize = 16

// ErrIFACConfig reports an IFAC without network name and passphrase or
// with a size outside 1..64.
var ErrIFACConfig = errors.New("transport: IFAC needs a network name or passphrase and a size of 1..64 bytes")

// NewIFAC derives the access code key of an interface from its network
// name and/or passphrase (either may be empty, not both) and the IFAC size
// in bytes (0 means DefaultIFACSize).
func NewIFAC(networkName, passphrase string, size int) (*IFAC, error) {
	if size == 0 {
		size = DefaultIFACSize
	}
	if (networkName == "" && passphrase == "") || size < 1 || size > 64 {
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
	key, err := rns.HKDF(64, oh[:], ifacSalt, nil)
	if err != nil {
		return nil, err
	}
	return &IFAC{size: size, key: key, sign: ed25519.NewKeyFromSeed(key[32:])}, nil
}

// Size returns the access code length in bytes.
func (f *IFAC) Size() int { return f.size }

// Apply returns raw with its access code inserted and masked
// (RNS/Transport.py transmit).
func (f *IFAC) Apply(raw []byte) ([]byte, error) {
	if len(raw) < 2 {
		return nil, ErrIFAC
	}
	sig := ed25519.Sign(f.sign, raw)
	code := sig[len(sig)-f.size:]
	mask, err := rns.HKDF(len(raw)+f.size, code, f.key, nil)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(raw)+f.size)
	out = append(out, raw[0]|0x80, raw[1])
	out = append(out, code...)
	out = append(out, raw[2:]...)
	for i := range out {
		if i <= 1 || i > f.size+1 {
			out[i] ^= mask[i]
		}
	}
	out[0] |= 0x80
	return out, nil
}

// Verify checks and removes the access code of a received packet
// (RNS/Transport.py inbound), returning the plain packet.
func (f *IFAC) Verify(raw []byte) ([]byte, error) {
	if len(raw) <= 2+f.size || raw[0]&0x80 == 0 {
		return nil, ErrIFAC
	}
	code := raw[2 : 2+f.size]
	mask, err := rns.HKDF(len(raw), code, f.key, nil)
	if err != nil {
		return nil, ErrIFAC
	}
	out := make([]byte, 0, len(raw)-f.size)
	out = append(out, (raw[0]^mask[0])&0x7f, raw[1]^mask[1])
	for i := 2 + f.size; i < len(raw); i++ {
		out = append(out, raw[i]^mask[i])
	}
	sig := ed25519.Sign(f.sign, out)
	if subtle.ConstantTimeCompare(sig[len(sig)-f.size:], code) != 1 {
		return nil, ErrIFAC
	}
	return out, nil
}
