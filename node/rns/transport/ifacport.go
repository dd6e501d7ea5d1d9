package transport

import (
	"context"
	"sync/atomic"

	"github.com/meshlogd/meshlogd/node/rns"
)

// WithIFAC wraps a Port so that every interface it produces applies the
// access code to outgoing packets and verifies it on incoming ones, as the
// reference does per interface: a packet without the IFAC flag, with a wrong
// code, or too short is dropped (and counted) before the router sees it. A
// nil ifac returns port unchanged.
//
// The reference drops packets carrying the IFAC flag on interfaces without
// access codes; the router does that for unwrapped interfaces (the packet
// parser refuses the flag).
func WithIFAC(port Port, ifac *rns.IFAC) Port {
	if ifac == nil {
		return port
	}
	return &ifacPort{inner: port, ifac: ifac}
}

type ifacPort struct {
	inner Port
	ifac  *rns.IFAC
	// Rejected counts packets dropped for a missing or wrong access code.
	rejected atomic.Int64
}

// IFACRejected returns how many inbound packets a WithIFAC port dropped for
// a missing or wrong access code (0 for other ports).
func IFACRejected(p Port) int64 {
	if ip, ok := p.(*ifacPort); ok {
		return ip.rejected.Load()
	}
	return 0
}

func (p *ifacPort) Run(ctx context.Context, sink Sink) error {
	return p.inner.Run(ctx, &ifacSink{port: p, sink: sink})
}

// ifacSink translates the inner port's interfaces into IFAC-applying ones.
type ifacSink struct {
	port *ifacPort
	sink Sink
}

func (s *ifacSink) wrap(ifc Interface) Interface { return ifacInterface{inner: ifc, ifac: s.port.ifac} }

func (s *ifacSink) InterfaceUp(ifc Interface)   { s.sink.InterfaceUp(s.wrap(ifc)) }
func (s *ifacSink) InterfaceDown(ifc Interface) { s.sink.InterfaceDown(s.wrap(ifc)) }

func (s *ifacSink) Inbound(raw []byte, from Interface) {
	plain, err := s.port.ifac.Verify(raw)
	if err != nil {
		s.port.rejected.Add(1)
		return
	}
	s.sink.Inbound(plain, s.wrap(from))
}

// ifacInterface applies the access code on Send. It is a comparable value:
// wrapping the same inner interface twice gives equal Interface values, so
// the router keeps recognising a TCP client across reconnects.
type ifacInterface struct {
	inner Interface
	ifac  *rns.IFAC
}

func (i ifacInterface) Name() string   { return i.inner.Name() }
func (i ifacInterface) MTU() int       { return i.inner.MTU() }
func (i ifacInterface) Bitrate() int64 { return i.inner.Bitrate() }

func (i ifacInterface) Send(raw []byte) error {
	masked, err := i.ifac.Apply(raw)
	if err != nil {
		return err
	}
	return i.inner.Send(masked)
}
