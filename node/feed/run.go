package feed

import (
	"encoding/binary"
	"fmt"

	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// Run wire format limits and defaults.
const (
	// DefaultAuthorPrefix is the author prefix length EncodeRun users
	// should pick when it is unambiguous (see Log.AuthorPrefixLen).
	DefaultAuthorPrefix = 4
	// MinAuthorPrefix is the shortest author prefix a run may carry.
	MinAuthorPrefix = 2
	// MaxRunEvents bounds the number of events in one run.
	MaxRunEvents = 64
	// MaxRunHeader is the largest run header: flags, full author, seq,
	// count, prev.
	MaxRunHeader = 1 + 16 + binary.MaxVarintLen64 + 1 + 32
	// MaxRunEventOverhead is the largest per-event overhead besides the
	// body: head byte, HLC varint, body length varint, signature.
	MaxRunEventOverhead = 1 + binary.MaxVarintLen64 + 2 + rns.SigLength

	runPrevFlag     = 0x20
	runReservedMask = 0xC0
	runLenMask      = 0x1F
	runSigFlag      = 0x80
)

// RunOpts chooses the compact form of a run.
type RunOpts struct {
	// AuthorBytes is how many leading bytes of the author id to send:
	// MinAuthorPrefix..16; 0 means the full 16. The receiver resolves a
	// prefix among its members, so pick a length that is unambiguous
	// (Log.AuthorPrefixLen).
	AuthorBytes int
	// WithPrev sends the first event's prev, so a receiver that lacks the
	// predecessor can still buffer the run. Without it the receiver takes
	// it from its own copy of the predecessor (Resolver.Predecessor).
	WithPrev bool
}

// Resolver supplies what a run leaves implicit. *Log implements it.
type Resolver interface {
	// ResolveAuthor maps an author prefix to an author id. It returns an
	// error wrapping ErrUnknownAuthor or ErrAmbiguousAuthor when it cannot.
	ResolveAuthor(prefix []byte) (AuthorID, error)
	// Predecessor returns the id of the event before seq in author's feed
	// (for seq 1: the dataset id, or zero for the founder), or false if
	// unknown.
	Predecessor(author AuthorID, seq uint64) (ID, bool)
}

// EncodeRun appends the compact wire form of run to dst. run must be
// consecutive events of one author, each linked to the previous by Prev,
// with strictly increasing HLCs; an event's signature is sent iff its Sig
// is set (use Log.Authenticated to keep only the needed one).
//
// Format (all integers unsigned LEB128 varints in their shortest form):
//
//	flags   1 byte: bits 0-4 author bytes L (2..16), bit 5 prev present, bits 6-7 zero
//	author  L bytes: prefix of the author id
//	seq     varint: seq of the first event (≥ 1)
//	count   varint: number of events, 1..MaxRunEvents
//	prev    32 bytes, only if bit 5: prev of the first event
//	then per event:
//	  head  1 byte: kind (1..127) | 0x80 if a signature follows the body
//	  hlc   varint: first event: absolute; later events: delta from the
//	        previous event's HLC (≥ 1)
//	  len   varint: body length (≤ the kind's body limit)
//	  body  len bytes: the canonical body
//	  sig   64 bytes if flagged
//
// Author, seq and prev of every event but the first follow from the chain.
func EncodeRun(dst []byte, run []Signed, o RunOpts) ([]byte, error) {
	if len(run) == 0 || len(run) > MaxRunEvents {
		return dst, fmt.Errorf("%w: run of %d events (1..%d)", ErrTooLarge, len(run), MaxRunEvents)
	}
	ab := o.AuthorBytes
	if ab == 0 {
		ab = len(AuthorID{})
	}
	if ab < MinAuthorPrefix || ab > len(AuthorID{}) {
		return dst, fmt.Errorf("%w: author bytes %d", ErrMalformed, ab)
	}
	first := &run[0]
	flags := byte(ab)
	if o.WithPrev {
		flags |= runPrevFlag
	}
	dst = append(dst, flags)
	dst = append(dst, first.Author[:ab]...)
	dst = binary.AppendUvarint(dst, first.Seq)
	dst = binary.AppendUvarint(dst, uint64(len(run)))
	if o.WithPrev {
		dst = append(dst, first.Prev[:]...)
	}
	var prevHLC hlc.Timestamp
	var prevID ID
	for i := range run {
		s := &run[i]
		if !s.Kind.Valid() || s.Kind >= runSigFlag {
			return dst, fmt.Errorf("%w: %d", ErrUnknownKind, uint8(s.Kind))
		}
		if len(s.Body) > maxBody(s.Kind) {
			return dst, fmt.Errorf("%w: body of %d bytes", ErrTooLarge, len(s.Body))
		}
		if len(s.Sig) != 0 && len(s.Sig) != rns.SigLength {
			return dst, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(s.Sig))
		}
		delta := uint64(s.HLC)
		if i > 0 {
			if s.Author != first.Author || s.Seq != run[i-1].Seq+1 || s.Prev != prevID {
				return dst, fmt.Errorf("%w: run not consecutive and linked at seq %d", ErrChainBreak, s.Seq)
			}
			if s.HLC <= prevHLC {
				return dst, fmt.Errorf("%w: at seq %d", ErrHLCOrder, s.Seq)
			}
			delta = uint64(s.HLC - prevHLC)
		}
		head := byte(s.Kind)
		if len(s.Sig) != 0 {
			head |= runSigFlag
		}
		dst = append(dst, head)
		dst = binary.AppendUvarint(dst, delta)
		dst = binary.AppendUvarint(dst, uint64(len(s.Body)))
		dst = append(dst, s.Body...)
		dst = append(dst, s.Sig...)
		prevHLC = s.HLC
		prevID = s.ID()
	}
	return dst, nil
}

// DecodeRun decodes one run from the front of b and returns its events
// (each with its own signature or none) and the number of bytes consumed,
// so several runs can be concatenated. Implicit parts come from r. The
// events are not verified: Ingest them in order. Errors are *DecodeError
// wrapping ErrTruncated, ErrTooLarge, ErrUnknownKind, ErrNonCanonical,
// ErrMalformed, ErrBadBody, ErrUnknownAuthor, ErrAmbiguousAuthor or
// ErrUnknownPrev. Returned bodies and signatures are copies, not aliases
// of b.
func DecodeRun(b []byte, r Resolver) ([]Signed, int, error) {
	d := runDecoder{b: b}
	flags, err := d.byte("run.flags")
	if err != nil {
		return nil, d.off, err
	}
	ab := int(flags & runLenMask)
	if flags&runReservedMask != 0 || ab < MinAuthorPrefix || ab > len(AuthorID{}) {
		return nil, d.off, d.fail("run.flags", ErrMalformed)
	}
	prefix, err := d.take("run.author", ab)
	if err != nil {
		return nil, d.off, err
	}
	seq, err := d.uvarint("run.seq")
	if err != nil {
		return nil, d.off, err
	}
	count, err := d.uvarint("run.count")
	if err != nil {
		return nil, d.off, err
	}
	if seq == 0 || seq > 1<<62 {
		return nil, d.off, d.fail("run.seq", ErrMalformed)
	}
	if count == 0 {
		return nil, d.off, d.fail("run.count", ErrMalformed)
	}
	if count > MaxRunEvents {
		return nil, d.off, d.fail("run.count", ErrTooLarge)
	}
	var prev ID
	if flags&runPrevFlag != 0 {
		p, err := d.take("run.prev", len(prev))
		if err != nil {
			return nil, d.off, err
		}
		copy(prev[:], p)
	}
	author, err := r.ResolveAuthor(prefix)
	if err != nil {
		return nil, d.off, d.fail("run.author", err)
	}
	if flags&runPrevFlag == 0 {
		p, ok := r.Predecessor(author, seq)
		if !ok {
			return nil, d.off, d.fail("run.prev", fmt.Errorf("%w: %s/%d", ErrUnknownPrev, author, seq-1))
		}
		prev = p
	}
	// Each event takes at least 3 bytes (head, hlc, len): bound the
	// allocation by the input as well as by count.
	if rem := len(b) - d.off; int(count) > rem/3 {
		return nil, d.off, d.fail("run.count", ErrTruncated)
	}
	out := make([]Signed, 0, count)
	var ts hlc.Timestamp
	for i := uint64(0); i < count; i++ {
		field := fmt.Sprintf("run.event[%d]", i)
		head, err := d.byte(field + ".head")
		if err != nil {
			return nil, d.off, err
		}
		kind := Kind(head &^ runSigFlag)
		if !kind.Valid() {
			return nil, d.off, d.fail(field+".kind", fmt.Errorf("%w: %d", ErrUnknownKind, uint8(kind)))
		}
		delta, err := d.uvarint(field + ".hlc")
		if err != nil {
			return nil, d.off, err
		}
		if i == 0 {
			ts = hlc.Timestamp(delta)
		} else {
			if delta == 0 || delta > uint64(^ts) {
				return nil, d.off, d.fail(field+".hlc", ErrMalformed)
			}
			ts += hlc.Timestamp(delta)
		}
		n, err := d.uvarint(field + ".len")
		if err != nil {
			return nil, d.off, err
		}
		if n > uint64(maxBody(kind)) {
			return nil, d.off, d.fail(field+".len", ErrTooLarge)
		}
		body, err := d.take(field+".body", int(n))
		if err != nil {
			return nil, d.off, err
		}
		var sig []byte
		if head&runSigFlag != 0 {
			s, err := d.take(field+".sig", rns.SigLength)
			if err != nil {
				return nil, d.off, err
			}
			sig = append([]byte(nil), s...)
		}
		s := Signed{Event: Event{Author: author, Seq: seq + i, Prev: prev, HLC: ts, Kind: kind, Body: append([]byte(nil), body...)}, Sig: sig}
		if err := s.Validate(); err != nil {
			return nil, d.off, d.fail(field, err)
		}
		out = append(out, s)
		prev = s.ID()
	}
	return out, d.off, nil
}

// runDecoder reads a run with offsets for errors.
type runDecoder struct {
	b   []byte
	off int
}

func (d *runDecoder) fail(field string, err error) error {
	return &DecodeError{Field: field, Offset: d.off, Err: err}
}

func (d *runDecoder) byte(field string) (byte, error) {
	if d.off >= len(d.b) {
		return 0, d.fail(field, ErrTruncated)
	}
	c := d.b[d.off]
	d.off++
	return c, nil
}

func (d *runDecoder) take(field string, n int) ([]byte, error) {
	if n < 0 || len(d.b)-d.off < n {
		return nil, d.fail(field, ErrTruncated)
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p, nil
}

// uvarint reads a shortest-form unsigned varint.
func (d *runDecoder) uvarint(field string) (uint64, error) {
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		return 0, d.fail(field, ErrTruncated)
	case n < 0:
		return 0, d.fail(field, ErrMalformed)
	}
	if n > 1 && d.b[d.off+n-1] == 0 {
		return 0, d.fail(field, ErrNonCanonical) // an overlong encoding
	}
	d.off += n
	return v, nil
}
