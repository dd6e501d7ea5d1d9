package feed

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// In-memory storage of an accepted feed.
//
// A Log holds every accepted event for as long as it runs, so the layout
// matters on a 512 MB board: each event is kept once, as one compact record
// in a per-feed byte arena, plus one index entry (its id and the record's
// address). Everything else is implied: the author by the feed, the seq by
// the position, the prev by the previous entry's id (or, for seq 1, by the
// dataset). Events are decoded on demand by Get, Range, Authenticated and
// All; the decoded Body and Sig alias the arena, which is append-only and
// never rewritten, so values handed out stay valid and unchanged.
//
// Record layout:
//
//	head  1 byte: kind | recSigFlag when a signature is kept
//	hlc   8 bytes, little endian
//	len   1 byte: body length (every kind's body limit is below 256)
//	body  len bytes
//	sig   rns.SigLength bytes, only with recSigFlag
//
// Both the arena and the index grow in fixed-size chunks once past a small
// first chunk, so growth never copies the whole feed and leaves at most one
// chunk of slack, instead of the up to 2x capacity of a doubling slice.
const (
	recHeader  = 1 + 8 + 1
	recSigFlag = 0x80
	recMaxSize = recHeader + 255 + rns.SigLength

	// arenaShift sizes a full arena chunk (16 KiB): an address is
	// chunk<<arenaShift | position.
	arenaShift     = 14
	arenaChunk     = 1 << arenaShift
	arenaFirst     = 512                    // initial capacity of a feed's first chunk
	maxArenaChunks = 1 << (32 - arenaShift) // addresses are uint32: 4 GiB per feed

	// indexShift sizes a full index chunk (512 entries, 18 KiB).
	indexShift = 9
	indexChunk = 1 << indexShift
	indexFirst = 8 // initial capacity of a feed's first index chunk
)

// entry indexes one accepted event.
type entry struct {
	id  ID
	off uint32 // arena address of the event's record
}

// feedState is one author's accepted chain: events 1..n, stored compactly.
type feedState struct {
	// index holds n entries; every chunk but the last holds exactly
	// indexChunk, so entry i is index[i>>indexShift][i&(indexChunk-1)].
	index [][]entry
	n     int
	// arena holds the records. Only the last chunk is written, and only
	// beyond its length; bytes once written never change.
	arena  [][]byte
	tipHLC hlc.Timestamp // HLC of event n; zero when n == 0
}

func (f *feedState) len() uint64 {
	if f == nil {
		return 0
	}
	return uint64(f.n)
}

// at returns the index entry of event i (seq i+1).
func (f *feedState) at(i int) *entry {
	return &f.index[i>>indexShift][i&(indexChunk-1)]
}

// id returns the id of event i (seq i+1).
func (f *feedState) id(i int) ID { return f.at(i).id }

// record returns the stored record of event i (seq i+1), capped so that
// appending to it cannot reach the next record.
func (f *feedState) record(i int) []byte {
	off := f.at(i).off
	c := f.arena[off>>arenaShift]
	p := int(off & (arenaChunk - 1))
	n := recHeader + int(c[p+recHeader-1])
	if c[p]&recSigFlag != 0 {
		n += rns.SigLength
	}
	return c[p : p+n : p+n]
}

// kind returns the kind of event i (seq i+1).
func (f *feedState) kind(i int) Kind { return Kind(f.record(i)[0] &^ recSigFlag) }

// signed reports whether event i (seq i+1) is kept with its own signature.
func (f *feedState) signed(i int) bool { return f.record(i)[0]&recSigFlag != 0 }

// hlcAt returns the HLC of event i (seq i+1).
func (f *feedState) hlcAt(i int) hlc.Timestamp {
	return hlc.Timestamp(binary.LittleEndian.Uint64(f.record(i)[1:9]))
}

// push stores s, whose id is id, as the feed's event n+1. s must be valid
// (its body within its kind's limit) with a signature of 0 or
// rns.SigLength bytes.
func (f *feedState) push(s *Signed, id ID) error {
	if len(s.Body) > 255 || (len(s.Sig) != 0 && len(s.Sig) != rns.SigLength) {
		return fmt.Errorf("%w: event of %d body and %d signature bytes", ErrMalformed, len(s.Body), len(s.Sig))
	}
	size := recHeader + len(s.Body) + len(s.Sig)
	off, err := f.reserve(size)
	if err != nil {
		return err
	}
	c := &f.arena[len(f.arena)-1]
	head := byte(s.Kind)
	if len(s.Sig) != 0 {
		head |= recSigFlag
	}
	*c = append(*c, head)
	*c = binary.LittleEndian.AppendUint64(*c, uint64(s.HLC))
	*c = append(*c, byte(len(s.Body)))
	*c = append(*c, s.Body...)
	*c = append(*c, s.Sig...)
	f.pushEntry(entry{id: id, off: off})
	f.tipHLC = s.HLC
	return nil
}

// reserve makes room for a record of size bytes (≤ recMaxSize ≤
// arenaChunk) at the end of the last arena chunk and returns its address.
func (f *feedState) reserve(size int) (uint32, error) {
	k := len(f.arena) - 1
	switch {
	case k >= 0 && len(f.arena[k])+size <= cap(f.arena[k]):
	case k >= 0 && len(f.arena[k])+size <= arenaChunk:
		// The first chunk grows by doubling up to a full chunk. The old
		// array stays valid for records already handed out.
		c := f.arena[k]
		nc := make([]byte, len(c), min(max(2*cap(c), len(c)+size), arenaChunk))
		copy(nc, c)
		f.arena[k] = nc
	default:
		if len(f.arena) >= maxArenaChunks {
			return 0, fmt.Errorf("%w: feed exceeds %d bytes in memory", ErrTooLarge, uint64(maxArenaChunks)*arenaChunk)
		}
		n := arenaChunk
		if k < 0 {
			n = max(arenaFirst, size)
		}
		f.arena = append(f.arena, make([]byte, 0, n))
		k++
	}
	return uint32(k)<<arenaShift | uint32(len(f.arena[k])), nil
}

// pushEntry appends e to the index.
func (f *feedState) pushEntry(e entry) {
	k := len(f.index) - 1
	switch {
	case k >= 0 && len(f.index[k]) < cap(f.index[k]):
	case k >= 0 && len(f.index[k]) < indexChunk:
		c := f.index[k]
		nc := make([]entry, len(c), min(max(2*cap(c), indexFirst), indexChunk))
		copy(nc, c)
		f.index[k] = nc
	default:
		n := indexChunk
		if k < 0 {
			n = indexFirst
		}
		f.index = append(f.index, make([]entry, 0, n))
		k++
	}
	f.index[k] = append(f.index[k], e)
	f.n++
}

// truncate keeps events 1..keep (keep ≤ n). The arena keeps the dropped
// records (they may be referenced by events already handed out); the
// index is copied rather than overwritten for the same reason, so that an
// iteration over an earlier snapshot of the feed is unaffected.
func (f *feedState) truncate(keep int) {
	if keep >= f.n {
		return
	}
	nc := (keep + indexChunk - 1) >> indexShift
	index := slices.Clone(f.index[:nc])
	if nc > 0 {
		last := index[nc-1][:keep-(nc-1)<<indexShift]
		index[nc-1] = append(make([]entry, 0, max(len(last), indexFirst)), last...)
	}
	f.index = index
	f.n = keep
	f.tipHLC = 0
	if keep > 0 {
		f.tipHLC = f.hlcAt(keep - 1)
	}
}

// event decodes event i (seq i+1) of author's feed f. Body and Sig alias
// the arena.
func (l *Log) event(author AuthorID, f *feedState, i int) Signed {
	r := f.record(i)
	bl := int(r[recHeader-1])
	s := Signed{Event: Event{
		Author: author,
		Seq:    uint64(i) + 1,
		HLC:    hlc.Timestamp(binary.LittleEndian.Uint64(r[1:9])),
		Kind:   Kind(r[0] &^ recSigFlag),
		Body:   r[recHeader : recHeader+bl : recHeader+bl],
	}}
	if i == 0 {
		s.Prev = l.expectedPrev(author, 1)
	} else {
		s.Prev = f.id(i - 1)
	}
	if r[0]&recSigFlag != 0 {
		s.Sig = r[recHeader+bl:]
	}
	return s
}

// events decodes events from..to (1-based, inclusive, within the feed) of
// author's feed f into a fresh slice.
func (l *Log) events(author AuthorID, f *feedState, from, to uint64) []Signed {
	out := make([]Signed, 0, to-from+1)
	for seq := from; seq <= to; seq++ {
		out = append(out, l.event(author, f, int(seq-1)))
	}
	return out
}
