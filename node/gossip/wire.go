package gossip

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"

	"github.com/meshlogd/meshlogd/node/rns"
)

// Kind is the first byte of every sync message. The values are part of the
// protocol: append only, never renumber. The high nibble is the protocol
// version (1), the low nibble the message kind.
type Kind uint8

// Message kinds (protocol version 1).
const (
	// KindBeacon is the Trickle digest beacon: dataset tag, frontier hash, event count.
	KindBeacon Kind = 0x11
	// KindFrontier is one chunk of the sender's durable frontier.
	KindFrontier Kind = 0x12
	// KindSlice carries a run of consecutive events of one author.
	KindSlice Kind = 0x13
	// KindWant asks whoever holds them for ranges of events.
	KindWant Kind = 0x14
	// KindPush is a slice of fresh events being flooded: an author's own
	// push of what it just wrote, or a relay of such a push. Receivers to
	// which its events are new relay them in turn (a plain slice, which
	// answers a frontier or a want, is not relayed). The body is a
	// slice's.
	KindPush Kind = 0x15
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case KindBeacon:
		return "beacon"
	case KindFrontier:
		return "frontier"
	case KindSlice:
		return "slice"
	case KindWant:
		return "want"
	case KindPush:
		return "push"
	}
	return fmt.Sprintf("kind(0x%02x)", uint8(k))
}

// Wire-format sizes.
const (
	// TagSize is the length of a dataset tag.
	TagSize = 4
	// HeaderSize is the fixed message header: kind byte + dataset tag.
	HeaderSize = 1 + TagSize
	// MinPayloadLimit is the smallest payload limit an engine accepts: a
	// header, a frontier chunk with two entries or a slice with a
	// signed event must fit.
	MinPayloadLimit = 175
	// MaxPayloadLimit is the largest payload limit an engine accepts (the
	// Reticulum MTU).
	MaxPayloadLimit = 500
	// authorSize is the length of an author id on the wire.
	authorSize = rns.TruncatedHashLength
	// entryOverhead is the msgp overhead of one frontier entry or want:
	// fixarray header + bin8 header of the author.
	entryOverhead = 1 + 2
)

// Tag identifies a dataset on the wire: the first 4 bytes of the dataset's
// genesis event id. Messages with another tag are ignored.
type Tag [TagSize]byte

// Errors returned when decoding sync messages. They are wrapped in a
// *DecodeError; test with errors.Is.
var (
	// ErrTruncated means the message ended inside a value.
	ErrTruncated = errors.New("gossip: message truncated")
	// ErrTooLarge means the message exceeds the payload limit.
	ErrTooLarge = errors.New("gossip: message larger than the payload limit")
	// ErrUnknownKind means the first byte is not a known kind of this
	// protocol version.
	ErrUnknownKind = errors.New("gossip: unknown message kind")
	// ErrMalformed means a value has the wrong type or violates a rule
	// (zero seq, reversed range, unsorted authors, unknown flags, …).
	ErrMalformed = errors.New("gossip: malformed message")
	// ErrNonCanonical means the message decodes but is not the shortest
	// encoding of what it means.
	ErrNonCanonical = errors.New("gossip: non-canonical encoding")
	// ErrTrailing means bytes follow a complete message (or a slice's
	// run).
	ErrTrailing = errors.New("gossip: trailing bytes after message")
	// ErrOtherDataset means the message carries another dataset's tag.
	ErrOtherDataset = errors.New("gossip: message for another dataset")
)

// DecodeError reports where decoding a sync message stopped and why.
type DecodeError struct {
	Kind   Kind   // message kind, 0 if the first byte was not read
	Offset int    // bytes consumed before the failure
	Field  string // what was being decoded
	Err    error  // a sentinel such as ErrTruncated
}

// Error implements error.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("gossip: decode %s.%s at offset %d: %v", e.Kind, e.Field, e.Offset, e.Err)
}

// Unwrap returns the sentinel.
func (e *DecodeError) Unwrap() error { return e.Err }

// Msg is a decoded sync message: *Beacon, *Frontier, *Slice or *Want.
type Msg interface {
	// Kind returns the message kind.
	Kind() Kind
	// DatasetTag returns the dataset tag carried in the header.
	DatasetTag() Tag
	// AppendTo appends the canonical encoding of the message to dst.
	AppendTo(dst []byte) []byte
}

// Beacon is the Trickle digest beacon. Two nodes with equal (Hash, Count)
// hold the same durable event set (up to a 2^-64 collision).
type Beacon struct {
	Tag   Tag
	Hash  uint64 // FrontierHash of the sender's durable frontier
	Count uint64 // number of durable events the sender holds
}

// FrontierEntry is one author's highest contiguous durable sequence number.
type FrontierEntry struct {
	Author rns.Hash
	Seq    uint64
}

// Frontier is one chunk of a node's durable frontier. Entries are sorted by
// author, strictly increasing. The chunk covers the closed author interval
// [Entries[0].Author, Entries[len-1].Author], extended to the lowest author
// when First is set and to the highest when Last is set: an author inside
// the covered interval but absent from Entries is one the sender holds no
// events of. Consecutive chunks overlap by one entry so that their covered
// intervals leave no hole. A chunk with First and Last set and no entries
// is the empty frontier.
type Frontier struct {
	Tag     Tag
	Hash    uint64 // FrontierHash of the sender's whole durable frontier
	First   bool   // covers everything below Entries[0]
	Last    bool   // covers everything above Entries[len-1]
	Entries []FrontierEntry
}

// Slice carries consecutive events of one author: Run is the compact run
// encoding of node/feed (feed.EncodeRun), which names the author (by an
// unambiguous prefix), the first seq and the event count itself.
type Slice struct {
	Tag Tag
	Run []byte // feed.EncodeRun bytes, the rest of the payload; aliases the decoded buffer
	// Push marks fresh events being flooded (KindPush): receivers relay
	// the ones that are new to them.
	Push bool
}

// WantRange asks for events From..To (inclusive) of Author.
type WantRange struct {
	Author   rns.Hash
	From, To uint64
	// Bare says the asker already holds a signed successor of To (the
	// rest of a transfer whose middle was lost): send exactly From..To,
	// no signature needed. Otherwise a server extends the range to an
	// event it holds a signature for. Encoded as a fourth element (flags,
	// bit 0) only when set.
	Bare bool
}

// Want asks any listener holding them for the listed ranges.
type Want struct {
	Tag    Tag
	Ranges []WantRange
}

// Kind implements Msg.
func (*Beacon) Kind() Kind { return KindBeacon }

// Kind implements Msg.
func (*Frontier) Kind() Kind { return KindFrontier }

// Kind implements Msg.
func (m *Slice) Kind() Kind {
	if m.Push {
		return KindPush
	}
	return KindSlice
}

// Kind implements Msg.
func (*Want) Kind() Kind { return KindWant }

// DatasetTag implements Msg.
func (m *Beacon) DatasetTag() Tag { return m.Tag }

// DatasetTag implements Msg.
func (m *Frontier) DatasetTag() Tag { return m.Tag }

// DatasetTag implements Msg.
func (m *Slice) DatasetTag() Tag { return m.Tag }

// DatasetTag implements Msg.
func (m *Want) DatasetTag() Tag { return m.Tag }

func appendHeader(dst []byte, k Kind, t Tag) []byte {
	dst = append(dst, byte(k))
	return append(dst, t[:]...)
}

// AppendTo implements Msg.
func (m *Beacon) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, KindBeacon, m.Tag)
	dst = msgp.AppendUint64(dst, m.Hash)
	return msgp.AppendUint64(dst, m.Count)
}

const (
	flagFirst = 1 << 0
	flagLast  = 1 << 1
)

// AppendTo implements Msg.
func (m *Frontier) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, KindFrontier, m.Tag)
	dst = msgp.AppendUint64(dst, m.Hash)
	var flags uint64
	if m.First {
		flags |= flagFirst
	}
	if m.Last {
		flags |= flagLast
	}
	dst = msgp.AppendUint64(dst, flags)
	dst = msgp.AppendArrayHeader(dst, uint32(len(m.Entries)))
	for _, e := range m.Entries {
		dst = appendEntry(dst, e)
	}
	return dst
}

func appendEntry(dst []byte, e FrontierEntry) []byte {
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = msgp.AppendBytes(dst, e.Author[:])
	return msgp.AppendUint64(dst, e.Seq)
}

// entrySize is the encoded size of a frontier entry.
func entrySize(e FrontierEntry) int { return entryOverhead + authorSize + uintSize(e.Seq) }

// AppendTo implements Msg.
func (m *Slice) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, m.Kind(), m.Tag)
	return append(dst, m.Run...)
}

// AppendTo implements Msg.
func (m *Want) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, KindWant, m.Tag)
	dst = msgp.AppendArrayHeader(dst, uint32(len(m.Ranges)))
	for _, w := range m.Ranges {
		if w.Bare {
			dst = msgp.AppendArrayHeader(dst, 4)
		} else {
			dst = msgp.AppendArrayHeader(dst, 3)
		}
		dst = msgp.AppendBytes(dst, w.Author[:])
		dst = msgp.AppendUint64(dst, w.From)
		dst = msgp.AppendUint64(dst, w.To)
		if w.Bare {
			dst = msgp.AppendUint64(dst, wantBare)
		}
	}
	return dst
}

// wantBare is the flags bit of WantRange.Bare.
const wantBare = 1

// wantSize is the encoded size of one want range.
func wantSize(w WantRange) int {
	n := entryOverhead + authorSize + uintSize(w.From) + uintSize(w.To)
	if w.Bare {
		n++
	}
	return n
}

// uintSize is the msgp encoded size of u.
func uintSize(u uint64) int {
	switch {
	case u < 1<<7:
		return 1
	case u < 1<<8:
		return 2
	case u < 1<<16:
		return 3
	case u < 1<<32:
		return 5
	}
	return 9
}

// arrayHeaderSize is the msgp encoded size of an array header for n elements.
func arrayHeaderSize(n int) int {
	switch {
	case n < 16:
		return 1
	case n < 1<<16:
		return 3
	}
	return 5
}

// decoder walks a message, recording the offset for errors.
type decoder struct {
	all  []byte
	rest []byte
	kind Kind
}

func (d *decoder) fail(field string, err error) error {
	return &DecodeError{Kind: d.kind, Offset: len(d.all) - len(d.rest), Field: field, Err: err}
}

// msgpErr maps a msgp error to a sentinel.
func msgpErr(err error) error {
	if errors.Is(err, msgp.ErrShortBytes) {
		return ErrTruncated
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}

func (d *decoder) uint(field string) (uint64, error) {
	u, rest, err := msgp.ReadUint64Bytes(d.rest)
	if err != nil {
		return 0, d.fail(field, msgpErr(err))
	}
	d.rest = rest
	return u, nil
}

func (d *decoder) array(field string, minElem int) (int, error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(d.rest)
	if err != nil {
		return 0, d.fail(field, msgpErr(err))
	}
	// Bound the count by what the remaining bytes could hold before any
	// allocation: a hostile length field cannot make us allocate.
	if int64(n)*int64(minElem) > int64(len(rest)) {
		return 0, d.fail(field, ErrTruncated)
	}
	d.rest = rest
	return int(n), nil
}

func (d *decoder) author(field string) (rns.Hash, error) {
	var h rns.Hash
	n, rest, err := msgp.ReadBytesHeader(d.rest)
	if err != nil {
		return h, d.fail(field, msgpErr(err))
	}
	if n != authorSize {
		return h, d.fail(field, fmt.Errorf("%w: author is %d bytes, want %d", ErrMalformed, n, authorSize))
	}
	if len(rest) < authorSize {
		return h, d.fail(field, ErrTruncated)
	}
	copy(h[:], rest[:authorSize])
	d.rest = rest[authorSize:]
	return h, nil
}

// Decode parses one sync message. It never panics, never allocates more
// than the input can justify, and returns a *DecodeError wrapping one of the
// sentinels above for truncated, oversized (larger than limit, if limit >
// 0), unknown-kind, non-canonical or otherwise malformed input. A decoded
// *Slice aliases b.
func Decode(b []byte, limit int) (Msg, error) {
	d := decoder{all: b, rest: b}
	if limit > 0 && len(b) > limit {
		return nil, d.fail("payload", fmt.Errorf("%w: %d > %d bytes", ErrTooLarge, len(b), limit))
	}
	if len(b) < HeaderSize {
		if len(b) > 0 {
			d.kind = Kind(b[0])
		}
		return nil, d.fail("header", ErrTruncated)
	}
	d.kind = Kind(b[0])
	var tag Tag
	copy(tag[:], b[1:HeaderSize])
	d.rest = b[HeaderSize:]
	var m Msg
	var err error
	switch d.kind {
	case KindBeacon:
		m, err = d.beacon(tag)
	case KindFrontier:
		m, err = d.frontier(tag)
	case KindSlice, KindPush:
		m, err = d.slice(tag)
	case KindWant:
		m, err = d.want(tag)
	default:
		return nil, d.fail("kind", ErrUnknownKind)
	}
	if err != nil {
		return nil, err
	}
	if len(d.rest) != 0 {
		return nil, d.fail("end", ErrTrailing)
	}
	// Canonical form: exactly one byte string per message. msgp readers
	// accept wider integer encodings than msgp writers produce; re-encoding
	// catches them, so a message has one hash and one meaning.
	if enc := m.AppendTo(make([]byte, 0, len(b))); !bytes.Equal(enc, b) {
		return nil, &DecodeError{Kind: d.kind, Offset: firstDiff(enc, b), Field: "encoding", Err: ErrNonCanonical}
	}
	return m, nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func (d *decoder) beacon(tag Tag) (Msg, error) {
	m := &Beacon{Tag: tag}
	var err error
	if m.Hash, err = d.uint("hash"); err != nil {
		return nil, err
	}
	if m.Count, err = d.uint("count"); err != nil {
		return nil, err
	}
	return m, nil
}

func (d *decoder) frontier(tag Tag) (Msg, error) {
	m := &Frontier{Tag: tag}
	var err error
	if m.Hash, err = d.uint("hash"); err != nil {
		return nil, err
	}
	flags, err := d.uint("flags")
	if err != nil {
		return nil, err
	}
	if flags&^(flagFirst|flagLast) != 0 {
		return nil, d.fail("flags", fmt.Errorf("%w: unknown flags 0x%x", ErrMalformed, flags))
	}
	m.First, m.Last = flags&flagFirst != 0, flags&flagLast != 0
	n, err := d.array("entries", entryOverhead+authorSize+1)
	if err != nil {
		return nil, err
	}
	if n == 0 && !(m.First && m.Last) {
		return nil, d.fail("entries", fmt.Errorf("%w: empty chunk must cover everything", ErrMalformed))
	}
	if n > 0 {
		m.Entries = make([]FrontierEntry, 0, n)
	}
	for i := range n {
		if k, err := d.array("entry", 1); err != nil {
			return nil, err
		} else if k != 2 {
			return nil, d.fail("entry", fmt.Errorf("%w: entry has %d fields, want 2", ErrMalformed, k))
		}
		var e FrontierEntry
		if e.Author, err = d.author("entry.author"); err != nil {
			return nil, err
		}
		if e.Seq, err = d.uint("entry.seq"); err != nil {
			return nil, err
		}
		if e.Seq == 0 {
			return nil, d.fail("entry.seq", fmt.Errorf("%w: zero seq", ErrMalformed))
		}
		if i > 0 && bytes.Compare(m.Entries[i-1].Author[:], e.Author[:]) >= 0 {
			return nil, d.fail("entry.author", fmt.Errorf("%w: authors not strictly increasing", ErrMalformed))
		}
		m.Entries = append(m.Entries, e)
	}
	return m, nil
}

func (d *decoder) slice(tag Tag) (Msg, error) {
	if len(d.rest) == 0 {
		return nil, d.fail("run", ErrTruncated)
	}
	m := &Slice{Tag: tag, Run: d.rest, Push: d.kind == KindPush}
	d.rest = nil
	return m, nil
}

func (d *decoder) want(tag Tag) (Msg, error) {
	m := &Want{Tag: tag}
	n, err := d.array("ranges", entryOverhead+authorSize+2)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, d.fail("ranges", fmt.Errorf("%w: no ranges", ErrMalformed))
	}
	m.Ranges = make([]WantRange, 0, n)
	for range n {
		k, err := d.array("range", 1)
		if err != nil {
			return nil, err
		}
		if k != 3 && k != 4 {
			return nil, d.fail("range", fmt.Errorf("%w: range has %d fields, want 3 or 4", ErrMalformed, k))
		}
		var w WantRange
		if w.Author, err = d.author("range.author"); err != nil {
			return nil, err
		}
		if w.From, err = d.uint("range.from"); err != nil {
			return nil, err
		}
		if w.To, err = d.uint("range.to"); err != nil {
			return nil, err
		}
		if k == 4 {
			flags, err := d.uint("range.flags")
			if err != nil {
				return nil, err
			}
			if flags != wantBare {
				// Zero flags must be omitted; other bits are unknown.
				return nil, d.fail("range.flags", fmt.Errorf("%w: flags 0x%x", ErrMalformed, flags))
			}
			w.Bare = true
		}
		if w.From == 0 || w.To < w.From {
			return nil, d.fail("range", fmt.Errorf("%w: bad range %d..%d", ErrMalformed, w.From, w.To))
		}
		m.Ranges = append(m.Ranges, w)
	}
	return m, nil
}
