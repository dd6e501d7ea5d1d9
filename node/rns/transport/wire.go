package transport

// Adapters between the router and the wire-format primitives of package rns.
// Every use of announce, link-handshake and IFAC byte layouts goes through
// this file, so the router stays independent of how rns spells them.

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/meshlogd/meshlogd/node/rns"
	"golang.org/x/crypto/curve25519"
)

// Errors for rejected protocol input.
var (
	// ErrAnnounceSignature reports an announce whose signature does not verify.
	ErrAnnounceSignature = errors.New("transport: announce signature invalid")
	// ErrAnnounceDestination reports an announce whose destination hash does
	// not match its name hash and public key.
	ErrAnnounceDestination = errors.New("transport: announce destination hash mismatch")
	// ErrAnnounceKeyConflict reports an announce with a public key other
	// than the one already known for the destination.
	ErrAnnounceKeyConflict = errors.New("transport: announce public key conflicts with known key")
	// ErrAnnounceLength reports an announce too short for its fields.
	ErrAnnounceLength = errors.New("transport: announce too short")
	// ErrLinkRequest reports a malformed link request.
	ErrLinkRequest = errors.New("transport: invalid link request")
	// ErrLinkProof reports a malformed or forged link request proof.
	ErrLinkProof = errors.New("transport: invalid link proof")
	// ErrLinkMode reports a link mode other than AES-256-CBC.
	ErrLinkMode = errors.New("transport: unsupported link mode")
	// ErrIFAC reports a packet whose interface access code is missing,
	// unexpected or wrong.
	ErrIFAC = errors.New("transport: interface access code rejected")
)

const (
	randomHashLen = 10
	ratchetLen    = 32
	ecPubLen      = 32
	linkMTULen    = 3
	// linkModeAES256CBC is the only link mode the reference enables.
	linkModeAES256CBC = 1
	mtuByteMask       = 0x1FFFFF
)

// announce is a parsed, validated announce.
type announce struct {
	Destination rns.Hash
	Identity    *rns.Identity
	NameHash    rns.NameHash
	RandomHash  [randomHashLen]byte
	Ratchet     []byte
	AppData     []byte
}

// emitted returns the emission time carried in the random hash (Unix s).
func emittedOf(random [randomHashLen]byte) uint64 {
	var b [8]byte
	copy(b[3:], random[5:10])
	return binary.BigEndian.Uint64(b[:])
}

// parseAnnounce splits and validates an announce packet as the reference's
// Identity.validate_announce: signature over destination ‖ public key ‖ name
// hash ‖ random hash ‖ [ratchet] ‖ app data, then the destination hash.
func parseAnnounce(p *rns.Packet) (*announce, error) {
	d := p.Data
	min := rns.KeySize + rns.NameHashLength + randomHashLen + rns.SigLength
	if p.ContextFlag {
		min += ratchetLen
	}
	if len(d) < min {
		return nil, fmt.Errorf("%w: %d bytes, need %d", ErrAnnounceLength, len(d), min)
	}
	a := &announce{Destination: p.Destination}
	pub := d[:rns.KeySize]
	off := rns.KeySize
	copy(a.NameHash[:], d[off:])
	off += rns.NameHashLength
	copy(a.RandomHash[:], d[off:])
	off += randomHashLen
	if p.ContextFlag {
		a.Ratchet = d[off : off+ratchetLen]
		off += ratchetLen
	}
	sig := d[off : off+rns.SigLength]
	off += rns.SigLength
	if off < len(d) {
		a.AppData = d[off:]
	}
	id, err := rns.FromPublicKey(pub)
	if err != nil {
		return nil, err
	}
	signed := make([]byte, 0, rns.TruncatedHashLength+off-rns.SigLength+len(a.AppData))
	signed = append(signed, p.Destination[:]...)
	signed = append(signed, d[:off-rns.SigLength]...)
	signed = append(signed, a.AppData...)
	if !id.Verify(sig, signed) {
		return nil, ErrAnnounceSignature
	}
	ih := id.Hash()
	if rns.DestinationHash(a.NameHash, &ih) != p.Destination {
		return nil, ErrAnnounceDestination
	}
	a.Identity = id
	return a, nil
}

// buildAnnounce creates the announce packet of a local SINGLE destination
// (RNS/Destination.py announce): random hash = 5 bytes of SHA-256 over 16
// random bytes ‖ 5-byte big-endian emission time.
func buildAnnounce(rand io.Reader, d *rns.Destination, appData []byte, emitted uint64, pathResponse bool) (*rns.Packet, error) {
	id := d.Identity()
	if id == nil || !id.HasPrivateKey() {
		return nil, rns.ErrNoPrivateKey
	}
	var seed [16]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, err
	}
	var random [randomHashLen]byte
	h := sha256.Sum256(seed[:])
	copy(random[:5], h[:5])
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], emitted)
	copy(random[5:], ts[3:])
	dh := d.Hash()
	nh := d.NameHash()
	signed := make([]byte, 0, 16+64+10+10+len(appData))
	signed = append(signed, dh[:]...)
	signed = append(signed, id.PublicKey()...)
	signed = append(signed, nh[:]...)
	signed = append(signed, random[:]...)
	signed = append(signed, appData...)
	sig, err := id.Sign(signed)
	if err != nil {
		return nil, err
	}
	data := make([]byte, 0, 64+10+10+64+len(appData))
	data = append(data, signed[16:16+64+10+10]...)
	data = append(data, sig...)
	data = append(data, appData...)
	ctx := rns.CtxNone
	if pathResponse {
		ctx = rns.CtxPathResponse
	}
	return &rns.Packet{
		Type:        rns.Announce,
		DestType:    rns.Single,
		Destination: dh,
		Context:     ctx,
		Data:        data,
	}, nil
}

// signalling returns the 3 link MTU signalling bytes for mtu in AES-256-CBC mode.
func signalling(mtu int) [linkMTULen]byte {
	v := uint32(mtu)&mtuByteMask | uint32(linkModeAES256CBC)<<21
	return [linkMTULen]byte{byte(v >> 16), byte(v >> 8), byte(v)}
}

// parseSignalling returns the MTU and mode of 3 signalling bytes.
func parseSignalling(b []byte) (mtu int, mode int) {
	v := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	return int(v & mtuByteMask), int(b[0]&0xE0) >> 5
}

// linkIDOf returns the link id of a link request packet: the truncated hash
// of its hashable part without the signalling bytes
// (RNS/Link.py link_id_from_lr_packet).
func linkIDOf(p *rns.Packet) rns.Hash {
	hp := p.HashablePart()
	if extra := len(p.Data) - 2*ecPubLen; extra > 0 {
		hp = hp[:len(hp)-extra]
	}
	return rns.TruncatedHash(hp)
}

// x25519Pair returns a fresh X25519 key pair.
func x25519Pair(rand io.Reader) (priv, pub []byte, err error) {
	priv = make([]byte, 32)
	if _, err = io.ReadFull(rand, priv); err != nil {
		return nil, nil, err
	}
	pub, err = curve25519.X25519(priv, curve25519.Basepoint)
	return priv, pub, err
}

// linkKey derives the 64-byte link key: HKDF(X25519(own, peer), salt = link id).
func linkKey(priv, peerPub []byte, id rns.Hash) ([]byte, error) {
	shared, err := curve25519.X25519(priv, peerPub)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", rns.ErrKeyExchange, err)
	}
	return rns.HKDF(64, shared, id[:], nil)
}

// proofSignedData is what a link request proof signs.
func proofSignedData(id rns.Hash, respPub []byte, sigPub ed25519.PublicKey, sig []byte) []byte {
	b := make([]byte, 0, 16+32+32+3)
	b = append(b, id[:]...)
	b = append(b, respPub...)
	b = append(b, sigPub...)
	return append(b, sig...)
}

// packRTT encodes seconds as a msgpack float64, as umsgpack.packb(float).
func packRTT(seconds float64) []byte {
	b := make([]byte, 9)
	b[0] = 0xcb
	binary.BigEndian.PutUint64(b[1:], math.Float64bits(seconds))
	return b
}

// unpackRTT decodes a msgpack number (float64, float32 or integer).
func unpackRTT(b []byte) (float64, error) {
	if len(b) == 0 {
		return 0, ErrLinkRequest
	}
	switch {
	case b[0] == 0xcb && len(b) == 9:
		return math.Float64frombits(binary.BigEndian.Uint64(b[1:])), nil
	case b[0] == 0xca && len(b) == 5:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[1:]))), nil
	case b[0] <= 0x7f && len(b) == 1:
		return float64(b[0]), nil
	}
	return 0, fmt.Errorf("%w: RTT is not a msgpack number", ErrLinkRequest)
}

// IFAC holds the access code material of one interface (RETICULUM.md §11).
type IFAC struct {
	size int
	key  []byte         // 64-byte HKDF output
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
