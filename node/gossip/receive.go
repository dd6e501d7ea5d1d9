package gossip

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/view"
)

// Step processes one received sync message. from is the peer it came from,
// or Broadcast when heard on the shared channel. A malformed message
// returns a *DecodeError (nothing else happens); a message for another
// dataset returns an error wrapping ErrOtherDataset. Problems with the
// events a valid message carries go to Ready.Reports.
func (e *Engine) Step(from PeerID, payload []byte, nowMs int64) error {
	e.observeNow(nowMs)
	m, err := Decode(payload, MaxPayloadLimit)
	if err != nil {
		return err
	}
	if m.DatasetTag() != e.tag {
		return &DecodeError{Kind: m.Kind(), Offset: 1, Field: "tag", Err: ErrOtherDataset}
	}
	ch := e.channel(from, nowMs)
	if ch == nil {
		return nil // peers disabled
	}
	ch.lastHeard = nowMs
	if m.Kind() != KindBeacon {
		e.noteLoad(ch, nowMs)
	}
	switch m := m.(type) {
	case *Beacon:
		e.onBeacon(ch, m, nowMs)
	case *Frontier:
		e.onFrontier(ch, m, nowMs)
	case *Slice:
		e.onSlice(ch, m, nowMs)
	case *Want:
		e.onWant(ch, m, nowMs)
	}
	return nil
}

func (e *Engine) onBeacon(ch *channel, m *Beacon, now int64) {
	if m.Hash == e.durHash && m.Count == e.durCount {
		ch.trickle.Heard()
		return
	}
	ch.trickle.Reset(now, e.cfg.Rand)
	if ch.servedValid && m.Hash == ch.servedHash {
		// We already know this state from its frontier and hold
		// nothing less: our answers (slices) are what it needs, not our
		// frontier. It will send its frontier again if they got lost.
		return
	}
	if ch.frontierHashSent == e.durHash && now-ch.frontierSentAt < e.cfg.FrontierRepeatMs {
		// Our state has not changed since our last frontier here: the
		// neighbours that heard it are answering or have answered.
		return
	}
	e.scheduleFrontier(ch, now)
}

// scheduleFrontier plans to send our frontier on ch after a random
// hold-back, unless one is planned or was sent recently.
func (e *Engine) scheduleFrontier(ch *channel, now int64) {
	if ch.frontierDue >= 0 {
		return
	}
	due := now + e.rnd(e.cfg.HoldBackMs)
	if earliest := ch.frontierSentAt + e.cfg.FrontierGapMs; due < earliest {
		due = earliest
	}
	ch.frontierDue = due
}

// covers reports whether a frontier chunk's covered interval contains a.
func covers(m *Frontier, a rns.Hash) bool {
	if len(m.Entries) == 0 {
		return m.First && m.Last
	}
	lo, hi := m.Entries[0].Author, m.Entries[len(m.Entries)-1].Author
	if !m.First && bytes.Compare(a[:], lo[:]) < 0 {
		return false
	}
	if !m.Last && bytes.Compare(a[:], hi[:]) > 0 {
		return false
	}
	return true
}

func (e *Engine) onFrontier(ch *channel, m *Frontier, now int64) {
	if m.Hash == e.durHash {
		// Someone with our exact state asked: the answers will serve us
		// too. Hold our own frontier back.
		ch.frontierDue = -1
		ch.frontierSentAt = now
		ch.askedAt = now
		return
	}
	theirs := make(map[rns.Hash]uint64, len(m.Entries))
	for _, en := range m.Entries {
		theirs[en.Author] = en.Seq
	}
	// Push what they lack.
	for _, a := range sortedAuthors(e.durable) {
		mine := e.durable[a]
		if !covers(m, a) {
			continue
		}
		if t := theirs[a]; t < mine {
			e.schedulePush(ch, a, t+1, mine, now+e.rnd(e.cfg.HoldBackMs), true)
		}
	}
	// Note what they have that we lack.
	lack, behind := false, false
	for _, en := range m.Entries {
		if en.Seq > e.log.Seq(en.Author) {
			behind = true
			e.noteClaim(ch.peer, en.Author, en.Seq, now)
			if en.Seq > e.reach(en.Author) {
				lack = true
			}
		}
	}
	ch.servedValid = false
	if lack {
		e.scheduleFrontier(ch, now)
	} else if m.First && m.Last && !behind {
		// They hold nothing we lack and our answers will bring them up
		// to date: our frontier would tell nobody anything. (Not when
		// what we lack is only pending here: if that is dropped, their
		// beacons must make us ask again.)
		ch.frontierDue = -1
		ch.servedHash, ch.servedValid = m.Hash, true
	}
}

// schedulePush adds [from, to] of author a to ch's send queue. With guard
// set (an answer to a frontier), a range sent recently on ch is not sent
// again. The first slice goes no earlier than due.
func (e *Engine) schedulePush(ch *channel, a rns.Hash, from, to uint64, due int64, guard bool) {
	if d := e.durable[a]; to > d {
		to = d
	}
	if from == 0 {
		from = 1
	}
	if guard {
		if s, ok := ch.sent[a]; ok && e.now-s.at < e.cfg.ResendGuardMs && from <= s.to {
			from = s.to + 1
		}
	}
	if from > to {
		return
	}
	set := ch.push[a]
	if set == nil {
		set = &seqSet{}
		ch.push[a] = set
	}
	set.add(from, to)
	if ch.pushDue < 0 || due < ch.pushDue {
		ch.pushDue = due
	}
}

func (e *Engine) noteClaim(p PeerID, a rns.Hash, seq uint64, now int64) {
	if c := e.claims[a]; c != nil {
		if seq > c.seq {
			c.seq = seq
			c.peer = p
		}
		return
	}
	if !e.log.IsMember(a) {
		return
	}
	if len(e.claims) >= e.cfg.MaxClaims {
		return
	}
	e.claims[a] = &claim{seq: seq, peer: p, have: e.log.Seq(a), nextAt: now + e.cfg.WantAfterMs}
}

func (e *Engine) onWant(ch *channel, m *Want, now int64) {
	for _, w := range m.Ranges {
		// Someone else asked for what we were about to ask: hold ours.
		if ours := ch.wants[w.Author]; len(ours) > 0 {
			kept := ours[:0]
			for _, o := range ours {
				if !(w.From <= o.From && w.To >= o.To && (w.Bare || !o.Bare)) {
					kept = append(kept, o)
				}
			}
			if len(kept) == 0 {
				delete(ch.wants, w.Author)
			} else {
				ch.wants[w.Author] = kept
			}
		}
		if e.durable[w.Author] >= w.From {
			e.schedulePush(ch, w.Author, w.From, w.To, now+e.rnd(e.cfg.HoldBackMs), false)
			if w.Bare {
				set := ch.bare[w.Author]
				if set == nil {
					set = &seqSet{}
					ch.bare[w.Author] = set
				}
				set.add(w.From, min(w.To, e.durable[w.Author]))
			}
		}
	}
}

func (e *Engine) onSlice(ch *channel, m *Slice, now int64) {
	ch.lastSliceAt = now
	evs, err := decodeSlice(m.Run, resolver{e})
	if err != nil {
		prefix, seq, count, ok := peekRun(m.Run)
		// Still hold back our own copy of what a neighbour is sending.
		if ok {
			e.suppress(ch, prefix, seq, seq+count-1)
		}
		switch {
		case errors.Is(err, feed.ErrUnknownPrev) && ok:
			// An earlier chunk of this transfer was lost: keep the run
			// until the gap is filled, and note what we hold.
			e.stashRun(ch, m.Run, m.Push, prefix, seq, count, now)
		case errors.Is(err, feed.ErrUnknownAuthor), errors.Is(err, feed.ErrUnknownPrev):
			// Normal while membership is on its way.
		default:
			e.report(Report{Kind: ReportBadRun, Peer: ch.peer, Err: err})
		}
		return
	}
	asked := now-ch.askedAt <= askWindowMs
	if e.ingestRun(ch, evs, m.Push || !asked, now) && asked && !m.Push {
		// Our answer is still flowing: it stays ours.
		ch.askedAt = now
	}
	e.retryStash(evs[0].Author, now)
}

// decodeSlice decodes a slice's run, which must fill the slice.
func decodeSlice(run []byte, r feed.Resolver) ([]feed.Signed, error) {
	evs, n, err := feed.DecodeRun(run, r)
	if err == nil && n != len(run) {
		err = fmt.Errorf("%w: %d bytes after the run", ErrTrailing, len(run)-n)
	}
	return evs, err
}

// askWindowMs: slices heard this long after we last asked on a channel
// may be answers to someone else, which we relay (see Engine relaying).
const askWindowMs = 120_000

// ingestRun feeds a decoded run to the log. Newly accepted events are
// relayed once durable when relay is set: they came in a push, or in a
// slice nobody near us asked for recently (an answer to a neighbour we
// may be the only link to). It reports whether the run brought anything
// new.
func (e *Engine) ingestRun(ch *channel, evs []feed.Signed, relay bool, now int64) bool {
	a, from := evs[0].Author, evs[0].Seq
	last := from + uint64(len(evs)) - 1
	e.suppress(ch, a[:], from, last)
	e.noteClaim(ch.peer, a, last, now)
	e.dataFlowing(a, now)
	progress := false
	for _, s := range evs {
		res, err := e.log.Ingest(s)
		if err != nil {
			e.report(Report{Kind: ReportRejected, Peer: ch.peer, Author: s.Author, Seq: s.Seq, Err: err})
			e.handleResult(ch.peer, res, now) // a rejected event may still prove a fork
			continue
		}
		if res.Pending && !res.Duplicate {
			e.notePending(s.Author, s.Seq, s.Seq)
		}
		progress = progress || !res.Duplicate
		if relay {
			for _, acc := range res.Accepted {
				if acc.Author == s.Author && (e.floodIn[acc.Author] != nil || len(e.floodIn) < e.cfg.MaxClaims) {
					markSet(e.floodIn, acc.Author, acc.Seq, acc.Seq)
				}
			}
		}
		e.handleResult(ch.peer, res, now)
	}
	if c := e.claims[a]; c != nil && progress {
		c.attempts = 0 // new data of this author: our wants are being answered
	}
	e.noteTail(evs)
	return progress
}

// dataFlowing defers wants for author a while its data arrives; once it
// stops, a gap is asked for after 2·QuietMs.
func (e *Engine) dataFlowing(a rns.Hash, now int64) {
	if c := e.claims[a]; c != nil {
		c.nextAt = max(c.nextAt, now+2*e.cfg.QuietMs)
	}
}

// notePending records that seqs from..to of author a are held but not
// accepted (gap buffer or stash), for precise wants.
func (e *Engine) notePending(a rns.Hash, from, to uint64) {
	p := e.pend[a]
	if p == nil {
		if len(e.pend) >= e.cfg.MaxClaims {
			return
		}
		p = &seqSet{}
		e.pend[a] = p
	}
	p.add(from, to)
}

// stashed is a run that could not be decoded yet because its predecessor
// is missing (an earlier chunk was lost).
type stashed struct {
	peer   PeerID
	push   bool // it came in a push (KindPush)
	run    []byte
	prefix []byte // the run's author prefix (aliases run)
	seq    uint64 // its first seq
}

// stashRun keeps a run whose predecessor is unknown, within
// Config.StashBytes (oldest dropped first).
func (e *Engine) stashRun(ch *channel, run []byte, push bool, prefix []byte, seq, count uint64, now int64) {
	if len(run) > e.cfg.StashBytes {
		return
	}
	for _, s := range e.stash {
		if bytes.Equal(s.run, run) {
			return // a duplicate
		}
	}
	for e.stashBytes+len(run) > e.cfg.StashBytes && len(e.stash) > 0 {
		e.stashBytes -= len(e.stash[0].run)
		e.stash = e.stash[1:]
	}
	c := bytes.Clone(run)
	e.stash = append(e.stash, stashed{peer: ch.peer, push: push, run: c, prefix: c[1 : 1+len(prefix)], seq: seq})
	e.stashBytes += len(run)
	if a, err := e.log.ResolveAuthor(prefix); err == nil && e.log.IsMember(a) {
		e.notePending(a, seq, seq+count-1)
		e.noteClaim(ch.peer, a, seq+count-1, now)
		e.dataFlowing(a, now)
	}
}

// retryStash decodes stashed runs whose predecessor has arrived, until
// nothing more decodes. Only runs that the last ingest can have unblocked
// are tried: those of the author whose run was just ingested (and, in
// turn, of authors whose stashed runs then decoded), or every run when the
// membership changed (a run of a newly admitted author may now resolve).
// Decoding a run that still lacks its predecessor costs an author lookup
// and an error; with a full stash on a busy channel that used to dominate
// the engine's CPU time.
func (e *Engine) retryStash(author rns.Hash, now int64) {
	if len(e.stash) == 0 {
		return
	}
	touched := []rns.Hash{author}
	all := e.membersChanged
	e.membersChanged = false
	relevant := func(s *stashed) bool {
		if all {
			return true
		}
		for _, a := range touched {
			if bytes.HasPrefix(a[:], s.prefix) {
				// Its predecessor must be held (log or pending tail) by now.
				if e.log.Seq(a)+1 >= s.seq {
					return true
				}
				if t, ok := e.tails[a]; ok && t.seq+1 == s.seq {
					return true
				}
			}
		}
		return false
	}
	for progress := true; progress; {
		progress = false
		for i := 0; i < len(e.stash); i++ {
			s := e.stash[i]
			if !relevant(&s) {
				continue
			}
			evs, err := decodeSlice(s.run, resolver{e})
			if errors.Is(err, feed.ErrUnknownPrev) {
				continue
			}
			e.stash = append(e.stash[:i:i], e.stash[i+1:]...)
			e.stashBytes -= len(s.run)
			i--
			if err != nil {
				continue // undecodable for another reason: drop it
			}
			ch := e.peers[s.peer]
			if ch == nil {
				ch = e.bcast
			}
			e.ingestRun(ch, evs, s.push, now)
			touched = append(touched, evs[0].Author)
			all = all || e.membersChanged
			e.membersChanged = false
			progress = true
		}
	}
}

// handleResult folds what one log call changed into the engine: accepted
// events (persist, view, clock), forks and revocations.
func (e *Engine) handleResult(peer PeerID, res feed.IngestResult, now int64) {
	for _, f := range res.Forks {
		// Forks are never dropped by the report cap: they are rare and
		// matter most.
		e.reports = append(e.reports, Report{Kind: ReportFork, Peer: peer, Author: f.Author, Seq: f.Seq,
			Err: fmt.Errorf("%w: %s/%d", feed.ErrForked, f.Author, f.Seq)})
	}
	for _, a := range res.Accepted {
		if a.Kind == feed.KindMemberAdd || a.Kind == feed.KindMemberRemove {
			e.membersChanged = true
		}
		if _, err := e.clock.Observe(a.HLC, now); err != nil {
			e.report(Report{Kind: ReportClockDrift, Peer: peer, Author: a.Author, Seq: a.Seq, Err: err})
		}
	}
	e.accept(res.Accepted)
	if len(res.Revoked) == 0 {
		return
	}
	// Events withdrawn (fork freeze, membership loss): stop advertising
	// them, drop them from the unpersisted batch and rebuild the view.
	e.revoked = append(e.revoked, res.Revoked...)
	for _, r := range res.Revoked {
		if d, ok := e.durable[r.Author]; ok {
			if n := e.log.Seq(r.Author); d > n {
				if n == 0 {
					delete(e.durable, r.Author)
				} else {
					e.durable[r.Author] = n
				}
			}
		}
	}
	kept := e.unstable[:0]
	for _, u := range e.unstable {
		if u.Seq <= e.log.Seq(u.Author) {
			kept = append(kept, u)
		}
	}
	e.unstable = kept
	e.rebuildView()
	e.rebuilt = true
	e.recomputeDigest()
}

func (e *Engine) rebuildView() { e.view = view.FromLog(e.log) }
