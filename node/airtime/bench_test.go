package airtime

import (
	"testing"
	"time"
)

// fullBudget returns a 10 %/1 h budget holding n back-to-back 300 ms
// transmissions that end at the returned time: a node that has been
// sending at its limit for an hour (n = 1200 fills it).
func fullBudget(n int) (*Budget, time.Time) {
	b, _ := NewBudget(0.1, time.Hour)
	at := t0
	for range n {
		b.Record(at, 300*time.Millisecond)
		at = at.Add(3 * time.Second)
	}
	return b, at
}

// BenchmarkNextAllowed: the scheduler's question "when may the next frame
// go?" on a budget that is full (1,200 transmissions in the window), with
// the prefix-sum fast path, against the same question answered by the
// plain scans (the implementation before it) in the same run.
func BenchmarkNextAllowed(b *testing.B) {
	fast, now := fullBudget(1200)
	slow := &Budget{window: fast.window, limit: fast.limit, txs: append([]tx(nil), fast.txs...), disorder: 1}
	var tFast, tSlow time.Duration
	for range b.N {
		t := time.Now()
		a1, _ := fast.NextAllowed(now, 300*time.Millisecond, 1)
		tFast += time.Since(t)
		t = time.Now()
		a2, _ := slow.NextAllowed(now, 300*time.Millisecond, 1)
		tSlow += time.Since(t)
		if !a1.Equal(a2) {
			b.Fatalf("fast %v, scan %v", a1, a2)
		}
	}
	b.ReportMetric(float64(tFast.Nanoseconds())/float64(b.N), "ns/fast")
	b.ReportMetric(float64(tSlow.Nanoseconds())/float64(b.N), "ns/scan")
	b.ReportMetric(float64(tSlow)/float64(tFast), "speedup")
}
