package gossip

import (
	"slices"

	"github.com/meshlogd/meshlogd/node/rns"
)

// NextDeadline returns the time (ms) at which Tick next has work: a
// beacon, a planned frontier, slice or want, or a gap check.
func (e *Engine) NextDeadline() int64 {
	next := int64(1<<63 - 1)
	take := func(t int64) {
		if t >= 0 && t < next {
			next = t
		}
	}
	e.forChannels(func(ch *channel) {
		take(ch.trickle.Deadline())
		floor := ch.nextTx
		if e.cfg.AwaitSent && ch.unsent > 0 {
			floor = max(floor, ch.lastEmitAt+e.cfg.AwaitSentTimeoutMs)
		}
		for _, due := range []int64{ch.frontierDue, ch.pushDue, ch.wantDue} {
			if due >= 0 {
				take(max(due, floor))
			}
		}
		for _, due := range ch.relayAt {
			take(max(due, floor))
		}
	})
	for _, c := range e.claims {
		take(c.nextAt)
	}
	return next
}

// Tick advances the engine's timers to nowMs: beacons, planned frontiers,
// slices and wants become Messages in the next Ready.
func (e *Engine) Tick(nowMs int64) {
	e.observeNow(nowMs)
	now := e.now
	e.checkClaims(now)
	e.forChannels(func(ch *channel) { e.tickChannel(ch, now) })
}

// checkClaims turns persistent gaps into wants and forgets stale claims.
func (e *Engine) checkClaims(now int64) {
	for _, a := range sortedAuthors(e.claims) {
		c := e.claims[a]
		h := e.log.Seq(a)
		if h >= c.seq {
			delete(e.claims, a)
			continue
		}
		if h > c.have {
			c.have, c.attempts = h, 0
			c.nextAt = max(c.nextAt, now+e.cfg.WantAfterMs)
		}
		if now < c.nextAt {
			continue
		}
		if c.attempts >= e.cfg.MaxWantAttempts {
			// Nobody answers: forget the claim and what we inferred
			// from the data that came with it.
			delete(e.claims, a)
			delete(e.pend, a)
			delete(e.tails, a)
			continue
		}
		ch := e.peers[c.peer]
		if ch == nil {
			ch = e.bcast // the claim's peer is gone: ask everyone
		}
		ranges := wantRanges(a, h, c.seq, e.pend[a])
		if c.attempts >= 2 {
			// The precise ranges did not help (the gap buffer may hold
			// something bogus): ask for everything above our frontier.
			ranges = []WantRange{{Author: a, From: h + 1, To: c.seq}}
		}
		ch.wants[a] = ranges
		if ch.wantDue < 0 {
			ch.wantDue = now + e.rnd(e.cfg.HoldBackMs)
		}
		c.attempts++
		c.nextAt = now + e.cfg.WantAfterMs<<min(c.attempts, 6)
	}
}

// maxWantRanges bounds the holes of one author asked for at once.
const maxWantRanges = 4

// wantRanges returns what to ask for when our frontier for author a is h,
// a neighbour claimed up to seq, and pend holds what waits (gap buffer,
// stash): every hole between pending spans, bare (the data after it will
// bring the signature), and the span after the last pending one up to
// the claim, not bare. If everything up to the claim is pending (waiting
// for a signature), the claimed tip itself, which a server sends signed or
// extends to the next signed event.
func wantRanges(a rns.Hash, h, seq uint64, pend *seqSet) []WantRange {
	var out []WantRange
	cur := h + 1
	if pend != nil {
		pend.removeBelow(h)
		for _, sp := range pend.spans {
			if cur > seq || len(out) == maxWantRanges {
				break
			}
			if sp.From > cur {
				out = append(out, WantRange{Author: a, From: cur, To: min(sp.From-1, seq), Bare: sp.From <= seq})
			}
			cur = max(cur, sp.To+1)
		}
	}
	switch {
	case len(out) == maxWantRanges:
	case cur <= seq:
		out = append(out, WantRange{Author: a, From: cur, To: seq})
	case len(out) == 0:
		out = append(out, WantRange{Author: a, From: seq, To: seq})
	}
	return out
}

func (e *Engine) emit(ch *channel, m Msg) {
	if m.Kind() != KindBeacon {
		ch.unsent++
		ch.lastEmitAt = e.now
	}
	e.msgs = append(e.msgs, Message{To: ch.peer, Payload: m.AppendTo(make([]byte, 0, ch.limit))})
}

func (e *Engine) tickChannel(ch *channel, now int64) {
	if ch.trickle.Tick(now, e.cfg.Rand) {
		e.emit(ch, &Beacon{Tag: e.tag, Hash: e.durHash, Count: e.durCount})
	}
	if e.cfg.AwaitSent && ch.unsent > 0 {
		if now < ch.lastEmitAt+e.cfg.AwaitSentTimeoutMs {
			return // our previous data message is not on air yet
		}
		ch.unsent = 0 // the runtime never confirmed it: carry on
	}
	if now < ch.nextTx {
		return
	}
	e.releaseRelays(ch, now)
	if ch.frontierDue >= 0 && now >= ch.frontierDue {
		if quiet := ch.lastSliceAt + e.cfg.QuietMs; now < quiet {
			ch.frontierDue = quiet // others are sending: answer later
		} else {
			n := e.sendFrontier(ch)
			ch.frontierDue = -1
			ch.frontierSentAt = now
			ch.askedAt = now
			ch.frontierHashSent = e.durHash
			ch.nextTx = now + int64(n)*e.pace(ch, now)
			return
		}
	}
	if ch.pushDue >= 0 && now >= ch.pushDue {
		sent := e.sendSlice(ch, now)
		if sent {
			ch.nextTx = now + e.pace(ch, now)
		}
		if len(ch.push) == 0 {
			ch.pushDue = -1
		} else {
			ch.pushDue = ch.nextTx
		}
		if sent {
			return
		}
	}
	if ch.wantDue >= 0 && now >= ch.wantDue {
		e.sendWants(ch)
		ch.wantDue = -1
		ch.nextTx = now + e.pace(ch, now)
	}
}

// Sent tells the engine that m, a message from one of its Readies,
// finished going on air at nowMs. It matters only with Config.AwaitSent:
// then the engine keeps at most one data message (frontier chunks count
// one each, beacons not at all) of each channel in the runtime's
// transmit queue, and paces the next one TxSpacingMs after the previous
// one went on air, so that what it hears from neighbours can still
// suppress what it has not yet sent. Without AwaitSent, Sent does nothing.
func (e *Engine) Sent(m Message, nowMs int64) {
	e.observeNow(nowMs)
	if !e.cfg.AwaitSent || len(m.Payload) == 0 || Kind(m.Payload[0]) == KindBeacon {
		return
	}
	ch := e.bcast
	if !m.To.IsBroadcast() {
		if ch = e.peers[m.To]; ch == nil {
			return
		}
	}
	if ch.unsent > 0 {
		ch.unsent--
	}
	ch.nextTx = max(ch.nextTx, nowMs+e.pace(ch, nowMs))
}

// reach is how far we hold author a's feed: accepted, or claimed by a
// neighbour while we hold part of the rest (pending in the gap buffer or
// stashed) and are asking for the missing part with wants.
func (e *Engine) reach(a rns.Hash) uint64 {
	r := e.log.Seq(a)
	if c := e.claims[a]; c != nil {
		if p := e.pend[a]; p != nil && !p.empty() {
			r = max(r, c.seq)
		}
	}
	return r
}

// sendFrontier emits our frontier in chunks and returns how many. For an
// author whose data we hold but cannot accept yet (a chunk of the
// transfer was lost), the entry reports the claimed tip instead of the
// durable seq: we will ask for the missing part with a want, and nobody
// should push the rest again. The hash stays that of the durable
// frontier.
func (e *Engine) sendFrontier(ch *channel) int {
	reach := make(map[rns.Hash]uint64, len(e.durable))
	for a, s := range e.durable {
		reach[a] = s
	}
	for a := range e.claims {
		reach[a] = max(reach[a], e.reach(a))
	}
	authors := sortedAuthors(reach)
	entries := make([]FrontierEntry, 0, len(authors))
	for _, a := range authors {
		if reach[a] > 0 {
			entries = append(entries, FrontierEntry{Author: a, Seq: reach[a]})
		}
	}
	chunks := chunkFrontier(e.tag, e.durHash, entries, ch.limit)
	for _, c := range chunks {
		e.emit(ch, c)
	}
	return len(chunks)
}

// chunkFrontier splits entries into chunks that fit limit, consecutive
// chunks overlapping by one entry.
func chunkFrontier(tag Tag, hash uint64, entries []FrontierEntry, limit int) []*Frontier {
	fixed := HeaderSize + uintSize(hash) + 1
	var out []*Frontier
	i := 0
	for {
		c := &Frontier{Tag: tag, Hash: hash, First: i == 0}
		size := fixed + 1
		j := i
		for j < len(entries) {
			s := entrySize(entries[j])
			if size+s+arrayHeaderSize(j-i+1)-1 > limit {
				break
			}
			size += s
			j++
		}
		c.Entries = entries[i:j]
		c.Last = j == len(entries)
		out = append(out, c)
		if c.Last {
			return out
		}
		// Overlap by one entry; always make progress.
		i = max(j-1, i+1)
	}
}

func (e *Engine) sendWants(ch *channel) {
	m := &Want{Tag: e.tag}
	size := HeaderSize + 1
	for _, a := range sortedAuthors(ch.wants) {
		for _, w := range ch.wants[a] {
			if size+wantSize(w)+arrayHeaderSize(len(m.Ranges)+1)-1 > ch.limit {
				break
			}
			size += wantSize(w)
			m.Ranges = append(m.Ranges, w)
		}
	}
	clear(ch.wants)
	if len(m.Ranges) > 0 {
		ch.askedAt = e.now
		e.emit(ch, m)
	}
}

// pushOrder returns the authors queued on ch, the founder first (its
// feed carries the membership every other feed depends on), then by id.
func (e *Engine) pushOrder(ch *channel) []rns.Hash {
	authors := sortedAuthors(ch.push)
	f := e.log.Founder()
	if i := slices.Index(authors, f); i > 0 {
		copy(authors[1:i+1], authors[:i])
		authors[0] = f
	}
	return authors
}

// sendSlice emits one slice from ch's queue; it reports whether it did.
func (e *Engine) sendSlice(ch *channel, now int64) bool {
	for _, a := range e.pushOrder(ch) {
		set := ch.push[a]
		for !set.empty() {
			sp := set.first()
			dur := e.durable[a]
			if sp.From > dur {
				set.remove(sp.From, sp.To)
				unmarkSet(ch.flood, a, sp.From, sp.To)
				continue
			}
			msg, last, open, err := e.buildSlice(ch, a, sp.From, min(sp.To, dur), dur)
			if err != nil {
				e.report(Report{Kind: ReportUnsendable, Peer: ch.peer, Author: a, Seq: sp.From, Err: err})
				set.remove(sp.From, sp.From)
				unmarkSet(ch.flood, a, sp.From, sp.From)
				continue
			}
			if f := ch.flood[a]; f != nil && f.contains(sp.From) {
				msg.Push = true
			}
			unmarkSet(ch.flood, a, sp.From, last)
			set.remove(sp.From, last)
			if b := ch.bare[a]; b != nil {
				b.remove(sp.From, last)
				if b.empty() {
					delete(ch.bare, a)
				}
			}
			if open && last < dur {
				// The slice ended unsigned: its signature comes in a
				// following slice, which must be sent even if the asked
				// range ended here.
				set.add(last+1, last+1)
			}
			if set.empty() {
				delete(ch.push, a)
				delete(ch.flood, a)
			}
			ch.sent[a] = sentMark{to: last, at: now}
			e.emit(ch, msg)
			return true
		}
		delete(ch.push, a)
		delete(ch.flood, a)
	}
	return false
}
