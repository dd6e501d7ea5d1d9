package rns

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"time"
)

// Announce layout sizes (RNS/Identity.py validate_announce).
const (
	// RandomHashLength is the announce random hash: 5 random bytes ‖ 5-byte Unix time.
	RandomHashLength = 10
	// AnnounceMinData is the smallest announce payload without a ratchet:
	// public key, name hash, random hash, signature.
	AnnounceMinData = KeySize + NameHashLength + RandomHashLength + SigLength
	// AnnounceRatchetData is the smallest announce payload with a ratchet.
	AnnounceRatchetData = AnnounceMinData + RatchetSize
)

// Announce validation errors.
var (
	ErrNotAnnounce          = errors.New("rns: packet is not an announce")
	ErrAnnounceSignature    = errors.New("rns: announce signature invalid")
	ErrAnnounceDestination  = errors.New("rns: announce destination hash does not match its key and name hash")
	ErrAnnounceDestType     = errors.New("rns: only SINGLE destinations announce")
	ErrAnnounceKeyConflict  = errors.New("rns: announce carries a different public key than the one known for its destination")
	ErrAnnounceNeedsPrivate = errors.New("rns: announcing needs an inbound SINGLE destination with a private key")
)

// AnnounceData is the parsed payload of an announce packet.
type AnnounceData struct {
	Destination Hash // from the packet header; covered by the signature
	PublicKey   [KeySize]byte
	NameHash    NameHash
	RandomHash  [RandomHashLength]byte
	Ratchet     []byte // 32-byte ratchet public key, nil when absent
	Signature   [SigLength]byte
	AppData     []byte // nil when nothing follows the signature
}

// Timestamp returns the emission time carried in the last 5 bytes of the
// random hash (Unix seconds).
func (a *AnnounceData) Timestamp() int64 {
	var t int64
	for _, b := range a.RandomHash[5:] {
		t = t<<8 | int64(b)
	}
	return t
}

// IdentityHash returns the truncated hash of the announced public key.
func (a *AnnounceData) IdentityHash() Hash { return TruncatedHash(a.PublicKey[:]) }

// Identity returns a public-only identity for the announced key.
func (a *AnnounceData) Identity() (*Identity, error) { return FromPublicKey(a.PublicKey[:]) }

// RatchetID returns the id of the announced ratchet and whether there is one.
func (a *AnnounceData) RatchetID() (RatchetID, bool) {
	if a.Ratchet == nil {
		return RatchetID{}, false
	}
	return RatchetIDOf(a.Ratchet), true
}

// SignedData returns destination ‖ public key ‖ name hash ‖ random hash ‖
// [ratchet] ‖ app data: what the announce signature covers.
func (a *AnnounceData) SignedData() []byte {
	b := make([]byte, 0, TruncatedHashLength+KeySize+NameHashLength+RandomHashLength+len(a.Ratchet)+len(a.AppData))
	b = append(b, a.Destination[:]...)
	b = append(b, a.PublicKey[:]...)
	b = append(b, a.NameHash[:]...)
	b = append(b, a.RandomHash[:]...)
	b = append(b, a.Ratchet...)
	return append(b, a.AppData...)
}

// Marshal returns the announce payload: public key ‖ name hash ‖ random hash
// ‖ [ratchet] ‖ signature ‖ app data.
func (a *AnnounceData) Marshal() []byte {
	b := make([]byte, 0, AnnounceMinData+len(a.Ratchet)+len(a.AppData))
	b = append(b, a.PublicKey[:]...)
	b = append(b, a.NameHash[:]...)
	b = append(b, a.RandomHash[:]...)
	b = append(b, a.Ratchet...)
	b = append(b, a.Signature[:]...)
	return append(b, a.AppData...)
}

// VerifySignature checks the Ed25519 signature under the announced key.
func (a *AnnounceData) VerifySignature() error {
	if !ed25519.Verify(ed25519.PublicKey(a.PublicKey[32:]), a.SignedData(), a.Signature[:]) {
		return ErrAnnounceSignature
	}
	return nil
}

// VerifyDestination checks destination = truncated SHA-256(name hash ‖
// identity hash).
func (a *AnnounceData) VerifyDestination() error {
	ih := a.IdentityHash()
	if DestinationHash(a.NameHash, &ih) != a.Destination {
		return ErrAnnounceDestination
	}
	return nil
}

// Validate checks, in the reference's order, the signature and then the
// destination hash. (Rejecting a key that differs from one already known
// for the destination, and blackholes, are the caller's: see
// ErrAnnounceKeyConflict.)
func (a *AnnounceData) Validate() error {
	if err := a.VerifySignature(); err != nil {
		return err
	}
	return a.VerifyDestination()
}

// ParseAnnounce splits an announce packet's payload without verifying it.
// The ratchet field is present exactly when the packet's context flag is
// set. Payloads too short for their fields fail with ErrTruncated. The
// returned slices alias p.Data.
func ParseAnnounce(p *Packet) (*AnnounceData, error) {
	if p.Type != Announce {
		return nil, ErrNotAnnounce
	}
	if p.DestType != Single {
		return nil, ErrAnnounceDestType
	}
	d := p.Data
	need := AnnounceMinData
	if p.ContextFlag {
		need = AnnounceRatchetData
	}
	if len(d) < need {
		return nil, parseErr("announce", len(d), ErrTruncated)
	}
	a := &AnnounceData{Destination: p.Destination}
	off := copy(a.PublicKey[:], d)
	off += copy(a.NameHash[:], d[off:])
	off += copy(a.RandomHash[:], d[off:])
	if p.ContextFlag {
		a.Ratchet = d[off : off+RatchetSize : off+RatchetSize]
		off += RatchetSize
	}
	off += copy(a.Signature[:], d[off:])
	if off < len(d) {
		a.AppData = d[off:]
	}
	return a, nil
}

// ValidateAnnounce parses and validates an announce packet (signature, then
// destination hash), returning its fields. Errors are typed:
// ErrNotAnnounce, ErrAnnounceDestType, a *ParseError wrapping ErrTruncated,
// ErrAnnounceSignature or ErrAnnounceDestination.
func ValidateAnnounce(p *Packet) (*AnnounceData, error) {
	a, err := ParseAnnounce(p)
	if err != nil {
		return nil, err
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	return a, nil
}

// RandomHash builds an announce random hash: the first 5 bytes of SHA-256 of
// 16 bytes read from rand, then now as a 5-byte big-endian count of Unix
// seconds.
func RandomHash(rand io.Reader, now time.Time) ([RandomHashLength]byte, error) {
	var seed [TruncatedHashLength]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return [RandomHashLength]byte{}, fmt.Errorf("rns: announce random hash: %w", err)
	}
	return randomHashFrom(seed[:], now.Unix()), nil
}

func randomHashFrom(seed []byte, unix int64) [RandomHashLength]byte {
	s := sha256.Sum256(seed)
	var rh [RandomHashLength]byte
	copy(rh[:5], s[:5])
	for i := 0; i < 5; i++ {
		rh[9-i] = byte(unix >> (8 * i))
	}
	return rh
}

// AnnounceOptions are the optional parts of an announce.
type AnnounceOptions struct {
	AppData      []byte // nil for none
	PathResponse bool   // context PATH_RESPONSE instead of NONE
}

// Announce builds the announce packet for an inbound SINGLE destination as
// the reference's Destination.announce: HEADER_1, BROADCAST, hops 0, context
// NONE (or PATH_RESPONSE), context flag and ratchet field set when the
// destination has ratchets enabled. rand supplies 16 bytes for the random
// hash, then, if the ratchet ring is due to rotate, 32 bytes for the new
// ratchet; now is the emission time (keep it monotonic across restarts:
// receivers ignore announces not newer than one they hold).
func (d *Destination) Announce(rand io.Reader, now time.Time, opts AnnounceOptions) (*Packet, error) {
	if d.typ != Single || d.dir != In || d.identity == nil || !d.identity.HasPrivateKey() {
		return nil, ErrAnnounceNeedsPrivate
	}
	rh, err := RandomHash(rand, now)
	if err != nil {
		return nil, err
	}
	var ratchet []byte
	if ring := d.Ratchets(); ring != nil {
		if _, err := ring.Rotate(rand, now.Unix()); err != nil {
			return nil, err
		}
		ratchet = ring.Current().PublicKey()
	}
	a := &AnnounceData{Destination: d.hash, NameHash: d.nameHash, RandomHash: rh, Ratchet: ratchet}
	copy(a.PublicKey[:], d.identity.PublicKey())
	if opts.AppData != nil {
		a.AppData = append([]byte(nil), opts.AppData...)
	}
	sig, err := d.identity.Sign(a.SignedData())
	if err != nil {
		return nil, err
	}
	copy(a.Signature[:], sig)
	p := &Packet{
		HeaderType:  Header1,
		ContextFlag: ratchet != nil,
		DestType:    Single,
		Type:        Announce,
		Destination: d.hash,
		Context:     CtxNone,
		Data:        a.Marshal(),
	}
	if opts.PathResponse {
		p.Context = CtxPathResponse
	}
	if p.Len() > MTU {
		return nil, fmt.Errorf("%w: announce of %d bytes exceeds MTU", ErrOversized, p.Len())
	}
	return p, nil
}
