// Package airtime enforces a radio's duty-cycle budget and orders what is
// sent when the budget is short.
//
// A Budget tracks the transmissions of one radio interface over a sliding
// window (EU868 rules measure the duty cycle over one hour) and answers
// whether a transmission of a given airtime may start now, or when it may.
// A Scheduler is a priority queue of frames in front of a Budget: sync data
// goes before frontiers, frontiers before beacons, and beacons may only use
// part of the budget so that data is never starved by housekeeping.
//
// Both are pure: time is always an argument, nothing here sleeps or reads a
// clock, so the node runtime drives them with the wall clock and tests drive
// them with any clock they like.
package airtime

import (
	"container/heap"
	"errors"
	"fmt"
	"sort"
	"time"
)

// Priority orders queued frames; lower values go first.
type Priority uint8

// Priorities, highest first.
const (
	// Data is event slices and wants: what makes the dataset converge.
	Data Priority = iota
	// Control is frontier exchanges, announces and link management.
	Control
	// Beacon is periodic digest beacons: cheap, skippable, rate-limited.
	Beacon
	numPriorities
)

func (p Priority) String() string {
	switch p {
	case Data:
		return "data"
	case Control:
		return "control"
	case Beacon:
		return "beacon"
	}
	return fmt.Sprintf("priority(%d)", uint8(p))
}

// shareOf is the fraction of the budget each priority may use: beacons may
// never push the window past half the budget, control past 90%.
var shareOf = [numPriorities]float64{Data: 1.0, Control: 0.9, Beacon: 0.5}

// ErrTooLong is returned for a transmission longer than the whole budget.
var ErrTooLong = errors.New("airtime: transmission longer than the duty-cycle budget")

// Budget is a sliding-window duty-cycle limiter. The zero value is not
// usable; call NewBudget.
type Budget struct {
	window time.Duration
	limit  time.Duration // duty × window
	txs    []tx          // transmissions still inside the window, oldest first
	// cum[i] is the total duration of txs[:i] plus an arbitrary offset
	// (only differences are used): len(cum) == len(txs)+1.
	cum []time.Duration
	// disorder counts adjacent pairs of txs that overlap or are out of
	// start order. While it is zero, usage sums come from cum by binary
	// search (O(log n)) instead of a scan of every transmission.
	disorder int
	total    time.Duration // everything ever spent
}

type tx struct {
	start time.Time
	dur   time.Duration
}

// NewBudget returns a budget allowing duty (0 < duty ≤ 1) of every window.
func NewBudget(duty float64, window time.Duration) (*Budget, error) {
	if !(duty > 0 && duty <= 1) {
		return nil, fmt.Errorf("airtime: duty cycle %g not in (0, 1]", duty)
	}
	if window <= 0 {
		return nil, fmt.Errorf("airtime: window %s must be positive", window)
	}
	return &Budget{window: window, limit: time.Duration(duty * float64(window)), cum: []time.Duration{0}}, nil
}

// Limit returns the airtime allowed per window.
func (b *Budget) Limit() time.Duration { return b.limit }

// Window returns the length of the sliding window.
func (b *Budget) Window() time.Duration { return b.window }

// Total returns all airtime ever recorded.
func (b *Budget) Total() time.Duration { return b.total }

// Used returns the airtime spent inside the window ending at now.
func (b *Budget) Used(now time.Time) time.Duration {
	b.prune(now)
	var used time.Duration
	from := now.Add(-b.window)
	for _, t := range b.txs {
		used += overlap(t, from, now)
	}
	return used
}

func overlap(t tx, from, to time.Time) time.Duration {
	s, e := t.start, t.start.Add(t.dur)
	if s.Before(from) {
		s = from
	}
	if e.After(to) {
		e = to
	}
	if e.Before(s) {
		return 0
	}
	return e.Sub(s)
}

func (b *Budget) prune(now time.Time) {
	from := now.Add(-b.window)
	i := 0
	for i < len(b.txs) && !b.txs[i].start.Add(b.txs[i].dur).After(from) {
		i++
	}
	if i == 0 {
		return
	}
	for k := 1; k <= i && k < len(b.txs); k++ {
		if outOfOrder(b.txs[k-1], b.txs[k]) {
			b.disorder--
		}
	}
	b.txs = append(b.txs[:0], b.txs[i:]...)
	b.cum = append(b.cum[:0], b.cum[i:]...)
}

// outOfOrder reports whether b does not start at or after the end of a.
func outOfOrder(a, b tx) bool { return b.start.Before(a.start.Add(a.dur)) }

// Record notes a transmission of d that started at start.
func (b *Budget) Record(start time.Time, d time.Duration) {
	t := tx{start, d}
	if n := len(b.txs); n > 0 && outOfOrder(b.txs[n-1], t) {
		b.disorder++
	}
	b.txs = append(b.txs, t)
	b.cum = append(b.cum, b.cum[len(b.cum)-1]+d)
	b.total += d
}

// Shift moves the most recently recorded transmission so that it starts
// at start, when that is later than where it was recorded. A runtime
// records a frame when its Scheduler releases it (Next), but a radio with
// carrier sense may put it on air later; shifting the record to when it
// really went out keeps every window's sum exact, so that no window ever
// holds more than the budget. Call it before the next transmission is
// recorded.
func (b *Budget) Shift(start time.Time) {
	n := len(b.txs)
	if n == 0 || !start.After(b.txs[n-1].start) {
		return
	}
	if n > 1 && outOfOrder(b.txs[n-2], b.txs[n-1]) {
		b.disorder--
	}
	b.txs[n-1].start = start
	if n > 1 && outOfOrder(b.txs[n-2], b.txs[n-1]) {
		b.disorder++
	}
}

// Allowed reports whether a transmission of d may start at now when it may
// use the given share (0 < share ≤ 1) of the budget. Usage is measured so
// that, over every window ending during the transmission, the total stays
// within share × limit.
func (b *Budget) Allowed(now time.Time, d time.Duration, share float64) bool {
	cap := time.Duration(share * float64(b.limit))
	// The worst window is the one ending when this transmission ends.
	end := now.Add(d)
	return b.usedIn(end.Add(-b.window), end)+d <= cap
}

func (b *Budget) usedIn(from, to time.Time) time.Duration {
	if b.disorder > 0 {
		return b.usedInScan(from, to)
	}
	if !to.After(from) {
		return 0
	}
	// Disjoint and in order: ends are sorted too.
	i := sort.Search(len(b.txs), func(k int) bool { return b.txs[k].start.Add(b.txs[k].dur).After(from) })
	j := sort.Search(len(b.txs), func(k int) bool { return !b.txs[k].start.Before(to) })
	if i >= j {
		return 0
	}
	used := b.cum[j] - b.cum[i]
	if first := b.txs[i]; first.start.Before(from) {
		used -= from.Sub(first.start)
	}
	if last := b.txs[j-1]; last.start.Add(last.dur).After(to) {
		used -= last.start.Add(last.dur).Sub(to)
	}
	return used
}

// usedInScan is usedIn by a scan of every transmission (any order).
func (b *Budget) usedInScan(from, to time.Time) time.Duration {
	var used time.Duration
	for _, t := range b.txs {
		used += overlap(t, from, to)
	}
	return used
}

// NextAllowed returns the earliest time ≥ now at which a transmission of d
// may start with the given share of the budget, or ErrTooLong.
func (b *Budget) NextAllowed(now time.Time, d time.Duration, share float64) (time.Time, error) {
	cap := time.Duration(share * float64(b.limit))
	if d > cap {
		return time.Time{}, ErrTooLong
	}
	b.prune(now)
	if b.Allowed(now, d, share) {
		return now, nil
	}
	// f(c) = usage of the window ending at c+d, + d − cap, is piecewise
	// linear in the start time c, with slope 0 or −1, changing only where the
	// window's start passes the start or end of a recorded transmission.
	// Walk those breakpoints in order; in the first segment where f reaches
	// zero it falls with slope −1, so the answer is p + f(p).
	excess := func(c time.Time) time.Duration {
		end := c.Add(d)
		return b.usedIn(end.Add(-b.window), end) + d - cap
	}
	prev, fprev := now, excess(now)
	try := func(q time.Time) (time.Time, bool) {
		fq := excess(q)
		if fq <= 0 {
			if c := prev.Add(fprev); c.Before(q) && b.Allowed(c, d, share) {
				return c, true
			}
			return q, true
		}
		prev, fprev = q, fq
		return time.Time{}, false
	}
	if b.disorder == 0 {
		// Edges of disjoint, ordered transmissions are already sorted:
		// walk them lazily, stopping at the first that allows the frame.
		for _, t := range b.txs {
			for _, edge := range [2]time.Time{t.start, t.start.Add(t.dur)} {
				if q := edge.Add(b.window - d); q.After(now) {
					if at, ok := try(q); ok {
						return at, nil
					}
				}
			}
		}
	} else {
		points := make([]time.Time, 0, 2*len(b.txs))
		for _, t := range b.txs {
			for _, edge := range []time.Time{t.start, t.start.Add(t.dur)} {
				if c := edge.Add(b.window - d); c.After(now) {
					points = append(points, c)
				}
			}
		}
		sort.Slice(points, func(i, j int) bool { return points[i].Before(points[j]) })
		for _, q := range points {
			if at, ok := try(q); ok {
				return at, nil
			}
		}
	}
	// By then every recorded transmission has left the window.
	last := b.txs[len(b.txs)-1]
	return last.start.Add(last.dur).Add(b.window), nil
}

// Frame is a queued transmission.
type Frame struct {
	// Payload is the bytes to send.
	Payload []byte
	// Airtime is how long Payload occupies the channel.
	Airtime time.Duration
	// Priority orders frames when the budget is short.
	Priority Priority
	// Queued is when the frame was queued (for FIFO within a priority and for expiry).
	Queued time.Time
	// Expires, if non-zero, drops the frame unsent after this time (e.g. a
	// beacon that is stale once newer state exists).
	Expires time.Time
	// OnDrop, if set, is called when the scheduler discards the frame
	// unsent (queue full, expired, longer than the budget). It is called
	// from inside Enqueue or Next and must not block or call back into the
	// scheduler.
	OnDrop func()
	// OnSent is carried for the transmitter, which calls it once the frame
	// has gone on air (the scheduler never calls it).
	OnSent func()

	seq uint64
}

// Scheduler queues frames for one radio and releases them within its Budget.
type Scheduler struct {
	budget  *Budget
	q       frameHeap
	seq     uint64
	maxQ    int
	dropped uint64
	expired uint64
}

// NewScheduler returns a scheduler over budget holding at most maxQueue frames.
func NewScheduler(budget *Budget, maxQueue int) *Scheduler {
	return &Scheduler{budget: budget, maxQ: maxQueue}
}

// Budget returns the scheduler's budget.
func (s *Scheduler) Budget() *Budget { return s.budget }

// Len returns the number of queued frames.
func (s *Scheduler) Len() int { return len(s.q) }

// Dropped returns how many frames were refused because the queue was full
// (lowest priority, newest first) and how many expired unsent.
func (s *Scheduler) Dropped() (full, expired uint64) { return s.dropped, s.expired }

// Enqueue adds a frame. When the queue is full the least important frame
// (lowest priority, newest) is dropped — possibly f itself.
func (s *Scheduler) Enqueue(f Frame) error {
	if f.Priority >= numPriorities {
		return fmt.Errorf("airtime: bad priority %d", f.Priority)
	}
	if f.Airtime > time.Duration(shareOf[f.Priority]*float64(s.budget.limit)) {
		return ErrTooLong
	}
	s.seq++
	f.seq = s.seq
	heap.Push(&s.q, f)
	if s.maxQ > 0 && len(s.q) > s.maxQ {
		// Drop the least important: find the max under the heap order.
		worst := 0
		for i := range s.q {
			if s.q.Less(worst, i) {
				worst = i
			}
		}
		dropped := heap.Remove(&s.q, worst).(Frame)
		s.dropped++
		dropped.drop()
	}
	return nil
}

// Next returns the frame to transmit at now, removing it from the queue and
// recording its airtime in the budget. When nothing may be sent now it
// returns ok=false and, if frames are waiting, the earliest time to ask again
// (zero when the queue is empty).
func (s *Scheduler) Next(now time.Time) (f Frame, ok bool, retry time.Time) {
	s.expire(now)
	// Strict priority: the head waits for budget rather than letting a less
	// important frame spend what the head needs.
	for len(s.q) > 0 {
		head := s.q[0]
		at, err := s.budget.NextAllowed(now, head.Airtime, shareOf[head.Priority])
		if err != nil {
			heap.Pop(&s.q).(Frame).drop()
			s.dropped++
			continue
		}
		if at.After(now) {
			return Frame{}, false, at
		}
		heap.Pop(&s.q)
		s.budget.Record(now, head.Airtime)
		return head, true, time.Time{}
	}
	return Frame{}, false, time.Time{}
}

func (s *Scheduler) expire(now time.Time) {
	for i := 0; i < len(s.q); {
		if !s.q[i].Expires.IsZero() && now.After(s.q[i].Expires) {
			heap.Remove(&s.q, i).(Frame).drop()
			s.expired++
			i = 0
			continue
		}
		i++
	}
}

func (f Frame) drop() {
	if f.OnDrop != nil {
		f.OnDrop()
	}
}

type frameHeap []Frame

func (h frameHeap) Len() int { return len(h) }
func (h frameHeap) Less(i, j int) bool {
	if h[i].Priority != h[j].Priority {
		return h[i].Priority < h[j].Priority
	}
	return h[i].seq < h[j].seq
}
func (h frameHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *frameHeap) Push(x any)   { *h = append(*h, x.(Frame)) }
func (h *frameHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	*h = old[:len(old)-1]
	return f
}
