package transport

import (
	"errors"
	"fmt"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

// LinkStatus is the state of a link (RNS/Link.py PENDING … CLOSED).
type LinkStatus uint8

// Link states.
const (
	// LinkPending: the initiator sent its request and awaits the proof.
	LinkPending LinkStatus = iota
	// LinkHandshake: the responder sent its proof and awaits the RTT packet.
	LinkHandshake
	// LinkActive: keys are established and traffic flows.
	LinkActive
	// LinkStale: nothing was heard for the stale time; the link closes
	// unless traffic arrives within RTT × 4 + 5 s.
	LinkStale
	// LinkClosed: torn down or timed out; the link is forgotten.
	LinkClosed
)

func (s LinkStatus) String() string {
	switch s {
	case LinkPending:
		return "pending"
	case LinkHandshake:
		return "handshake"
	case LinkActive:
		return "active"
	case LinkStale:
		return "stale"
	case LinkClosed:
		return "closed"
	}
	return fmt.Sprintf("LinkStatus(%d)", uint8(s))
}

// CloseReason says why a link closed (RNS/Link.py TIMEOUT,
// INITIATOR_CLOSED, DESTINATION_CLOSED).
type CloseReason uint8

// Close reasons.
const (
	ReasonTimeout           CloseReason = rns.TeardownTimeout
	ReasonInitiatorClosed   CloseReason = rns.TeardownInitiatorClosed
	ReasonDestinationClosed CloseReason = rns.TeardownDestinationClosed
)

func (r CloseReason) String() string {
	switch r {
	case ReasonTimeout:
		return "timeout"
	case ReasonInitiatorClosed:
		return "initiator closed"
	case ReasonDestinationClosed:
		return "destination closed"
	}
	return fmt.Sprintf("CloseReason(%d)", uint8(r))
}

// Link errors.
var (
	// ErrNoLink reports an unknown or closed link id.
	ErrNoLink = errors.New("transport: no such link")
	// ErrLinkNotActive reports a send on a link that is not established.
	ErrLinkNotActive = errors.New("transport: link not active")
	// ErrLinkPayload reports a payload larger than the link MDU.
	ErrLinkPayload = errors.New("transport: payload larger than link MDU")
	// ErrLinkInterface reports a link packet received on another interface
	// than the one the link is attached to (the reference ignores those).
	ErrLinkInterface = errors.New("transport: link packet on unexpected interface")
)

// LinkInfo is a snapshot of a link's state.
type LinkInfo struct {
	ID          rns.Hash
	Destination rns.Hash // the SINGLE destination the link leads to (local for a responder)
	Initiator   bool
	Status      LinkStatus
	Reason      CloseReason // when Status is LinkClosed
	RTT         time.Duration
	MTU, MDU    int
	Keepalive   time.Duration
	Interface   string
	Hops        int
	// RemoteIdentity is the identity the initiator revealed with
	// LINKIDENTIFY (responder side), or the destination's (initiator side).
	RemoteIdentity *rns.Identity
	TxPackets      uint64
	RxPackets      uint64
}

// link is one link's protocol state. All methods take the current time; the
// router owns sending. Timing follows RNS/Link.py __watchdog_job.
type link struct {
	id          rns.Hash
	destination rns.Hash
	initiator   bool
	status      LinkStatus
	reason      CloseReason
	iface       Interface
	hops        int
	remote      *rns.Identity

	pending *rns.LinkInitiator // initiator, until the proof arrives
	session *rns.LinkSession
	local   *localDest // responder's destination

	requestTime          time.Time
	activatedAt          time.Time
	lastInbound          time.Time
	lastOutbound         time.Time
	lastKeepalive        time.Time
	staleSince           time.Time
	establishmentTimeout time.Duration
	rtt                  time.Duration
	keepalive            time.Duration
	staleTime            time.Duration

	tx, rx uint64
}

func (l *link) info() LinkInfo {
	li := LinkInfo{
		ID: l.id, Destination: l.destination, Initiator: l.initiator, Status: l.status,
		Reason: l.reason, RTT: l.rtt, Keepalive: l.keepalive, Hops: l.hops,
		RemoteIdentity: l.remote, TxPackets: l.tx, RxPackets: l.rx,
	}
	if l.iface != nil {
		li.Interface = l.iface.Name()
	}
	if l.session != nil {
		li.MTU, li.MDU = l.session.MTU(), l.session.MDU()
	}
	return li
}

// setRTT stores the RTT and derives the keepalive and stale intervals
// (RNS/Link.py __update_keepalive).
func (l *link) setRTT(rtt time.Duration) {
	l.rtt = rtt
	l.keepalive = rns.KeepaliveInterval(rtt)
	l.staleTime = l.keepalive * rns.StaleFactor
}

// lastHeard is the newest of the last inbound packet and the activation.
func (l *link) lastHeard() time.Time {
	if l.activatedAt.After(l.lastInbound) {
		return l.activatedAt
	}
	return l.lastInbound
}

// linkAction is what tick asks the router to do.
type linkAction uint8

const (
	actNone linkAction = iota
	actKeepalive
	actTeardownTimeout // send LINKCLOSE, then close with ReasonTimeout
	actCloseTimeout    // close with ReasonTimeout without sending
)

// tick advances the link's timers (RNS/Link.py __watchdog_job).
func (l *link) tick(now time.Time) linkAction {
	switch l.status {
	case LinkPending, LinkHandshake:
		if !now.Before(l.requestTime.Add(l.establishmentTimeout)) {
			return actCloseTimeout
		}
	case LinkActive:
		heard := l.lastHeard()
		if !now.Before(heard.Add(l.staleTime)) {
			l.status = LinkStale
			l.staleSince = now
			return actNone
		}
		if !now.Before(heard.Add(l.keepalive)) || !now.Before(l.lastOutbound.Add(l.keepalive)) {
			if l.initiator && !now.Before(l.lastKeepalive.Add(l.keepalive)) {
				return actKeepalive
			}
		}
	case LinkStale:
		if !now.Before(l.staleSince.Add(l.rtt*rns.KeepaliveTimeoutFactor + rns.StaleGrace)) {
			return actTeardownTimeout
		}
	}
	return actNone
}

// nextDeadline returns when tick next has something to do.
func (l *link) nextDeadline() time.Time {
	switch l.status {
	case LinkPending, LinkHandshake:
		return l.requestTime.Add(l.establishmentTimeout)
	case LinkActive:
		heard := l.lastHeard()
		d := heard.Add(l.staleTime)
		if l.initiator {
			ka := heard.Add(l.keepalive)
			if o := l.lastOutbound.Add(l.keepalive); o.Before(ka) {
				ka = o
			}
			if k := l.lastKeepalive.Add(l.keepalive); k.After(ka) {
				ka = k
			}
			if ka.Before(d) {
				d = ka
			}
		}
		return d
	case LinkStale:
		return l.staleSince.Add(l.rtt*rns.KeepaliveTimeoutFactor + rns.StaleGrace)
	}
	return time.Time{}
}
