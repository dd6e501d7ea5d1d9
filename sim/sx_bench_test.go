package sim

import (
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/sim/scenario"
)

// withSX127x returns a copy of sc whose named nodes use "radio": "sx127x".
func withSX127x(sc *scenario.Scenario, names ...string) *scenario.Scenario {
	c := *sc
	c.Nodes = append([]scenario.Node(nil), sc.Nodes...)
	for i := range c.Nodes {
		for _, n := range names {
			if c.Nodes[i].Name == n {
				c.Nodes[i].Radio = "sx127x"
			}
		}
	}
	return &c
}

// BenchmarkSX127xNodes runs the default scenario with team_a and team_c on
// the real sx127x driver and emulated chip, and the same scenario with
// every radio "sim", in the same loop. It reports how much faster than
// real time each ran, the mixed run's wall time as a multiple of the
// all-sim run's, the handoffs (simulator ⇄ driver goroutine) per virtual
// second per sx127x node, and the extra wall time per handoff.
func BenchmarkSX127xNodes(b *testing.B) {
	plain := scenario.Default()
	mixed := withSX127x(plain, "team_a", "team_c")
	var simWall, sxWall time.Duration
	var handoffs uint64
	for range b.N {
		t0 := time.Now()
		if _, _, err := runOne(plain, plain.Seed, newRealProto(plain)); err != nil {
			b.Fatal(err)
		}
		simWall += time.Since(t0)
		t0 = time.Now()
		_, d, err := runOne(mixed, mixed.Seed, newRealProto(mixed))
		if err != nil {
			b.Fatal(err)
		}
		sxWall += time.Since(t0)
		handoffs = 0
		for _, ns := range d.NodeStats {
			if ns.SX != nil {
				handoffs += ns.SX.Handoffs
			}
		}
	}
	n := float64(b.N)
	virt := plain.Until.Seconds()
	b.ReportMetric(virt*n/sxWall.Seconds(), "x-realtime")
	b.ReportMetric(virt*n/simWall.Seconds(), "all-sim-x-realtime")
	b.ReportMetric(sxWall.Seconds()/simWall.Seconds(), "wall/all-sim-wall")
	b.ReportMetric(float64(handoffs)/virt/2, "handoffs/s/sx-node")
	if handoffs > 0 {
		b.ReportMetric(float64(sxWall-simWall)/n/float64(handoffs), "extra-ns/handoff")
	}
}
