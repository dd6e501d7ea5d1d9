package sim

import (
	"math"
	"time"

	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

// Path-loss model used for capture decisions (documented in doc.go):
// log-distance with a free-space reference at 1 m,
//
//	Pr(d) = Ptx − FSPL(1 m, f) − 10·n·log10(d / 1 m),  n = pathLossExponent
//
// Only differences between received powers matter: a frame survives an
// overlap at a receiver when it arrives at least captureDB stronger than
// every other frame overlapping it there.
const (
	pathLossExponent = 2.7
	captureDB        = 6.0
	minDistanceKm    = 0.001
	// linkDistanceKm is the distance assumed for an explicit link between
	// nodes without positions.
	linkDistanceKm = 1.0
)

// rxPowerDBm returns the received power over dKm at freqMHz.
func rxPowerDBm(txDBm float64, freqMHz, dKm float64) float64 {
	if dKm < minDistanceKm {
		dKm = minDistanceKm
	}
	lambda := 299.792458 / freqMHz // metres
	fspl1m := 20 * math.Log10(4*math.Pi/lambda)
	return txDBm - fspl1m - 10*pathLossExponent*math.Log10(dKm*1000)
}

// linkInfo is the static radio relation of an ordered node pair.
type linkInfo struct {
	exists bool
	loss   float64 // per-frame loss probability
	rxDBm  float64 // received power
}

// frame is one LoRa frame on air.
type frame struct {
	from       int
	start, end time.Duration
	data       []byte
	rx         []rxState
	cf         *sx127xtest.Frame // the emulated chips' view (see world.chipFrame)
}

// rxState is one potential reception of a frame.
type rxState struct {
	to       int
	epoch    int  // receiver's epoch when the frame started
	ok       bool // still receivable
	collided bool // lost to an overlapping frame (counted once)
}

// dutyTracker keeps a node's own transmissions inside the sliding window
// and answers when a transmission of a given length may start without the
// airtime in any window of length window exceeding budget.
type dutyTracker struct {
	window, budget time.Duration
	iv             [][2]time.Duration // [start, end), in order, pruned
	maxUsed        time.Duration      // largest airtime seen in one window
}

func (d *dutyTracker) prune(now time.Duration) {
	cut := 0
	for cut < len(d.iv) && d.iv[cut][1] <= now-d.window {
		cut++
	}
	if cut > 0 {
		d.iv = append(d.iv[:0], d.iv[cut:]...)
	}
}

// used returns the airtime inside [from, to].
func (d *dutyTracker) used(from, to time.Duration) time.Duration {
	var u time.Duration
	for _, v := range d.iv {
		a, b := max(v[0], from), min(v[1], to)
		if b > a {
			u += b - a
		}
	}
	return u
}

// earliest returns the earliest t ≥ now at which a transmission of length
// dur may start. The worst window for a transmission [t, t+dur] is the one
// ending at t+dur, so the condition is used(t+dur−window, t) + dur ≤ budget.
// It returns -1 when dur alone exceeds the budget.
func (d *dutyTracker) earliest(now, dur time.Duration) time.Duration {
	if dur > d.budget {
		return -1
	}
	d.prune(now)
	s := now + dur - d.window
	excess := d.used(s, now) + dur - d.budget
	if excess <= 0 {
		return now
	}
	for _, v := range d.iv {
		if v[1] <= s {
			continue
		}
		a := max(v[0], s)
		if l := v[1] - a; l >= excess {
			return a + excess - dur + d.window
		} else {
			excess -= l
			s = v[1]
		}
	}
	return now + d.window // unreachable with consistent bookkeeping
}

// add records a transmission [start, end) and updates maxUsed.
func (d *dutyTracker) add(start, end time.Duration) {
	d.iv = append(d.iv, [2]time.Duration{start, end})
	if u := d.used(end-d.window, end); u > d.maxUsed {
		d.maxUsed = u
	}
}
