// Package transport is meshlogd's live Reticulum stack on top of the wire
// formats in package rns: interfaces (TCP client and server with the
// reference's HDLC framing, interface access codes), the packet router
// (duplicate filter, path table, announces, path requests, proofs, delivery
// to local destinations) and links (initiator and responder).
//
// Layering follows the raft style used across meshlogd: Router and Link are
// plain state machines that take the current time as an argument and never
// start goroutines; Stack is the thin concurrent shell that owns the clock,
// the goroutines of the interfaces and a lock around the router.
//
// Interfaces: an Interface sends raw packets; a Port (TCPClient, TCPServer,
// a radio adapter, a simulated medium) produces interfaces and inbound
// packets through a Sink. WithIFAC wraps any Port so that access codes are
// applied and checked at the interface boundary and the router only sees
// plain packets.
package transport
