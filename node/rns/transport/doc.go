// Package transport is meshlogd's live Reticulum stack on top of the wire
// formats and cryptography of package rns: interfaces (TCP client and server
// with the reference's HDLC framing, interface access codes), the packet
// router of an endpoint (duplicate filter, path table, announces, path
// requests, proofs, delivery to local destinations) and links (initiator
// and responder). It interoperates with the reference implementation, RNS
// 1.4.2; docs/interop.md shows how that was checked.
//
// # Layering
//
// As elsewhere in meshlogd (etcd raft style), the protocol is a value you
// call, not a process you start. Router — and the link state machine inside
// it — takes the current time as an argument of every call, starts no
// goroutines, draws randomness only from Config.Rand, and reports what
// happened as Events; it sends by calling Interface.Send, which must not
// block. Tests drive it on virtual time. Stack is the thin concurrent shell:
// it runs the Ports, serialises router access behind a lock (Stack.Do),
// ticks the timers and delivers events on a channel.
//
//	st := transport.NewStack(transport.StackConfig{})
//	st.Do(func(r *transport.Router, now time.Time) error {
//		return r.Register(dest, transport.LocalOptions{AcceptLinks: true})
//	})
//	client := transport.NewTCPClient(transport.TCPClientConfig{Addr: "10.0.0.1:4242"})
//	go st.Run(ctx, transport.WithIFAC(client, ifac)) // ifac may be nil
//	for ev := range st.Events() { ... }              // AnnounceEvent, LinkDataEvent, ...
//
// # Interfaces
//
// An Interface sends raw packets (Name, MTU, Bitrate, Send). A Port
// produces interfaces and inbound packets through a Sink: TCPClient is one
// interface that goes up and down as it reconnects (exponential backoff
// with jitter, 0.5 s to 30 s by default); TCPServer makes every accepted
// client a sub-interface, like the reference's TCPServerInterface. Radios
// and the simulator plug in by implementing Port. Interface access codes
// are applied and checked at the boundary by WithIFAC, using rns.IFAC, so
// the router only ever sees plain packets; a packet with a missing or wrong
// code is dropped there and counted (IFACRejected), and a packet carrying
// the IFAC flag on an open interface is refused by the packet parser.
//
// # Router
//
// Inbound follows the reference's Transport.inbound for a node without
// transport enabled: the hop count is incremented first; the packet filter
// drops HEADER_2 packets in transport for other nodes, PLAIN and GROUP
// packets from further than one hop, PLAIN and GROUP announces, and repeats
// of a packet hash seen before (HashFilter, two bounded generations;
// announces and keepalive/resource/channel/cache-request contexts are
// exempt). Announces are validated (signature, destination hash, no key
// conflict with a known destination); a path is taken or replaced with the
// reference's rules — unknown destination; equal or fewer hops with an
// unseen random hash and a later emission time; more hops only when the
// held path expired or the emission is newer — and expires after 7 days.
// Path requests for local destinations are answered with a PATH_RESPONSE
// announce on the requesting interface, once per (destination, tag).
// Outbound packets to a destination more than one hop away are inserted
// into transport as HEADER_2 with the next hop's transport id. Every table
// is bounded (Config).
//
// Rate limiting of announce rebroadcasts and ingress control are transport
// node duties and do not apply: this router forwards nothing for others.
//
// # Links
//
// OpenLink sends a link request (MTU 500 signalled, link MDU 431); the
// proof is verified against the announced identity (a forged proof is
// ignored, not fatal), then the RTT packet is sent. A responder clamps a
// larger signalled MTU to Config.LinkMTU, proves with its identity key and
// becomes active on the RTT packet. Keepalives follow the reference
// (interval RTT × 360/1.75 clamped to 5..360 s, sent by the initiator,
// answered by the responder); a link with nothing heard for twice the
// keepalive interval turns stale and is torn down RTT × 4 + 5 s later; an
// unproven request is dropped after the first-hop allowance plus 6 s per
// hop, and a responder without RTT packet after 6 s per hop + 360 s.
// LINKIDENTIFY and packet proofs (LocalOptions.ProveAll) are supported;
// resources, channels and request/response are not (such packets are
// dropped with ErrFiltered).
package transport
