package feed

import (
	"cmp"
	"fmt"
	"slices"
)

// PendingOverhead is the fixed per-event cost the gap buffer accounts on
// top of an event's body and signature: roughly the in-memory size of the
// event header, its id and the index entries.
const PendingOverhead = 160

// pendingEntry is one buffered event.
type pendingEntry struct {
	s        Signed
	id       ID
	size     int
	verified bool // authenticated: own signature checked, or trusted restore
	trusted  bool // from Restore: authenticated once its author is known
	order    uint64
}

// gapBuffer holds events that cannot be accepted yet, bounded in bytes.
// Two classes share the budget: verified events (signature checked against
// a member's key, or restored) may use all of it; unverified events
// (unsigned, or by an author not yet admitted) at most half, so that a flood
// of unauthenticated bytes cannot push out authenticated ones. Within a
// class the oldest event is evicted first.
type gapBuffer struct {
	max        int
	bytes      int
	unverified int // bytes of unverified entries
	order      uint64
	byID       map[ID]*pendingEntry
	byAuthor   map[AuthorID]map[ID]*pendingEntry
	fifo       [2][]*pendingEntry // [0] unverified, [1] verified; lazily pruned
}

func newGapBuffer(max int) *gapBuffer {
	return &gapBuffer{
		max:      max,
		byID:     make(map[ID]*pendingEntry),
		byAuthor: make(map[AuthorID]map[ID]*pendingEntry),
	}
}

func entrySize(s *Signed) int { return PendingOverhead + len(s.Body) + len(s.Sig) }

func class(verified bool) int {
	if verified {
		return 1
	}
	return 0
}

// add buffers s (whose id is id) and returns its entry and the number of
// entries evicted to make room. It fails with ErrGapFull when s alone is
// larger than its class may hold.
func (g *gapBuffer) add(s Signed, id ID, verified, trusted bool) (*pendingEntry, int, error) {
	size := entrySize(&s)
	limit := g.max
	if !verified {
		limit = g.max / 2
	}
	if size > limit {
		return nil, 0, fmt.Errorf("%w: event of %d bytes, budget %d", ErrGapFull, size, limit)
	}
	evicted := 0
	if !verified {
		for g.unverified+size > limit || g.bytes+size > g.max {
			if !g.evictOldest(0) {
				// Only verified entries left and no room: drop the newcomer.
				return nil, evicted, fmt.Errorf("%w: unverified event refused", ErrGapFull)
			}
			evicted++
		}
	} else {
		for g.bytes+size > g.max {
			if !g.evictOldest(0) && !g.evictOldest(1) {
				break
			}
			evicted++
		}
	}
	g.order++
	pe := &pendingEntry{s: s, id: id, size: size, verified: verified, trusted: trusted, order: g.order}
	g.byID[id] = pe
	m := g.byAuthor[s.Author]
	if m == nil {
		m = make(map[ID]*pendingEntry)
		g.byAuthor[s.Author] = m
	}
	m[id] = pe
	g.bytes += size
	if !verified {
		g.unverified += size
	}
	c := class(verified)
	g.fifo[c] = append(g.fifo[c], pe)
	return pe, evicted, nil
}

// evictOldest removes the oldest live entry of class c.
func (g *gapBuffer) evictOldest(c int) bool {
	q := g.fifo[c]
	for len(q) > 0 {
		pe := q[0]
		q[0] = nil
		q = q[1:]
		if g.byID[pe.id] == pe && class(pe.verified) == c {
			g.fifo[c] = q
			g.remove(pe)
			return true
		}
	}
	g.fifo[c] = q
	return false
}

// remove drops pe if it is still buffered.
func (g *gapBuffer) remove(pe *pendingEntry) {
	if g.byID[pe.id] != pe {
		return
	}
	delete(g.byID, pe.id)
	if m := g.byAuthor[pe.s.Author]; m != nil {
		delete(m, pe.id)
		if len(m) == 0 {
			delete(g.byAuthor, pe.s.Author)
		}
	}
	g.bytes -= pe.size
	if !pe.verified {
		g.unverified -= pe.size
	}
	g.compact()
}

// compact drops dead queue slots once they dominate a queue.
func (g *gapBuffer) compact() {
	for c := range g.fifo {
		q := g.fifo[c]
		if len(q) < 64 || len(q) < 2*len(g.byID) {
			continue
		}
		g.fifo[c] = slices.DeleteFunc(q, func(pe *pendingEntry) bool {
			return g.byID[pe.id] != pe || class(pe.verified) != c
		})
	}
}

// markVerified moves pe into the verified class.
func (g *gapBuffer) markVerified(pe *pendingEntry) {
	if pe.verified || g.byID[pe.id] != pe {
		return
	}
	pe.verified = true
	g.unverified -= pe.size
	g.fifo[1] = append(g.fifo[1], pe)
}

// markUnverified moves pe into the unverified class (its author's
// admission is in doubt again).
func (g *gapBuffer) markUnverified(pe *pendingEntry) {
	if !pe.verified || g.byID[pe.id] != pe {
		return
	}
	pe.verified = false
	pe.trusted = false
	g.unverified += pe.size
	g.fifo[0] = append(g.fifo[0], pe)
}

// setSig attaches a signature to a buffered unsigned event, evicting the
// oldest entries if the buffer grows past its bound; it returns how many.
func (g *gapBuffer) setSig(pe *pendingEntry, sig []byte) int {
	g.bytes -= pe.size
	if !pe.verified {
		g.unverified -= pe.size
	}
	pe.s.Sig = sig
	pe.size = entrySize(&pe.s)
	g.bytes += pe.size
	if !pe.verified {
		g.unverified += pe.size
	}
	evicted := 0
	for g.bytes > g.max && (g.evictOldest(0) || g.evictOldest(1)) {
		evicted++
	}
	return evicted
}

// allOf returns author's buffered entries in ascending seq order.
func (g *gapBuffer) allOf(author AuthorID) []*pendingEntry {
	m := g.byAuthor[author]
	out := make([]*pendingEntry, 0, len(m))
	for _, pe := range m {
		out = append(out, pe)
	}
	slices.SortFunc(out, func(a, b *pendingEntry) int {
		if c := cmp.Compare(a.s.Seq, b.s.Seq); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	return out
}

// verifiedOf returns author's verified entries in ascending seq order.
func (g *gapBuffer) verifiedOf(author AuthorID) []*pendingEntry {
	return slices.DeleteFunc(g.allOf(author), func(pe *pendingEntry) bool { return !pe.verified })
}

// hasUndecided reports whether author has unverified entries.
func (g *gapBuffer) hasUndecided(author AuthorID) bool {
	for _, pe := range g.byAuthor[author] {
		if !pe.verified {
			return true
		}
	}
	return false
}
