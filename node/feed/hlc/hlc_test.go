package hlc

import (
	"errors"
	"testing"
)

func TestPacking(t *testing.T) {
	ts := New(1_700_000_000_123, 42)
	if ts.Physical() != 1_700_000_000_123 || ts.Logical() != 42 || ts.String() != "1700000000123.42" {
		t.Fatalf("got %d.%d %q", ts.Physical(), ts.Logical(), ts)
	}
	if New(-5, 0) != 0 || New(MaxPhysical+9, 0).Physical() != MaxPhysical {
		t.Fatal("physical time not clamped")
	}
}

func TestNowMonotonic(t *testing.T) {
	var c Clock
	prev := Timestamp(0)
	for i, pt := range []int64{1000, 1000, 1000, 999, 500, 2000, 2000} {
		ts := c.Now(pt)
		if ts <= prev {
			t.Fatalf("step %d: %s not after %s", i, ts, prev)
		}
		prev = ts
	}
	if got := c.Now(3000); got != New(3000, 0) {
		t.Fatalf("physical advance: got %s", got)
	}
}

func TestLogicalOverflowCarries(t *testing.T) {
	var c Clock
	c.Now(1000)
	var ts Timestamp
	for range MaxLogical + 1 {
		ts = c.Now(1000)
	}
	if ts.Physical() != 1001 || ts.Logical() != 0 {
		t.Fatalf("after %d ticks in one ms: %s", MaxLogical+1, ts)
	}
}

func TestObserve(t *testing.T) {
	c := NewClock(1000)
	c.Now(5000)
	remote := New(5500, 7)
	ts, err := c.Observe(remote, 5000)
	if err != nil || ts <= remote {
		t.Fatalf("observe: %s, %v", ts, err)
	}
	if ts != New(5500, 8) {
		t.Fatalf("observe: got %s, want 5500.8", ts)
	}
	// Too far ahead: refused, clock not dragged forward.
	before := c.Last()
	ts, err = c.Observe(New(9000, 0), 5000)
	if !errors.Is(err, ErrDrift) || ts.Physical() >= 9000 || ts <= before {
		t.Fatalf("drift: %s, %v", ts, err)
	}
	// Physical time ahead of everything wins.
	if ts, _ := c.Observe(New(100, 0), 20000); ts != New(20000, 0) {
		t.Fatalf("physical ahead: %s", ts)
	}
}
