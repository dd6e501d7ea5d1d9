package airtime

import (
	"math/rand"
	"runtime"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestBudgetNeverExceeded(t *testing.T) {
	for seed := int64(0); seed < 50; seed++ {
		r := rand.New(rand.NewSource(seed))
		b, err := NewBudget(0.01, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		s := NewScheduler(b, 1000)
		now := t0
		var sent []tx
		for step := 0; step < 3000; step++ {
			now = now.Add(time.Duration(r.Intn(20_000)) * time.Millisecond)
			if r.Intn(3) == 0 {
				_ = s.Enqueue(Frame{Airtime: time.Duration(50+r.Intn(1500)) * time.Millisecond, Priority: Priority(r.Intn(3)), Queued: now})
			}
			for {
				f, ok, _ := s.Next(now)
				if !ok {
					break
				}
				sent = append(sent, tx{now, f.Airtime})
				now = now.Add(f.Airtime) // half-duplex: nothing else while sending
			}
		}
		if len(sent) < 10 {
			t.Fatalf("seed %d: only %d frames sent", seed, len(sent))
		}
		// Check every window ending at a transmission end.
		for _, end := range sent {
			to := end.start.Add(end.dur)
			from := to.Add(-time.Hour)
			var used time.Duration
			for _, x := range sent {
				used += overlap(x, from, to)
			}
			if used > b.Limit() {
				t.Fatalf("seed %d: %s used in the hour ending %s, limit %s", seed, used, to, b.Limit())
			}
		}
	}
}

func TestPriorityAndBeaconShare(t *testing.T) {
	b, _ := NewBudget(0.01, time.Hour) // 36 s per hour
	s := NewScheduler(b, 100)
	for i := 0; i < 40; i++ {
		_ = s.Enqueue(Frame{Airtime: time.Second, Priority: Beacon})
	}
	_ = s.Enqueue(Frame{Airtime: time.Second, Priority: Data, Payload: []byte("d")})
	f, ok, _ := s.Next(t0)
	if !ok || f.Priority != Data {
		t.Fatalf("first frame %v %v, want the data frame", f.Priority, ok)
	}
	beacons := 0
	for {
		f, ok, _ := s.Next(t0.Add(time.Duration(beacons+1) * time.Second))
		if !ok {
			break
		}
		if f.Priority != Beacon {
			t.Fatal("unexpected frame")
		}
		beacons++
	}
	// Beacons may only use half the budget (18 s), and the data frame used 1 s
	// of the same window.
	if beacons != 17 {
		t.Fatalf("%d beacons sent, want 17 (half the budget less the data frame)", beacons)
	}
	// Data still fits in the remaining budget.
	_ = s.Enqueue(Frame{Airtime: time.Second, Priority: Data})
	if f, ok, _ := s.Next(t0.Add(30 * time.Second)); !ok || f.Priority != Data {
		t.Fatal("data frame starved by beacons")
	}
}

func TestNextAllowedWaitsForWindow(t *testing.T) {
	b, _ := NewBudget(0.01, time.Hour)
	b.Record(t0, 36*time.Second)
	at, err := b.NextAllowed(t0.Add(time.Minute), time.Second, 1)
	if err != nil {
		t.Fatal(err)
	}
	// One second of the old transmission must leave the window.
	want := t0.Add(time.Hour + time.Second - time.Second)
	if at.Before(want) || at.After(want.Add(time.Second)) {
		t.Fatalf("next allowed %s, want about %s", at.Sub(t0), want.Sub(t0))
	}
	if !b.Allowed(at, time.Second, 1) {
		t.Fatal("NextAllowed returned a time that is not allowed")
	}
	if _, err := b.NextAllowed(t0, time.Minute, 1); err != ErrTooLong {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
}

func TestQueueBoundAndExpiry(t *testing.T) {
	b, _ := NewBudget(1, time.Hour)
	s := NewScheduler(b, 3)
	var drops []string
	onDrop := func(name string) func() { return func() { drops = append(drops, name) } }
	_ = s.Enqueue(Frame{Airtime: time.Millisecond, Priority: Beacon, Payload: []byte("b1"), OnDrop: onDrop("b1")})
	_ = s.Enqueue(Frame{Airtime: time.Millisecond, Priority: Data, Payload: []byte("d1"), OnDrop: onDrop("d1")})
	_ = s.Enqueue(Frame{Airtime: time.Millisecond, Priority: Control, Payload: []byte("c1"), Expires: t0.Add(time.Second), OnDrop: onDrop("c1")})
	_ = s.Enqueue(Frame{Airtime: time.Millisecond, Priority: Data, Payload: []byte("d2")})
	if full, _ := s.Dropped(); full != 1 || s.Len() != 3 {
		t.Fatalf("dropped %d, len %d", full, s.Len())
	}
	var got []string
	for {
		f, ok, _ := s.Next(t0.Add(2 * time.Second))
		if !ok {
			break
		}
		got = append(got, string(f.Payload))
	}
	if len(got) != 2 || got[0] != "d1" || got[1] != "d2" {
		t.Fatalf("sent %v, want [d1 d2] (b1 dropped when full, c1 expired)", got)
	}
	if _, exp := s.Dropped(); exp != 1 {
		t.Fatalf("expired %d", exp)
	}
	if len(drops) != 2 || drops[0] != "b1" || drops[1] != "c1" {
		t.Fatalf("OnDrop calls %v, want [b1 c1]", drops)
	}
}

func TestBadArguments(t *testing.T) {
	if _, err := NewBudget(0, time.Hour); err == nil {
		t.Fatal("duty 0 accepted")
	}
	if _, err := NewBudget(1.5, time.Hour); err == nil {
		t.Fatal("duty 1.5 accepted")
	}
	b, _ := NewBudget(0.01, time.Hour)
	if err := NewScheduler(b, 1).Enqueue(Frame{Priority: 9}); err == nil {
		t.Fatal("bad priority accepted")
	}
}

// TestFastPathMatchesScan checks the binary-search usage sums and the lazy
// breakpoint walk (used while transmissions are disjoint and in order)
// against the plain scans, including after overlapping records turn the
// fast path off and pruning turns it back on.
func TestFastPathMatchesScan(t *testing.T) {
	seeds := int64(8)
	if runtime.GOARCH == "arm" {
		seeds = 2 // the reference scan is quadratic; qemu-arm is slow
	}
	for seed := range seeds {
		r := rand.New(rand.NewSource(seed))
		b, _ := NewBudget(0.1, 10*time.Minute)
		now := t0
		for step := 0; step < 300; step++ {
			now = now.Add(time.Duration(r.Intn(8000)) * time.Millisecond)
			d := time.Duration(20+r.Intn(3000)) * time.Millisecond
			start := now
			if r.Intn(25) == 0 {
				start = now.Add(-time.Duration(r.Intn(2000)) * time.Millisecond) // overlap: disorder
			}
			b.Record(start, d)
			b.prune(now)
			// Reference: the same state with the fast path disabled.
			ref := &Budget{window: b.window, limit: b.limit, txs: append([]tx(nil), b.txs...), disorder: 1}
			want := 0
			for k := 1; k < len(b.txs); k++ {
				if outOfOrder(b.txs[k-1], b.txs[k]) {
					want++
				}
			}
			if b.disorder != want {
				t.Fatalf("seed %d step %d: disorder %d, want %d", seed, step, b.disorder, want)
			}
			for k := 0; k < 5; k++ {
				from := now.Add(-time.Duration(r.Intn(700_000)) * time.Millisecond)
				to := from.Add(time.Duration(r.Intn(700_000)) * time.Millisecond)
				if got, exp := b.usedIn(from, to), ref.usedInScan(from, to); got != exp {
					t.Fatalf("seed %d step %d: usedIn(%v, %v) = %v, scan %v", seed, step, from.Sub(t0), to.Sub(t0), got, exp)
				}
			}
			if step%4 != 0 {
				continue
			}
			fd := time.Duration(20+r.Intn(5000)) * time.Millisecond
			share := []float64{1, 0.9, 0.5}[r.Intn(3)]
			got, err1 := b.NextAllowed(now, fd, share)
			exp, err2 := ref.NextAllowed(now, fd, share)
			if !got.Equal(exp) || (err1 == nil) != (err2 == nil) {
				t.Fatalf("seed %d step %d: NextAllowed = %v %v, scan %v %v", seed, step, got.Sub(t0), err1, exp.Sub(t0), err2)
			}
		}
	}
}

// TestShiftKeepsWindowsExact: a frame released at t but on air only after
// carrier sense is moved to where it really was; the window sums then
// match a scan of the true intervals, and a frame that would cross the
// budget in a later window is held back.
func TestShiftKeepsWindowsExact(t *testing.T) {
	b, _ := NewBudget(0.1, time.Minute) // 6 s per minute
	b.Record(t0, 3*time.Second)
	b.Shift(t0.Add(-time.Second)) // never earlier
	if b.txs[0].start != t0 {
		t.Fatalf("shifted earlier: %v", b.txs[0].start.Sub(t0))
	}
	b.Shift(t0.Add(20 * time.Second)) // CSMA held it 20 s
	b.Record(t0.Add(25*time.Second), 3*time.Second)
	b.Shift(t0.Add(24 * time.Second)) // earlier than recorded: ignored
	ref := &Budget{window: b.window, limit: b.limit, txs: append([]tx(nil), b.txs...), disorder: 1}
	for _, at := range []time.Duration{0, 10 * time.Second, 23 * time.Second, 50 * time.Second, 79 * time.Second} {
		from, to := t0.Add(at-time.Minute), t0.Add(at)
		if got, want := b.usedIn(from, to), ref.usedInScan(from, to); got != want {
			t.Fatalf("window ending %v: %v, scan %v", at, got, want)
		}
	}
	if b.Allowed(t0.Add(30*time.Second), time.Second, 1) {
		t.Fatal("a 7th second inside the minute after the shifted frames was allowed")
	}
	at, err := b.NextAllowed(t0.Add(30*time.Second), time.Second, 1)
	if err != nil || at != t0.Add(80*time.Second) {
		t.Fatalf("next allowed %v %v, want 80s (the window [21s, 81s] holds 2+3 s)", at.Sub(t0), err)
	}
	// Shifting into an overlap turns the fast path off; it stays exact.
	b.Record(t0.Add(90*time.Second), time.Second)
	b.Record(t0.Add(91*time.Second), time.Second)
	b.Shift(t0.Add(91500 * time.Millisecond))
	if b.disorder != 0 {
		t.Fatalf("disorder %d after a shift that keeps order", b.disorder)
	}
}
