package sim

import (
	"context"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
	"periph.io/x/conn/v3/gpio"
)

// A node with "radio": "sx127x" runs the real sx127x driver against an
// emulated chip (sx127xtest.Chip). The driver owns a goroutine that blocks
// in DIO0's WaitForEdge and in Opts.Sleep; the simulator is one goroutine
// on virtual time. They alternate strictly, like coroutines: the driver's
// goroutines run only while the simulator waits for them (resume/await),
// and the simulator runs only while they are parked in WaitForEdge or
// Sleep (park). Channel handoffs order every access to shared state, so
// the result does not depend on the Go scheduler or GOMAXPROCS.

// wakeReason is why a parked driver goroutine is resumed.
type wakeReason uint8

const (
	wakeTimeout wakeReason = iota // its deadline passed
	wakeEdge                      // an edge is queued on DIO0
	wakeKill                      // the node loses power: the goroutine exits
)

// sxMsg is what a driver-side goroutine tells the simulator.
type sxMsg struct {
	created  bool          // the constructor goroutine returned (dev, err)
	deadline time.Duration // park: wake at this virtual time (-1: none)
	edge     bool          // park: in WaitForEdge (an edge resumes it)
	dev      *sx127x.Dev
	err      error
}

// sxStats are what an sx127x node's radios (driver and chip) counted,
// summed over the radio instances of a run (a restart builds a new one).
type sxStats struct {
	txPackets, txFrames, txErrors uint64
	rxFrames, rxPackets, crcErrs  uint64
	spi                           uint64
	handoffs                      uint64 // times the simulator resumed a driver goroutine
}

// sxRadio is one power-on of an sx127x node's radio: an emulated chip and
// the driver on it. down kills it; up builds a fresh one.
type sxRadio struct {
	w    *world
	nd   *simNode
	chip *sx127xtest.Chip
	pin  *simPin
	dev  *sx127x.Dev

	wake chan wakeReason
	ev   chan sxMsg

	ready     bool // New returned and the driver goroutine parked
	ctorDone  bool
	ctorErr   error
	dead      bool
	parked    bool
	parkEdge  bool
	parkGen   uint64
	pokeArmed bool

	// txFrames are frames the chip started since the last handoff; the
	// chip's Transmit hook appends them on the driver goroutine.
	txFrames []sx127xtest.Frame

	result <-chan error // the Submit in flight, if any
	msg    []byte       // its message (for engine.sent)
	// released is when the scheduler released the packet in flight (and
	// recorded air of airtime from then on); txStart and txEnd span its
	// frames on air so far (txEnd 0: none yet).
	released, air, txStart, txEnd time.Duration

	handoffs uint64
}

// chipNoiseDBm is the thermal noise floor of a LoRa receiver with a 6 dB
// noise figure over bandwidth bwHz: −174 + 10·log10(BW) + 6 dBm.
func chipNoiseDBm(bwHz uint32) float64 { return -174 + 10*math.Log10(float64(bwHz)) + 6 }

// startRadio powers an sx127x node's radio on: a fresh chip, and
// sx127x.New run on a constructor goroutine that takes part in the
// handoff protocol (the reset pulse sleeps on virtual time). It returns
// New's error when New fails before its first sleep (bad parameters).
func (w *world) startRadio(nd *simNode) error {
	nd.radioGen++
	x := &sxRadio{w: w, nd: nd, wake: make(chan wakeReason), ev: make(chan sxMsg)}
	x.chip = sx127xtest.NewChip(sx127xtest.ChipOpts{Name: nd.name, Clock: sxClock{x}, ExternalVerdict: true,
		NoiseFloorDBm: chipNoiseDBm(w.params.BandwidthHz),
		Transmit:      func(f sx127xtest.Frame) { x.txFrames = append(x.txFrames, f) }})
	x.pin = &simPin{Pin: x.chip.DIO0(), x: x}
	rng := stream(w.seed, "sx127x", nd.idx, nd.radioGen)
	var mu sync.Mutex
	opts := &sx127x.Opts{Params: w.params, Device: nd.name + ".SPI",
		Rand: func() uint64 { mu.Lock(); defer mu.Unlock(); return rng.Uint64() },
		Now:  func() time.Time { return epochTime.Add(w.q.now) },
		Sleep: func(d time.Duration) {
			if d > 0 {
				x.park(w.q.now+d, false)
			}
		}}
	nd.radio = x
	go func() {
		dev, err := sx127x.New(x.chip.Port(), x.chip.ResetPin(), x.pin, opts)
		x.ev <- sxMsg{created: true, dev: dev, err: err}
	}()
	x.await()
	if x.ctorErr != nil {
		nd.radio = nil
		return x.ctorErr
	}
	return nil
}

// park runs on a driver-side goroutine: it tells the simulator until when
// it waits and blocks until resumed. wakeKill ends the goroutine.
func (x *sxRadio) park(deadline time.Duration, edge bool) wakeReason {
	x.ev <- sxMsg{deadline: deadline, edge: edge}
	r := <-x.wake
	if r == wakeKill {
		runtime.Goexit()
	}
	return r
}

// await runs on the simulator's goroutine after it started or resumed a
// driver-side goroutine: it returns once every such goroutine of the
// radio is parked (or the constructor failed).
func (x *sxRadio) await() {
	for {
		m := <-x.ev
		if m.created {
			x.ctorDone = true
			if m.err != nil {
				x.ctorErr = m.err
				x.dead = true
				return
			}
			x.dev = m.dev
			if x.parked {
				// The driver goroutine parked before New returned.
				x.becomeReady()
				return
			}
			continue
		}
		x.parked, x.parkEdge = true, m.edge
		x.parkGen++
		if m.deadline >= 0 {
			gen := x.parkGen
			x.w.q.at(m.deadline, func() {
				if !x.dead && x.parked && x.parkGen == gen {
					x.resume(wakeTimeout)
				}
			})
		}
		if !x.ctorDone && m.edge {
			// The driver goroutine's first park: New still has to return.
			continue
		}
		if x.ctorDone && !x.ready {
			x.becomeReady()
		}
		return
	}
}

func (x *sxRadio) becomeReady() {
	x.ready = true
	x.w.kick(x.nd)
}

// resume hands control to the parked goroutine and waits until it (or
// what it woke) parks again, then puts the chip's new frames on the
// medium and collects received packets and the transmit result.
func (x *sxRadio) resume(r wakeReason) {
	x.parked = false
	x.parkGen++
	x.handoffs++
	x.wake <- r
	if r == wakeKill {
		return
	}
	x.await()
	x.afterHandoff()
}

// poke schedules a check, at the current instant, of whether the driver
// parked in WaitForEdge has an edge to collect (after anything touched the
// chip: carrier start/end, chip timers).
func (x *sxRadio) poke() {
	if x.dead || x.pokeArmed {
		return
	}
	x.pokeArmed = true
	x.w.q.at(x.w.q.now, func() {
		x.pokeArmed = false
		if !x.dead && x.parked && x.parkEdge && x.pin.Pending() > 0 {
			x.resume(wakeEdge)
		}
	})
}

func (x *sxRadio) afterHandoff() {
	w, nd := x.w, x.nd
	fs := x.txFrames
	x.txFrames = nil
	for _, cf := range fs {
		f := w.beginFrame(nd, cf.Data, cf.Airtime, &cf)
		w.q.at(f.end, func() { w.endFrame(f) })
		if x.txEnd == 0 {
			x.txStart = f.start
		}
		x.txEnd = max(x.txEnd, f.end)
	}
	if x.dev == nil {
		return
	}
	for {
		p, ok := x.dev.TryReceive()
		if !ok {
			break
		}
		w.deliver(nd, p.Data)
	}
	if x.result == nil {
		return
	}
	select {
	case err := <-x.result:
		msg := x.msg
		x.result, x.msg = nil, nil
		x.chargeDelay()
		nd.sending = false
		if err != nil {
			// hal.ErrChannelBusy after MaxChannelWait, or a TX timeout:
			// the packet is lost (the driver counts it in TxErrors).
			nd.drops++
		}
		nd.eng.sent(msg, w.q.now)
		w.pump(nd)
		w.kick(nd)
	default:
	}
}

// submit hands the next frame the node/airtime scheduler releases to the
// driver (which does carrier sense, backoff and splitting itself).
func (w *world) submit(nd *simNode, ep int) {
	x := nd.radio
	if x == nil || !x.ready || x.dead {
		return // kicked again when the radio is ready
	}
	now := w.q.now
	f, kind, msg, pkt, ok := w.release(nd, ep)
	if !ok {
		return
	}
	done, err := x.dev.Submit(context.Background(), pkt)
	if err != nil {
		nd.drops++
		nd.eng.sent(msg, now)
		w.pump(nd)
		w.kick(nd)
		return
	}
	nd.sending = true
	x.result, x.msg = done, msg
	x.released, x.air, x.txStart, x.txEnd = now, f.Airtime, 0, 0
	ks := w.kinds[kind]
	n := hal.FrameCount(len(pkt))
	ks.frames += int64(n)
	ks.airBytes += int64(len(pkt) + n)
	ks.airtime += hal.PacketAirtime(w.params, len(pkt))
}

// chargeDelay makes the duty-cycle budget record the real transmission
// of the packet just sent. The scheduler records a packet's airtime from
// the moment it releases it ([r, r+air]), but the driver transmits it only
// after its own channel access ([s, s+air], s ≥ r: up to PollInterval,
// DIFS, backoff and any busy time later). With delays that vary from
// packet to packet, a window of real transmissions could then exceed the
// budget (measured: 1.009 % against 1 % in a saturated scenario). Like the
// node runtime (node/radio.go), the simulator moves the record to where
// the packet really went (airtime.Budget.Shift), and records any gap the
// driver left between the frames of a split packet.
func (x *sxRadio) chargeDelay() {
	if x.txEnd == 0 {
		return
	}
	b := x.nd.sched.Budget()
	b.Shift(epochTime.Add(x.txStart))
	if extra := x.txEnd - x.txStart - x.air; extra > 0 {
		b.Record(epochTime.Add(x.txStart+x.air), extra)
	}
	x.txEnd = 0
}

// deliver hands a packet an sx127x node's driver received to its engine.
func (w *world) deliver(nd *simNode, pkt []byte) {
	payload, err := nd.wire.Unwrap(pkt)
	if err != nil {
		nd.rxBad++
		return
	}
	nd.rxPackets++
	nd.eng.receive(payload, w.q.now)
	w.pump(nd)
}

// kill cuts the radio's power: its goroutine exits where it is parked
// (a crash does not run Close), and the chip with its state is dropped.
func (x *sxRadio) kill() {
	if x.result != nil {
		x.chargeDelay() // a frame already on air still counts
	}
	x.nd.sxTotals.add(x.stats())
	x.dead = true
	x.nd.radio = nil
	if x.parked {
		x.parked = false
		x.wake <- wakeKill
	}
}

// stats returns this radio instance's counters.
func (x *sxRadio) stats() sxStats {
	s := sxStats{handoffs: x.handoffs, spi: x.chip.Stats().SPITransactions}
	if x.dev != nil {
		d := x.dev.Stats()
		s.txPackets, s.txFrames, s.txErrors = d.TxPackets, d.TxFrames, d.TxErrors
		s.rxFrames, s.rxPackets, s.crcErrs = d.RxFrames, d.RxPackets, d.RxCRCErrors
	}
	return s
}

func (s *sxStats) add(o sxStats) {
	s.txPackets += o.txPackets
	s.txFrames += o.txFrames
	s.txErrors += o.txErrors
	s.rxFrames += o.rxFrames
	s.rxPackets += o.rxPackets
	s.crcErrs += o.crcErrs
	s.spi += o.spi
	s.handoffs += o.handoffs
}

// shutdown ends every radio goroutine still parked (end of a run).
func (w *world) shutdown() {
	for _, nd := range w.nodes {
		if nd.radio != nil {
			nd.radio.kill()
		}
	}
}

// chipLink is how an sx127x receiver hears a frame from node from.
func (w *world) chipLink(from, to int) sx127xtest.Link {
	p := w.link[from][to].rxDBm
	return sx127xtest.Link{RSSI: p, SNR: p - chipNoiseDBm(w.params.BandwidthHz)}
}

// chipFrame returns the emulator's view of medium frame f.
func (w *world) chipFrame(f *frame) sx127xtest.Frame {
	if f.cf == nil {
		f.cf = &sx127xtest.Frame{From: w.nodes[f.from].name, Params: w.params.Effective(), Data: f.data,
			Start: epochTime.Add(f.start), Airtime: f.end - f.start}
	}
	return *f.cf
}

// sxClock is the emulated chip's clock: the simulator's virtual time. Its
// timers are actions in the event heap, run on the simulator's goroutine,
// each followed by a poke (the timer may have raised DIO0).
type sxClock struct{ x *sxRadio }

// Now implements sx127xtest.Clock.
func (c sxClock) Now() time.Time { return epochTime.Add(c.x.w.q.now) }

// AfterFunc implements sx127xtest.Clock.
func (c sxClock) AfterFunc(d time.Duration, f func()) sx127xtest.Timer {
	t := &sxTimer{}
	x := c.x
	x.w.q.after(d, func() {
		if t.stopped || x.dead {
			return
		}
		t.fired = true
		f()
		x.poke()
	})
	return t
}

// sxTimer is a pending chip timer.
type sxTimer struct{ stopped, fired bool }

// Stop implements sx127xtest.Timer.
func (t *sxTimer) Stop() bool {
	if t.stopped || t.fired {
		return false
	}
	t.stopped = true
	return true
}

// simPin is the DIO0 line the driver gets: the chip's pin, except that
// waiting parks the driver goroutine on virtual time.
type simPin struct {
	*sx127xtest.Pin
	x      *sxRadio
	halted bool
}

// WaitForEdge implements gpio.PinIn on virtual time: a negative timeout
// returns false at once (host v3.8.x); otherwise a queued edge is
// consumed at once, or the goroutine parks until the timeout (0: none) or
// until the simulator sees an edge queued, and then collects it.
func (p *simPin) WaitForEdge(timeout time.Duration) bool {
	if timeout < 0 {
		return p.Pin.WaitForEdge(timeout)
	}
	if p.halted {
		p.halted = false
		return false
	}
	if p.collect() {
		return true
	}
	deadline := time.Duration(-1)
	if timeout > 0 {
		deadline = p.x.w.q.now + timeout
	}
	p.x.park(deadline, true)
	return p.collect()
}

// collect polls the chip (which also ends the hold on frames behind an
// RxDone being serviced) and consumes one queued edge, if any.
func (p *simPin) collect() bool {
	p.Pin.Read()
	if p.Pin.Pending() == 0 {
		return false
	}
	return p.Pin.WaitForEdge(0) // returns at once: an edge is queued
}

// Halt makes the next WaitForEdge return false at once. The simulator
// never closes a driver (a node going down loses power instead), so no
// goroutine can be parked in WaitForEdge while another calls Halt.
func (p *simPin) Halt() error {
	p.halted = true
	return nil
}

var _ gpio.PinIn = (*simPin)(nil)
