package rns

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// DestType is a destination type as carried in bits 3–2 of the flags byte.
type DestType uint8

// Destination types (RNS/Destination.py).
const (
	Single DestType = 0 // encrypted to an identity, announceable
	Group  DestType = 1 // encrypted under a shared symmetric key
	Plain  DestType = 2 // unencrypted
	Link   DestType = 3 // addressed by a link id, encrypted under the link key
)

func (t DestType) String() string {
	switch t {
	case Single:
		return "SINGLE"
	case Group:
		return "GROUP"
	case Plain:
		return "PLAIN"
	case Link:
		return "LINK"
	}
	return fmt.Sprintf("DestType(%d)", uint8(t))
}

// Direction says whether a destination receives (In) or is a local handle
// for sending to a remote one (Out).
type Direction uint8

// Directions, with the reference's values (RNS/Destination.py IN, OUT).
const (
	In  Direction = 0x11
	Out Direction = 0x12
)

// NameHash is the 10-byte hash of a destination's full name (app and aspects).
type NameHash [NameHashLength]byte

// String returns the lowercase hex form.
func (n NameHash) String() string { return fmt.Sprintf("%x", n[:]) }

// Errors returned by destination functions.
var (
	ErrDotInName      = errors.New("rns: dots can't be used in app names or aspects")
	ErrNeedIdentity   = errors.New("rns: SINGLE and GROUP destinations need an identity")
	ErrPlainIdentity  = errors.New("rns: PLAIN destination cannot hold an identity")
	ErrDestType       = errors.New("rns: operation not supported by this destination type")
	ErrNoGroupKey     = errors.New("rns: GROUP destination has no key")
	ErrNotInbound     = errors.New("rns: destination is not inbound")
	ErrRatchetsOff    = errors.New("rns: ratchets are not enabled on this destination")
	ErrUnknownDirType = errors.New("rns: unknown destination type or direction")
)

// ExpandName joins app name and aspects with dots, refusing dots inside any
// part (RNS/Destination.py expand_name). The identity suffix the reference
// adds to display names is never hashed and is not added here.
func ExpandName(app string, aspects ...string) (string, error) {
	if strings.Contains(app, ".") {
		return "", ErrDotInName
	}
	var b strings.Builder
	b.WriteString(app)
	for _, a := range aspects {
		if strings.Contains(a, ".") {
			return "", ErrDotInName
		}
		b.WriteByte('.')
		b.WriteString(a)
	}
	return b.String(), nil
}

// ComputeNameHash returns the first 10 bytes of SHA-256 of the UTF-8 full name.
func ComputeNameHash(app string, aspects ...string) (NameHash, error) {
	name, err := ExpandName(app, aspects...)
	if err != nil {
		return NameHash{}, err
	}
	s := sha256.Sum256([]byte(name))
	var n NameHash
	copy(n[:], s[:NameHashLength])
	return n, nil
}

// DestinationHash returns the destination hash: truncated SHA-256 of
// name hash ‖ identity hash, or of the name hash alone when identityHash is
// nil (PLAIN destinations).
func DestinationHash(name NameHash, identityHash *Hash) Hash {
	if identityHash == nil {
		return TruncatedHash(name[:])
	}
	return TruncatedHash(name[:], identityHash[:])
}

// Destination is a Reticulum endpoint: its type, direction, name and the key
// material needed to encrypt to or decrypt for it. Create it with
// NewDestination. Methods are safe for concurrent use.
type Destination struct {
	typ      DestType
	dir      Direction
	app      string
	aspects  []string
	identity *Identity
	nameHash NameHash
	hash     Hash

	mu       sync.Mutex
	groupKey []byte
	group    *Token
	ratchets *RatchetRing // inbound SINGLE with ratchets enabled
	enforce  bool
	remote   []byte // outbound SINGLE: latest announced ratchet public key
}

// NewDestination builds a destination exactly as the reference computes its
// hashes. SINGLE and GROUP destinations need an identity (for an outbound
// SINGLE a public-only identity is enough); PLAIN destinations must have
// none. Unlike the reference, an inbound SINGLE/GROUP destination without an
// identity is refused instead of getting a random one.
func NewDestination(id *Identity, dir Direction, typ DestType, app string, aspects ...string) (*Destination, error) {
	if dir != In && dir != Out {
		return nil, ErrUnknownDirType
	}
	switch typ {
	case Single, Group:
		if id == nil {
			return nil, ErrNeedIdentity
		}
	case Plain:
		if id != nil {
			return nil, ErrPlainIdentity
		}
	default:
		return nil, ErrUnknownDirType
	}
	nh, err := ComputeNameHash(app, aspects...)
	if err != nil {
		return nil, err
	}
	d := &Destination{typ: typ, dir: dir, app: app, aspects: append([]string(nil), aspects...), identity: id, nameHash: nh}
	if id != nil {
		ih := id.Hash()
		d.hash = DestinationHash(nh, &ih)
	} else {
		d.hash = DestinationHash(nh, nil)
	}
	return d, nil
}

// Type returns the destination type.
func (d *Destination) Type() DestType { return d.typ }

// Direction returns the destination direction.
func (d *Destination) Direction() Direction { return d.dir }

// Identity returns the destination's identity (nil for PLAIN).
func (d *Destination) Identity() *Identity { return d.identity }

// Hash returns the 16-byte destination hash (its address).
func (d *Destination) Hash() Hash { return d.hash }

// NameHash returns the 10-byte name hash.
func (d *Destination) NameHash() NameHash { return d.nameHash }

// Name returns the full name without the identity suffix, e.g. "meshlogd.sync".
func (d *Destination) Name() string {
	n, _ := ExpandName(d.app, d.aspects...)
	return n
}

// CreateGroupKey generates a fresh 64-byte (AES-256) key for a GROUP
// destination from rand, as the reference's create_keys.
func (d *Destination) CreateGroupKey(rand io.Reader) error {
	if d.typ != Group {
		return ErrDestType
	}
	k, err := GenerateTokenKey(rand)
	if err != nil {
		return err
	}
	return d.LoadGroupKey(k)
}

// LoadGroupKey sets the symmetric key of a GROUP destination: 64 bytes for
// AES-256 or 32 bytes for AES-128.
func (d *Destination) LoadGroupKey(key []byte) error {
	if d.typ != Group {
		return ErrDestType
	}
	t, err := NewToken(key)
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.groupKey = append([]byte(nil), key...)
	d.group = t
	d.mu.Unlock()
	return nil
}

// GroupKey returns a copy of the GROUP key, or nil if none is set.
func (d *Destination) GroupKey() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.groupKey...)
}

// SetRemoteRatchet records the latest ratchet public key announced by an
// outbound SINGLE destination; Encrypt then targets it. Pass nil to forget
// it (e.g. when it expires after RatchetExpirySeconds).
func (d *Destination) SetRemoteRatchet(pub []byte) error {
	if d.typ != Single {
		return ErrDestType
	}
	if pub != nil && len(pub) != RatchetSize {
		return ErrRatchetSize
	}
	d.mu.Lock()
	d.remote = append([]byte(nil), pub...)
	if pub == nil {
		d.remote = nil
	}
	d.mu.Unlock()
	return nil
}

// RemoteRatchet returns the recorded remote ratchet public key, or nil.
func (d *Destination) RemoteRatchet() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]byte(nil), d.remote...)
}

// EnableRatchets attaches a ratchet ring to an inbound SINGLE destination:
// announces then carry its newest ratchet and Decrypt tries every retained
// ratchet. With enforce set, packets encrypted to the identity key itself
// are refused (ErrRatchetEnforced), as the reference's enforce_ratchets.
func (d *Destination) EnableRatchets(ring *RatchetRing, enforce bool) error {
	if d.typ != Single {
		return ErrDestType
	}
	if d.dir != In {
		return ErrNotInbound
	}
	d.mu.Lock()
	d.ratchets = ring
	d.enforce = enforce && ring != nil
	d.mu.Unlock()
	return nil
}

// Ratchets returns the attached ratchet ring, or nil.
func (d *Destination) Ratchets() *RatchetRing {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ratchets
}

// Encrypt encrypts plaintext for the destination: unchanged for PLAIN; for
// SINGLE with Identity.Encrypt (to the remote ratchet if one is recorded),
// reading the ephemeral key then the IV from rand; for GROUP a bare Token
// under the group key (IV from rand).
func (d *Destination) Encrypt(rand io.Reader, plaintext []byte) ([]byte, error) {
	switch d.typ {
	case Plain:
		return append([]byte(nil), plaintext...), nil
	case Single:
		return d.identity.Encrypt(rand, plaintext, d.RemoteRatchet())
	case Group:
		d.mu.Lock()
		t := d.group
		d.mu.Unlock()
		if t == nil {
			return nil, ErrNoGroupKey
		}
		return t.Encrypt(rand, plaintext)
	}
	return nil, ErrDestType
}

// Decrypt decrypts data received for the destination: unchanged for PLAIN,
// the group token for GROUP, and for SINGLE the identity key and any
// retained ratchets (see EnableRatchets).
func (d *Destination) Decrypt(ciphertext []byte) ([]byte, error) {
	switch d.typ {
	case Plain:
		return append([]byte(nil), ciphertext...), nil
	case Single:
		d.mu.Lock()
		ring, enforce := d.ratchets, d.enforce
		d.mu.Unlock()
		var rs []*Ratchet
		if ring != nil {
			rs = ring.List()
		}
		pt, _, err := d.identity.DecryptWithRatchets(ciphertext, rs, enforce)
		return pt, err
	case Group:
		d.mu.Lock()
		t := d.group
		d.mu.Unlock()
		if t == nil {
			return nil, ErrNoGroupKey
		}
		return t.Decrypt(ciphertext)
	}
	return nil, ErrDestType
}

// RatchetRing holds a destination's ratchets, newest first, rotating at most
// every Interval seconds and retaining at most Retain of them, as the
// reference's Destination.rotate_ratchets. Persisting the ring (the reference
// keeps a signed msgpack file) is left to the caller: List and
// NewRatchetRing round-trip the keys. Safe for concurrent use.
type RatchetRing struct {
	mu       sync.Mutex
	interval int64
	retain   int
	latestAt int64
	list     []*Ratchet
}

// NewRatchetRing returns a ring rotating every interval seconds (≤ 0 means
// RatchetIntervalSeconds) and retaining retain ratchets (≤ 0 means
// RatchetCount). existing (newest first) seeds it; latestAt is the Unix time
// the newest one was created (0 forces a rotation on the next announce).
func NewRatchetRing(interval int64, retain int, existing []*Ratchet, latestAt int64) *RatchetRing {
	if interval <= 0 {
		interval = RatchetIntervalSeconds
	}
	if retain <= 0 {
		retain = RatchetCount
	}
	r := &RatchetRing{interval: interval, retain: retain, latestAt: latestAt}
	for _, x := range existing {
		if x != nil {
			r.list = append(r.list, x)
		}
	}
	if len(r.list) > retain {
		r.list = r.list[:retain]
	}
	return r
}

// Rotate adds a new ratchet (32 bytes from rand) if now (Unix seconds) is
// more than the interval past the newest one, or if the ring is empty. It
// reports whether it rotated.
func (r *RatchetRing) Rotate(rand io.Reader, now int64) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) > 0 && now <= r.latestAt+r.interval {
		return false, nil
	}
	nr, err := NewRatchet(rand)
	if err != nil {
		return false, err
	}
	r.list = append([]*Ratchet{nr}, r.list...)
	if len(r.list) > r.retain {
		r.list = r.list[:r.retain]
	}
	r.latestAt = now
	return true, nil
}

// Current returns the newest ratchet, or nil.
func (r *RatchetRing) Current() *Ratchet {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.list) == 0 {
		return nil
	}
	return r.list[0]
}

// List returns the retained ratchets, newest first.
func (r *RatchetRing) List() []*Ratchet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Ratchet(nil), r.list...)
}

// LatestAt returns the Unix time of the newest rotation.
func (r *RatchetRing) LatestAt() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.latestAt
}
