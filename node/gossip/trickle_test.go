package gossip

import (
	"math/rand/v2"
	"testing"
)

func fixedRand(seed uint64) func() uint64 {
	r := rand.New(rand.NewPCG(seed, 0x7269636b6c65))
	return r.Uint64
}

// TestTrickleDoublesAndSuppresses checks RFC 6206 §4.2 rules 1-6 on a
// single timer driven tick by tick.
func TestTrickleDoublesAndSuppresses(t *testing.T) {
	rnd := fixedRand(1)
	tr := Trickle{IminMs: 1000, ImaxMs: 8000, K: 1}
	tr.Start(0, rnd)
	var fires []int64
	var intervals []int64
	for now := int64(0); now <= 40000; now += 10 {
		if tr.Tick(now, rnd) {
			fires = append(fires, now)
			intervals = append(intervals, tr.Interval())
		}
	}
	// Intervals: 1000, 2000, 4000, 8000, 8000, ... ; one fire in each, in
	// its second half.
	wantIntervals := []int64{1000, 2000, 4000, 8000, 8000, 8000, 8000}
	if len(intervals) < len(wantIntervals) {
		t.Fatalf("fired %d times (%v), want at least %d", len(fires), fires, len(wantIntervals))
	}
	start := int64(0)
	for i, iv := range wantIntervals {
		if intervals[i] != iv {
			t.Fatalf("fire %d in interval %d, want %d (fires %v)", i, intervals[i], iv, fires)
		}
		if fires[i] < start+iv/2 || fires[i] >= start+iv+10 {
			t.Fatalf("fire %d at %d outside [%d, %d)", i, fires[i], start+iv/2, start+iv)
		}
		start += iv
	}

	// Suppression: hearing K consistent beacons before t silences us.
	tr2 := Trickle{IminMs: 1000, ImaxMs: 1000, K: 2}
	tr2.Start(0, rnd)
	tr2.Heard()
	tr2.Heard()
	for now := int64(0); now < 1000; now += 10 {
		if tr2.Tick(now, rnd) {
			t.Fatalf("fired at %d despite hearing K beacons", now)
		}
	}
	// Next interval: counter reset, fires again.
	fired := false
	for now := int64(1000); now < 2000; now += 10 {
		fired = fired || tr2.Tick(now, rnd)
	}
	if !fired {
		t.Fatal("did not fire in the interval after suppression")
	}
}

func TestTrickleReset(t *testing.T) {
	rnd := fixedRand(2)
	tr := Trickle{IminMs: 1000, ImaxMs: 64000, K: 1}
	tr.Start(0, rnd)
	for now := int64(0); now < 30000; now += 100 {
		tr.Tick(now, rnd)
	}
	if tr.Interval() <= 1000 {
		t.Fatalf("interval %d did not grow", tr.Interval())
	}
	if !tr.Reset(30000, rnd) {
		t.Fatal("Reset with I > Imin did not reset")
	}
	if tr.Interval() != 1000 || tr.Deadline() < 30500 || tr.Deadline() >= 31000 {
		t.Fatalf("after reset: interval %d deadline %d", tr.Interval(), tr.Deadline())
	}
	if tr.Reset(30100, rnd) {
		t.Fatal("Reset with I == Imin reset again (RFC 6206 §4.2 rule 6)")
	}
}

func TestTrickleLongSleep(t *testing.T) {
	rnd := fixedRand(3)
	tr := Trickle{IminMs: 1000, ImaxMs: 4000, K: 1}
	tr.Start(0, rnd)
	// A year later: no late fire for lapsed intervals, bounded work, and
	// the timer continues at Imax.
	now := int64(365 * 24 * 3600 * 1000)
	if tr.Tick(now, rnd) && tr.Deadline() != -1 {
		// Firing is allowed only if now lies in the fire window of the
		// current interval; check that the interval contains now.
		if now < tr.start || now >= tr.start+tr.interval {
			t.Fatal("fired outside the current interval")
		}
	}
	if tr.Interval() != 4000 || tr.start > now || tr.start+tr.interval <= now {
		t.Fatalf("after long sleep: interval %d start %d now %d", tr.Interval(), tr.start, now)
	}
	if d := tr.Deadline(); d <= now-4000 || d > now+4000 {
		t.Fatalf("deadline %d not near now %d", d, now)
	}
}

func TestTrickleStopped(t *testing.T) {
	var tr Trickle
	if tr.Running() || tr.Deadline() != -1 || tr.Tick(5, fixedRand(1)) {
		t.Fatal("zero Trickle must be stopped")
	}
}

// TestTrickleHurry: one Imin interval, then back to the long interval
// (doubling from there); a Reset during it forgets the long interval.
func TestTrickleHurry(t *testing.T) {
	rnd := fixedRand(4)
	tr := Trickle{IminMs: 1000, ImaxMs: 64000, K: 1}
	tr.Start(0, rnd)
	now := int64(0)
	for ; tr.Interval() < 16000; now += 10 {
		tr.Tick(now, rnd)
	}
	if !tr.Hurry(now, rnd) || tr.Interval() != 1000 {
		t.Fatalf("Hurry: interval %d", tr.Interval())
	}
	fired := false
	for end := now + 1000; now < end; now += 10 {
		fired = tr.Tick(now, rnd) || fired
	}
	if !fired {
		t.Fatal("no beacon in the hurried interval")
	}
	tr.Tick(now, rnd)
	if tr.Interval() != 16000 {
		t.Fatalf("after Hurry: interval %d, want the previous 16000", tr.Interval())
	}
	tr.Hurry(now, rnd)
	tr.Reset(now+10, rnd) // I == Imin: Reset keeps the interval but forgets resume
	for end := now + 1010; now < end; now += 10 {
		tr.Tick(now, rnd)
	}
	tr.Tick(now, rnd)
	if tr.Interval() != 2000 {
		t.Fatalf("after Hurry+Reset: interval %d, want 2000 (doubling from Imin)", tr.Interval())
	}
}
