package gossip

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/view"
)

const defaultMaxDrift = hlc.DefaultMaxDrift

// PeerID names where a message came from or goes to: a Reticulum link id
// (or any 16-byte peer handle the runtime chooses). The zero PeerID is the
// broadcast channel (the dataset's GROUP destination on the local radio).
type PeerID [16]byte

// Broadcast is the zero PeerID: the shared broadcast channel.
var Broadcast PeerID

// IsBroadcast reports whether p is the broadcast channel.
func (p PeerID) IsBroadcast() bool { return p == PeerID{} }

// String returns "broadcast" or the peer's hex form.
func (p PeerID) String() string {
	if p.IsBroadcast() {
		return "broadcast"
	}
	return hex.EncodeToString(p[:])
}

// Message is one outbound sync message.
type Message struct {
	// To is the destination: Broadcast (zero) or a peer.
	To PeerID
	// Payload is the encoded message, at most the channel's payload limit.
	// It is owned by the receiver of the Ready.
	Payload []byte
}

// ReportKind classifies a Report.
type ReportKind uint8

// Report kinds.
const (
	// ReportFork: two different events with the same (author, seq) were
	// seen. The author's feed is frozen by the feed log; Err carries the
	// detail.
	ReportFork ReportKind = iota + 1
	// ReportRejected: a received event failed verification (bad signature,
	// broken chain, non-member, …); Err says why. It was not stored or
	// relayed.
	ReportRejected
	// ReportBadRun: a slice's run could not be decoded; Err says why.
	ReportBadRun
	// ReportClockDrift: a received event's HLC was too far ahead of local
	// time to advance the local clock (the event itself was accepted).
	ReportClockDrift
	// ReportUnsendable: an event cannot be sent within the payload limit
	// (it is larger than a slice can carry); it stays stored.
	ReportUnsendable
)

// String returns the kind's name.
func (k ReportKind) String() string {
	switch k {
	case ReportFork:
		return "fork"
	case ReportRejected:
		return "rejected"
	case ReportBadRun:
		return "bad-run"
	case ReportClockDrift:
		return "clock-drift"
	case ReportUnsendable:
		return "unsendable"
	}
	return fmt.Sprintf("report(%d)", uint8(k))
}

// Report is something the runtime should log or surface: a fork, a
// rejected event, a bad run.
type Report struct {
	Kind   ReportKind
	Peer   PeerID   // channel the cause arrived on
	Author rns.Hash // author concerned, if any
	Seq    uint64   // sequence number concerned, if any
	Err    error    // detail; unwraps to a feed or gossip sentinel
}

// Ready is one batch of engine output. The runtime must make Persist
// durable (in order) before it transmits Messages, then call Advance.
type Ready struct {
	// Persist lists newly accepted events in acceptance (chain) order.
	Persist []feed.Signed
	// Messages to transmit, in order.
	Messages []Message
	// ViewChanges lists the events folded into the view since the last
	// Ready, in fold order.
	ViewChanges []view.Change
	// ViewRebuilt reports that the view was rebuilt from the log (after a
	// revocation): ViewChanges cannot describe removals, re-read it.
	ViewRebuilt bool
	// Reports lists forks, rejected events and other notable conditions.
	Reports []Report
	// Revoked lists accepted events withdrawn by a fork freeze or a
	// membership change. The view has been rebuilt without them; storage
	// may forget them (restoring them is harmless: the log rejects them
	// again).
	Revoked []feed.Signed
}

// Errors returned by Engine methods.
var (
	// ErrNoIdentity: Append on an engine without an Identity.
	ErrNoIdentity = errors.New("gossip: engine has no identity")
)

// Engine is the sync engine of one dataset: a pure state machine. It does
// no I/O, starts no goroutines, reads no clock and draws no randomness of
// its own. It is not safe for concurrent use: one goroutine owns it.
type Engine struct {
	cfg   Config
	log   *feed.Log
	view  *view.View
	clock *hlc.Clock
	tag   Tag

	// durable is the durable frontier: events confirmed by Advance. Only
	// these are advertised and sent.
	durable  map[rns.Hash]uint64
	durAhead map[rns.Hash]*seqSet // advanced out of order, above durable
	durCount uint64
	durHash  uint64

	unstable []feed.Signed // accepted, not yet handed out in a Ready
	msgs     []Message
	changes  []view.Change
	rebuilt  bool
	reports  []Report
	revoked  []feed.Signed

	bcast *channel
	peers map[PeerID]*channel

	claims     map[rns.Hash]*claim  // someone has more of author X than we do
	tails      map[rns.Hash]tail    // last event of a decoded, still pending run
	pend       map[rns.Hash]*seqSet // seqs held but not accepted (gap buffer, stash)
	stash      []stashed            // runs waiting for their predecessor, oldest first
	stashBytes int
	now        int64 // latest time seen
}

// channel is the per-destination sync state: the broadcast channel or one
// peer (link).
type channel struct {
	peer      PeerID
	limit     int
	trickle   Trickle
	lastHeard int64

	frontierDue      int64 // -1: none scheduled
	frontierSentAt   int64
	frontierHashSent uint64 // durable hash our last frontier carried
	lastSliceAt      int64  // last slice heard on this channel

	push    map[rns.Hash]*seqSet // ranges to send
	bare    map[rns.Hash]*seqSet // parts of push asked for bare (no signature needed)
	pushDue int64                // -1: nothing scheduled
	sent    map[rns.Hash]sentMark
	sigDebt map[rns.Hash]int // unsigned run bytes sent since the last signature

	wants   map[rns.Hash]WantRange // wants to send
	wantDue int64

	nextTx int64 // earliest time for the next data message

	// unsent counts our data messages not yet confirmed on air by Sent
	// (Config.AwaitSent), the last emitted at lastEmitAt.
	unsent     int
	lastEmitAt int64

	// servedHash is the hash of the last complete frontier heard on this
	// channel that showed nothing we lack (valid if servedValid): beacons
	// with that hash need slices from us, not our frontier.
	servedHash  uint64
	servedValid bool
}

type sentMark struct {
	to uint64
	at int64
}

// claim records that some channel advertised more of an author than we
// hold: the basis for wants.
type claim struct {
	seq      uint64 // highest seq claimed
	peer     PeerID // where the claim came from
	have     uint64 // our frontier when since was set
	attempts int
	nextAt   int64
}

const never = int64(-1) << 62

// New returns an engine for the dataset held by log. Every event in log is
// taken to be durable (restored from storage). The engine takes ownership
// of log: callers must not use it afterwards.
func New(cfg Config, log *feed.Log, nowMs int64) (*Engine, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		return nil, fmt.Errorf("%w: nil log", ErrConfig)
	}
	e := &Engine{
		cfg:      c,
		log:      log,
		view:     view.New(),
		clock:    hlc.NewClock(c.MaxClockDriftMs),
		durable:  map[rns.Hash]uint64{},
		durAhead: map[rns.Hash]*seqSet{},
		peers:    map[PeerID]*channel{},
		claims:   map[rns.Hash]*claim{},
		tails:    map[rns.Hash]tail{},
		pend:     map[rns.Hash]*seqSet{},
		now:      nowMs,
	}
	id := log.DatasetID()
	copy(e.tag[:], id[:TagSize])
	for a, seq := range log.Frontier() {
		e.durable[a] = seq
	}
	e.rebuildView()
	_, _ = e.clock.Observe(log.MaxHLC(), nowMs) // a restored HLC from the future only fails to advance the clock
	e.recomputeDigest()
	e.bcast = e.newChannel(Broadcast, c.PayloadLimit, nowMs)
	return e, nil
}

func (e *Engine) newChannel(p PeerID, limit int, now int64) *channel {
	ch := &channel{
		peer:           p,
		limit:          limit,
		trickle:        Trickle{IminMs: e.cfg.TrickleIminMs, ImaxMs: e.cfg.TrickleIminMs << e.cfg.TrickleDoublings, K: e.cfg.TrickleK},
		lastHeard:      now,
		frontierDue:    -1,
		frontierSentAt: never,
		lastSliceAt:    never,
		push:           map[rns.Hash]*seqSet{},
		pushDue:        -1,
		sent:           map[rns.Hash]sentMark{},
		sigDebt:        map[rns.Hash]int{},
		wants:          map[rns.Hash]WantRange{},
		bare:           map[rns.Hash]*seqSet{},
		wantDue:        -1,
		nextTx:         now,
	}
	ch.trickle.Start(now, e.cfg.Rand)
	return ch
}

// Tag returns the dataset tag carried by every message.
func (e *Engine) Tag() Tag { return e.tag }

// Frontier returns a copy of the durable frontier: author → highest
// contiguous durable seq.
func (e *Engine) Frontier() map[rns.Hash]uint64 {
	out := make(map[rns.Hash]uint64, len(e.durable))
	for a, s := range e.durable {
		out[a] = s
	}
	return out
}

// Digest returns the beacon digest of the durable frontier: its hash and
// the number of durable events.
func (e *Engine) Digest() (hash, count uint64) { return e.durHash, e.durCount }

// View returns the materialized view of every accepted event (durable or
// not). The caller must not modify it.
func (e *Engine) View() *view.View { return e.view }

// Log returns the feed log. The caller must not modify it.
func (e *Engine) Log() *feed.Log { return e.log }

// FrontierHash is the 64-bit frontier hash carried by beacons and
// frontiers: the first 8 bytes (big-endian) of SHA-256 over
// "meshlogd/gossip/v1/frontier\x00" ‖ for each author with seq > 0, in
// increasing author order: author (16 bytes) ‖ seq (8 bytes big-endian).
func FrontierHash(f map[rns.Hash]uint64) uint64 {
	authors := sortedAuthors(f)
	h := sha256.New()
	h.Write([]byte("meshlogd/gossip/v1/frontier\x00"))
	var b [8]byte
	for _, a := range authors {
		if f[a] == 0 {
			continue
		}
		h.Write(a[:])
		binary.BigEndian.PutUint64(b[:], f[a])
		h.Write(b[:])
	}
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}

func sortedAuthors[V any](m map[rns.Hash]V) []rns.Hash {
	out := make([]rns.Hash, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, func(x, y rns.Hash) int { return bytes.Compare(x[:], y[:]) })
	return out
}

func (e *Engine) recomputeDigest() {
	e.durHash = FrontierHash(e.durable)
	e.durCount = 0
	for _, s := range e.durable {
		e.durCount += s
	}
}

// maxReports bounds the Reports of one Ready (forks excepted): a flood of
// bogus events cannot grow the engine's output without bound between two
// Readies.
const maxReports = 256

func (e *Engine) report(r Report) {
	if len(e.reports) < maxReports {
		e.reports = append(e.reports, r)
	}
}

// HasReady reports whether Ready would return anything.
func (e *Engine) HasReady() bool {
	return len(e.unstable) > 0 || len(e.msgs) > 0 || len(e.changes) > 0 || len(e.reports) > 0 || len(e.revoked) > 0 || e.rebuilt
}

// Ready returns the pending output and clears it. The caller must persist
// rd.Persist, then transmit rd.Messages, then call Advance(rd).
func (e *Engine) Ready() Ready {
	rd := Ready{Persist: e.unstable, Messages: e.msgs, ViewChanges: e.changes, Reports: e.reports, Revoked: e.revoked, ViewRebuilt: e.rebuilt}
	e.rebuilt = false
	e.unstable, e.msgs, e.changes, e.reports, e.revoked = nil, nil, nil, nil, nil
	return rd
}

// Advance confirms that rd.Persist is durable. From now on those events
// are advertised and served. Readies should be advanced in the order Ready
// returned them; an event advanced before its predecessors becomes
// advertised when they are.
func (e *Engine) Advance(rd Ready) {
	if len(rd.Persist) == 0 {
		return
	}
	changed := false
	for _, s := range rd.Persist {
		a := s.Author
		if s.Seq <= e.durable[a] || s.Seq > e.log.Seq(a) {
			continue // already durable, or revoked meanwhile
		}
		if s.Seq != e.durable[a]+1 {
			ahead := e.durAhead[a]
			if ahead == nil {
				ahead = &seqSet{}
				e.durAhead[a] = ahead
			}
			ahead.add(s.Seq, s.Seq)
			continue
		}
		e.durable[a] = s.Seq
		if ahead := e.durAhead[a]; ahead != nil {
			for !ahead.empty() && ahead.first().From <= e.durable[a]+1 {
				e.durable[a] = max(e.durable[a], min(ahead.first().To, e.log.Seq(a)))
				ahead.removeBelow(ahead.first().To)
			}
			if ahead.empty() {
				delete(e.durAhead, a)
			}
		}
		changed = true
	}
	if !changed {
		return
	}
	e.recomputeDigest()
	// New durable data is an inconsistency with every neighbour: announce
	// quickly.
	e.forChannels(func(ch *channel) { ch.trickle.Reset(e.now, e.cfg.Rand) })
	if self := e.self(); e.cfg.Identity != nil {
		// Our own fresh events: nobody else has them, push eagerly
		// (batched by AppendDelayMs).
		for _, s := range rd.Persist {
			if s.Author == self && s.Seq <= e.durable[self] {
				e.forChannels(func(ch *channel) {
					e.schedulePush(ch, self, s.Seq, s.Seq, e.now+e.cfg.AppendDelayMs, false)
				})
			}
		}
	}
}

func (e *Engine) self() rns.Hash {
	if e.cfg.Identity == nil {
		return rns.Hash{}
	}
	return e.cfg.Identity.Hash()
}

// forChannels calls f on the broadcast channel and every peer channel in
// a deterministic order.
func (e *Engine) forChannels(f func(*channel)) {
	f(e.bcast)
	peers := make([]PeerID, 0, len(e.peers))
	for p := range e.peers {
		peers = append(peers, p)
	}
	slices.SortFunc(peers, func(x, y PeerID) int { return bytes.Compare(x[:], y[:]) })
	for _, p := range peers {
		f(e.peers[p])
	}
}

// Append writes a local event (kind, body) stamped by the engine's HLC at
// local physical time nowMs. The event is accepted into the log and view
// at once and appears in the next Ready's Persist; it is advertised after
// Advance.
func (e *Engine) Append(kind feed.Kind, body []byte, nowMs int64) (feed.Signed, error) {
	e.observeNow(nowMs)
	if e.cfg.Identity == nil {
		return feed.Signed{}, ErrNoIdentity
	}
	ts := e.clock.Now(nowMs)
	s, res, err := e.log.Append(e.cfg.Identity, kind, body, ts)
	if err != nil {
		return feed.Signed{}, err
	}
	e.handleResult(Broadcast, res, nowMs)
	return s, nil
}

func (e *Engine) observeNow(now int64) {
	if now > e.now {
		e.now = now
	}
}

// accept records newly accepted events: to persist, into the view.
func (e *Engine) accept(evs []feed.Signed) {
	for _, s := range evs {
		e.unstable = append(e.unstable, s)
		e.changes = append(e.changes, e.view.Apply(s.Event)...)
		if p := e.pend[s.Author]; p != nil {
			p.removeBelow(s.Seq)
			if p.empty() {
				delete(e.pend, s.Author)
			}
		}
	}
}

// AddPeer opens a channel to a peer reached over a link (payload limit
// limit, 0 for Config.PeerPayloadLimit). Messages from an unknown peer open
// one implicitly. At most Config.MaxPeers peers are kept; the least
// recently heard is dropped first.
func (e *Engine) AddPeer(p PeerID, limit int, nowMs int64) error {
	e.observeNow(nowMs)
	if p.IsBroadcast() {
		return fmt.Errorf("%w: AddPeer with the broadcast id", ErrConfig)
	}
	if limit == 0 {
		limit = e.cfg.PeerPayloadLimit
	}
	if limit < MinPayloadLimit || limit > MaxPayloadLimit {
		return fmt.Errorf("%w: peer payload limit %d outside [%d, %d]", ErrConfig, limit, MinPayloadLimit, MaxPayloadLimit)
	}
	if ch := e.peers[p]; ch != nil {
		ch.limit = limit
		return nil
	}
	e.addPeer(p, limit, nowMs)
	return nil
}

func (e *Engine) addPeer(p PeerID, limit int, now int64) *channel {
	if e.cfg.MaxPeers == 0 {
		return nil
	}
	for len(e.peers) >= e.cfg.MaxPeers {
		var oldest PeerID
		first := true
		for q, ch := range e.peers {
			o := e.peers[oldest]
			if first || ch.lastHeard < o.lastHeard || (ch.lastHeard == o.lastHeard && bytes.Compare(q[:], oldest[:]) < 0) {
				oldest, first = q, false
			}
		}
		delete(e.peers, oldest)
	}
	ch := e.newChannel(p, limit, now)
	e.peers[p] = ch
	return ch
}

// RemovePeer drops a peer channel (its link closed).
func (e *Engine) RemovePeer(p PeerID) { delete(e.peers, p) }

func (e *Engine) channel(p PeerID, now int64) *channel {
	if p.IsBroadcast() {
		return e.bcast
	}
	if ch := e.peers[p]; ch != nil {
		return ch
	}
	return e.addPeer(p, e.cfg.PeerPayloadLimit, now)
}

func (e *Engine) rnd(span int64) int64 {
	if span <= 0 {
		return 0
	}
	return int64(e.cfg.Rand() % uint64(span))
}

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
	lack := false
	for _, en := range m.Entries {
		if en.Seq > e.log.Seq(en.Author) {
			e.noteClaim(ch.peer, en.Author, en.Seq, now)
			if en.Seq > e.reach(en.Author) {
				lack = true
			}
		}
	}
	ch.servedValid = false
	if lack {
		e.scheduleFrontier(ch, now)
	} else if m.First && m.Last {
		// They hold nothing we lack and our answers will bring them up
		// to date: our frontier would tell nobody anything.
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
		if ours, ok := e.bcast.wants[w.Author]; ok && ch == e.bcast && w.From <= ours.From && w.To >= ours.From {
			delete(e.bcast.wants, w.Author)
			if c := e.claims[w.Author]; c != nil {
				c.nextAt = now + e.cfg.WantAfterMs
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
			e.stashRun(ch, m.Run, prefix, seq, count, now)
		case errors.Is(err, feed.ErrUnknownAuthor), errors.Is(err, feed.ErrUnknownPrev):
			// Normal while membership is on its way.
		default:
			e.report(Report{Kind: ReportBadRun, Peer: ch.peer, Err: err})
		}
		return
	}
	e.ingestRun(ch, evs, now)
	e.retryStash(now)
}

// decodeSlice decodes a slice's run, which must fill the slice.
func decodeSlice(run []byte, r feed.Resolver) ([]feed.Signed, error) {
	evs, n, err := feed.DecodeRun(run, r)
	if err == nil && n != len(run) {
		err = fmt.Errorf("%w: %d bytes after the run", ErrTrailing, len(run)-n)
	}
	return evs, err
}

// ingestRun feeds a decoded run to the log.
func (e *Engine) ingestRun(ch *channel, evs []feed.Signed, now int64) {
	a, from := evs[0].Author, evs[0].Seq
	last := from + uint64(len(evs)) - 1
	e.suppress(ch, a[:], from, last)
	e.noteClaim(ch.peer, a, last, now)
	e.dataFlowing(a, now)
	for _, s := range evs {
		res, err := e.log.Ingest(s)
		if err != nil {
			e.report(Report{Kind: ReportRejected, Peer: ch.peer, Author: s.Author, Seq: s.Seq, Err: err})
			e.handleResult(ch.peer, res, now) // a rejected event may still prove a fork
			continue
		}
		if res.Pending {
			e.notePending(s.Author, s.Seq, s.Seq)
		}
		e.handleResult(ch.peer, res, now)
	}
	e.noteTail(evs)
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
	peer PeerID
	run  []byte
}

// stashRun keeps a run whose predecessor is unknown, within
// Config.StashBytes (oldest dropped first).
func (e *Engine) stashRun(ch *channel, run, prefix []byte, seq, count uint64, now int64) {
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
	e.stash = append(e.stash, stashed{peer: ch.peer, run: bytes.Clone(run)})
	e.stashBytes += len(run)
	if a, err := e.log.ResolveAuthor(prefix); err == nil && e.log.IsMember(a) {
		e.notePending(a, seq, seq+count-1)
		e.noteClaim(ch.peer, a, seq+count-1, now)
		e.dataFlowing(a, now)
	}
}

// retryStash decodes stashed runs whose predecessor has arrived, until
// nothing more decodes.
func (e *Engine) retryStash(now int64) {
	for progress := true; progress; {
		progress = false
		for i := 0; i < len(e.stash); i++ {
			s := e.stash[i]
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
			e.ingestRun(ch, evs, now)
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
		from, to := wantRange(h, c.seq, e.pend[a])
		// We hold the claimed tip (a transfer's signed end) beyond the
		// hole: the hole needs no signature.
		bare := to < c.seq && e.pend[a] != nil && e.pend[a].contains(c.seq)
		if c.attempts >= 2 {
			// The precise range did not help (the gap buffer may hold
			// something bogus): ask for everything above our frontier.
			from, to, bare = h+1, c.seq, false
		}
		ch.wants[a] = WantRange{Author: a, From: from, To: to, Bare: bare}
		if ch.wantDue < 0 {
			ch.wantDue = now + e.rnd(e.cfg.HoldBackMs)
		}
		c.attempts++
		c.nextAt = now + e.cfg.WantAfterMs<<min(c.attempts, 6)
	}
}

// wantRange returns the range to ask for when our frontier is h, a
// neighbour claimed up to seq, and pend holds what waits in the gap buffer:
// the first span above h that is not pending; if everything up to the
// claim is pending (waiting for a signature), the claimed tip itself, which
// a server sends signed or extends to the next signed event.
func wantRange(h, seq uint64, pend *seqSet) (from, to uint64) {
	from, to = h+1, seq
	if pend == nil {
		return from, to
	}
	pend.removeBelow(h)
	for _, sp := range pend.spans {
		if sp.From > from {
			return from, min(to, sp.From-1)
		}
		if sp.To >= from {
			from = sp.To + 1
		}
	}
	if from > seq {
		return seq, seq
	}
	return from, to
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
	if ch.frontierDue >= 0 && now >= ch.frontierDue {
		if quiet := ch.lastSliceAt + e.cfg.QuietMs; now < quiet {
			ch.frontierDue = quiet // others are sending: answer later
		} else {
			n := e.sendFrontier(ch)
			ch.frontierDue = -1
			ch.frontierSentAt = now
			ch.frontierHashSent = e.durHash
			ch.nextTx = now + int64(n)*e.cfg.TxSpacingMs
			return
		}
	}
	if ch.pushDue >= 0 && now >= ch.pushDue {
		sent := e.sendSlice(ch, now)
		if sent {
			ch.nextTx = now + e.cfg.TxSpacingMs
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
		ch.nextTx = now + e.cfg.TxSpacingMs
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
	ch.nextTx = max(ch.nextTx, nowMs+e.cfg.TxSpacingMs)
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
		w := ch.wants[a]
		if size+wantSize(w)+arrayHeaderSize(len(m.Ranges)+1)-1 > ch.limit {
			break
		}
		size += wantSize(w)
		m.Ranges = append(m.Ranges, w)
	}
	clear(ch.wants)
	if len(m.Ranges) > 0 {
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
				continue
			}
			msg, last, open, err := e.buildSlice(ch, a, sp.From, min(sp.To, dur), dur)
			if err != nil {
				e.report(Report{Kind: ReportUnsendable, Peer: ch.peer, Author: a, Seq: sp.From, Err: err})
				set.remove(sp.From, sp.From)
				continue
			}
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
			}
			ch.sent[a] = sentMark{to: last, at: now}
			e.emit(ch, msg)
			return true
		}
		delete(ch.push, a)
	}
	return false
}
