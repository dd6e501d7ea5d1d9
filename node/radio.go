package node

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/node/airtime"
	"github.com/meshlogd/meshlogd/node/config"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/rns/transport"
)

// DutyWindow is the window over which a radio's duty cycle is enforced
// (EU868 rules measure over one hour).
const DutyWindow = time.Hour

// radioMaxQueue bounds the frames waiting for airtime on one radio.
const radioMaxQueue = 256

// beaconTTL: a beacon that waited this long for airtime is stale.
const beaconTTL = time.Minute

// radioPort adapts a hal.Radio to the Reticulum transport: it is both the
// Port and its single Interface. Everything it transmits goes through an
// airtime scheduler that enforces the interface's duty cycle and sends
// sync data before frontiers before beacons.
type radioPort struct {
	n     *Node
	cfg   config.Interface
	radio hal.Radio
	ifac  *rns.IFAC
	wake  chan struct{}

	mu    sync.Mutex
	sched *airtime.Scheduler

	rxPackets, txPackets, rxDropped, txErrors atomic.Uint64

	sigMu     sync.Mutex
	lastRSSI  float64
	lastSNR   float64
	lastHeard time.Time
}

func newRadioPort(n *Node, ifc config.Interface, r hal.Radio, ifac *rns.IFAC) (*radioPort, error) {
	duty := ifc.DutyCycle
	if duty <= 0 {
		duty = 1
	}
	b, err := airtime.NewBudget(duty, DutyWindow)
	if err != nil {
		return nil, err
	}
	return &radioPort{n: n, cfg: ifc, radio: r, ifac: ifac, wake: make(chan struct{}, 1),
		sched: airtime.NewScheduler(b, radioMaxQueue)}, nil
}

// Name implements transport.Interface.
func (p *radioPort) Name() string { return p.cfg.Name }

// MTU implements transport.Interface: the Reticulum MTU (two LoRa frames).
func (p *radioPort) MTU() int { return rns.MTU }

// Bitrate implements transport.Interface from the airtime of a full packet.
func (p *radioPort) Bitrate() int64 {
	d := p.radio.Airtime(rns.MTU)
	if d <= 0 {
		return 1
	}
	return int64(float64(rns.MTU*8) / d.Seconds())
}

// Send implements transport.Interface for Reticulum traffic other than the
// dataset's sync messages (announces, path requests, links).
func (p *radioPort) Send(raw []byte) error { return p.enqueue(raw, airtime.Control, nil) }

// enqueue queues a packet for transmission; sent, if not nil, learns when
// this copy went on air or was dropped.
func (p *radioPort) enqueue(raw []byte, prio airtime.Priority, sent *sentTracker) error {
	if len(raw) > rns.MTU {
		return transport.ErrTooLarge
	}
	wire := raw
	if p.ifac != nil {
		var err error
		if wire, err = p.ifac.Apply(raw); err != nil {
			return err
		}
	}
	now := p.n.clock.now()
	f := airtime.Frame{Payload: wire, Airtime: p.radio.Airtime(len(wire)), Priority: prio, Queued: now}
	if prio == airtime.Beacon {
		f.Expires = now.Add(beaconTTL)
	}
	if sent != nil {
		sent.add()
		f.OnDrop, f.OnSent = sent.done, sent.done
	}
	p.mu.Lock()
	err := p.sched.Enqueue(f)
	p.mu.Unlock()
	if err != nil {
		sent.done()
		return err
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run implements transport.Port.
func (p *radioPort) Run(ctx context.Context, sink transport.Sink) error {
	sink.InterfaceUp(p)
	defer sink.InterfaceDown(p)
	defer p.radio.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.receiveLoop(ctx, sink)
	}()
	p.transmitLoop(ctx)
	wg.Wait()
	return nil
}

func (p *radioPort) receiveLoop(ctx context.Context, sink transport.Sink) {
	for {
		pkt, err := p.radio.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			p.n.log.Warn("radio receive", "interface", p.cfg.Name, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		raw := pkt.Data
		if p.ifac != nil {
			if raw, err = p.ifac.Verify(pkt.Data); err != nil {
				p.rxDropped.Add(1)
				continue
			}
		} else if err := rns.CheckOpen(raw); err != nil {
			p.rxDropped.Add(1)
			continue
		}
		p.rxPackets.Add(1)
		p.sigMu.Lock()
		p.lastRSSI, p.lastSNR, p.lastHeard = pkt.RSSI, pkt.SNR, p.n.clock.now()
		p.sigMu.Unlock()
		if rt := p.n.runtimeOf(); rt != nil {
			rt.noteSignal(raw, pkt, p.cfg.Name)
		}
		sink.Inbound(raw, p)
	}
}

func (p *radioPort) transmitLoop(ctx context.Context) {
	for {
		p.mu.Lock()
		f, ok, retry := p.sched.Next(p.n.clock.now())
		p.mu.Unlock()
		if ok {
			err := p.radio.Send(ctx, f.Payload)
			if err == nil {
				// Carrier sense may have held the frame after the
				// scheduler released (and recorded) it: move the record
				// to when it really went on air, so that no window of
				// the duty-cycle budget holds more than it should.
				p.mu.Lock()
				p.sched.Budget().Shift(p.n.clock.now().Add(-f.Airtime))
				p.mu.Unlock()
			}
			if f.OnSent != nil {
				f.OnSent() // on air, or failed for good: either way the engine may go on
			}
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.txErrors.Add(1)
				p.n.log.Warn("radio send", "interface", p.cfg.Name, "err", err)
			} else {
				p.txPackets.Add(1)
			}
			continue
		}
		wait := time.Minute
		if !retry.IsZero() {
			wait = retry.Sub(p.n.clock.now())
		}
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-p.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

func (n *Node) runtimeOf() *runtimeState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.runtime
}

// status reports the radio's counters and budget.
func (p *radioPort) status(s *InterfaceStatus) {
	p.mu.Lock()
	b := p.sched.Budget()
	now := p.n.clock.now()
	s.AirtimeUsedS = b.Used(now).Seconds()
	s.AirtimeBudgetS = b.Limit().Seconds()
	s.AirtimeTotalS = b.Total().Seconds()
	s.Queue = p.sched.Len()
	full, expired := p.sched.Dropped()
	p.mu.Unlock()
	s.DutyCycle = p.cfg.DutyCycle
	s.TxPackets, s.RxPackets = p.txPackets.Load(), p.rxPackets.Load()
	s.Dropped = p.rxDropped.Load() + full + expired
	s.TxErrors = p.txErrors.Load()
	p.sigMu.Lock()
	if !p.lastHeard.IsZero() {
		r, sn, t := p.lastRSSI, p.lastSNR, p.lastHeard.UTC()
		s.LastRSSI, s.LastSNR, s.LastHeard = &r, &sn, &t
	}
	p.sigMu.Unlock()
}
