package transport

import (
	"context"
	"errors"
)

// DefaultHWMTU is the largest frame a TCP interface accepts by default: the
// value the reference derives for TCP interfaces from their 10 Mbit/s bitrate
// guess (RNS/Interfaces/Interface.py optimise_mtu).
const DefaultHWMTU = 8192

// Errors returned by interfaces.
var (
	// ErrOffline is returned by Send when the interface has no live
	// connection (a TCP client between reconnects, a closed sub-interface).
	ErrOffline = errors.New("transport: interface offline")
	// ErrQueueFull is returned by Send when the outbound queue is full; the
	// packet is dropped, as a radio would drop it.
	ErrQueueFull = errors.New("transport: interface send queue full")
	// ErrTooLarge is returned by Send for a packet larger than the
	// interface's MTU.
	ErrTooLarge = errors.New("transport: packet larger than interface MTU")
)

// Interface is one attachment point that carries whole raw Reticulum
// packets: a TCP connection, a radio, a simulated medium. Send must not block
// for long (queue and return); it is called with the router's lock held.
//
// The bytes passed to Send and delivered to a Sink are packets as the
// router sees them: without an interface access code. IFAC is applied at the
// interface boundary by WithIFAC.
type Interface interface {
	// Name identifies the interface in logs and tool output.
	Name() string
	// MTU is the largest raw packet, without IFAC, the interface carries.
	MTU() int
	// Bitrate is a hint in bits per second (used for timeouts).
	Bitrate() int64
	// Send queues one raw packet for transmission.
	Send(raw []byte) error
}

// Sink receives what a Port produces. Implementations must be safe for
// concurrent use: a TCP server calls them from one goroutine per client.
type Sink interface {
	// InterfaceUp announces an interface that can now send and receive
	// (a connected client, a spawned server sub-interface, a radio).
	InterfaceUp(ifc Interface)
	// Inbound delivers one received raw packet. raw is owned by the callee.
	Inbound(raw []byte, from Interface)
	// InterfaceDown announces that ifc can no longer send (disconnected,
	// closed). A TCP client that reconnects announces itself up again.
	InterfaceDown(ifc Interface)
}

// Port is something that produces interfaces and inbound packets: a TCP
// client (one interface that comes and goes), a TCP server (one
// sub-interface per accepted client), a radio. Run blocks until ctx is
// cancelled or an unrecoverable error occurs, and announces every interface
// down before it returns.
type Port interface {
	Run(ctx context.Context, sink Sink) error
}
