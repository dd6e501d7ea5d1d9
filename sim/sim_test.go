package sim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/meshlogd/meshlogd/sim/scenario"
)

func mustParse(t testing.TB, src string) *scenario.Scenario {
	t.Helper()
	sc, err := scenario.Parse([]byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return sc
}

func reportJSON(t testing.TB, r *Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// checkConverged asserts the invariants of a converged run.
func checkConverged(t *testing.T, sc *scenario.Scenario, f *Figures) {
	t.Helper()
	if !f.Converged {
		t.Fatalf("not converged by %v: %+v", sc.Until, f)
	}
	var first string
	for name, d := range f.ViewDigest {
		if first == "" {
			first = d
		}
		if d != first {
			t.Fatalf("node %s has view digest %s, another has %s", name, d, first)
		}
	}
	if f.MaxDutyCycle > sc.Radio.DutyCycle+1e-9 {
		t.Fatalf("max duty cycle %v above the budget %v", f.MaxDutyCycle, sc.Radio.DutyCycle)
	}
	if f.Forks != 0 {
		t.Fatalf("%d forks", f.Forks)
	}
}

func TestDeterminism(t *testing.T) {
	sc := scenario.Default()
	run := func(opt Options) ([]byte, []byte) {
		r, err := Run(sc, opt)
		if err != nil {
			t.Fatal(err)
		}
		var txt, svg bytes.Buffer
		if err := r.WriteText(&txt); err != nil {
			t.Fatal(err)
		}
		if err := r.WriteSVG(&svg); err != nil {
			t.Fatal(err)
		}
		return append(reportJSON(t, r), txt.Bytes()...), svg.Bytes()
	}
	a, asvg := run(Options{Baseline: true})
	b, bsvg := run(Options{Baseline: true})
	if !bytes.Equal(a, b) || !bytes.Equal(asvg, bsvg) {
		t.Fatal("two runs with the same seed differ")
	}
	c, _ := run(Options{Seed: 99, SeedSet: true, Baseline: true})
	if bytes.Equal(a, c) {
		t.Fatal("a different seed gave the same report")
	}
}

func TestDefaultScenario(t *testing.T) {
	sc := scenario.Default()
	r, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkConverged(t, sc, &r.Figures)
	if !r.OK() {
		t.Fatal("OK() false for a converged run")
	}
	if r.Events != 6+4*12 || r.EventBytes <= 0 || r.BytesOnAir <= r.EventBytes {
		t.Fatalf("events %d, event bytes %d, bytes on air %d", r.Events, r.EventBytes, r.BytesOnAir)
	}
	// team_c's write is 3 s later (higher HLC): it wins everywhere.
	if len(r.Detail.Conflicts) != 1 {
		t.Fatalf("conflicts %+v", r.Detail.Conflicts)
	}
	c := r.Detail.Conflicts[0]
	if c.Record != "R-100" || c.Field != "status" || c.Winner != "team_c" || c.Value != `"broken"` {
		t.Fatalf("conflict %+v", c)
	}
	var txt bytes.Buffer
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"three islands", "full heal", "Result: converged at", "LWW conflict R-100.status", "team_c", "max duty"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}
}

func TestJSONReportFields(t *testing.T) {
	r, err := Run(scenario.Default(), Options{Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(reportJSON(t, r), &m); err != nil {
		t.Fatal(err)
	}
	want := []string{"seed", "scenario", "converged", "converged_at_s", "nodes", "events", "event_bytes", "frames_on_air",
		"bytes_on_air", "collisions", "airtime_s", "max_duty_cycle", "idle_airtime_s_per_hour", "view_digest", "forks", "baseline"}
	if len(m) != len(want) {
		t.Errorf("JSON has %d keys, want %d", len(m), len(want))
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	var base map[string]json.RawMessage
	if err := json.Unmarshal(m["baseline"], &base); err != nil || len(base) != len(want)-1 {
		t.Fatalf("baseline object %s (%v)", m["baseline"], err)
	}
}

// randomScenario builds a connected random mesh with loss, partitions that
// form and heal, node restarts and a random workload.
func randomScenario(seed uint64, nodes int) string {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	type pos struct{ x, y float64 }
	var ps []pos
	for len(ps) < nodes {
		p := pos{r.Float64() * 5, r.Float64() * 5}
		// Keep the mesh connected: each new node within range of an earlier one.
		ok := len(ps) == 0
		for _, q := range ps {
			if (p.x-q.x)*(p.x-q.x)+(p.y-q.y)*(p.y-q.y) < 2.5*2.5 {
				ok = true
			}
		}
		if ok {
			ps = append(ps, p)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `{"name":"random-%d","seed":%d,"radio":{"sf":7,"duty_cycle":0.01},"range_km":3,"loss":%.2f,"nodes":[`, seed, seed, r.Float64()*0.3)
	for i, p := range ps {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":"n%d","pos":[%.3f,%.3f]}`, i, p.x, p.y)
	}
	b.WriteString(`],"script":[`)
	var steps []string
	// A partition into two random halves from 10m to 40m.
	var g1, g2 []string
	for i := range ps {
		if r.IntN(2) == 0 {
			g1 = append(g1, fmt.Sprintf("%q", fmt.Sprintf("n%d", i)))
		} else {
			g2 = append(g2, fmt.Sprintf("%q", fmt.Sprintf("n%d", i)))
		}
	}
	if len(g1) > 0 && len(g2) > 0 {
		steps = append(steps, fmt.Sprintf(`{"at":"10m","partition":[[%s],[%s]]}`, strings.Join(g1, ","), strings.Join(g2, ",")),
			`{"at":"40m","heal":true}`)
	}
	// Two restarts.
	for k := range 2 {
		n := r.IntN(len(ps))
		at := 5 + r.IntN(40)
		steps = append(steps, fmt.Sprintf(`{"at":"%dm","node":"n%d","down":true}`, at, n),
			fmt.Sprintf(`{"at":"%dm%ds","node":"n%d","up":true}`, at+1+r.IntN(10), k, n))
	}
	// A concurrent edit.
	steps = append(steps, `{"at":"2m","node":"n0","create":{"record":"X","type":"t"}}`,
		fmt.Sprintf(`{"at":"20m","node":"n%d","set":{"record":"X","field":"f","value":1}}`, r.IntN(len(ps))),
		fmt.Sprintf(`{"at":"20m","node":"n%d","set":{"record":"X","field":"f","value":2}}`, r.IntN(len(ps))))
	b.WriteString(strings.Join(steps, ","))
	fmt.Fprintf(&b, `],"workload":{"events_per_node":4,"from":"0s","to":"45m"},"until":"4h"}`)
	return b.String()
}

func TestConvergenceRandomized(t *testing.T) {
	seeds := 8
	if testing.Short() {
		seeds = 3
	}
	for seed := uint64(1); seed <= uint64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			sc := mustParse(t, randomScenario(seed, 5+int(seed%4)))
			r, err := Run(sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkConverged(t, sc, &r.Figures)
		})
	}
}

// A dense cluster with a burst of writes: frames collide, and the mesh
// still converges.
func TestDenseCollisionsStillConverge(t *testing.T) {
	var nodes []string
	for i := range 12 {
		nodes = append(nodes, fmt.Sprintf(`{"name":"d%d","pos":[%.2f,%.2f]}`, i, float64(i%4)*0.3, float64(i/4)*0.3))
	}
	src := `{"name":"dense","seed":3,"radio":{"sf":7,"duty_cycle":0.01},"range_km":3,"nodes":[` + strings.Join(nodes, ",") +
		`],"workload":{"events_per_node":6,"from":"0s","to":"3m"},"until":"3h"}`
	sc := mustParse(t, src)
	r, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Collisions == 0 {
		t.Fatal("no collisions in a dense burst")
	}
	checkConverged(t, sc, &r.Figures)
}

// Persist before send: a write whose node crashes before the write is
// durable is lost, and it never reached anyone.
func TestCrashLosesOnlyNonDurableTail(t *testing.T) {
	src := `{"seed":5,"radio":{"sf":7,"duty_cycle":0.1},"persist_delay":"30s","range_km":3,
		"nodes":[{"name":"a","pos":[0,0]},{"name":"b","pos":[1,0]}],
		"script":[{"at":"1m","node":"a","create":{"record":"kept","type":"t"}},
		          {"at":"5m","node":"a","create":{"record":"lost","type":"t"}},
		          {"at":"5m10s","node":"a","down":true},
		          {"at":"6m","node":"a","up":true},
		          {"at":"8m","node":"a","create":{"record":"after","type":"t"}}],
		"until":"1h"}`
	sc := mustParse(t, src)
	r, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkConverged(t, sc, &r.Figures)
	if r.Events != 2 {
		t.Fatalf("%d events survive, want 2 (kept, after)", r.Events)
	}
}

func TestSVGWellFormed(t *testing.T) {
	r, err := Run(scenario.Default(), Options{Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	d := xml.NewDecoder(&b)
	rects := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if rects < 20 {
		t.Fatalf("only %d rects", rects)
	}
}

// A link whose loss is raised to 100 % carries nothing more: a later write
// cannot cross it, and a scenario that says so still passes.
func TestLinkLossChange(t *testing.T) {
	src := `{"seed":2,"radio":{"sf":7,"duty_cycle":0.1},"nodes":[{"name":"a","pos":[0,0]},{"name":"b","pos":[1,0]}],
		"links":[{"a":"a","b":"b","loss":0}],
		"script":[{"at":"1m","node":"a","create":{"record":"before","type":"t"}},
		          {"at":"10m","label":"cut","link":{"a":"a","b":"b","loss":1}},
		          {"at":"11m","node":"a","create":{"record":"after","type":"t"}}],
		"until":"1h","expect_convergence":false}`
	sc := mustParse(t, src)
	r, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Converged || !r.OK() {
		t.Fatalf("converged %v, OK %v", r.Converged, r.OK())
	}
	if r.Detail.NodeStats[1].Events != 1 || r.Detail.NodeStats[0].Events != 2 {
		t.Fatalf("events a=%d b=%d, want 2 and 1", r.Detail.NodeStats[0].Events, r.Detail.NodeStats[1].Events)
	}
	if len(r.Detail.Phases) != 1 || r.Detail.Phases[0].Label != "cut" {
		t.Fatalf("phases %+v", r.Detail.Phases)
	}
}

// TestSyncSectionReachesEngines: the scenario's sync section configures
// every node's engine — with relaying off the default scenario still
// converges, and what goes on air differs.
func TestSyncSectionReachesEngines(t *testing.T) {
	on := scenario.Default()
	off := scenario.Default()
	off.Sync.RelayWindow = 0
	ron, err := Run(on, Options{})
	if err != nil {
		t.Fatal(err)
	}
	roff, err := Run(off, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !ron.Converged || !roff.Converged {
		t.Fatalf("converged: relay on %v, off %v", ron.Converged, roff.Converged)
	}
	if ron.FramesOnAir == roff.FramesOnAir && ron.BytesOnAir == roff.BytesOnAir {
		t.Fatalf("relay_window off changed nothing on air (%d frames)", ron.FramesOnAir)
	}
	t.Logf("bytes on air ÷ event bytes: relay on %.2f, off %.2f", float64(ron.BytesOnAir)/float64(ron.EventBytes), float64(roff.BytesOnAir)/float64(roff.EventBytes))
}
