package gossip

// Trickle is the RFC 6206 timer, as a pure value: time is an argument
// (milliseconds on any monotonic scale) and randomness comes from the
// function given to each call. The zero value is stopped; call Start.
//
// The algorithm (RFC 6206 §4.2): an interval I starts at Imin; at its start
// the counter c is reset and a fire time t is drawn uniformly from
// [I/2, I). A consistent transmission heard during the interval increments
// c. At t the node transmits if c < k (suppression). When the interval
// ends, I doubles up to Imax and a new interval starts. An inconsistency
// resets I to Imin and starts a new interval, unless I already equals Imin.
type Trickle struct {
	IminMs int64 // smallest interval, ms (> 0)
	ImaxMs int64 // largest interval, ms (≥ IminMs)
	K      int   // redundancy constant; 0 means never suppress

	interval int64 // current I
	start    int64 // start of the current interval
	fireAt   int64 // t, absolute; < 0 once fired in this interval
	counter  int   // c
	running  bool
	resume   int64 // interval to return to after a Hurry interval; 0 if none
}

// Start begins a new interval of length Imin at now.
func (t *Trickle) Start(now int64, rnd func() uint64) {
	t.running = true
	t.resume = 0
	t.begin(now, t.IminMs, rnd)
}

func (t *Trickle) begin(now, interval int64, rnd func() uint64) {
	t.interval = interval
	t.start = now
	t.counter = 0
	half := interval / 2
	span := interval - half
	t.fireAt = now + half
	if span > 0 {
		t.fireAt += int64(rnd() % uint64(span))
	}
}

// Running reports whether the timer has been started.
func (t *Trickle) Running() bool { return t.running }

// Interval returns the current interval length in ms.
func (t *Trickle) Interval() int64 { return t.interval }

// Heard records a consistent transmission (c++).
func (t *Trickle) Heard() { t.counter++ }

// Reset handles an inconsistency at now: if the interval is longer than
// Imin, a new Imin interval starts. It reports whether it reset.
func (t *Trickle) Reset(now int64, rnd func() uint64) bool {
	if !t.running {
		t.Start(now, rnd)
		return true
	}
	t.resume = 0
	if t.interval <= t.IminMs {
		return false
	}
	t.begin(now, t.IminMs, rnd)
	return true
}

// Hurry makes the timer transmit soon without forgetting how quiet the
// neighbourhood has been: it starts one Imin interval, after which the
// timer goes back to the interval it was in (doubling from there). Use it
// for a local change that neighbours should hear about once; a heard
// inconsistency calls for Reset. It reports whether it changed anything.
func (t *Trickle) Hurry(now int64, rnd func() uint64) bool {
	if !t.running {
		t.Start(now, rnd)
		return true
	}
	if t.interval <= t.IminMs {
		return false
	}
	if t.resume == 0 {
		t.resume = t.interval
	}
	t.begin(now, t.IminMs, rnd)
	return true
}

// Deadline returns the next time Tick has something to do, or -1 if the
// timer is stopped.
func (t *Trickle) Deadline() int64 {
	if !t.running {
		return -1
	}
	if t.fireAt >= 0 {
		return t.fireAt
	}
	return t.start + t.interval
}

// Tick advances the timer to now and reports whether the node should
// transmit its beacon (at most once per interval: the fire time passed and
// fewer than K consistent transmissions were heard). Intervals that ended
// before now roll over with doubling; an interval that lapsed entirely
// while Tick was not called does not transmit late.
func (t *Trickle) Tick(now int64, rnd func() uint64) bool {
	if !t.running {
		return false
	}
	fire := false
	if end := t.start + t.interval; now-end > 4*t.ImaxMs {
		// Long sleep: skip whole lapsed Imax intervals in one step.
		skip := (now - end) / t.ImaxMs
		t.begin(end+(skip-1)*t.ImaxMs, t.ImaxMs, rnd)
	}
	for {
		end := t.start + t.interval
		if t.fireAt >= 0 && now >= t.fireAt {
			if now < end {
				fire = t.K == 0 || t.counter < t.K
			}
			t.fireAt = -1
		}
		if now < end {
			return fire
		}
		next := min(t.interval*2, t.ImaxMs)
		if t.resume > 0 {
			next, t.resume = t.resume, 0
		}
		t.begin(end, next, rnd)
	}
}
