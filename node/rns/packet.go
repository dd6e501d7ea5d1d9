package rns

import (
	"crypto/sha256"
	"fmt"
)

// Packet and payload size limits (RNS/Reticulum.py, RNS/Packet.py, RNS/Link.py).
const (
	// MTU is the largest raw packet, without IFAC.
	MTU = 500
	// HeaderMinSize is the HEADER_1 size: flags, hops, destination, context.
	HeaderMinSize = 2 + TruncatedHashLength + 1
	// HeaderMaxSize is the HEADER_2 size: flags, hops, transport id, destination, context.
	HeaderMaxSize = 2 + 2*TruncatedHashLength + 1
	// IFACMinSize is the smallest IFAC, reserved in payload budgets.
	IFACMinSize = 1
	// MDU is the payload budget of a packet: MTU − HeaderMaxSize − IFACMinSize = 464.
	MDU = MTU - HeaderMaxSize - IFACMinSize
	// PlainMDU is the payload budget of a PLAIN packet (= MDU).
	PlainMDU = MDU
	// EncryptedMDU is the plaintext budget of a SINGLE packet: 383.
	EncryptedMDU = (MDU-TokenOverhead-KeySize/2)/16*16 - 1
	// LinkMDU is the plaintext budget of a link packet at MTU 500: 431.
	LinkMDU = (MTU-IFACMinSize-HeaderMinSize-TokenOverhead)/16*16 - 1
	// MaxHops is the hop limit: packets with hops ≥ MaxHops are dropped (Transport.PATHFINDER_M).
	MaxHops = 128
	// MaxRawPacket bounds what ParsePacket accepts: the largest link MTU
	// that signalling can express (21 bits). Callers enforce their
	// interface MTU on top.
	MaxRawPacket = 1<<21 - 1
)

// PacketType is bits 1–0 of the flags byte.
type PacketType uint8

// Packet types.
const (
	Data        PacketType = 0
	Announce    PacketType = 1
	LinkRequest PacketType = 2
	Proof       PacketType = 3
)

func (t PacketType) String() string {
	switch t {
	case Data:
		return "DATA"
	case Announce:
		return "ANNOUNCE"
	case LinkRequest:
		return "LINKREQUEST"
	case Proof:
		return "PROOF"
	}
	return fmt.Sprintf("PacketType(%d)", uint8(t))
}

// HeaderType is bit 6 of the flags byte.
type HeaderType uint8

// Header types.
const (
	Header1 HeaderType = 0 // one address
	Header2 HeaderType = 1 // transport id + address
)

// TransportType is bit 4 of the flags byte.
type TransportType uint8

// Transport types that fit the flags byte.
const (
	Broadcast TransportType = 0
	Transport TransportType = 1
)

// Context is the context byte following the address field(s).
type Context uint8

// Packet contexts (RNS/Packet.py).
const (
	CtxNone          Context = 0x00
	CtxResource      Context = 0x01
	CtxResourceAdv   Context = 0x02
	CtxResourceReq   Context = 0x03
	CtxResourceHMU   Context = 0x04
	CtxResourcePRF   Context = 0x05
	CtxResourceICL   Context = 0x06
	CtxResourceRCL   Context = 0x07
	CtxCacheRequest  Context = 0x08
	CtxRequest       Context = 0x09
	CtxResponse      Context = 0x0A
	CtxPathResponse  Context = 0x0B
	CtxCommand       Context = 0x0C
	CtxCommandStatus Context = 0x0D
	CtxChannel       Context = 0x0E
	CtxKeepalive     Context = 0xFA
	CtxLinkIdentify  Context = 0xFB
	CtxLinkClose     Context = 0xFC
	CtxLinkProof     Context = 0xFD
	CtxLRRTT         Context = 0xFE
	CtxLRProof       Context = 0xFF
)

var contextNames = map[Context]string{
	CtxNone: "NONE", CtxResource: "RESOURCE", CtxResourceAdv: "RESOURCE_ADV", CtxResourceReq: "RESOURCE_REQ",
	CtxResourceHMU: "RESOURCE_HMU", CtxResourcePRF: "RESOURCE_PRF", CtxResourceICL: "RESOURCE_ICL",
	CtxResourceRCL: "RESOURCE_RCL", CtxCacheRequest: "CACHE_REQUEST", CtxRequest: "REQUEST",
	CtxResponse: "RESPONSE", CtxPathResponse: "PATH_RESPONSE", CtxCommand: "COMMAND",
	CtxCommandStatus: "COMMAND_STATUS", CtxChannel: "CHANNEL", CtxKeepalive: "KEEPALIVE",
	CtxLinkIdentify: "LINKIDENTIFY", CtxLinkClose: "LINKCLOSE", CtxLinkProof: "LINKPROOF",
	CtxLRRTT: "LRRTT", CtxLRProof: "LRPROOF",
}

// String returns the reference's name for the context.
func (c Context) String() string {
	if n, ok := contextNames[c]; ok {
		return n
	}
	return fmt.Sprintf("Context(0x%02x)", uint8(c))
}

// Plaintext reports whether a packet of type t with this context to a
// destination of type dt carries its data unencrypted, as the reference's
// Packet.pack decides (announces, link requests, resource proofs, proofs on
// links, resource parts, keepalives, cache requests, link request proofs);
// PLAIN destinations never encrypt.
func (c Context) Plaintext(t PacketType, dt DestType) bool {
	switch {
	case dt == Plain, t == Announce, t == LinkRequest,
		t == Proof && c == CtxResourcePRF, t == Proof && dt == Link,
		c == CtxResource, c == CtxKeepalive, c == CtxCacheRequest, c == CtxLRProof:
		return true
	}
	return false
}

// Packet is a parsed or to-be-packed Reticulum packet. Data holds the
// payload as it travels (already encrypted where the type requires it).
type Packet struct {
	HeaderType    HeaderType
	ContextFlag   bool // bit 5: set on announces carrying a ratchet
	TransportType TransportType
	DestType      DestType
	Type          PacketType
	Hops          uint8
	TransportID   Hash // only with Header2
	Destination   Hash
	Context       Context
	Data          []byte
}

// Flags returns the packed flags byte (IFAC bit clear).
func (p *Packet) Flags() byte {
	f := byte(p.HeaderType&1)<<6 | byte(p.TransportType&1)<<4 | byte(p.DestType&3)<<2 | byte(p.Type&3)
	if p.ContextFlag {
		f |= 1 << 5
	}
	return f
}

// HeaderLen returns the header size for the packet's header type.
func (p *Packet) HeaderLen() int {
	if p.HeaderType == Header2 {
		return HeaderMaxSize
	}
	return HeaderMinSize
}

// Len returns the packed size.
func (p *Packet) Len() int { return p.HeaderLen() + len(p.Data) }

// Pack returns the raw packet, refusing packets longer than MTU.
func (p *Packet) Pack() ([]byte, error) { return p.PackMTU(MTU) }

// PackMTU returns the raw packet, refusing packets longer than mtu (links
// with a negotiated MTU may exceed 500).
func (p *Packet) PackMTU(mtu int) ([]byte, error) {
	if p.Hops >= MaxHops {
		return nil, fmt.Errorf("%w: hop count %d", ErrMalformed, p.Hops)
	}
	if n := p.Len(); n > mtu {
		return nil, fmt.Errorf("%w: packet size of %d exceeds MTU of %d bytes", ErrOversized, n, mtu)
	}
	return p.AppendPack(make([]byte, 0, p.Len())), nil
}

// AppendPack appends the raw packet to dst without checking its size.
func (p *Packet) AppendPack(dst []byte) []byte {
	dst = append(dst, p.Flags(), p.Hops)
	if p.HeaderType == Header2 {
		dst = append(dst, p.TransportID[:]...)
	}
	dst = append(dst, p.Destination[:]...)
	dst = append(dst, byte(p.Context))
	return append(dst, p.Data...)
}

// ParsePacket parses a raw packet (IFAC already verified and removed) as the
// reference's Packet.unpack. Data aliases raw. It rejects input shorter than
// its header (ErrTruncated), longer than MaxRawPacket (ErrOversized), with
// hops ≥ 128 or with the IFAC flag still set (ErrMalformed).
func ParsePacket(raw []byte) (*Packet, error) {
	p := new(Packet)
	if err := p.Unmarshal(raw); err != nil {
		return nil, err
	}
	return p, nil
}

// Unmarshal is ParsePacket into p.
func (p *Packet) Unmarshal(raw []byte) error {
	if len(raw) < HeaderMinSize {
		return parseErr("packet", len(raw), ErrTruncated)
	}
	if len(raw) > MaxRawPacket {
		return parseErr("packet", len(raw), ErrOversized)
	}
	f := raw[0]
	if f&0x80 != 0 {
		return fmt.Errorf("%w: IFAC flag set on packet without access code", ErrMalformed)
	}
	if raw[1] >= MaxHops {
		return fmt.Errorf("%w: hop count %d", ErrMalformed, raw[1])
	}
	*p = Packet{
		HeaderType:    HeaderType(f >> 6 & 1),
		ContextFlag:   f&(1<<5) != 0,
		TransportType: TransportType(f >> 4 & 1),
		DestType:      DestType(f >> 2 & 3),
		Type:          PacketType(f & 3),
		Hops:          raw[1],
	}
	off := 2
	if p.HeaderType == Header2 {
		if len(raw) < HeaderMaxSize {
			return parseErr("HEADER_2 packet", len(raw), ErrTruncated)
		}
		copy(p.TransportID[:], raw[2:])
		off += TruncatedHashLength
	}
	copy(p.Destination[:], raw[off:])
	off += TruncatedHashLength
	p.Context = Context(raw[off])
	p.Data = raw[off+1:]
	return nil
}

// HashablePart returns the bytes the packet hash covers: (flags & 0x0F) ‖
// destination ‖ context ‖ data — hops, header type, transport type, context
// flag and transport id are excluded, so the hash survives hop rewrites.
func (p *Packet) HashablePart() []byte {
	b := make([]byte, 0, 1+TruncatedHashLength+1+len(p.Data))
	b = append(b, p.Flags()&0x0F)
	b = append(b, p.Destination[:]...)
	b = append(b, byte(p.Context))
	return append(b, p.Data...)
}

// Hash returns the full packet hash: SHA-256 of HashablePart.
func (p *Packet) Hash() [32]byte {
	d := sha256.New()
	var hdr [1 + TruncatedHashLength + 1]byte
	hdr[0] = p.Flags() & 0x0F
	copy(hdr[1:], p.Destination[:])
	hdr[len(hdr)-1] = byte(p.Context)
	d.Write(hdr[:])
	d.Write(p.Data)
	var out [32]byte
	d.Sum(out[:0])
	return out
}

// TruncatedHash returns the first 16 bytes of the packet hash (used as the
// address of implicit proofs, as request ids and in duplicate filters).
func (p *Packet) TruncatedHash() Hash {
	full := p.Hash()
	var h Hash
	copy(h[:], full[:TruncatedHashLength])
	return h
}

// RawPacketHash returns the packet hash of a raw packet without building a
// Packet (for duplicate filters); it fails as ParsePacket does.
func RawPacketHash(raw []byte) ([32]byte, error) {
	var p Packet
	if err := p.Unmarshal(raw); err != nil {
		return [32]byte{}, err
	}
	return p.Hash(), nil
}
