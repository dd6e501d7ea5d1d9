package rns

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/curve25519"

	"github.com/meshlogd/meshlogd/node/internal/fsutil"
)

// Sizes of identity material, as in the reference (RNS/Identity.py).
const (
	// KeySize is the length of a public or private identity key: X25519 (32) ‖ Ed25519 (32).
	KeySize = 64
	// SigLength is the length of an Ed25519 signature.
	SigLength = ed25519.SignatureSize
	// TruncatedHashLength is the length of identity hashes, destination hashes and link ids.
	TruncatedHashLength = 16
	// NameHashLength is the length of a destination's name hash.
	NameHashLength = 10
)

// Errors returned by identity functions.
var (
	ErrKeySize      = errors.New("rns: identity key must be 64 bytes")
	ErrNoPrivateKey = errors.New("rns: identity has no private key")
	ErrBadSignature = errors.New("rns: signature does not verify")
	ErrIdentityFile = errors.New("rns: identity file is not a 64-byte private key")
)

// Hash is a 16-byte truncated SHA-256 hash: identity hashes, destination hashes, link ids.
type Hash [TruncatedHashLength]byte

// String returns the lowercase hex form, as the reference prints hashes.
func (h Hash) String() string { return fmt.Sprintf("%x", h[:]) }

// TruncatedHash returns the first 16 bytes of SHA-256(data).
func TruncatedHash(data ...[]byte) Hash {
	d := sha256.New()
	for _, b := range data {
		d.Write(b)
	}
	var full [sha256.Size]byte
	d.Sum(full[:0])
	var h Hash
	copy(h[:], full[:TruncatedHashLength])
	return h
}

// FullHash returns SHA-256(data).
func FullHash(data ...[]byte) [sha256.Size]byte {
	d := sha256.New()
	for _, b := range data {
		d.Write(b)
	}
	var full [sha256.Size]byte
	d.Sum(full[:0])
	return full
}

// Identity is a Reticulum identity: an X25519 key for encryption and an
// Ed25519 key for signatures. An identity built from a public key alone can
// verify and be encrypted to, but cannot sign or decrypt.
type Identity struct {
	pub     [KeySize]byte
	hash    Hash
	xPriv   [32]byte // unclamped X25519 scalar, as stored by the reference
	edPriv  ed25519.PrivateKey
	hasPriv bool
}

// NewIdentity generates a fresh identity from rand (use crypto/rand.Reader
// outside tests).
func NewIdentity(rand io.Reader) (*Identity, error) {
	var priv [KeySize]byte
	if _, err := io.ReadFull(rand, priv[:]); err != nil {
		return nil, fmt.Errorf("rns: generating identity: %w", err)
	}
	return FromPrivateKey(priv[:])
}

// FromPrivateKey loads an identity from the reference's 64-byte private key:
// X25519 private key (32) ‖ Ed25519 seed (32).
func FromPrivateKey(priv []byte) (*Identity, error) {
	if len(priv) != KeySize {
		return nil, ErrKeySize
	}
	id := &Identity{hasPriv: true}
	copy(id.xPriv[:], priv[:32])
	id.edPriv = ed25519.NewKeyFromSeed(priv[32:])
	xPub, err := curve25519.X25519(id.xPriv[:], curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("rns: deriving X25519 public key: %w", err)
	}
	copy(id.pub[:32], xPub)
	copy(id.pub[32:], id.edPriv.Public().(ed25519.PublicKey))
	id.hash = TruncatedHash(id.pub[:])
	return id, nil
}

// FromPublicKey builds a verify-only identity from a 64-byte public key:
// X25519 public (32) ‖ Ed25519 public (32).
func FromPublicKey(pub []byte) (*Identity, error) {
	if len(pub) != KeySize {
		return nil, ErrKeySize
	}
	id := &Identity{}
	copy(id.pub[:], pub)
	id.hash = TruncatedHash(id.pub[:])
	return id, nil
}

// HasPrivateKey reports whether the identity can sign and decrypt.
func (id *Identity) HasPrivateKey() bool { return id.hasPriv }

// PublicKey returns the 64-byte public key.
func (id *Identity) PublicKey() []byte { p := id.pub; return p[:] }

// X25519PublicKey returns the encryption half of the public key.
func (id *Identity) X25519PublicKey() []byte { p := id.pub; return p[:32] }

// Ed25519PublicKey returns the signing half of the public key.
func (id *Identity) Ed25519PublicKey() ed25519.PublicKey {
	p := id.pub
	return ed25519.PublicKey(p[32:])
}

// PrivateKey returns the 64-byte private key in the reference's format, or
// nil for a public-only identity.
func (id *Identity) PrivateKey() []byte {
	if !id.hasPriv {
		return nil
	}
	out := make([]byte, KeySize)
	copy(out, id.xPriv[:])
	copy(out[32:], id.edPriv.Seed())
	return out
}

// X25519PrivateKey returns the unclamped X25519 scalar, or nil for a public-only identity.
func (id *Identity) X25519PrivateKey() []byte {
	if !id.hasPriv {
		return nil
	}
	p := id.xPriv
	return p[:]
}

// Hash returns the identity hash: truncated SHA-256 of the public key.
func (id *Identity) Hash() Hash { return id.hash }

// Sign signs msg with the identity's Ed25519 key.
func (id *Identity) Sign(msg []byte) ([]byte, error) {
	if !id.hasPriv {
		return nil, ErrNoPrivateKey
	}
	return ed25519.Sign(id.edPriv, msg), nil
}

// Verify reports whether sig is a valid Ed25519 signature of msg by this identity.
func (id *Identity) Verify(sig, msg []byte) bool {
	if len(sig) != SigLength {
		return false
	}
	return ed25519.Verify(id.Ed25519PublicKey(), msg, sig)
}

// Equal reports whether two identities have the same public key.
func (id *Identity) Equal(o *Identity) bool {
	return o != nil && subtle.ConstantTimeCompare(id.pub[:], o.pub[:]) == 1
}

// LoadIdentityFile reads a private identity from a file in the reference's
// on-disk format: exactly the 64 raw private key bytes.
func LoadIdentityFile(path string) (*Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Read at most one byte more than a key: a larger file is refused
	// without being read into memory.
	b, err := io.ReadAll(io.LimitReader(f, KeySize+1))
	if err != nil {
		return nil, err
	}
	if len(b) != KeySize {
		return nil, fmt.Errorf("%w: %s is not %d bytes", ErrIdentityFile, path, KeySize)
	}
	return FromPrivateKey(b)
}

// SaveIdentityFile writes the identity's private key to path (mode 0600)
// durably: a temporary file is written, synced and renamed into place, and
// the directory is synced.
func SaveIdentityFile(id *Identity, path string) error {
	priv := id.PrivateKey()
	if priv == nil {
		return ErrNoPrivateKey
	}
	return fsutil.WriteFileDurable(path, priv, 0o600)
}
