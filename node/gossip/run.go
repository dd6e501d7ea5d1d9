package gossip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/rns"
)

// tail is the last event of a run this node decoded but could not yet
// accept (its signature is in a later chunk): the predecessor of the next
// chunk of the same transfer.
type tail struct {
	seq uint64
	id  feed.ID
}

// resolver wraps the log as a feed.Resolver that also knows the tails of
// pending runs, so that a transfer cut into chunks with one signature at
// its end can be decoded chunk by chunk.
type resolver struct{ e *Engine }

// ResolveAuthor implements feed.Resolver.
func (r resolver) ResolveAuthor(prefix []byte) (feed.AuthorID, error) {
	return r.e.log.ResolveAuthor(prefix)
}

// Predecessor implements feed.Resolver.
func (r resolver) Predecessor(a feed.AuthorID, seq uint64) (feed.ID, bool) {
	if id, ok := r.e.log.Predecessor(a, seq); ok {
		return id, true
	}
	if t, ok := r.e.tails[a]; ok && t.seq+1 == seq {
		return t.id, true
	}
	return feed.ID{}, false
}

// noteTail remembers the last event of a decoded run whose events are
// pending, bounded by Config.MaxClaims authors.
func (e *Engine) noteTail(evs []feed.Signed) {
	last := evs[len(evs)-1]
	a := last.Author
	if e.log.Seq(a) >= last.Seq {
		delete(e.tails, a)
		return
	}
	if _, ok := e.tails[a]; !ok && len(e.tails) >= e.cfg.MaxClaims {
		return
	}
	e.tails[a] = tail{seq: last.Seq, id: last.ID()}
}

// peekRun reads the header of a feed run (flags: author length in the low
// 5 bits; author prefix; uvarint first seq; uvarint count) without a
// resolver, for duplicate suppression when the run cannot be decoded.
func peekRun(b []byte) (prefix []byte, seq, count uint64, ok bool) {
	if len(b) < 1 {
		return nil, 0, 0, false
	}
	n := int(b[0] & 0x1f)
	if b[0]&0xc0 != 0 || n < feed.MinAuthorPrefix || n > rns.TruncatedHashLength || len(b) < 1+n {
		return nil, 0, 0, false
	}
	prefix, b = b[1:1+n], b[1+n:]
	seq, k := binary.Uvarint(b)
	if k <= 0 || seq == 0 {
		return nil, 0, 0, false
	}
	count, k2 := binary.Uvarint(b[k:])
	if k2 <= 0 || count == 0 || count > feed.MaxRunEvents {
		return nil, 0, 0, false
	}
	return prefix, seq, count, true
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// errUnsendable: a single event does not fit the payload limit.
var errUnsendable = errors.New("gossip: event does not fit the payload limit")

// buildSlice encodes the next slice of author a's events from seq from for
// ch: as many events as fit ch's payload limit, ending with a signature
// when the slice reaches to (the end of what was asked) or when the
// unsigned bytes sent since the last signature reach SigSpanBytes; other
// signatures are left out (amortised signing). A range asked for bare
// (the asker holds a signed successor) ends exactly at its end, unsigned.
// It returns the slice, the seq of its last event, and whether the slice
// is open: it ended unsigned and its signature must follow.
func (e *Engine) buildSlice(ch *channel, a rns.Hash, from, to, dur uint64) (*Slice, uint64, bool, error) {
	hi := min(dur, from+feed.MaxRunEvents-1)
	evs := e.log.Range(a, from, hi)
	if len(evs) == 0 {
		return nil, 0, false, fmt.Errorf("%w: %s/%d not held", errUnsendable, a, from)
	}
	var bareTo uint64
	if b := ch.bare[a]; b != nil {
		for _, sp := range b.spans {
			if sp.From <= from && from <= sp.To {
				bareTo = sp.To
			}
		}
	}
	ab := e.log.AuthorPrefixLen(a)
	budget := ch.limit - HeaderSize
	size := 1 + ab + uvarintLen(from) + 1 // count ≤ MaxRunEvents takes one byte
	debt := ch.sigDebt[a]
	best, signed, closed := -1, false, false
	for k := range evs {
		s := &evs[k]
		delta := uint64(s.HLC)
		if k > 0 {
			delta = uint64(s.HLC - evs[k-1].HLC)
		}
		es := 1 + uvarintLen(delta) + uvarintLen(uint64(len(s.Body))) + len(s.Body)
		if size+es > budget {
			break
		}
		size += es
		if bareTo > 0 && s.Seq >= bareTo {
			best, closed = k, true // the asker holds the signed rest
			break
		}
		wantSig := s.Seq >= to || debt+size >= e.cfg.SigSpanBytes || k == len(evs)-1 && s.Seq == dur
		if wantSig && s.Sig != nil {
			if size+rns.SigLength <= budget {
				best, signed = k, true
			}
			// Otherwise the signature does not fit after this event: end
			// the slice before it, unsigned; the next slice carries it.
			break
		}
		best = k
	}
	if best < 0 {
		return nil, 0, false, fmt.Errorf("%w: %s/%d", errUnsendable, a, from)
	}
	run := evs[:best+1]
	for i := range run {
		if i != best || !signed {
			run[i].Sig = nil
		}
	}
	enc, err := feed.EncodeRun(make([]byte, 0, budget), run, feed.RunOpts{AuthorBytes: ab})
	if err != nil {
		return nil, 0, false, err
	}
	if len(enc) > budget {
		return nil, 0, false, fmt.Errorf("%w: run of %d bytes exceeds %d", errUnsendable, len(enc), budget)
	}
	if signed {
		ch.sigDebt[a] = 0
	} else {
		ch.sigDebt[a] = debt + len(enc)
	}
	return &Slice{Tag: e.tag, Run: enc}, run[best].Seq, !signed && !closed, nil
}

// suppress removes [from, last] of every queued author matching prefix
// from ch's send queue: a neighbour is already sending it.
func (e *Engine) suppress(ch *channel, prefix []byte, from, last uint64) {
	for a, set := range ch.push {
		if bytes.HasPrefix(a[:], prefix) {
			set.remove(from, last)
			if set.empty() {
				delete(ch.push, a)
			}
			unmarkSet(ch.flood, a, from, last)
		}
	}
	for a, set := range ch.relay {
		if bytes.HasPrefix(a[:], prefix) {
			set.remove(from, last)
			if set.empty() {
				delete(ch.relay, a)
				delete(ch.relayAt, a)
			}
		}
	}
}

// scheduleRelay plans to relay event seq of author a on ch after a random
// delay in [0, RelayWindowMs). Events of an author already waiting share
// its relay time, so that they go out in one slice. The relay queue holds
// at most MaxClaims authors; beyond that an event is queued at once.
func (e *Engine) scheduleRelay(ch *channel, a rns.Hash, seq uint64) {
	set := ch.relay[a]
	if set == nil {
		if len(ch.relay) >= e.cfg.MaxClaims {
			e.schedulePush(ch, a, seq, seq, e.now, true)
			return
		}
		set = &seqSet{}
		ch.relay[a] = set
		ch.relayAt[a] = e.now + e.rnd(e.cfg.RelayWindowMs)
	}
	set.add(seq, seq)
}

// markSet adds from..to of author a to the set m[a].
func markSet(m map[rns.Hash]*seqSet, a rns.Hash, from, to uint64) {
	set := m[a]
	if set == nil {
		set = &seqSet{}
		m[a] = set
	}
	set.add(from, to)
}

// unmarkSet removes from..to of author a from the set m[a].
func unmarkSet(m map[rns.Hash]*seqSet, a rns.Hash, from, to uint64) {
	if set := m[a]; set != nil {
		set.remove(from, to)
		if set.empty() {
			delete(m, a)
		}
	}
}

// takeFloodIn reports whether event seq of author a came in a push, and
// forgets it.
func (e *Engine) takeFloodIn(a rns.Hash, seq uint64) bool {
	set := e.floodIn[a]
	if set == nil || !set.contains(seq) {
		return false
	}
	unmarkSet(e.floodIn, a, seq, seq)
	return true
}

// releaseRelays moves relays that fell due into ch's send queue.
func (e *Engine) releaseRelays(ch *channel, now int64) {
	if len(ch.relay) == 0 {
		return
	}
	for _, a := range sortedAuthors(ch.relay) {
		if ch.relayAt[a] > now {
			continue
		}
		for _, sp := range ch.relay[a].spans {
			e.schedulePush(ch, a, sp.From, sp.To, now, true)
			markSet(ch.flood, a, sp.From, sp.To)
		}
		delete(ch.relay, a)
		delete(ch.relayAt, a)
	}
}

// Channel load: the data messages (frontiers, slices, wants) heard from
// others over the last loadWindowMs stretch the pause after each of our
// own. Without it every node of a dense mesh sends at the full pace and
// the channel saturates: hidden terminals collide, suppression stops
// working because what should suppress is lost, and the repairs load the
// channel further.
const (
	// loadWindowMs is how far back heard data messages count.
	loadWindowMs = 30_000
	// maxLoadMarks bounds the remembered data messages per channel.
	maxLoadMarks = 256
	// maxPaceFactor caps the stretch at this multiple of the spacing.
	maxPaceFactor = 16
)

// noteLoad records that a data message from someone else was heard on ch.
func (e *Engine) noteLoad(ch *channel, now int64) {
	if len(ch.heard) == maxLoadMarks {
		copy(ch.heard, ch.heard[1:])
		ch.heard = ch.heard[:maxLoadMarks-1]
	}
	ch.heard = append(ch.heard, now)
}

// pace returns the pause after one of our data messages on ch: the
// channel's spacing s stretched by the load, s·(1 + n·s/W) where n data
// messages were heard over the last W = loadWindowMs (that is, by how many
// messages others sent per spacing interval), at most maxPaceFactor·s.
func (e *Engine) pace(ch *channel, now int64) int64 {
	i := 0
	for i < len(ch.heard) && ch.heard[i] <= now-loadWindowMs {
		i++
	}
	if i > 0 {
		ch.heard = append(ch.heard[:0], ch.heard[i:]...)
	}
	s := ch.spacing
	return min(maxPaceFactor*s, s+int64(len(ch.heard))*s*s/loadWindowMs)
}
