package rns

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
)

// Sizes used by identity encryption and ratchets (RNS/Identity.py).
const (
	// DerivedKeyLength is the HKDF output length for identity encryption: a 64-byte (AES-256) token key.
	DerivedKeyLength = 64
	// RatchetSize is the length of a ratchet key (X25519), public or private.
	RatchetSize = 32
	// RatchetIDLength is the length of a ratchet id: the first 10 bytes of SHA-256(ratchet public key).
	RatchetIDLength = 10
	// EphemeralKeySize is the length of the ephemeral X25519 public key prefixed to identity ciphertexts.
	EphemeralKeySize = 32
	// RatchetExpirySeconds is how long a ratchet heard in an announce is used (30 days).
	RatchetExpirySeconds = 30 * 24 * 3600
	// RatchetIntervalSeconds is the minimum interval between ratchet rotations of a destination (30 minutes).
	RatchetIntervalSeconds = 30 * 60
	// RatchetCount is how many ratchets a destination retains for decryption.
	RatchetCount = 512
)

// RatchetID identifies a ratchet key: the first 10 bytes of SHA-256 of its public key.
type RatchetID [RatchetIDLength]byte

// String returns the lowercase hex form.
func (r RatchetID) String() string { return fmt.Sprintf("%x", r[:]) }

// RatchetIDOf returns the ratchet id of a 32-byte ratchet public key.
func RatchetIDOf(pub []byte) RatchetID {
	s := sha256.Sum256(pub)
	var id RatchetID
	copy(id[:], s[:RatchetIDLength])
	return id
}

// Ratchet is a destination's X25519 ratchet key pair. Its public half is
// carried in announces; senders encrypt to it instead of the identity key.
type Ratchet struct {
	priv [RatchetSize]byte
	pub  [RatchetSize]byte
}

// NewRatchet generates a ratchet from 32 bytes read from rand.
func NewRatchet(rand io.Reader) (*Ratchet, error) {
	var k [RatchetSize]byte
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return nil, fmt.Errorf("rns: generating ratchet: %w", err)
	}
	return RatchetFromPrivateKey(k[:])
}

// RatchetFromPrivateKey loads a ratchet from its 32-byte X25519 private key.
func RatchetFromPrivateKey(priv []byte) (*Ratchet, error) {
	if len(priv) != RatchetSize {
		return nil, ErrRatchetSize
	}
	r := &Ratchet{}
	copy(r.priv[:], priv)
	pub, err := curve25519.X25519(r.priv[:], curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyExchange, err)
	}
	copy(r.pub[:], pub)
	return r, nil
}

// PublicKey returns the 32-byte ratchet public key, as announced.
func (r *Ratchet) PublicKey() []byte { p := r.pub; return p[:] }

// PrivateKey returns the 32-byte ratchet private key.
func (r *Ratchet) PrivateKey() []byte { p := r.priv; return p[:] }

// ID returns the ratchet id.
func (r *Ratchet) ID() RatchetID { return RatchetIDOf(r.pub[:]) }

// x25519 performs the exchange, mapping the all-zero result to ErrKeyExchange
// (the reference fails the same exchange).
func x25519(priv, pub []byte) ([]byte, error) {
	s, err := curve25519.X25519(priv, pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKeyExchange, err)
	}
	return s, nil
}

// Encrypt encrypts plaintext to the identity as the reference's
// Identity.encrypt: an ephemeral X25519 key pair, shared = X25519(ephemeral,
// target) where target is ratchet (a 32-byte ratchet public key from the
// destination's latest announce) or, if ratchet is nil, the identity's X25519
// key; key = HKDF(64, shared, salt = identity hash); output = ephemeral
// public key (32) ‖ Token(key, plaintext). rand supplies the ephemeral
// private key (32 bytes) and then the token IV (16 bytes), in that order.
func (id *Identity) Encrypt(rand io.Reader, plaintext, ratchet []byte) ([]byte, error) {
	var eph [32]byte
	if _, err := io.ReadFull(rand, eph[:]); err != nil {
		return nil, fmt.Errorf("rns: ephemeral key: %w", err)
	}
	var iv [TokenIVSize]byte
	if _, err := io.ReadFull(rand, iv[:]); err != nil {
		return nil, fmt.Errorf("rns: token IV: %w", err)
	}
	return id.EncryptWith(eph[:], iv, plaintext, ratchet)
}

// EncryptWith is Encrypt with an explicit ephemeral X25519 private key and
// token IV (for reproducible test vectors; both must be fresh per message).
func (id *Identity) EncryptWith(ephemeralPriv []byte, iv [TokenIVSize]byte, plaintext, ratchet []byte) ([]byte, error) {
	target := id.X25519PublicKey()
	if ratchet != nil {
		if len(ratchet) != RatchetSize {
			return nil, ErrRatchetSize
		}
		target = ratchet
	}
	ephPub, err := x25519(ephemeralPriv, curve25519.Basepoint)
	if err != nil {
		return nil, err
	}
	shared, err := x25519(ephemeralPriv, target)
	if err != nil {
		return nil, err
	}
	tok, err := id.token(shared)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, EphemeralKeySize+TokenSize(len(plaintext)))
	out = append(out, ephPub...)
	return tok.AppendEncrypt(out, iv, plaintext), nil
}

func (id *Identity) token(shared []byte) (*Token, error) {
	key, err := HKDF(DerivedKeyLength, shared, id.hash[:], nil)
	if err != nil {
		return nil, err
	}
	return NewToken(key)
}

// Decrypt decrypts a ciphertext made by Encrypt without a ratchet. Inputs
// of 32 bytes or less fail with ErrTruncated; a ciphertext that does not
// decrypt fails with ErrDecrypt (wrapping the token error).
func (id *Identity) Decrypt(ciphertext []byte) ([]byte, error) {
	pt, _, err := id.DecryptWithRatchets(ciphertext, nil, false)
	return pt, err
}

// DecryptWithRatchets decrypts as the reference's Identity.decrypt: each
// ratchet is tried in order, then (unless enforce is set) the identity's own
// X25519 key. It returns the plaintext and the ratchet that decrypted it (nil
// when the identity key did). With enforce set and no ratchet matching, it
// fails with ErrRatchetEnforced.
func (id *Identity) DecryptWithRatchets(ciphertext []byte, ratchets []*Ratchet, enforce bool) ([]byte, *Ratchet, error) {
	if !id.hasPriv {
		return nil, nil, ErrNoPrivateKey
	}
	if len(ciphertext) <= EphemeralKeySize {
		return nil, nil, parseErr("identity ciphertext", len(ciphertext), ErrTruncated)
	}
	peer := ciphertext[:EphemeralKeySize]
	body := ciphertext[EphemeralKeySize:]
	for _, r := range ratchets {
		if r == nil {
			continue
		}
		if pt, err := id.decryptWith(r.priv[:], peer, body); err == nil {
			return pt, r, nil
		}
	}
	if enforce {
		return nil, nil, ErrRatchetEnforced
	}
	pt, err := id.decryptWith(id.xPriv[:], peer, body)
	if err != nil {
		return nil, nil, err
	}
	return pt, nil, nil
}

func (id *Identity) decryptWith(priv, peer, body []byte) ([]byte, error) {
	shared, err := x25519(priv, peer)
	if err != nil {
		return nil, errors.Join(ErrDecrypt, err)
	}
	tok, err := id.token(shared)
	if err != nil {
		return nil, errors.Join(ErrDecrypt, err)
	}
	pt, err := tok.Decrypt(body)
	if err != nil {
		return nil, errors.Join(ErrDecrypt, err)
	}
	return pt, nil
}

// basepoint is the X25519 base point.
var basepoint = curve25519.Basepoint
