package gossip

import (
	"fmt"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
)

// TestPrototypeScenario replays the predecessor prototype's scenario: a
// base camp and four teams in three islands ({base, team1}, {team2,
// team3}, {team4}); teams write while apart, team2 and team4 edit the same
// field concurrently; the islands heal in stages, the last one reachable
// only through relays. After each stage the connected nodes agree; at the
// end every node holds every event and shows team4's later edit.
func TestPrototypeScenario(t *testing.T) {
	const (
		base = iota
		team1
		team2
		team3
		team4
	)
	nw := newNetwork(t, 42, 5, true, nil)
	nw.loss = 0.1
	nw.maxDelay = 500
	topo := newTopology(5)
	for i := range 5 {
		for j := range 5 {
			if i != j {
				topo.connect(i, j)
			}
		}
	}
	nw.link = func(i, j int) bool { return topo[i][j] }

	// Together at base camp: the site list.
	for i := range 4 {
		nw.appendAt(base, feed.KindRecordCreate, feed.RecordCreate{Record: fmt.Sprintf("site-%d", i+1), Type: "water-point"})
	}
	if !nw.runUntil(nw.now+3_600_000, func() bool { return nw.converged() }) {
		t.Fatalf("initial sync failed:\n%s", nw.describe())
	}

	// Three islands.
	topo = newTopology(5)
	topo.connect(base, team1)
	topo.connect(team2, team3)
	nw.run(nw.now + 60_000)
	var written []feed.Signed
	for k, team := range []int{team1, team2, team3, team4} {
		for i := range 3 {
			written = append(written, nw.appendAt(team, feed.KindFieldSet, feed.FieldSet{
				Record: fmt.Sprintf("site-%d", k+1), Field: fmt.Sprintf("reading-%d", i), Value: feed.Int(int64(100*team + i))}))
			nw.run(nw.now + 20_000)
		}
	}
	// The conflicting edit: team2 first, team4 five seconds later.
	written = append(written, nw.appendAt(team2, feed.KindFieldSet, feed.FieldSet{Record: "site-4", Field: "status", Value: feed.String("dry")}))
	nw.run(nw.now + 5_000)
	winner := nw.appendAt(team4, feed.KindFieldSet, feed.FieldSet{Record: "site-4", Field: "status", Value: feed.String("flowing")})
	written = append(written, winner)
	nw.run(nw.now + 600_000)
	if !nw.converged(base, team1) || !nw.converged(team2, team3) {
		t.Fatalf("islands did not converge internally:\n%s", nw.describe())
	}
	if nw.converged(base, team2) || nw.converged(team3, team4) {
		t.Fatal("partitioned islands agree: the partition leaked")
	}

	// Stage 1: base camp reaches team2.
	topo.connect(base, team2)
	if !nw.runUntil(nw.now+2*3_600_000, func() bool { return nw.converged(base, team1, team2, team3) }) {
		t.Fatalf("stage 1 did not converge:\n%s", nw.describe())
	}
	if nw.converged(base, team4) {
		t.Fatal("team4 agrees while still cut off")
	}
	stage1 := nw.now

	// Stage 2: team4 reaches team3 only; its events reach base camp through
	// team3 and team2 (store and forward), and everyone else's reach it.
	topo.connect(team3, team4)
	if !nw.runUntil(nw.now+2*3_600_000, func() bool { return nw.converged() && allHave(nw, appendedOf(written)) }) {
		t.Fatalf("stage 2 did not converge:\n%s", nw.describe())
	}
	t.Logf("stage 1 converged at %.1f min, stage 2 %.1f min after it; bytes by kind %v", float64(stage1)/60_000, float64(nw.now-stage1)/60_000, nw.bytesByKind)
	for _, nd := range nw.nodes {
		rec, ok := nd.eng.View().Record("site-4")
		if !ok {
			t.Fatalf("%s: site-4 missing", nd.name)
		}
		f, ok := rec.Field("status")
		if !ok || f.Value.Str() != "flowing" {
			t.Fatalf("%s: site-4.status = %v, want team4's later edit", nd.name, f.Value)
		}
	}
	checkConverged(t, nw, appendedOf(written))
}

func appendedOf(evs []feed.Signed) []appended {
	out := make([]appended, len(evs))
	for i, s := range evs {
		out[i] = appended{ev: s}
	}
	return out
}

// restart rebuilds node i from what it stored, as after a power cut: a
// fresh log restored from storage and a fresh engine. Anything the engine
// produced but the node did not store is gone.
func (nw *network) restart(i int) {
	nw.t.Helper()
	nd := nw.nodes[i]
	l, err := feed.NewLog(nd.eng.Log().Genesis(), feed.Config{})
	if err != nil {
		nw.t.Fatal(err)
	}
	for _, s := range nd.stored {
		if _, err := l.Restore(s); err != nil {
			nw.t.Fatalf("%s: restore: %v", nd.name, err)
		}
	}
	cfg := nd.eng.cfg
	eng, err := New(cfg, l, nw.now)
	if err != nil {
		nw.t.Fatal(err)
	}
	nd.eng = eng
}

// TestCrashBeforePersistNoFork: a node writes, its engine hands the events
// out for persisting, and power fails before they are stored. Because the
// engine never advertises or sends what is not durable, nobody saw them:
// after the restart the node writes new events at the same seqs and no
// node ever sees a fork; everyone converges on what survived.
func TestCrashBeforePersistNoFork(t *testing.T) {
	nw := newNetwork(t, 21, 3, true, nil)
	nw.appendAt(1, feed.KindRecordCreate, feed.RecordCreate{Record: "camp", Type: "site"})
	if !nw.runUntil(nw.now+3_600_000, func() bool { return nw.converged() }) {
		t.Fatalf("initial sync:\n%s", nw.describe())
	}
	// Writes whose Ready is dropped: the node crashes before storing.
	e := nw.nodes[1].eng
	for i := range 3 {
		body, _ := feed.EncodeBody(feed.FieldSet{Record: "camp", Field: "lost", Value: feed.Int(int64(i))})
		if _, err := e.Append(feed.KindFieldSet, body, nw.now); err != nil {
			t.Fatal(err)
		}
	}
	for range 50 { // time passes, the engine runs, but nothing is stored
		nw.now += 1_000
		e.Tick(nw.now)
		for _, m := range e.Ready().Messages {
			nw.transmit(1, m)
		}
	}
	nw.restart(1)
	kept := nw.appendAt(1, feed.KindFieldSet, feed.FieldSet{Record: "camp", Field: "kept", Value: feed.Int(7)})
	if !nw.runUntil(nw.now+3_600_000, func() bool { return nw.converged() && allHave(nw, appendedOf([]feed.Signed{kept})) }) {
		t.Fatalf("no convergence after restart:\n%s", nw.describe())
	}
	for _, nd := range nw.nodes {
		if n := nd.reports[ReportFork]; n != 0 || len(nd.eng.Log().Forks()) != 0 {
			t.Fatalf("%s saw a fork", nd.name)
		}
		rec, _ := nd.eng.View().Record("camp")
		if _, ok := rec.Field("lost"); ok {
			t.Fatalf("%s holds a write that was never durable", nd.name)
		}
	}
}
