package sx127xtest

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
)

// edgeQueue is how many edges a Pin queues for WaitForEdge, like the
// kernel's GPIO event FIFO (which holds 16 per line).
const edgeQueue = 16

// Pin is an emulated GPIO line of the chip (NRESET, DIO0, DIO1). It
// implements gpio.PinIO with the edge semantics of periph.io/x/host v3.8.x
// on a Raspberry Pi (GPIO character device):
//
//   - WaitForEdge(d) with d > 0 waits up to d on the chip's Clock;
//   - WaitForEdge(0) waits without limit;
//   - WaitForEdge(d) with d < 0 returns false at once (host v3.8.x sets a
//     read deadline in the past, although the conn/v3 interface comment
//     says −1 disables the timeout);
//   - each call consumes one queued edge; edges that happened while nobody
//     waited are delivered later (up to 16 are queued);
//   - In flushes queued edges; Halt interrupts a pending wait.
type Pin struct {
	name  string
	num   int
	clock Clock
	onOut func(gpio.Level) // reset line hook; nil for DIO lines
	poll  func()           // brings the chip up to date with the clock

	mu     sync.Mutex
	level  gpio.Level // level driven by the chip (DIO) or by the host (reset)
	output bool
	edge   gpio.Edge
	pull   gpio.Pull
	edges  chan struct{}
	halt   chan struct{}
	waits  uint64
}

func newPin(name string, num int, c Clock, onOut func(gpio.Level)) *Pin {
	return &Pin{name: name, num: num, clock: c, onOut: onOut,
		edges: make(chan struct{}, edgeQueue), halt: make(chan struct{}, 1), level: gpio.Low}
}

// String implements conn.Resource.
func (p *Pin) String() string { return p.name }

// Halt interrupts a pending WaitForEdge, like host v3.8.x.
func (p *Pin) Halt() error {
	select {
	case p.halt <- struct{}{}:
	default:
	}
	return nil
}

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.name }

// Number implements pin.Pin.
func (p *Pin) Number() int { return p.num }

// Function implements pin.Pin.
func (p *Pin) Function() string { return string(p.Func()) }

// Func implements pin.PinFunc.
func (p *Pin) Func() pin.Func {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.output {
		return gpio.OUT
	}
	return gpio.IN
}

// SupportedFuncs implements pin.PinFunc.
func (p *Pin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT} }

// SetFunc implements pin.PinFunc.
func (p *Pin) SetFunc(f pin.Func) error {
	switch f {
	case gpio.IN:
		return p.In(gpio.PullNoChange, gpio.NoEdge)
	case gpio.OUT:
		return p.Out(gpio.Low)
	}
	return fmt.Errorf("sx127xtest: %s: unsupported function %q", p.name, f)
}

// In implements gpio.PinIn. It flushes queued edges. Releasing the reset
// line (In on NRESET) lets the chip's pull-up take it high.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	wasOut := p.output
	p.output = false
	p.edge = edge
	p.pull = pull
	for {
		select {
		case <-p.edges:
			continue
		default:
		}
		break
	}
	p.mu.Unlock()
	if p.onOut != nil && wasOut {
		p.onOut(gpio.High)
	}
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	if p.poll != nil {
		p.poll()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn with host v3.8.x semantics (see Pin).
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	p.waits++
	edge := p.edge
	p.mu.Unlock()
	if edge == gpio.NoEdge || timeout < 0 {
		return false
	}
	if p.poll != nil {
		p.poll()
	}
	var expired chan struct{}
	if timeout > 0 {
		expired = make(chan struct{})
		t := p.clock.AfterFunc(timeout, func() { close(expired) })
		defer t.Stop()
	}
	select {
	case <-p.edges:
		return true
	case <-expired:
	case <-p.halt:
		return false
	}
	// Events due by now (e.g. a TxDone whose timer goroutine has not run
	// yet) happen before the timeout is reported.
	if p.poll != nil {
		p.poll()
	}
	select {
	case <-p.edges:
		return true
	default:
		return false
	}
}

// Pull implements gpio.PinIn.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.PullDown }

// Out implements gpio.PinOut. On the reset line, Low holds the chip in
// reset and High releases it (registers return to their reset values).
func (p *Pin) Out(l gpio.Level) error {
	p.mu.Lock()
	p.output = true
	p.level = l
	p.mu.Unlock()
	if p.onOut != nil {
		p.onOut(l)
	}
	return nil
}

// PWM implements gpio.PinOut; it is not supported.
func (p *Pin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("sx127xtest: PWM not supported")
}

// Waits returns how many times WaitForEdge was called.
func (p *Pin) Waits() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waits
}

// Pending returns how many edges are queued for WaitForEdge (0..16). It
// does not poll the chip: call Read first to bring it up to date. A
// cooperative scheduler uses it to decide whether a host parked in
// WaitForEdge must be resumed.
func (p *Pin) Pending() int { return len(p.edges) }

// drive sets the level the chip drives onto a DIO line and queues an edge
// if the host asked for it.
func (p *Pin) drive(l gpio.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.level == l {
		return
	}
	p.level = l
	if p.edge == gpio.BothEdges || (l && p.edge == gpio.RisingEdge) || (!l && p.edge == gpio.FallingEdge) {
		select {
		case p.edges <- struct{}{}:
		default: // queue full: the edge is lost, as in the kernel
		}
	}
}

var _ gpio.PinIO = (*Pin)(nil)
