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
	// ViewChanges lists what the accepted events changed in the view
	// since the last Ready, in fold order.
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
	// membersChanged: an accepted event changed the membership since the
	// stash was last retried (a stashed run's author may now resolve).
	membersChanged bool
	// floodIn holds events accepted from pushes (KindPush) and not yet
	// durable: once durable they are relayed (bounded by MaxClaims authors).
	floodIn map[rns.Hash]*seqSet
	now     int64 // latest time seen
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
	// relay holds events new to us (someone else's) until their random
	// relay time relayAt (one per author, so that an author's events
	// waiting together go out together); hearing a neighbour send them
	// first removes them (suppress).
	relay   map[rns.Hash]*seqSet
	relayAt map[rns.Hash]int64
	// flood marks the parts of push that are fresh events being flooded
	// (our own new events, relays): they go out as KindPush.
	flood   map[rns.Hash]*seqSet
	sent    map[rns.Hash]sentMark
	sigDebt map[rns.Hash]int // unsigned run bytes sent since the last signature

	wants   map[rns.Hash][]WantRange // wants to send
	wantDue int64

	nextTx  int64   // earliest time for the next data message
	spacing int64   // TxSpacingMs or PeerTxSpacingMs
	heard   []int64 // when recent data messages from others were heard (channel load)

	// unsent counts our data messages not yet confirmed on air by Sent
	// (Config.AwaitSent), the last emitted at lastEmitAt.
	unsent     int
	lastEmitAt int64

	// servedHash is the hash of the last complete frontier heard on this
	// channel that showed nothing we lack (valid if servedValid): beacons
	// with that hash need slices from us, not our frontier.
	servedHash  uint64
	servedValid bool

	// askedAt is when we last asked on this channel (sent a frontier or
	// wants, or heard a frontier equal to our state, which asks for us):
	// answers heard soon after are for us and our like, so we do not
	// relay them.
	askedAt int64
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
	have     uint64 // our accepted seq when the last want was planned
	attempts int    // wants sent without progress
	nextAt   int64  // when the next want may go
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
		floodIn:  map[rns.Hash]*seqSet{},
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
		relay:          map[rns.Hash]*seqSet{},
		relayAt:        map[rns.Hash]int64{},
		flood:          map[rns.Hash]*seqSet{},
		sent:           map[rns.Hash]sentMark{},
		sigDebt:        map[rns.Hash]int{},
		wants:          map[rns.Hash][]WantRange{},
		bare:           map[rns.Hash]*seqSet{},
		wantDue:        -1,
		nextTx:         now,
		askedAt:        never,
		spacing:        e.cfg.TxSpacingMs,
	}
	if !p.IsBroadcast() {
		ch.spacing = e.cfg.PeerTxSpacingMs
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
	// New durable data: beacon soon so that neighbours that did not hear
	// it notice; the inconsistency they then show resets the timers.
	e.forChannels(func(ch *channel) { ch.trickle.Hurry(e.now, e.cfg.Rand) })
	self := e.self()
	for _, s := range rd.Persist {
		if s.Seq > e.durable[s.Author] {
			continue
		}
		switch {
		case e.cfg.Identity != nil && s.Author == self:
			// Our own fresh events: nobody else has them, push eagerly
			// (batched by AppendDelayMs).
			e.forChannels(func(ch *channel) {
				e.schedulePush(ch, self, s.Seq, s.Seq, e.now+e.cfg.AppendDelayMs, false)
				markSet(ch.flood, self, s.Seq, s.Seq)
			})
		case e.takeFloodIn(s.Author, s.Seq) && e.cfg.RelayWindowMs > 0:
			// Someone else's fresh event (it came in a push), new to us:
			// relay it on the broadcast channel after a random delay,
			// unless a neighbour is heard sending it first (suppress):
			// counter-based flooding.
			e.scheduleRelay(e.bcast, s.Author, s.Seq)
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
