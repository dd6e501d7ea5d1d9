package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

// TestTCPConnSendErrors checks the non-blocking send path: oversized
// packets are refused, a peer that stops reading fills the queue (the
// router is never blocked), and a closed connection reports offline.
func TestTCPConnSendErrors(t *testing.T) {
	local, remote := net.Pipe() // remote never reads: writes block
	defer remote.Close()
	c := newTCPConn("pipe", local, rns.MTU, rns.MTU+rns.IFACSizeTCP)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.serve(ctx, func([]byte) {}); close(done) }()

	if err := c.Send(make([]byte, rns.MTU+rns.IFACSizeTCP+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	pkt := make([]byte, 100)
	var err error
	for i := 0; i < 2*sendQueueLen && err == nil; i++ {
		err = c.Send(pkt)
	}
	if !errors.Is(err, ErrQueueFull) {
		t.Fatalf("blocked peer: %v", err)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("serve did not stop on cancel")
	}
	if err := c.Send(pkt); !errors.Is(err, ErrOffline) {
		t.Fatalf("closed: %v", err)
	}
}

// TestTCPFlushDrains checks that Flush returns once queued frames are on
// the wire, so a tool can exit right after its last packet.
func TestTCPFlushDrains(t *testing.T) {
	srv := listen(t, "127.0.0.1:0")
	var sink recSinkChan
	sink.in = make(chan []byte, 64)
	sink.up = make(chan Interface, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go srv.Run(ctx, &sink)
	client := NewTCPClient(TCPClientConfig{Addr: srv.Addr().String()})
	csink := recSinkChan{in: make(chan []byte, 64), up: make(chan Interface, 4)}
	go client.Run(ctx, &csink)
	<-csink.up
	sub := <-sink.up
	pkt := make([]byte, 40)
	for i := 0; i < 20; i++ {
		pkt[0] = byte(i)
		if err := client.Send(pkt); err != nil {
			t.Fatal(err)
		}
		if err := sub.Send(pkt); err != nil {
			t.Fatal(err)
		}
	}
	if !client.Flush(ctx, waitTimeout) || !srv.Flush(ctx, waitTimeout) {
		t.Fatal("queues did not drain")
	}
	for i := 0; i < 20; i++ {
		if got := <-sink.in; got[0] != byte(i) {
			t.Fatalf("server got frame %d out of order", got[0])
		}
		if got := <-csink.in; got[0] != byte(i) {
			t.Fatalf("client got frame %d out of order", got[0])
		}
	}
}

type recSinkChan struct {
	in chan []byte
	up chan Interface
}

func (s *recSinkChan) InterfaceUp(i Interface)         { s.up <- i }
func (s *recSinkChan) InterfaceDown(Interface)         {}
func (s *recSinkChan) Inbound(raw []byte, _ Interface) { s.in <- raw }
