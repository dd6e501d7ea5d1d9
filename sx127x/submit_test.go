package sx127x

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

// waitUntil polls cond on the wall clock (the driver runs in its own
// goroutine) and fails the test after a generous deadline.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSubmitAndTryReceive(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	a := newRig(t, clk, air, "a", Opts{})
	b := newRig(t, clk, air, "b", Opts{})
	if p, ok := b.dev.TryReceive(); ok {
		t.Fatalf("TryReceive on an idle radio returned %+v", p)
	}
	for i, n := range []int{40, 400} {
		want := packet(n, byte(i))
		done, err := a.dev.Submit(ctxT(t), want)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("%d bytes: %v", n, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Submit's channel never answered")
		}
		var got hal.Packet
		waitUntil(t, "the packet at b", func() bool {
			var ok bool
			got, ok = b.dev.TryReceive()
			return ok
		})
		if !bytes.Equal(got.Data, want) {
			t.Fatalf("%d bytes: received %d bytes that differ", n, len(got.Data))
		}
		if _, ok := b.dev.TryReceive(); ok {
			t.Fatal("one packet received twice")
		}
	}
	if s := a.dev.Stats(); s.TxPackets != 2 || s.TxFrames != 3 {
		t.Fatalf("sender stats %+v", s)
	}
	if _, err := a.dev.Submit(ctxT(t), nil); !errors.Is(err, hal.ErrPacketSize) {
		t.Fatalf("empty packet: %v", err)
	}
}

// Submit never blocks: a full queue is an error, and Close answers every
// queued packet with hal.ErrClosed.
func TestSubmitQueueFullAndClose(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	r := newRig(t, clk, nil, "a", Opts{TxQueue: 2, PollInterval: time.Hour})
	// Once the loop waits on DIO0 it looks at the queue again only after
	// an hour of clock time.
	waitUntil(t, "the loop to wait on DIO0", func() bool { return r.chip.DIO0().Waits() > 0 })
	var queued []<-chan error
	for i := range 2 {
		done, err := r.dev.Submit(ctxT(t), packet(10, byte(i)))
		if err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
		queued = append(queued, done)
	}
	if _, err := r.dev.Submit(ctxT(t), packet(10, 9)); !errors.Is(err, ErrTxQueueFull) {
		t.Fatalf("third Submit into a queue of 2: %v", err)
	}
	for _, done := range queued {
		select {
		case err := <-done:
			t.Fatalf("answered before the loop took it: %v", err)
		default:
		}
	}
	if err := r.dev.Close(); err != nil {
		t.Fatal(err)
	}
	for i, done := range queued {
		if err := <-done; !errors.Is(err, hal.ErrClosed) {
			t.Fatalf("queued packet %d after Close: %v", i, err)
		}
	}
	if _, err := r.dev.Submit(ctxT(t), packet(10, 1)); !errors.Is(err, hal.ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
	if len(r.chip.TxLog()) != 0 {
		t.Fatalf("%d frames sent", len(r.chip.TxLog()))
	}
}
