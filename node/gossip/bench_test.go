package gossip

import (
	"fmt"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
)

// syncScenario: two converged nodes are partitioned; node 0 writes n
// typical field-set events (20-byte string values); after 10 minutes the
// partition heals. It returns the bytes of every sync message both nodes
// sent from the heal until node 1 held all n events, the bytes of those
// events in their most compact encoding (feed runs of up to
// feed.MaxRunEvents events with one signature each), the bytes of those
// events as canonical encoding plus a signature each, and the messages by
// kind.
func syncScenario(tb testing.TB, n int, limit int) (syncBytes, runBytes, canonBytes int, msgs map[Kind]int) {
	return syncScenarioWith(tb, n, limit, 2, 0)
}

// syncScenarioWith is syncScenario with `nodes` nodes in one
// neighbourhood (node 0 ahead, all others behind) and a loss rate.
func syncScenarioWith(tb testing.TB, n, limit, nodes int, loss float64) (syncBytes, runBytes, canonBytes int, msgs map[Kind]int) {
	nw := newNetwork(tb, 7, nodes, true, func(i int, c *Config) {
		*c = Config{Identity: c.Identity, Rand: c.Rand, PayloadLimit: limit} // production defaults
	})
	nw.runUntil(3_600_000, func() bool { return nw.converged() && nw.now > 600_000 })
	up := true
	nw.link = func(i, j int) bool { return up }
	up = false
	var written []feed.Signed
	for i := range n {
		nw.run(nw.now + 2_000)
		written = append(written, nw.appendAt(0, feed.KindFieldSet, feed.FieldSet{
			Record: fmt.Sprintf("site-%03d", i%40), Field: "status", Value: feed.String(fmt.Sprintf("checked-ok-%09d", i))}))
	}
	nw.run(nw.now + 600_000)
	clear(nw.bytesByKind)
	clear(nw.msgsByKind)
	nw.loss = loss
	up = true
	if !nw.runUntil(nw.now+24*3_600_000, func() bool { return nw.converged() }) {
		tb.Fatalf("no convergence:\n%s", nw.describe())
	}
	for _, b := range nw.bytesByKind {
		syncBytes += b
	}
	a := written[0].Author
	l := nw.nodes[0].eng.Log()
	for from := written[0].Seq; from <= written[len(written)-1].Seq; from += feed.MaxRunEvents {
		run := l.Authenticated(a, from, min(from+feed.MaxRunEvents-1, written[len(written)-1].Seq))
		enc, err := feed.EncodeRun(nil, run, feed.RunOpts{AuthorBytes: l.AuthorPrefixLen(a)})
		if err != nil {
			tb.Fatal(err)
		}
		runBytes += len(enc)
	}
	for _, s := range written {
		canonBytes += len(s.Canonical()) + len(s.Sig)
	}
	return syncBytes, runBytes, canonBytes, nw.msgsByKind
}

// BenchmarkSyncEfficiency reports the bytes of sync messages needed to
// reconcile two nodes that differ by N events, divided by the bytes of
// those N events: "ratio/run" against their most compact encoding (the
// same feed runs without any sync framing, one signature per 64 events),
// "ratio/canon" against canonical encoding plus a signature each. Goal:
// ratio/run ≤ 1.2 for N ≥ 50.
func BenchmarkSyncEfficiency(b *testing.B) {
	for _, limit := range []int{DefaultPayloadLimit, LinkPayloadLimit} {
		for _, n := range []int{10, 50, 100, 200} {
			b.Run(fmt.Sprintf("limit=%d/N=%d", limit, n), func(b *testing.B) {
				var sb, rb, cb int
				var msgs map[Kind]int
				for b.Loop() {
					sb, rb, cb, msgs = syncScenario(b, n, limit)
				}
				b.ReportMetric(float64(sb)/float64(rb), "ratio/run")
				b.ReportMetric(float64(sb)/float64(cb), "ratio/canon")
				b.ReportMetric(float64(sb), "syncbytes")
				b.ReportMetric(float64(rb), "runbytes")
				b.ReportMetric(float64(msgs[KindSlice]), "slices")
				b.ReportMetric(float64(msgs[KindBeacon]+msgs[KindFrontier]+msgs[KindWant]), "ctrlmsgs")
			})
		}
	}
}

// BenchmarkSyncEfficiencyBroadcast: one node ahead by N=50 events, 1 or 4
// neighbours behind, with 0 or 10 % loss per reception: the bytes of all
// sync messages until every neighbour holds the events, over the bytes of
// the events (ratio/run as above). One broadcast serves every neighbour,
// so four receivers should cost about what one does.
func BenchmarkSyncEfficiencyBroadcast(b *testing.B) {
	for _, behind := range []int{1, 4} {
		for _, loss := range []float64{0, 0.1} {
			b.Run(fmt.Sprintf("receivers=%d/loss=%.0f%%", behind, loss*100), func(b *testing.B) {
				var sb, rb int
				for b.Loop() {
					sb, rb, _, _ = syncScenarioWith(b, 50, DefaultPayloadLimit, behind+1, loss)
				}
				b.ReportMetric(float64(sb)/float64(rb), "ratio/run")
				b.ReportMetric(float64(sb), "syncbytes")
			})
		}
	}
}

// idleScenario: nodes in one neighbourhood, converged, left alone for
// hours; returns beacons per hour over the last 24 hours, and what a fixed
// beacon every Imin (no Trickle) would have cost.
func idleScenario(tb testing.TB, nodes int) (perHour, fixedPerHour float64) {
	nw := newNetwork(tb, 11, nodes, true, func(i int, c *Config) {
		*c = Config{Identity: c.Identity, Rand: c.Rand} // production defaults
	})
	nw.appendAt(0, feed.KindRecordCreate, feed.RecordCreate{Record: "camp", Type: "site"})
	if !nw.runUntil(6*3_600_000, func() bool { return nw.converged() }) {
		tb.Fatalf("no convergence:\n%s", nw.describe())
	}
	nw.run(nw.now + 6*3_600_000) // settle into Imax
	clear(nw.msgsByKind)
	start := nw.now
	const hours = 24
	nw.run(start + hours*3_600_000)
	if got := nw.msgsByKind[KindSlice] + nw.msgsByKind[KindFrontier] + nw.msgsByKind[KindWant]; got != 0 {
		tb.Fatalf("converged nodes sent %d data messages while idle: %v", got, nw.msgsByKind)
	}
	perHour = float64(nw.msgsByKind[KindBeacon]) / hours
	fixedPerHour = float64(nodes) * 3_600_000 / DefaultTrickleIminMs
	return perHour, fixedPerHour
}

// BenchmarkIdleCost reports beacons per hour in a converged neighbourhood
// (all nodes together), and the ratio to a fixed beacon every Imin per node.
func BenchmarkIdleCost(b *testing.B) {
	for _, nodes := range []int{2, 5, 8} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			var ph, fixed float64
			for b.Loop() {
				ph, fixed = idleScenario(b, nodes)
			}
			b.ReportMetric(ph, "beacons/h")
			b.ReportMetric(ph/float64(nodes), "beacons/h/node")
			b.ReportMetric(ph/fixed, "ratio/fixed")
		})
	}
}
