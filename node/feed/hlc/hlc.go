// Package hlc implements a Hybrid Logical Clock (Kulkarni, Demirbas et al.,
// "Logical Physical Clocks and Consistent Snapshots in Globally Distributed
// Databases", 2014) sized for meshlogd events.
//
// A Timestamp packs 48 bits of physical milliseconds since the Unix epoch
// and a 16-bit logical counter into one uint64 (ms<<16 | logical), so
// timestamps compare correctly as plain integers and encode compactly.
//
// The package never reads a clock: physical time is always an argument.
// A Clock is a small value owned by one goroutine; it is not safe for
// concurrent use.
package hlc

import (
	"errors"
	"fmt"
)

// Limits of the packed representation.
const (
	// LogicalBits is the width of the logical counter.
	LogicalBits = 16
	// MaxPhysical is the largest representable physical time in ms (2^48-1).
	MaxPhysical = 1<<48 - 1
	// MaxLogical is the largest logical counter value.
	MaxLogical = 1<<LogicalBits - 1
	// DefaultMaxDrift is the default bound on how far a remote timestamp may
	// run ahead of local physical time before Observe refuses it: 5 minutes.
	DefaultMaxDrift = 5 * 60 * 1000
)

// Errors returned by the clock.
var (
	// ErrDrift means a remote timestamp is further ahead of local physical
	// time than the clock's drift bound allows; the clock was not advanced.
	ErrDrift = errors.New("hlc: remote timestamp too far ahead of physical time")
	// ErrPhysicalRange means a physical time is negative or above MaxPhysical.
	ErrPhysicalRange = errors.New("hlc: physical time out of range")
)

// Timestamp is a hybrid logical timestamp: physical ms in the high 48 bits,
// a logical counter in the low 16 bits. The zero Timestamp is "no time".
type Timestamp uint64

// New packs physical milliseconds and a logical counter. Physical values
// outside [0, MaxPhysical] are clamped.
func New(physicalMs int64, logical uint16) Timestamp {
	if physicalMs < 0 {
		physicalMs = 0
	}
	if physicalMs > MaxPhysical {
		physicalMs = MaxPhysical
	}
	return Timestamp(uint64(physicalMs)<<LogicalBits | uint64(logical))
}

// Physical returns the physical part in milliseconds since the Unix epoch.
func (t Timestamp) Physical() int64 { return int64(uint64(t) >> LogicalBits) }

// Logical returns the logical counter.
func (t Timestamp) Logical() uint16 { return uint16(t) }

// String formats the timestamp as "ms.logical".
func (t Timestamp) String() string { return fmt.Sprintf("%d.%d", t.Physical(), t.Logical()) }

// Clock is a hybrid logical clock. The zero value is usable and has no
// drift bound; use NewClock to set one. Not safe for concurrent use.
type Clock struct {
	last     Timestamp
	maxDrift int64 // ms; <= 0 means unbounded
}

// NewClock returns a clock that refuses (in Observe) remote timestamps more
// than maxDriftMs ahead of local physical time. maxDriftMs <= 0 disables the
// bound.
func NewClock(maxDriftMs int64) *Clock { return &Clock{maxDrift: maxDriftMs} }

// Last returns the most recent timestamp issued or observed.
func (c *Clock) Last() Timestamp { return c.last }

// tick returns the smallest timestamp greater than both c.last and every
// timestamp with physical part below pt: the send rule of Kulkarni et al.
// When the logical counter would overflow, time borrows one millisecond.
func (c *Clock) tick(pt int64) Timestamp {
	if pt < 0 {
		pt = 0
	}
	if pt > MaxPhysical {
		pt = MaxPhysical
	}
	cand := New(pt, 0)
	if cand > c.last {
		c.last = cand
	} else if c.last < Timestamp(1<<64-1) {
		// Same or earlier physical ms: bump the logical counter. Overflow of
		// the low 16 bits carries into the physical part, which keeps the
		// packed integer strictly increasing.
		c.last++
	}
	return c.last
}

// Now returns a new timestamp for a local event at local physical time
// physicalMs. Successive calls return strictly increasing timestamps even if
// physical time stands still or goes backwards.
func (c *Clock) Now(physicalMs int64) Timestamp { return c.tick(physicalMs) }

// Observe merges a timestamp received from elsewhere (the receive rule of
// Kulkarni et al.) and returns the new local timestamp, which is greater than
// both remote and every timestamp issued before. If remote is more than the
// drift bound ahead of physicalMs, the clock is left unchanged and ErrDrift
// is returned together with a fresh local timestamp from Now.
func (c *Clock) Observe(remote Timestamp, physicalMs int64) (Timestamp, error) {
	if c.maxDrift > 0 && remote.Physical()-physicalMs > c.maxDrift {
		return c.Now(physicalMs), fmt.Errorf("%w: remote %s, physical %d ms, bound %d ms", ErrDrift, remote, physicalMs, c.maxDrift)
	}
	if remote > c.last {
		c.last = remote
	}
	return c.tick(physicalMs), nil
}
