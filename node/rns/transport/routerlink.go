package transport

import (
	"bytes"
	"fmt"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

// firstHopTimeout is the reference's first-hop allowance: the time to send
// one MTU at the interface bitrate plus the per-hop timeout
// (RNS/Transport.py first_hop_timeout).
func firstHopTimeout(ifc Interface) time.Duration {
	t := rns.EstablishmentTimeoutPerHop
	if ifc != nil && ifc.Bitrate() > 0 {
		t += time.Duration(float64(rns.MTU*8) / float64(ifc.Bitrate()) * float64(time.Second))
	}
	return t
}

// OpenLink starts a link to the announced SINGLE destination dest (its
// identity must be known from an announce) and returns the link id. The
// link becomes usable when a LinkEstablishedEvent arrives; without a proof
// it is closed with ReasonTimeout after the establishment timeout.
func (r *Router) OpenLink(dest rns.Hash, now time.Time) (rns.Hash, error) {
	k, ok := r.known[dest]
	if !ok {
		return rns.Hash{}, ErrUnknownIdentity
	}
	if len(r.links) >= r.cfg.MaxLinks {
		return rns.Hash{}, ErrTooManyLinks
	}
	li, err := rns.NewLinkInitiator(r.cfg.Rand, dest, r.cfg.LinkMTU)
	if err != nil {
		return rns.Hash{}, err
	}
	hops := 1
	var pathIfc Interface
	if p := r.livePath(dest, now); p != nil {
		hops, pathIfc = p.Hops, p.Interface
	}
	l := &link{
		id:          li.ID(),
		destination: dest,
		initiator:   true,
		status:      LinkPending,
		pending:     li,
		remote:      k.identity,
		hops:        hops,
		requestTime: now,
		establishmentTimeout: firstHopTimeout(pathIfc) +
			rns.EstablishmentTimeoutPerHop*time.Duration(max(1, hops)),
	}
	if _, err := r.outbound(li.Request(), now); err != nil {
		return rns.Hash{}, err
	}
	l.lastOutbound = now
	r.links[l.id] = l
	return l.id, nil
}

// LinkInfo returns a snapshot of a link.
func (r *Router) LinkInfo(id rns.Hash) (LinkInfo, bool) {
	l, ok := r.links[id]
	if !ok {
		return LinkInfo{}, false
	}
	return l.info(), true
}

// Links returns snapshots of all links, ordered by id.
func (r *Router) Links() []LinkInfo {
	out := make([]LinkInfo, 0, len(r.links))
	for _, l := range r.links {
		out = append(out, l.info())
	}
	sortLinkInfos(out)
	return out
}

func sortLinkInfos(ls []LinkInfo) {
	for i := 1; i < len(ls); i++ {
		for j := i; j > 0 && bytes.Compare(ls[j].ID[:], ls[j-1].ID[:]) < 0; j-- {
			ls[j], ls[j-1] = ls[j-1], ls[j]
		}
	}
}

// LinkSend sends data (at most the link MDU) as an encrypted DATA packet
// on an established link and returns the packet hash.
func (r *Router) LinkSend(id rns.Hash, data []byte, now time.Time) ([32]byte, error) {
	l, ok := r.links[id]
	if !ok {
		return [32]byte{}, ErrNoLink
	}
	if l.session == nil {
		return [32]byte{}, ErrLinkNotActive
	}
	if len(data) > l.session.MDU() {
		return [32]byte{}, fmt.Errorf("%w: %d > %d bytes", ErrLinkPayload, len(data), l.session.MDU())
	}
	p, err := l.session.Packet(r.cfg.Rand, rns.CtxNone, data)
	if err != nil {
		return [32]byte{}, err
	}
	if err := r.linkSendPacket(l, p, now); err != nil {
		return [32]byte{}, err
	}
	return p.Hash(), nil
}

// IdentifyLink reveals id to the responder of an established link this
// node initiated (LINKIDENTIFY).
func (r *Router) IdentifyLink(linkID rns.Hash, id *rns.Identity, now time.Time) error {
	l, ok := r.links[linkID]
	if !ok {
		return ErrNoLink
	}
	if !l.initiator || l.status != LinkActive {
		return ErrLinkNotActive
	}
	p, err := l.session.IdentifyPacket(r.cfg.Rand, id)
	if err != nil {
		return err
	}
	return r.linkSendPacket(l, p, now)
}

// CloseLink tears a link down: the peer is told with LINKCLOSE unless the
// link is still pending.
func (r *Router) CloseLink(id rns.Hash, now time.Time) error {
	l, ok := r.links[id]
	if !ok {
		return ErrNoLink
	}
	if l.session != nil {
		if tp, err := l.session.TeardownPacket(r.cfg.Rand); err == nil {
			r.linkSendPacket(l, tp, now)
		}
	}
	reason := ReasonDestinationClosed
	if l.initiator {
		reason = ReasonInitiatorClosed
	}
	r.closeLink(l, reason)
	return nil
}

func (r *Router) closeLink(l *link, reason CloseReason) {
	l.status = LinkClosed
	l.reason = reason
	delete(r.links, l.id)
	r.stats.LinksClosed++
	r.emit(LinkClosedEvent{Link: l.info(), Reason: reason})
}

// linkSendPacket sends a link packet on the link's interface (link packets
// stay HEADER_1 with the link id as address at every hop).
func (r *Router) linkSendPacket(l *link, p *rns.Packet, now time.Time) error {
	if l.iface == nil {
		return ErrLinkNotActive
	}
	if err := r.transmit(l.iface, p); err != nil {
		return err
	}
	l.lastOutbound = now
	l.tx++
	return nil
}

// inboundLinkRequest answers a link request to a local destination that
// accepts links (RNS/Link.py validate_request): the signalled MTU is
// clamped to the router's link MTU and the receiving interface's MTU, the
// proof is sent back on the receiving interface, and the link waits in
// LinkHandshake for the initiator's RTT packet.
func (r *Router) inboundLinkRequest(p *rns.Packet, from Interface, now time.Time) error {
	ld, ok := r.locals[p.Destination]
	if !ok || ld.dest.Type() != rns.Single || p.DestType != rns.Single || !ld.opts.AcceptLinks {
		return ErrUnknownDest
	}
	req, err := rns.ParseLinkRequest(p.Data)
	if err != nil {
		return err
	}
	id := rns.LinkID(p)
	if _, dup := r.links[id]; dup {
		return ErrDuplicate
	}
	if len(r.links) >= r.cfg.MaxLinks {
		return ErrTooManyLinks
	}
	q := *p
	if limit := min(r.cfg.LinkMTU, from.MTU()); req.Signalling && req.MTU > limit {
		sig, err := rns.SignallingBytes(limit, req.Mode)
		if err != nil {
			return err
		}
		q.Data = append(append([]byte(nil), p.Data[:rns.LinkECPubSize]...), sig[:]...)
	}
	sess, proof, err := rns.AcceptLinkRequest(r.cfg.Rand, ld.dest.Identity(), &q)
	if err != nil {
		return err
	}
	l := &link{
		id:          id,
		destination: p.Destination,
		status:      LinkHandshake,
		session:     sess,
		local:       ld,
		iface:       from,
		hops:        int(p.Hops),
		requestTime: now,
		lastInbound: now,
		establishmentTimeout: rns.EstablishmentTimeoutPerHop*time.Duration(max(1, int(p.Hops))) +
			rns.KeepaliveMax,
	}
	r.links[id] = l
	if err := r.linkSendPacket(l, proof, now); err != nil {
		delete(r.links, id)
		return err
	}
	return nil
}

// linkProof completes a link this router initiated (RNS/Link.py
// validate_proof). A proof that does not verify is ignored: the link stays
// pending until it times out, so a forged proof cannot kill it.
func (r *Router) linkProof(l *link, p *rns.Packet, from Interface, now time.Time) error {
	sess, err := l.pending.Accept(l.remote, p)
	if err != nil {
		return err
	}
	l.session, l.pending = sess, nil
	l.iface = from
	l.hops = int(p.Hops)
	l.setRTT(now.Sub(l.requestTime))
	l.status = LinkActive
	l.activatedAt = now
	l.lastInbound = now
	r.stats.LinksEstablished++
	rtt, err := sess.RTTPacket(r.cfg.Rand, l.rtt)
	if err == nil {
		err = r.linkSendPacket(l, rtt, now)
	}
	r.emit(LinkEstablishedEvent{Link: l.info()})
	return err
}

// linkReceive handles a DATA packet on a link (RNS/Link.py receive).
func (r *Router) linkReceive(l *link, p *rns.Packet, from Interface, now time.Time) error {
	if l.initiator && p.Context == rns.CtxKeepalive && bytes.Equal(p.Data, []byte{rns.KeepaliveRequest}) {
		return nil // the reference ignores its own kind of keepalive
	}
	if l.session == nil {
		return ErrLinkNotActive
	}
	if from != l.iface {
		return ErrLinkInterface
	}
	l.lastInbound = now
	l.rx++
	if l.status == LinkStale {
		l.status = LinkActive
	}
	switch p.Context {
	case rns.CtxNone:
		pt, err := l.session.Open(p)
		if err != nil {
			return err
		}
		r.stats.LinkData++
		r.emit(LinkDataEvent{LinkID: l.id, Data: pt})
		if l.local != nil && l.local.opts.ProveAll {
			return r.linkSendPacket(l, l.session.ProvePacket(p), now)
		}
		return nil
	case rns.CtxLRRTT:
		if l.initiator {
			return nil
		}
		pt, err := l.session.Open(p)
		if err != nil {
			return err
		}
		reported, err := rns.DecodeRTT(pt)
		if err != nil {
			return err
		}
		l.setRTT(max(now.Sub(l.requestTime), reported))
		if l.status == LinkHandshake {
			l.status = LinkActive
			l.activatedAt = now
			r.stats.LinksEstablished++
			r.emit(LinkEstablishedEvent{Link: l.info()})
		}
		return nil
	case rns.CtxLinkClose:
		if !l.session.IsTeardown(p) {
			return fmt.Errorf("%w: LINKCLOSE does not carry the link id", ErrFiltered)
		}
		reason := ReasonInitiatorClosed
		if l.initiator {
			reason = ReasonDestinationClosed
		}
		r.closeLink(l, reason)
		return nil
	case rns.CtxKeepalive:
		if !l.initiator && bytes.Equal(p.Data, []byte{rns.KeepaliveRequest}) && !now.Before(l.lastOutbound.Add(l.keepalive)) {
			if err := r.linkSendPacket(l, l.session.KeepalivePacket(), now); err != nil {
				return err
			}
			l.lastKeepalive = now
		}
		return nil
	case rns.CtxLinkIdentify:
		if l.initiator {
			return nil
		}
		pt, err := l.session.Open(p)
		if err != nil {
			return err
		}
		id, err := l.session.ParseIdentify(pt)
		if err != nil {
			return err
		}
		if l.remote == nil {
			l.remote = id
			r.emit(LinkIdentifiedEvent{LinkID: l.id, Identity: id})
		}
		return nil
	}
	return fmt.Errorf("%w: link context %s not supported", ErrFiltered, p.Context)
}
