package sim

import (
	"os"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/sim/scenario"
)

// benchScenario runs sc with the real stack and with the baseline (the
// prototype's protocol) in the same benchmark and reports, for both: bytes
// on air per event byte, when the mesh converged (-1: never), idle airtime
// per node per hour after convergence, and how much faster than real time
// the simulation ran; plus the real stack's bytes on air as a fraction of
// the baseline's.
func benchScenario(b *testing.B, sc *scenario.Scenario) {
	var real, base Figures
	var realWall, baseWall time.Duration
	for range b.N {
		t0 := time.Now()
		f, _, err := runOne(sc, sc.Seed, newRealProto(sc))
		if err != nil {
			b.Fatal(err)
		}
		realWall += time.Since(t0)
		t0 = time.Now()
		bf, _, err := runOne(sc, sc.Seed, &baselineProto{})
		if err != nil {
			b.Fatal(err)
		}
		baseWall += time.Since(t0)
		real, base = f, bf
	}
	n := float64(b.N)
	conv := func(f *Figures) float64 {
		if f.ConvergedAtS == nil {
			return -1
		}
		return *f.ConvergedAtS
	}
	ratio := func(x, y int64) float64 {
		if y == 0 {
			return 0
		}
		return float64(x) / float64(y)
	}
	b.ReportMetric(ratio(real.BytesOnAir, real.EventBytes), "air/event-bytes")
	b.ReportMetric(ratio(base.BytesOnAir, base.EventBytes), "baseline-air/event-bytes")
	b.ReportMetric(ratio(real.BytesOnAir, base.BytesOnAir), "air/baseline-air")
	b.ReportMetric(conv(&real), "converged-s")
	b.ReportMetric(conv(&base), "baseline-converged-s")
	b.ReportMetric(real.IdleAirtimeSPerHour, "idle-s/node/h")
	b.ReportMetric(base.IdleAirtimeSPerHour, "baseline-idle-s/node/h")
	b.ReportMetric(sc.Until.Seconds()*n/realWall.Seconds(), "x-realtime")
	b.ReportMetric(sc.Until.Seconds()*n/baseWall.Seconds(), "baseline-x-realtime")
	b.ReportMetric(float64(real.Events), "events")
}

// BenchmarkDefaultScenario: the built-in base-camp scenario.
func BenchmarkDefaultScenario(b *testing.B) { benchScenario(b, scenario.Default()) }

// BenchmarkField50: 50 nodes, 10,000 events (sim/testdata/field50.json).
// It takes minutes; skipped with -short.
func BenchmarkField50(b *testing.B) {
	if testing.Short() {
		b.Skip("long benchmark")
	}
	data, err := os.ReadFile("testdata/field50.json")
	if err != nil {
		b.Fatal(err)
	}
	sc, err := scenario.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	benchScenario(b, sc)
}
