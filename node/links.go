package node

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/node/config"
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/rns/transport"
)

// Link sync: peers of the dataset that the node's GROUP broadcasts do not
// reach — announced from more than one hop away (through a Reticulum
// transport node such as rnsd), or on an interface configured with
// sync = links — are synced over Reticulum links to their meshlogd.node
// SINGLE destination (forward secrecy, link MDU 431 bytes).
//
// Who opens: the node whose identity hash is smaller opens the link as soon
// as it hears the peer's announce; the other one opens it only if no link
// has come up linkFallbackDelay after it became due (the smaller node may
// not have heard its announce). Should both links come up anyway, both
// nodes keep the one opened by the smaller identity.
//
// Who is on the other end: the initiator knows the responder from its
// announce; the responder learns the initiator's identity from
// LINKIDENTIFY, which the initiator sends as soon as the link is
// established. Either side closes a link to an identity that is not a
// current member of the dataset, and the responder closes a link whose
// initiator does not identify within linkIdentifyTimeout.
//
// Then the peer gets its own channel in the engine (gossip.PeerID = the
// peer's identity hash, payload limit = the link MDU): messages the engine
// addresses to it go out with Router.LinkSend, data received on the link is
// stepped as coming from it. A closed link removes the channel; the link is
// opened again with exponential backoff while the peer keeps announcing.
// At most maxLinkPeers peers have a link at a time.
//
// Locking: link state has its own mutex (lm.mu), a leaf: nothing else is
// locked while it is held. The engine's n.mu is taken before lm.mu (the
// outbox queues link messages under n.mu), and Stack.Do is never called
// with n.mu held: the queued messages are sent by the link goroutine.

// Link sync tuning.
const (
	// maxLinkPeers bounds the peers with a link (the engine's own bound).
	maxLinkPeers = gossip.DefaultMaxPeers
	// maxLinkCandidates bounds the dataset peers remembered from announces.
	maxLinkCandidates = 256
	// linkIdentifyTimeout: a responder closes a link whose initiator has not
	// identified within this time.
	linkIdentifyTimeout = 20 * time.Second
	// linkFallbackDelay: how long the node with the larger identity hash
	// waits for the smaller one to open a due link before opening it itself.
	linkFallbackDelay = 15 * time.Second
	// linkRetryMin and linkRetryMax bound the backoff between attempts.
	linkRetryMin = 5 * time.Second
	linkRetryMax = 10 * time.Minute
	// linkStable: a link that lived this long resets the backoff.
	linkStable = time.Minute
	// linkPeerExpiry: a peer not heard announcing for this long is no
	// longer linked to again (it announces every AnnounceInterval).
	linkPeerExpiry = 2*AnnounceInterval + 30*time.Minute
	// linkQueueMax bounds messages waiting for the link goroutine.
	linkQueueMax = 256
	// reannounceGap: a tcp_client uplink (re)connecting triggers an
	// announce (so that peers behind it can open links), at most this often
	// (the announce goes out on every interface, radios included).
	reannounceGap = 10 * time.Minute
	// pathWait: after a path request, the wait before opening the link.
	pathWait = 3 * time.Second
	// linkTickInterval is the link goroutine's housekeeping period.
	linkTickInterval = time.Second
	// linkRenewAge: a new announce from a peer replaces a link at least
	// this old (a younger one was opened in answer to that announce).
	linkRenewAge = 10 * time.Second
	// answerQuiet: a new announce from a link peer with a smaller identity
	// hash is answered with our own announce, at most this often (an
	// announce costs about a second of LoRa airtime).
	answerQuiet = 5 * time.Minute
	// answerDelay: the wait before such an answer.
	answerDelay = time.Second
)

// Link states shown in PeerStatus.Link.
const (
	LinkStateOpening     = "opening"     // we sent a link request
	LinkStateIdentifying = "identifying" // established; waiting for LINKIDENTIFY
	LinkStateActive      = "active"      // syncing over the link
	LinkStateRetry       = "retry"       // no link; another attempt is due later
	LinkStateWaiting     = "waiting"     // no link; due, the peer is expected to open it
)

type linkState uint8

const (
	lsOpening linkState = iota
	lsIdentifying
	lsActive
)

// linkPeer is a dataset member known from an announce or from a link.
type linkPeer struct {
	id        rns.Hash // identity hash, also the engine's PeerID
	dest      rns.Hash // its meshlogd.node destination
	announced time.Time
	eligible  bool // its last announce came where GROUP does not reach
	link      *linkConn
	failures  int
	retryAt   time.Time // earliest next attempt (zero: now)
	needPath  bool      // request the path before the next attempt
	lastErr   string

	sentMsgs, recvMsgs uint64
}

// linkConn is one Reticulum link the manager tracks.
type linkConn struct {
	id        rns.Hash
	initiator bool
	peer      *linkPeer // nil until the initiator identified (responder)
	state     linkState
	since     time.Time // when the current state began
	rtt       time.Duration
	mdu       int
	iface     string
	renew     bool // closed to be replaced: retry at once, no backoff
}

type queuedMsg struct {
	link rns.Hash
	peer *linkPeer
	msg  gossip.Message
}

// linkManager runs link sync for one Run of a node.
type linkManager struct {
	n      *Node
	rt     *runtimeState
	self   rns.Hash
	prefix string // "meshlogd:<dataset tag hex>"
	wake   chan struct{}
	start  time.Time

	mu         sync.Mutex
	peers      map[rns.Hash]*linkPeer // by identity hash
	links      map[rns.Hash]*linkConn // by link id
	queue      []queuedMsg
	downIfaces []string
	announceAt time.Time // zero: no extra announce wanted
	kicked     bool      // something changed: maintain at the next wake-up
	lastAnswer time.Time // when an answer announce was last scheduled
	lastUplink time.Time // when an uplink announce was last scheduled
	dropped    uint64    // link messages dropped (queue full, no link, send error)
	refused    uint64    // links closed because the other end is not a member
}

func newLinkManager(n *Node, rt *runtimeState) *linkManager {
	tag := n.eng.Tag()
	return &linkManager{
		n: n, rt: rt, self: n.id.Hash(), wake: make(chan struct{}, 1), start: n.clock.now(),
		prefix: string(n.announceAppData()[:len("meshlogd:")+2*len(tag)]),
		peers:  map[rns.Hash]*linkPeer{}, links: map[rns.Hash]*linkConn{},
	}
}

// kick asks for housekeeping (maintain) at the next wake-up.
func (lm *linkManager) kick() {
	lm.mu.Lock()
	lm.kicked = true
	lm.mu.Unlock()
	lm.poke()
}

func (lm *linkManager) poke() {
	select {
	case lm.wake <- struct{}{}:
	default:
	}
}

// syncModeOf returns the sync mode of the up interface named name
// (TCP server connections are sub-interfaces named after their server).
func (rt *runtimeState) syncModeOf(name string) string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, info := range rt.ifaces {
		if info.name == name {
			return info.sync
		}
	}
	return config.SyncGroup
}

// dispatch is the node's outbox while Run is active: broadcast messages go
// to the GROUP destination, peer messages to their links. Called with n.mu
// held.
func (rt *runtimeState) dispatch(msgs []gossip.Message) {
	if !slices.ContainsFunc(msgs, func(m gossip.Message) bool { return !m.To.IsBroadcast() }) {
		rt.broadcast(msgs)
		return
	}
	var bcast []gossip.Message
	for _, m := range msgs {
		if m.To.IsBroadcast() {
			bcast = append(bcast, m)
		} else {
			rt.links.enqueue(m)
		}
	}
	if len(bcast) > 0 {
		rt.broadcast(bcast)
	}
	rt.links.poke()
}

// enqueue queues a peer message for its link (lm.mu is a leaf lock: the
// caller may hold n.mu). Every message is reported to the engine as sent
// (gossip AwaitSent) once handed to the router, or at once if dropped.
func (lm *linkManager) enqueue(m gossip.Message) {
	lm.mu.Lock()
	p := lm.peers[rns.Hash(m.To)]
	if p == nil || p.link == nil || p.link.state != lsActive || len(lm.queue) >= linkQueueMax {
		lm.dropped++
		lm.mu.Unlock()
		lm.rt.noteSent(m)
		return
	}
	lm.queue = append(lm.queue, queuedMsg{link: p.link.id, peer: p, msg: m})
	lm.mu.Unlock()
}

// uplinkUp asks for an announce when a tcp_client uplink (re)connects, so
// that dataset peers behind it can reach this node.
func (lm *linkManager) uplinkUp() {
	now := lm.n.clock.now()
	lm.mu.Lock()
	// announceLoop announces shortly after start anyway.
	if now.Sub(lm.start) > 5*time.Second && (lm.lastUplink.IsZero() || now.Sub(lm.lastUplink) >= reannounceGap) {
		lm.lastUplink = now
		lm.scheduleAnnounceLocked(now.Add(2 * time.Second))
	}
	// The transport node behind the uplink may have restarted and lost its
	// paths: peers without a link get a fresh path and an attempt soon.
	for _, p := range lm.peers {
		if !p.eligible {
			continue
		}
		p.needPath = true
		if p.link == nil {
			p.failures, p.retryAt = 0, now.Add(2*time.Second)
		}
	}
	lm.mu.Unlock()
	lm.kick()
}

// scheduleAnnounceLocked asks for an announce at (or before) at.
func (lm *linkManager) scheduleAnnounceLocked(at time.Time) {
	if lm.announceAt.IsZero() || at.Before(lm.announceAt) {
		lm.announceAt = at
	}
}

// interfaceDown closes the links that ran over a vanished interface.
func (lm *linkManager) interfaceDown(name string) {
	lm.mu.Lock()
	lm.downIfaces = append(lm.downIfaces, name)
	lm.mu.Unlock()
	lm.kick()
}

// onEvent handles one router event (from the event goroutine, no locks held).
func (lm *linkManager) onEvent(ev transport.Event) {
	switch e := ev.(type) {
	case transport.AnnounceEvent:
		lm.onAnnounce(e)
	case transport.LinkEstablishedEvent:
		lm.onEstablished(e.Link)
	case transport.LinkIdentifiedEvent:
		lm.onIdentified(e.LinkID, e.Identity)
	case transport.LinkDataEvent:
		lm.onData(e.LinkID, e.Data)
	case transport.LinkClosedEvent:
		lm.onClosed(e.Link, e.Reason)
	}
}

// isDatasetAnnounce reports whether a carries this dataset's app data
// ("meshlogd:<tag hex>" optionally followed by ":<name>").
func isDatasetAnnounce(appData []byte, prefix string) bool {
	s := string(appData)
	return strings.HasPrefix(s, prefix) && (len(s) == len(prefix) || s[len(prefix)] == ':')
}

func (lm *linkManager) onAnnounce(a transport.AnnounceEvent) {
	if !a.Valid || a.Identity == nil || a.Identity.Hash() == lm.self {
		return
	}
	if !isDatasetAnnounce(a.AppData, lm.prefix) {
		return
	}
	if d, err := rns.NewDestination(a.Identity, rns.Out, rns.Single, "meshlogd", "node"); err != nil || d.Hash() != a.Destination {
		return // not a meshlogd.node destination, whatever its app data says
	}
	mode := lm.rt.syncModeOf(a.Interface)
	eligible := mode == config.SyncLinks || (mode == config.SyncBoth && a.Hops > 1)
	now := lm.n.clock.now()
	id := a.Identity.Hash()
	lm.mu.Lock()
	p := lm.peers[id]
	if p == nil {
		if len(lm.peers) >= maxLinkCandidates && !lm.evictIdleLocked() {
			lm.mu.Unlock()
			return
		}
		p = &linkPeer{id: id}
		lm.peers[id] = p
	}
	p.dest, p.announced = a.Destination, now
	var stale rns.Hash
	switch {
	case p.link == nil && a.PathUpdated && eligible:
		// A new announce: the peer (re)started or came back; try at once.
		p.failures, p.retryAt = 0, now
	case p.link == nil && eligible && !p.eligible && p.retryAt.Before(now):
		p.retryAt = now // newly due: the fallback delay counts from here
	case p.link != nil && a.PathUpdated && p.link.state == lsActive && now.Sub(p.link.since) >= linkRenewAge:
		// Nodes announce when they start or reconnect (and every
		// AnnounceInterval): the link is probably dead on the other end.
		// Replace it now rather than after the link's stale timeout.
		p.link.renew = true
		stale = p.link.id
	}
	p.eligible = eligible
	if eligible && a.PathUpdated && bytes.Compare(id[:], lm.self[:]) < 0 &&
		(lm.lastAnswer.IsZero() || now.Sub(lm.lastAnswer) >= answerQuiet) {
		// The peer is the one to open the link, and it may not know our
		// destination (it just started): answer with our announce. Only
		// the larger identity answers, so answers are never answered.
		lm.lastAnswer = now
		lm.scheduleAnnounceLocked(now.Add(answerDelay))
	}
	lm.mu.Unlock()
	if stale != (rns.Hash{}) {
		lm.closeLink(stale)
	}
	lm.kick()
}

// evictIdleLocked forgets the least recently announced peer without a
// link; false if every peer has one.
func (lm *linkManager) evictIdleLocked() bool {
	var victim *linkPeer
	for _, p := range lm.peers {
		if p.link == nil && (victim == nil || p.announced.Before(victim.announced)) {
			victim = p
		}
	}
	if victim == nil {
		return false
	}
	delete(lm.peers, victim.id)
	return true
}

func (lm *linkManager) onEstablished(info transport.LinkInfo) {
	now := lm.n.clock.now()
	lm.mu.Lock()
	lc := lm.links[info.ID]
	if info.Initiator {
		if lc == nil || lc.peer == nil {
			lm.mu.Unlock()
			lm.closeLink(info.ID) // a link we gave up on meanwhile
			return
		}
		lc.rtt, lc.mdu, lc.iface = info.RTT, info.MDU, info.Interface
		lm.mu.Unlock()
		err := lm.rt.stack.Do(func(r *transport.Router, now time.Time) error {
			return r.IdentifyLink(info.ID, lm.n.id, now)
		})
		if err != nil {
			lm.n.log.Warn("link identify", "link", info.ID.String(), "err", err)
			lm.closeLink(info.ID)
			return
		}
		lm.activate(info.ID)
		return
	}
	// Responder: wait for the initiator's identity.
	if lc == nil {
		lc = &linkConn{id: info.ID}
		lm.links[info.ID] = lc
	}
	lc.state, lc.since = lsIdentifying, now
	lc.rtt, lc.mdu, lc.iface = info.RTT, info.MDU, info.Interface
	lm.mu.Unlock()
	if info.RemoteIdentity != nil {
		// LINKIDENTIFY overtook the initiator's RTT packet: the router
		// reported it before the link was established.
		lm.onIdentified(info.ID, info.RemoteIdentity)
	}
	lm.kick()
}

func (lm *linkManager) onIdentified(linkID rns.Hash, id *rns.Identity) {
	lm.mu.Lock()
	lc := lm.links[linkID]
	if lc == nil || lc.initiator || lc.state != lsIdentifying || id == nil {
		lm.mu.Unlock()
		return
	}
	lm.mu.Unlock()
	who := id.Hash()
	if who == lm.self || !lm.n.isCurrentMember(who) {
		lm.n.log.Info("link refused: not a member of the dataset", "link", linkID.String(), "identity", who.String())
		lm.mu.Lock()
		lm.refused++
		lm.mu.Unlock()
		lm.closeLink(linkID)
		return
	}
	lm.mu.Lock()
	lc = lm.links[linkID]
	if lc == nil || lc.state != lsIdentifying {
		lm.mu.Unlock()
		return
	}
	p := lm.peers[who]
	if p == nil {
		if len(lm.peers) >= maxLinkCandidates && !lm.evictIdleLocked() {
			lm.mu.Unlock()
			lm.closeLink(linkID)
			return
		}
		p = &linkPeer{id: who}
		lm.peers[who] = p
	}
	if p.dest == (rns.Hash{}) {
		if d, err := rns.NewDestination(id, rns.Out, rns.Single, "meshlogd", "node"); err == nil {
			p.dest = d.Hash()
		}
	}
	lc.peer = p
	lm.mu.Unlock()
	lm.activate(linkID)
}

// activate makes an identified link the peer's sync channel, resolving a
// duplicate link and enforcing the peer bound.
func (lm *linkManager) activate(linkID rns.Hash) {
	now := lm.n.clock.now()
	var closeIDs []rns.Hash
	lm.mu.Lock()
	lc := lm.links[linkID]
	if lc == nil || lc.peer == nil {
		lm.mu.Unlock()
		return
	}
	p := lc.peer
	if old := p.link; old != nil && old != lc {
		// An established link beats one still being set up; of two
		// established ones, both ends keep the same.
		if old.state == lsActive && lm.preferLocked(old, lc) == old {
			lm.mu.Unlock()
			lm.closeLink(linkID)
			return
		}
		closeIDs = append(closeIDs, old.id)
		old.peer = nil // its close event must not touch the peer
	} else if old == nil && lm.linkedPeersLocked() >= maxLinkPeers {
		lm.mu.Unlock()
		lm.n.log.Info("link refused: too many link peers", "link", linkID.String())
		lm.closeLink(linkID)
		return
	}
	p.link = lc
	lc.state, lc.since = lsActive, now
	p.lastErr = ""
	limit := gossip.LinkPayloadLimit
	if lc.mdu >= gossip.MinPayloadLimit && lc.mdu < limit {
		limit = lc.mdu
	}
	lm.mu.Unlock()
	for _, id := range closeIDs {
		lm.closeLink(id)
	}
	lm.n.log.Info("link sync active", "peer", p.id.String(), "link", linkID.String(), "initiator", lc.initiator, "rtt", lc.rtt)
	lm.n.addLinkPeer(gossip.PeerID(p.id), limit)
}

// preferLocked picks which of two links to one peer to keep: the one opened
// by the smaller identity hash (both ends decide alike); of two opened by
// the same side, the newer one (the other end restarted).
func (lm *linkManager) preferLocked(a, b *linkConn) *linkConn {
	opener := func(l *linkConn) rns.Hash {
		if l.initiator {
			return lm.self
		}
		return l.peer.id
	}
	oa, ob := opener(a), opener(b)
	switch c := bytes.Compare(oa[:], ob[:]); {
	case c < 0:
		return a
	case c > 0:
		return b
	}
	return b
}

func (lm *linkManager) linkedPeersLocked() int {
	k := 0
	for _, p := range lm.peers {
		if p.link != nil {
			k++
		}
	}
	return k
}

func (lm *linkManager) onData(linkID rns.Hash, data []byte) {
	lm.mu.Lock()
	lc := lm.links[linkID]
	if lc == nil || lc.state != lsActive || lc.peer == nil || lc.peer.link != lc {
		lm.mu.Unlock()
		return // not (yet) a sync channel: nothing from an unidentified end is read
	}
	p := lc.peer
	p.recvMsgs++
	lm.mu.Unlock()
	lm.n.stepPeer(gossip.PeerID(p.id), data)
}

func (lm *linkManager) onClosed(info transport.LinkInfo, reason transport.CloseReason) {
	now := lm.n.clock.now()
	lm.mu.Lock()
	lc := lm.links[info.ID]
	if lc == nil {
		lm.mu.Unlock()
		return
	}
	delete(lm.links, info.ID)
	p := lc.peer
	if p == nil || p.link != lc {
		lm.mu.Unlock()
		return
	}
	p.link = nil
	wasActive := lc.state == lsActive
	if lc.state == lsOpening {
		p.needPath = true // the request went nowhere: the path may be stale
	}
	switch {
	case lc.renew:
		p.failures, p.retryAt = 0, now
	default:
		if wasActive && now.Sub(lc.since) >= linkStable {
			p.failures = 0
		}
		p.failures++
		p.retryAt = now.Add(lm.backoff(p.failures))
		p.lastErr = "link closed: " + reason.String()
	}
	lm.mu.Unlock()
	if wasActive {
		lm.n.removeLinkPeer(gossip.PeerID(p.id))
	}
	lm.n.log.Info("link closed", "peer", p.id.String(), "link", info.ID.String(), "reason", reason.String())
	lm.kick()
}

// backoff is linkRetryMin·2^(failures-1), capped, with ±25 % jitter.
func (lm *linkManager) backoff(failures int) time.Duration {
	d := linkRetryMin
	for i := 1; i < failures && d < linkRetryMax; i++ {
		d *= 2
	}
	d = min(d, linkRetryMax)
	j := time.Duration(lm.n.randUint64() % uint64(d/2+1))
	return d - d/4 + j
}

func (lm *linkManager) closeLink(id rns.Hash) {
	err := lm.rt.stack.Do(func(r *transport.Router, now time.Time) error { return r.CloseLink(id, now) })
	if err != nil && !errors.Is(err, transport.ErrNoLink) {
		lm.n.log.Debug("closing link", "link", id.String(), "err", err)
	}
	if errors.Is(err, transport.ErrNoLink) {
		// Already gone without an event we saw: forget it here.
		lm.onClosed(transport.LinkInfo{ID: id}, transport.ReasonTimeout)
	}
}

// run sends queued link messages and does the housekeeping: identify
// timeouts, (re)opening links, extra announces. It returns when ctx ends.
func (lm *linkManager) run(ctx context.Context) {
	t := time.NewTicker(linkTickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-lm.wake:
			lm.sendQueued()
			lm.mu.Lock()
			kicked := lm.kicked
			lm.mu.Unlock()
			if !kicked {
				continue // only messages to send: housekeeping waits for the tick
			}
		case <-t.C:
			lm.sendQueued()
		}
		lm.maintain()
	}
}

func (lm *linkManager) sendQueued() {
	lm.mu.Lock()
	q := lm.queue
	lm.queue = nil
	lm.mu.Unlock()
	if len(q) == 0 {
		return
	}
	failed := make([]bool, len(q))
	_ = lm.rt.stack.Do(func(r *transport.Router, now time.Time) error {
		for i, m := range q {
			if _, err := r.LinkSend(m.link, m.msg.Payload, now); err != nil {
				failed[i] = true
			}
		}
		return nil
	})
	lm.mu.Lock()
	for i, m := range q {
		if failed[i] {
			lm.dropped++
		} else {
			m.peer.sentMsgs++
		}
	}
	lm.mu.Unlock()
	for _, m := range q {
		lm.rt.noteSent(m.msg) // on the wire (links have no airtime queue here)
	}
}

// maintain closes links that must go and opens links that are due.
func (lm *linkManager) maintain() {
	now := lm.n.clock.now()
	var closeIDs []rns.Hash
	type candidate struct{ id, dest rns.Hash }
	var open []candidate
	var announce bool

	lm.mu.Lock()
	lm.kicked = false
	down := lm.downIfaces
	lm.downIfaces = nil
	for _, lc := range lm.links {
		if lc.state == lsIdentifying && now.Sub(lc.since) >= linkIdentifyTimeout {
			closeIDs = append(closeIDs, lc.id)
			continue
		}
		for _, name := range down {
			if lc.iface == name {
				closeIDs = append(closeIDs, lc.id)
			}
		}
	}
	linked := lm.linkedPeersLocked()
	for _, p := range lm.peers {
		if p.link != nil || !p.eligible || now.Sub(p.announced) > linkPeerExpiry {
			continue
		}
		due := p.retryAt
		if bytes.Compare(lm.self[:], p.id[:]) > 0 {
			due = due.Add(linkFallbackDelay) // the smaller identity opens first
		}
		if now.Before(due) || linked+len(open) >= maxLinkPeers {
			continue
		}
		open = append(open, candidate{p.id, p.dest})
	}
	if !lm.announceAt.IsZero() && !now.Before(lm.announceAt) {
		announce = true
		lm.announceAt = time.Time{}
	}
	lm.mu.Unlock()

	for _, id := range closeIDs {
		lm.closeLink(id)
	}
	// Active link peers that are no longer members lose their link.
	for _, id := range lm.activePeerIDs() {
		if !lm.n.isCurrentMember(id.peer) {
			lm.n.log.Info("closing link: peer is no longer a member", "peer", id.peer.String())
			lm.closeLink(id.link)
		}
	}
	for _, c := range open {
		if !lm.n.isCurrentMember(c.id) {
			continue // perhaps later, once its admission has arrived
		}
		lm.open(c.id, c.dest, now)
	}
	if announce {
		err := lm.rt.stack.Do(func(r *transport.Router, now time.Time) error {
			return r.Announce(lm.rt.single.Hash(), lm.n.announceAppData(), now)
		})
		if err != nil {
			lm.n.log.Warn("announce", "err", err)
		} else {
			lm.n.log.Debug("announced so that link peers can reach this node")
		}
	}
}

// errNoPath: a link was due but the router has no live path to the peer;
// errPathRefresh: the path is being refreshed before the next attempt.
var (
	errNoPath      = errors.New("no path to the peer (path requested)")
	errPathRefresh = errors.New("refreshing the path to the peer")
)

type peerLink struct{ peer, link rns.Hash }

func (lm *linkManager) activePeerIDs() []peerLink {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	var out []peerLink
	for _, p := range lm.peers {
		if p.link != nil && p.link.state == lsActive {
			out = append(out, peerLink{p.id, p.link.id})
		}
	}
	return out
}

// open sends a link request to a peer's destination. The link is recorded
// inside Stack.Do so that its establishment event always finds it.
func (lm *linkManager) open(id, dest rns.Hash, now time.Time) {
	refresh := false
	err := lm.rt.stack.Do(func(r *transport.Router, at time.Time) error {
		lm.mu.Lock()
		if p := lm.peers[id]; p != nil {
			refresh, p.needPath = p.needPath, false
		}
		lm.mu.Unlock()
		if _, ok := r.Path(dest, at); !ok || refresh {
			// A link request without a path is not forwarded by transport
			// nodes, nor one along a path a transport node forgot (it
			// restarted; our last request timed out): ask for the path,
			// open on the next attempt.
			if err := r.RequestPath(dest, at); err != nil {
				return err
			}
			if refresh {
				return errPathRefresh
			}
			return errNoPath
		}
		linkID, err := r.OpenLink(dest, at)
		if err != nil {
			return err
		}
		lm.mu.Lock()
		defer lm.mu.Unlock()
		p := lm.peers[id]
		if p == nil || p.link != nil {
			return nil // raced with an incoming link; the duplicate rule sorts it out
		}
		lc := &linkConn{id: linkID, initiator: true, peer: p, state: lsOpening, since: at}
		lm.links[linkID] = lc
		p.link = lc
		return nil
	})
	if err != nil {
		lm.mu.Lock()
		if p := lm.peers[id]; p != nil && p.link == nil {
			if errors.Is(err, errPathRefresh) {
				p.retryAt = now.Add(pathWait) // a failure was counted already
			} else {
				p.failures++
				p.retryAt = now.Add(lm.backoff(p.failures))
				p.lastErr = err.Error()
			}
		}
		lm.mu.Unlock()
		lm.n.log.Debug("opening link", "peer", id.String(), "err", err)
	}
}

// annotate adds link state to the peer table of status, and lists link
// peers that were never heard announcing.
func (lm *linkManager) annotate(peers []PeerStatus) []PeerStatus {
	now := lm.n.clock.now()
	lm.mu.Lock()
	defer lm.mu.Unlock()
	byID := map[string]int{}
	for i, p := range peers {
		byID[p.Identity] = i
	}
	for _, p := range lm.peers {
		st := lm.peerStatusLocked(p, now)
		if st.Link == "" {
			continue
		}
		i, ok := byID[p.id.String()]
		if !ok {
			if p.link == nil {
				continue
			}
			peers = append(peers, PeerStatus{Destination: p.dest.String(), Identity: p.id.String(), Interface: p.link.iface})
			i = len(peers) - 1
		}
		ps := &peers[i]
		ps.Link, ps.LinkID, ps.LinkRTTMs = st.Link, st.LinkID, st.LinkRTTMs
		ps.LinkSent, ps.LinkReceived, ps.LinkError = p.sentMsgs, p.recvMsgs, p.lastErr
	}
	return peers
}

func (lm *linkManager) peerStatusLocked(p *linkPeer, now time.Time) PeerStatus {
	var s PeerStatus
	if lc := p.link; lc != nil {
		switch lc.state {
		case lsOpening:
			s.Link = LinkStateOpening
		case lsIdentifying:
			s.Link = LinkStateIdentifying
		case lsActive:
			s.Link = LinkStateActive
		}
		s.LinkID = lc.id.String()
		s.LinkRTTMs = float64(lc.rtt.Microseconds()) / 1000
		return s
	}
	if !p.eligible || now.Sub(p.announced) > linkPeerExpiry {
		return s
	}
	if p.failures > 0 {
		s.Link = LinkStateRetry
	} else {
		s.Link = LinkStateWaiting
	}
	return s
}

// linkCounters reports messages dropped and links refused (for tests and status).
func (lm *linkManager) counters() (dropped, refused uint64) {
	lm.mu.Lock()
	defer lm.mu.Unlock()
	return lm.dropped, lm.refused
}

// isCurrentMember reports whether id is an admitted, not removed member.
func (n *Node) isCurrentMember(id rns.Hash) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng.Log().IsMember(id)
}

// addLinkPeer gives a linked peer its own engine channel.
func (n *Node) addLinkPeer(p gossip.PeerID, limit int) {
	n.mu.Lock()
	if n.store != nil && n.fatal == nil {
		if err := n.eng.AddPeer(p, limit, n.nowMs()); err != nil {
			n.log.Warn("adding link peer", "err", err)
		}
	}
	rt := n.runtime
	n.mu.Unlock()
	if rt != nil {
		rt.poke() // the channel's first beacon is due soon
	}
}

// removeLinkPeer drops a peer's engine channel (its link closed).
func (n *Node) removeLinkPeer(p gossip.PeerID) {
	n.mu.Lock()
	n.eng.RemovePeer(p)
	n.mu.Unlock()
}

// stepPeer feeds a sync message received on a peer's link to the engine.
func (n *Node) stepPeer(from gossip.PeerID, payload []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.store == nil || n.fatal != nil {
		return
	}
	if err := n.eng.Step(from, payload, n.nowMs()); err != nil {
		n.log.Debug("link sync message rejected", "peer", from.String(), "err", err)
	}
	if err := n.flushLocked(); err != nil {
		n.log.Warn("persisting received events", "err", err)
	}
	if n.runtime != nil {
		n.runtime.poke()
	}
}
