package rns

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
	"slices"
	"sync"
)

// Token sizes (RNS/Cryptography/Token.py).
const (
	// TokenOverhead is the fixed token overhead: IV (16) + HMAC-SHA256 (32).
	TokenOverhead = 48
	// TokenIVSize is the length of the token's AES-CBC initialisation vector.
	TokenIVSize = aes.BlockSize
	// TokenMACSize is the length of the token's HMAC-SHA256 tag.
	TokenMACSize = sha256.Size
)

// Token is the reference's modified Fernet: no version byte or timestamp,
//
//	token = IV(16) ‖ AES-CBC(encKey, IV, PKCS7(plaintext)) ‖ HMAC-SHA256(sigKey, IV ‖ ciphertext)
//
// A 64-byte key gives AES-256 (signing key = bytes 0–31, encryption key =
// 32–63); a 32-byte key gives AES-128 (16/16). A Token is safe for
// concurrent use.
type Token struct {
	sigKey []byte
	block  cipher.Block
	macs   sync.Pool // of hash.Hash: HMAC-SHA256 keyed with sigKey
}

func (t *Token) mac() hash.Hash {
	if m, ok := t.macs.Get().(hash.Hash); ok {
		m.Reset()
		return m
	}
	return hmac.New(sha256.New, t.sigKey)
}

// NewToken returns a Token for a 32-byte (AES-128) or 64-byte (AES-256) key.
func NewToken(key []byte) (*Token, error) {
	var half int
	switch len(key) {
	case 32, 64:
		half = len(key) / 2
	default:
		return nil, fmt.Errorf("%w: got %d", ErrTokenKeySize, len(key))
	}
	block, err := aes.NewCipher(key[half:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, half)
	copy(sig, key[:half])
	return &Token{sigKey: sig, block: block}, nil
}

// GenerateTokenKey returns a fresh 64-byte (AES-256) token key read from rand,
// as the reference's Token.generate_key does by default.
func GenerateTokenKey(rand io.Reader) ([]byte, error) {
	k := make([]byte, 64)
	if _, err := io.ReadFull(rand, k); err != nil {
		return nil, fmt.Errorf("rns: generating token key: %w", err)
	}
	return k, nil
}

// TokenSize returns the size of the token for an n-byte plaintext:
// 48 + 16·(⌊n/16⌋+1).
func TokenSize(n int) int { return TokenOverhead + (n/aes.BlockSize+1)*aes.BlockSize }

// Encrypt encrypts plaintext with a fresh IV read from rand.
func (t *Token) Encrypt(rand io.Reader, plaintext []byte) ([]byte, error) {
	var iv [TokenIVSize]byte
	if _, err := io.ReadFull(rand, iv[:]); err != nil {
		return nil, fmt.Errorf("rns: token IV: %w", err)
	}
	return t.AppendEncrypt(nil, iv, plaintext), nil
}

// AppendEncrypt appends the token for plaintext under the given IV to dst.
// The IV must be unpredictable and never reused with the same key.
func (t *Token) AppendEncrypt(dst []byte, iv [TokenIVSize]byte, plaintext []byte) []byte {
	n := TokenSize(len(plaintext))
	start := len(dst)
	dst = slices.Grow(dst, n)[:start+n]
	out := dst[start:]
	copy(out, iv[:])
	body := out[TokenIVSize : n-TokenMACSize]
	copy(body, plaintext)
	pad := byte(len(body) - len(plaintext))
	for i := len(plaintext); i < len(body); i++ {
		body[i] = pad
	}
	cipher.NewCBCEncrypter(t.block, iv[:]).CryptBlocks(body, body)
	mac := t.mac()
	mac.Write(out[:n-TokenMACSize])
	mac.Sum(out[:n-TokenMACSize])
	t.macs.Put(mac)
	return dst
}

// Decrypt verifies the token's HMAC in constant time, then decrypts it and
// strips the PKCS#7 padding. It fails with ErrTokenTooShort, ErrTokenMAC
// or ErrTokenPadding; the padding check is strict (all pad bytes must
// match), which the reference's own output always satisfies.
func (t *Token) Decrypt(token []byte) ([]byte, error) {
	return t.AppendDecrypt(nil, token)
}

// AppendDecrypt is Decrypt appending the plaintext to dst.
func (t *Token) AppendDecrypt(dst, token []byte) ([]byte, error) {
	if len(token) <= TokenMACSize {
		return nil, parseErr("token", len(token), ErrTokenTooShort)
	}
	signed := token[:len(token)-TokenMACSize]
	mac := t.mac()
	mac.Write(signed)
	var sum [TokenMACSize]byte
	ok := subtle.ConstantTimeCompare(mac.Sum(sum[:0]), token[len(signed):]) == 1
	t.macs.Put(mac)
	if !ok {
		return nil, ErrTokenMAC
	}
	if len(signed) < TokenIVSize+aes.BlockSize {
		return nil, parseErr("token", len(token), ErrTokenTooShort)
	}
	ct := signed[TokenIVSize:]
	if len(ct)%aes.BlockSize != 0 {
		return nil, parseErr("token", len(token), ErrTokenPadding)
	}
	start := len(dst)
	dst = append(dst, ct...)
	pt := dst[start:]
	cipher.NewCBCDecrypter(t.block, signed[:TokenIVSize]).CryptBlocks(pt, pt)
	pad := int(pt[len(pt)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, ErrTokenPadding
	}
	bad := 0
	for _, b := range pt[len(pt)-pad:] {
		bad |= int(b) ^ pad
	}
	if bad != 0 {
		return nil, ErrTokenPadding
	}
	return dst[:len(dst)-pad], nil
}
