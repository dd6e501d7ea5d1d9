package sx127xtest

import (
	"container/heap"
	"sync"
	"time"
)

// Clock is the time source of emulated chips, their pins and the Air. Chip
// timing (TxDone after the frame's airtime, CadDone, frame ends) and the
// timeouts of WaitForEdge on emulated pins run on it.
type Clock interface {
	// Now returns the current (possibly virtual) time.
	Now() time.Time
	// AfterFunc calls f in its own goroutine (or the caller of Advance)
	// once d has passed on this clock.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call if it has not happened yet and reports
	// whether it did so.
	Stop() bool
}

// ScaledClock is a real-time clock whose time runs Scale times faster than
// the wall clock, starting at Origin: a 400 ms frame at Scale 10 takes
// 40 ms of wall time. Durations passed to WaitForEdge of emulated pins are
// clock durations, so a driver's timeouts scale with it.
type ScaledClock struct {
	origin time.Time
	wall   time.Time
	scale  float64
}

// NewScaledClock returns a ScaledClock whose Now starts at origin and runs
// scale (> 0) times faster than real time. Scale 1 is the wall clock.
func NewScaledClock(origin time.Time, scale float64) *ScaledClock {
	if scale <= 0 {
		scale = 1
	}
	return &ScaledClock{origin: origin, wall: time.Now(), scale: scale}
}

// Now implements Clock.
func (c *ScaledClock) Now() time.Time {
	return c.origin.Add(time.Duration(float64(time.Since(c.wall)) * c.scale))
}

// AfterFunc implements Clock.
func (c *ScaledClock) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(time.Duration(float64(d)/c.scale), f)
}

// ManualClock is a virtual clock that only moves when Advance is called;
// due timers run synchronously inside Advance, in time order (ties in the
// order they were created). It suits chip-level tests and simulators that
// own virtual time. Safe for concurrent use.
type ManualClock struct {
	mu     sync.Mutex
	now    time.Time
	seq    uint64
	timers timerHeap
}

// NewManualClock returns a ManualClock at start.
func NewManualClock(start time.Time) *ManualClock { return &ManualClock{now: start} }

// Now implements Clock.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc implements Clock. A d ≤ 0 runs f at the next Advance.
func (c *ManualClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d < 0 {
		d = 0
	}
	c.seq++
	t := &manualTimer{c: c, at: c.now.Add(d), seq: c.seq, f: f, index: -1}
	heap.Push(&c.timers, t)
	return t
}

// Next returns the time of the earliest pending timer, if any.
func (c *ManualClock) Next() (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.timers) == 0 {
		return time.Time{}, false
	}
	return c.timers[0].at, true
}

// Advance moves the clock forward by d, running every timer that falls due
// (including timers that those timers create within the window).
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	c.AdvanceTo(end)
}

// AdvanceTo moves the clock to t (never backwards), running due timers.
func (c *ManualClock) AdvanceTo(t time.Time) {
	for {
		c.mu.Lock()
		if len(c.timers) == 0 || c.timers[0].at.After(t) {
			if t.After(c.now) {
				c.now = t
			}
			c.mu.Unlock()
			return
		}
		tm := heap.Pop(&c.timers).(*manualTimer)
		if tm.at.After(c.now) {
			c.now = tm.at
		}
		c.mu.Unlock()
		tm.f()
	}
}

type manualTimer struct {
	c     *ManualClock
	at    time.Time
	seq   uint64
	f     func()
	index int
}

func (t *manualTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.index)
	return true
}

type timerHeap []*manualTimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*manualTimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
