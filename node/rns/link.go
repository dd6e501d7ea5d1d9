package rns

import (
	"crypto/ed25519"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// LinkMode is the link encryption mode signalled in the top 3 bits of the
// signalling bytes (RNS/Link.py MODE_*).
type LinkMode uint8

// Link modes. Only LinkModeAES256CBC is enabled in the reference.
const (
	LinkModeAES128CBC LinkMode = 0
	LinkModeAES256CBC LinkMode = 1
)

// Link handshake sizes and timing constants (RNS/Link.py).
const (
	// LinkECPubSize is the request's key material: X25519 public (32) ‖ Ed25519 public (32).
	LinkECPubSize = 64
	// LinkSignallingSize is the length of the MTU/mode signalling bytes.
	LinkSignallingSize = 3
	// LinkProofMinSize is a link proof without signalling: signature ‖ X25519 public.
	LinkProofMinSize = SigLength + 32
	// LinkKeySize is the derived link key length in AES-256 mode.
	LinkKeySize = 64

	// KeepaliveRequest is the initiator's keepalive payload.
	KeepaliveRequest = 0xFF
	// KeepaliveReply is the responder's keepalive payload.
	KeepaliveReply = 0xFE

	// KeepaliveMax is the longest keepalive interval.
	KeepaliveMax = 360 * time.Second
	// KeepaliveMin is the shortest keepalive interval.
	KeepaliveMin = 5 * time.Second
	// KeepaliveMaxRTT is the RTT at which the keepalive interval reaches KeepaliveMax.
	KeepaliveMaxRTT = 1750 * time.Millisecond
	// StaleFactor: a link is stale after StaleFactor × keepalive without inbound traffic.
	StaleFactor = 2
	// KeepaliveTimeoutFactor: a stale link closes after RTT × this + StaleGrace.
	KeepaliveTimeoutFactor = 4
	// StaleGrace is added to the stale-link close timeout.
	StaleGrace = 5 * time.Second
	// EstablishmentTimeoutPerHop is the per-hop link establishment timeout.
	EstablishmentTimeoutPerHop = 6 * time.Second
)

// Teardown reasons (RNS/Link.py).
const (
	TeardownTimeout           = 1
	TeardownInitiatorClosed   = 2
	TeardownDestinationClosed = 3
)

// Link errors.
var (
	ErrLinkMode        = errors.New("rns: link mode not enabled")
	ErrLinkProof       = errors.New("rns: link proof signature invalid")
	ErrLinkRequestType = errors.New("rns: not a link request to a SINGLE destination")
	ErrLinkProofType   = errors.New("rns: not a link request proof for this link")
	ErrLinkIdentify    = errors.New("rns: link identification invalid")
	ErrLinkRTT         = errors.New("rns: link RTT payload invalid")
)

// SignallingBytes encodes the link MTU and mode: big-endian 24-bit
// (mtu & 0x1FFFFF) | mode<<21. Only enabled modes are accepted.
func SignallingBytes(mtu int, mode LinkMode) ([LinkSignallingSize]byte, error) {
	if mode != LinkModeAES256CBC {
		return [3]byte{}, ErrLinkMode
	}
	v := uint32(mtu)&0x1FFFFF | uint32(mode)<<21
	return [3]byte{byte(v >> 16), byte(v >> 8), byte(v)}, nil
}

// DecodeSignalling returns the MTU and mode carried by 3 signalling bytes.
func DecodeSignalling(b [LinkSignallingSize]byte) (mtu int, mode LinkMode) {
	v := uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
	return int(v & 0x1FFFFF), LinkMode(b[0] >> 5)
}

// LinkMDUFor returns the plaintext budget of a link packet at a link MTU:
// ⌊(mtu − 1 − 19 − 48)/16⌋·16 − 1 (431 at 500, 8111 at 8192).
func LinkMDUFor(mtu int) int {
	return (mtu-IFACMinSize-HeaderMinSize-TokenOverhead)/16*16 - 1
}

// KeepaliveInterval returns the keepalive interval for a link RTT:
// clamp(rtt × 360/1.75, 5 s, 360 s).
func KeepaliveInterval(rtt time.Duration) time.Duration {
	k := time.Duration(float64(rtt) * (float64(KeepaliveMax) / float64(KeepaliveMaxRTT)))
	return min(max(k, KeepaliveMin), KeepaliveMax)
}

// LinkRequestData is the payload of a LINKREQUEST packet.
type LinkRequestData struct {
	X25519Pub  [32]byte // initiator's ephemeral encryption key
	Ed25519Pub [32]byte // initiator's ephemeral signing key
	Signalling bool     // whether MTU/mode bytes follow
	MTU        int      // signalled MTU, or MTU (500) without signalling
	Mode       LinkMode // signalled mode, or AES-256-CBC without signalling
}

// ParseLinkRequest parses a link request payload: exactly 64 bytes, or 67
// with signalling (RNS/Link.py validate_request).
func ParseLinkRequest(data []byte) (*LinkRequestData, error) {
	r := &LinkRequestData{MTU: MTU, Mode: LinkModeAES256CBC}
	switch len(data) {
	case LinkECPubSize:
	case LinkECPubSize + LinkSignallingSize:
		r.Signalling = true
		r.MTU, r.Mode = DecodeSignalling([3]byte(data[LinkECPubSize:]))
	default:
		if len(data) < LinkECPubSize {
			return nil, parseErr("link request", len(data), ErrTruncated)
		}
		return nil, parseErr("link request", len(data), ErrOversized)
	}
	copy(r.X25519Pub[:], data)
	copy(r.Ed25519Pub[:], data[32:])
	return r, nil
}

// Marshal returns the link request payload.
func (r *LinkRequestData) Marshal() ([]byte, error) {
	b := make([]byte, 0, LinkECPubSize+LinkSignallingSize)
	b = append(b, r.X25519Pub[:]...)
	b = append(b, r.Ed25519Pub[:]...)
	if r.Signalling {
		s, err := SignallingBytes(r.MTU, r.Mode)
		if err != nil {
			return nil, err
		}
		b = append(b, s[:]...)
	}
	return b, nil
}

// LinkID returns the link id of a link request packet: the truncated hash of
// its hashable part with any bytes beyond the 64 key bytes (the signalling)
// removed, so it survives hop rewrites and MTU clamping.
func LinkID(req *Packet) Hash {
	hp := req.HashablePart()
	if extra := len(req.Data) - LinkECPubSize; extra > 0 {
		hp = hp[:len(hp)-extra]
	}
	return TruncatedHash(hp)
}

// LinkProofData is the payload of a link request proof (context LRPROOF).
type LinkProofData struct {
	Signature  [SigLength]byte
	X25519Pub  [32]byte // responder's ephemeral encryption key
	Signalling bool
	MTU        int
	Mode       LinkMode
}

// ParseLinkProof parses a link proof payload: 96 bytes, or 99 with signalling.
func ParseLinkProof(data []byte) (*LinkProofData, error) {
	lp := &LinkProofData{MTU: MTU, Mode: LinkModeAES256CBC}
	switch len(data) {
	case LinkProofMinSize:
	case LinkProofMinSize + LinkSignallingSize:
		lp.Signalling = true
		lp.MTU, lp.Mode = DecodeSignalling([3]byte(data[LinkProofMinSize:]))
	default:
		if len(data) < LinkProofMinSize {
			return nil, parseErr("link proof", len(data), ErrTruncated)
		}
		return nil, parseErr("link proof", len(data), ErrOversized)
	}
	copy(lp.Signature[:], data)
	copy(lp.X25519Pub[:], data[SigLength:])
	return lp, nil
}

// Marshal returns the link proof payload.
func (lp *LinkProofData) Marshal() ([]byte, error) {
	b := make([]byte, 0, LinkProofMinSize+LinkSignallingSize)
	b = append(b, lp.Signature[:]...)
	b = append(b, lp.X25519Pub[:]...)
	if lp.Signalling {
		s, err := SignallingBytes(lp.MTU, lp.Mode)
		if err != nil {
			return nil, err
		}
		b = append(b, s[:]...)
	}
	return b, nil
}

// linkProofSignedData is link id ‖ responder X25519 ‖ responder identity
// Ed25519 ‖ signalling (empty when the proof carries none).
func linkProofSignedData(id Hash, xpub []byte, edpub []byte, sig []byte) []byte {
	b := make([]byte, 0, TruncatedHashLength+64+LinkSignallingSize)
	b = append(b, id[:]...)
	b = append(b, xpub...)
	b = append(b, edpub...)
	return append(b, sig...)
}

// LinkInitiator is the initiator's half of a pending link handshake.
type LinkInitiator struct {
	xPriv   [32]byte
	edPriv  ed25519.PrivateKey
	request *Packet
	id      Hash
	mode    LinkMode
}

// NewLinkInitiator starts a link to the SINGLE destination dest: it makes an
// ephemeral X25519 key (32 bytes from rand) and an ephemeral Ed25519 key (a
// 32-byte seed from rand, after the X25519 key) and builds the LINKREQUEST
// packet. mtu > 0 is signalled (500 for radio paths, the interface's
// hardware MTU for TCP); mtu = 0 sends the legacy 64-byte request.
func NewLinkInitiator(rand io.Reader, dest Hash, mtu int) (*LinkInitiator, error) {
	var k [64]byte
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return nil, fmt.Errorf("rns: link keys: %w", err)
	}
	return NewLinkInitiatorWith(k[:32], k[32:], dest, mtu)
}

// NewLinkInitiatorWith is NewLinkInitiator with explicit ephemeral keys
// (X25519 private key and Ed25519 seed), for reproducible vectors.
func NewLinkInitiatorWith(x25519Priv, ed25519Seed []byte, dest Hash, mtu int) (*LinkInitiator, error) {
	if len(x25519Priv) != 32 || len(ed25519Seed) != ed25519.SeedSize {
		return nil, ErrKeySize
	}
	li := &LinkInitiator{mode: LinkModeAES256CBC, edPriv: ed25519.NewKeyFromSeed(ed25519Seed)}
	copy(li.xPriv[:], x25519Priv)
	xpub, err := x25519(li.xPriv[:], basepoint)
	if err != nil {
		return nil, err
	}
	r := LinkRequestData{Signalling: mtu > 0, MTU: mtu, Mode: li.mode}
	copy(r.X25519Pub[:], xpub)
	copy(r.Ed25519Pub[:], li.edPriv.Public().(ed25519.PublicKey))
	data, err := r.Marshal()
	if err != nil {
		return nil, err
	}
	li.request = &Packet{DestType: Single, Type: LinkRequest, Destination: dest, Context: CtxNone, Data: data}
	li.id = LinkID(li.request)
	return li, nil
}

// Request returns the LINKREQUEST packet to send.
func (li *LinkInitiator) Request() *Packet { return li.request }

// ID returns the link id.
func (li *LinkInitiator) ID() Hash { return li.id }

// Accept validates a link proof received for this link against the
// destination's identity (only its public key is needed) and returns the
// established session. The proof must be a PROOF with context LRPROOF
// addressed to the link id.
func (li *LinkInitiator) Accept(dest *Identity, proof *Packet) (*LinkSession, error) {
	if dest == nil {
		return nil, ErrNeedIdentity
	}
	if proof.Type != Proof || proof.Context != CtxLRProof || proof.Destination != li.id {
		return nil, ErrLinkProofType
	}
	lp, err := ParseLinkProof(proof.Data)
	if err != nil {
		return nil, err
	}
	if lp.Mode != li.mode {
		return nil, ErrLinkMode
	}
	var sigBytes []byte
	if lp.Signalling {
		s, err := SignallingBytes(lp.MTU, lp.Mode)
		if err != nil {
			return nil, err
		}
		sigBytes = s[:]
	}
	signed := linkProofSignedData(li.id, lp.X25519Pub[:], dest.Ed25519PublicKey(), sigBytes)
	if !dest.Verify(lp.Signature[:], signed) {
		return nil, ErrLinkProof
	}
	mtu := MTU
	if lp.Signalling {
		mtu = lp.MTU
	}
	return newLinkSession(li.id, true, mtu, li.xPriv[:], lp.X25519Pub[:], li.edPriv, dest.Ed25519PublicKey())
}

// AcceptLinkRequest is the responder's side: it validates a LINKREQUEST
// received for the inbound SINGLE destination owned by id, makes an
// ephemeral X25519 key (32 bytes from rand), derives the link key and
// returns the session and the LRPROOF packet to send back. The link MTU is
// the signalled one (500 without signalling).
func AcceptLinkRequest(rand io.Reader, id *Identity, req *Packet) (*LinkSession, *Packet, error) {
	var k [32]byte
	if _, err := io.ReadFull(rand, k[:]); err != nil {
		return nil, nil, fmt.Errorf("rns: link key: %w", err)
	}
	return AcceptLinkRequestWith(k[:], id, req)
}

// AcceptLinkRequestWith is AcceptLinkRequest with an explicit ephemeral
// X25519 private key, for reproducible vectors.
func AcceptLinkRequestWith(x25519Priv []byte, id *Identity, req *Packet) (*LinkSession, *Packet, error) {
	if req.Type != LinkRequest || req.DestType != Single {
		return nil, nil, ErrLinkRequestType
	}
	if id == nil || !id.HasPrivateKey() {
		return nil, nil, ErrNoPrivateKey
	}
	if len(x25519Priv) != 32 {
		return nil, nil, ErrKeySize
	}
	r, err := ParseLinkRequest(req.Data)
	if err != nil {
		return nil, nil, err
	}
	if r.Mode != LinkModeAES256CBC {
		return nil, nil, ErrLinkMode
	}
	linkID := LinkID(req)
	xpub, err := x25519(x25519Priv, basepoint)
	if err != nil {
		return nil, nil, err
	}
	s, err := newLinkSession(linkID, false, r.MTU, x25519Priv, r.X25519Pub[:], id.edPriv, r.Ed25519Pub[:])
	if err != nil {
		return nil, nil, err
	}
	sig, err := SignallingBytes(r.MTU, r.Mode)
	if err != nil {
		return nil, nil, err
	}
	lp := LinkProofData{X25519Pub: [32]byte(xpub), Signalling: true, MTU: r.MTU, Mode: r.Mode}
	signature, err := id.Sign(linkProofSignedData(linkID, xpub, id.Ed25519PublicKey(), sig[:]))
	if err != nil {
		return nil, nil, err
	}
	copy(lp.Signature[:], signature)
	data, err := lp.Marshal()
	if err != nil {
		return nil, nil, err
	}
	proof := &Packet{DestType: Link, Type: Proof, Destination: linkID, Context: CtxLRProof, Data: data}
	return s, proof, nil
}

// LinkSession holds an established link's keys: the derived Token key, the
// own signing key (the initiator's ephemeral Ed25519 key or the responder's
// identity key) and the peer's verification key. It builds and opens link
// packets; timing and state (RTT, keepalive, stale) belong to the caller.
// Safe for concurrent use.
type LinkSession struct {
	id        Hash
	initiator bool
	mtu       int
	key       []byte
	token     *Token
	sign      ed25519.PrivateKey
	peerSig   ed25519.PublicKey
}

func newLinkSession(id Hash, initiator bool, mtu int, priv, peerPub []byte, sign ed25519.PrivateKey, peerSig []byte) (*LinkSession, error) {
	shared, err := x25519(priv, peerPub)
	if err != nil {
		return nil, err
	}
	key, err := HKDF(LinkKeySize, shared, id[:], nil)
	if err != nil {
		return nil, err
	}
	tok, err := NewToken(key)
	if err != nil {
		return nil, err
	}
	return &LinkSession{id: id, initiator: initiator, mtu: mtu, key: key, token: tok, sign: sign,
		peerSig: append(ed25519.PublicKey(nil), peerSig...)}, nil
}

// ID returns the link id.
func (s *LinkSession) ID() Hash { return s.id }

// Initiator reports whether this side opened the link.
func (s *LinkSession) Initiator() bool { return s.initiator }

// MTU returns the link MTU.
func (s *LinkSession) MTU() int { return s.mtu }

// MDU returns the plaintext budget of a link packet.
func (s *LinkSession) MDU() int { return LinkMDUFor(s.mtu) }

// Key returns a copy of the derived 64-byte link key.
func (s *LinkSession) Key() []byte { return append([]byte(nil), s.key...) }

// PeerSigningKey returns the peer's Ed25519 key used to verify its link proofs.
func (s *LinkSession) PeerSigningKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), s.peerSig...)
}

// Encrypt returns Token(link key, plaintext) with an IV read from rand.
func (s *LinkSession) Encrypt(rand io.Reader, plaintext []byte) ([]byte, error) {
	return s.token.Encrypt(rand, plaintext)
}

// Decrypt opens a link Token.
func (s *LinkSession) Decrypt(ciphertext []byte) ([]byte, error) { return s.token.Decrypt(ciphertext) }

// Packet builds a DATA packet on the link with the given context: the
// payload is encrypted (IV from rand) unless the context travels in the
// clear (KEEPALIVE, RESOURCE, CACHE_REQUEST). Packets larger than the link
// MTU are refused with ErrOversized.
func (s *LinkSession) Packet(rand io.Reader, ctx Context, payload []byte) (*Packet, error) {
	data := payload
	if !ctx.Plaintext(Data, Link) {
		var err error
		if data, err = s.Encrypt(rand, payload); err != nil {
			return nil, err
		}
	}
	p := &Packet{DestType: Link, Type: Data, Destination: s.id, Context: ctx, Data: data}
	if p.Len() > s.mtu {
		return nil, fmt.Errorf("%w: packet size of %d exceeds link MTU of %d", ErrOversized, p.Len(), s.mtu)
	}
	return p, nil
}

// Open checks that p is a DATA packet on this link and returns its payload,
// decrypted unless its context travels in the clear.
func (s *LinkSession) Open(p *Packet) ([]byte, error) {
	if p.Destination != s.id || p.DestType != Link || p.Type != Data {
		return nil, fmt.Errorf("%w: not a data packet on link %s", ErrMalformed, s.id)
	}
	if p.Context.Plaintext(Data, Link) {
		return p.Data, nil
	}
	return s.Decrypt(p.Data)
}

// RTTPacket builds the initiator's LRRTT packet carrying its measured RTT as
// a msgpack float64.
func (s *LinkSession) RTTPacket(rand io.Reader, rtt time.Duration) (*Packet, error) {
	return s.Packet(rand, CtxLRRTT, EncodeRTT(rtt))
}

// EncodeRTT returns the msgpack float64 of rtt in seconds (cb ‖ 8 bytes).
func EncodeRTT(rtt time.Duration) []byte {
	b := make([]byte, 9)
	b[0] = 0xcb
	binary.BigEndian.PutUint64(b[1:], math.Float64bits(rtt.Seconds()))
	return b
}

// DecodeRTT decodes a msgpack number (float64, float32 or integer, as any
// msgpack encoder may emit) of seconds. Negative, NaN, infinite or absurd
// (> 10⁶ s) values and trailing bytes are refused with ErrLinkRTT.
func DecodeRTT(b []byte) (time.Duration, error) {
	f, rest, err := readNumber(b)
	if err != nil || len(rest) != 0 || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e6 {
		return 0, ErrLinkRTT
	}
	return time.Duration(f * float64(time.Second)), nil
}

// KeepalivePacket builds a keepalive: 0xFF from the initiator, 0xFE (the
// reply) from the responder. Keepalives are not encrypted.
func (s *LinkSession) KeepalivePacket() *Packet {
	b := byte(KeepaliveReply)
	if s.initiator {
		b = KeepaliveRequest
	}
	return &Packet{DestType: Link, Type: Data, Destination: s.id, Context: CtxKeepalive, Data: []byte{b}}
}

// TeardownPacket builds the LINKCLOSE packet: Token(link id).
func (s *LinkSession) TeardownPacket(rand io.Reader) (*Packet, error) {
	return s.Packet(rand, CtxLinkClose, s.id[:])
}

// IsTeardown reports whether p is a LINKCLOSE for this link that decrypts to
// the link id (the only teardown the reference honours).
func (s *LinkSession) IsTeardown(p *Packet) bool {
	if p.Context != CtxLinkClose {
		return false
	}
	pt, err := s.Open(p)
	return err == nil && subtle.ConstantTimeCompare(pt, s.id[:]) == 1
}

// IdentifyPacket builds the initiator's LINKIDENTIFY packet revealing id:
// Token(public key ‖ signature over link id ‖ public key).
func (s *LinkSession) IdentifyPacket(rand io.Reader, id *Identity) (*Packet, error) {
	pub := id.PublicKey()
	sig, err := id.Sign(append(s.id[:], pub...))
	if err != nil {
		return nil, err
	}
	return s.Packet(rand, CtxLinkIdentify, append(pub, sig...))
}

// ParseIdentify validates a decrypted LINKIDENTIFY payload and returns the
// identity it reveals.
func (s *LinkSession) ParseIdentify(plaintext []byte) (*Identity, error) {
	if len(plaintext) != KeySize+SigLength {
		return nil, parseErr("link identify", len(plaintext), ErrLinkIdentify)
	}
	id, err := FromPublicKey(plaintext[:KeySize])
	if err != nil {
		return nil, err
	}
	if !id.Verify(plaintext[KeySize:], append(s.id[:], plaintext[:KeySize]...)) {
		return nil, ErrLinkIdentify
	}
	return id, nil
}

// ProvePacket builds the explicit proof of a packet received on the link
// (RNS/Link.py prove_packet): PROOF to the link id, destination type LINK,
// unencrypted, data = packet hash ‖ signature with the own link signing key.
func (s *LinkSession) ProvePacket(p *Packet) *Packet {
	h := p.Hash()
	sig := ed25519.Sign(s.sign, h[:])
	return &Packet{DestType: Link, Type: Proof, Destination: s.id, Context: CtxNone, Data: append(h[:], sig...)}
}

// ValidatePacketProof checks a link packet proof payload for the packet
// with full hash provedHash against the peer's signing key.
func (s *LinkSession) ValidatePacketProof(data []byte, provedHash [32]byte) error {
	if len(data) != ExplicitProofLength {
		return parseErr("link packet proof", len(data), ErrProofLength)
	}
	return ValidateProof(s.peerSig, provedHash, data)
}

// Sign signs msg with the own link signing key.
func (s *LinkSession) Sign(msg []byte) []byte { return ed25519.Sign(s.sign, msg) }

// Verify checks a signature by the peer's link signing key.
func (s *LinkSession) Verify(sig, msg []byte) bool {
	return len(sig) == SigLength && ed25519.Verify(s.peerSig, msg, sig)
}
