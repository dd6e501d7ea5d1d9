package gossip

import (
	"cmp"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/view"
)

// convergenceTrials is the number of randomized trials of
// TestConvergenceProperty: 500 on the development host, fewer under
// qemu-arm (5-10x slower), never below 50.
func convergenceTrials() int {
	switch {
	case runtime.GOARCH == "arm":
		return 60
	case testing.Short():
		return 100
	}
	return 500
}

// topology is a symmetric adjacency matrix.
type topology [][]bool

func newTopology(n int) topology {
	t := make(topology, n)
	for i := range t {
		t[i] = make([]bool, n)
	}
	return t
}

func (t topology) connect(i, j int) { t[i][j], t[j][i] = true, true }

// randomIslands splits nodes into 1..3 islands; inside an island the nodes
// form a full mesh or a random tree (so some pairs are only connected
// through relays).
func randomIslands(r *rand.Rand, n int) topology {
	t := newTopology(n)
	k := 1 + r.IntN(3)
	island := make([]int, n)
	for i := range island {
		island[i] = r.IntN(k)
	}
	for g := range k {
		var members []int
		for i, x := range island {
			if x == g {
				members = append(members, i)
			}
		}
		connectGroup(r, t, members)
	}
	return t
}

// connectGroup links members as a full mesh (1/3) or a random tree with a
// few extra edges (2/3).
func connectGroup(r *rand.Rand, t topology, members []int) {
	if r.IntN(3) == 0 {
		for _, a := range members {
			for _, b := range members {
				if a != b {
					t.connect(a, b)
				}
			}
		}
		return
	}
	r.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	for i := 1; i < len(members); i++ {
		t.connect(members[i], members[r.IntN(i)])
	}
	for range r.IntN(len(members) + 1) {
		a, b := members[r.IntN(len(members))], members[r.IntN(len(members))]
		if a != b {
			t.connect(a, b)
		}
	}
}

// appended is an event a test wrote, for end-of-trial checks.
type appended struct {
	node int
	ev   feed.Signed
}

// TestConvergenceProperty runs randomized trials over many nodes with
// partitions that form and heal, loss, reordering, duplication and
// reboots, and
// checks at the end that every node holds the same frontier, a
// byte-identical view, every appended event, and the same LWW winner for
// every concurrently edited field (the one with the highest (HLC, author)).
func TestConvergenceProperty(t *testing.T) {
	trials := convergenceTrials()
	for seed := range uint64(trials) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			convergenceTrial(t, seed)
		})
	}
}

func convergenceTrial(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0xc0ffee))
	n := 3 + r.IntN(6) // 3..8 nodes
	preload := r.IntN(2) == 0
	limit := DefaultPayloadLimit
	if r.IntN(4) == 0 {
		limit = LinkPayloadLimit
	}
	// Half the trials model airtime and let the engine wait for each data
	// message to be on air (Config.AwaitSent), as a duty-cycled runtime
	// would.
	await := r.IntN(2) == 0
	nw := newNetwork(t, seed, n, preload, func(i int, c *Config) {
		c.PayloadLimit = limit
		c.AwaitSent = await
	})
	if await {
		perByte := 1 + r.Int64N(20) // ms per byte: 175 B ≈ 0.2-3.5 s on air
		nw.airtime = func(n int) int64 { return 50 + int64(n)*perByte }
	}
	nw.loss = r.Float64() * 0.3
	nw.dup = r.Float64() * 0.1
	nw.maxDelay = 1 + r.Int64N(3000)
	topo := randomIslands(r, n)
	nw.link = func(i, j int) bool { return topo[i][j] }

	records := []string{"well-1", "well-2", "camp"}
	fields := []string{"status", "water", "notes"}
	var log []appended
	// writer picks a random node that already knows it is a member (a
	// node that has not yet received its admission cannot write).
	writer := func(not int) int {
		var ok []int
		for i, nd := range nw.nodes {
			if i != not && nd.eng.Log().IsMember(nd.id.Hash()) {
				ok = append(ok, i)
			}
		}
		if len(ok) == 0 {
			return -1
		}
		return ok[r.IntN(len(ok))]
	}
	write := func(i int) {
		var s feed.Signed
		switch x := r.IntN(10); {
		case x < 2:
			s = nw.appendAt(i, feed.KindRecordCreate, feed.RecordCreate{Record: records[r.IntN(len(records))], Type: "site"})
		case x < 8:
			s = nw.appendAt(i, feed.KindFieldSet, feed.FieldSet{Record: records[r.IntN(len(records))],
				Field: fields[r.IntN(len(fields))], Value: feed.Int(r.Int64N(1000))})
		default:
			s = nw.appendAt(i, feed.KindNoteAppend, feed.NoteAppend{Record: records[r.IntN(len(records))], Text: fmt.Sprintf("note %d", r.IntN(100))})
		}
		log = append(log, appended{i, s})
	}

	// Chaos: topology changes, appends, and a deliberate concurrent edit
	// of the same field on two nodes, as a time-ordered action list.
	type action struct {
		at   int64
		kind int // 0 topology, 1 append, 2 conflict, 3 restart
	}
	chaosEnd := int64(10+r.IntN(20)) * 60_000
	var acts []action
	for at := int64(0); at < chaosEnd; at += int64(1+r.IntN(5)) * 60_000 {
		acts = append(acts, action{at, 0})
	}
	for range 5 + r.IntN(36) {
		acts = append(acts, action{r.Int64N(chaosEnd), 1})
	}
	acts = append(acts, action{r.Int64N(chaosEnd), 2})
	for range r.IntN(3) {
		acts = append(acts, action{r.Int64N(chaosEnd), 3})
	}
	slices.SortStableFunc(acts, func(x, y action) int { return cmp.Compare(x.at, y.at) })
	for _, a := range acts {
		nw.run(a.at)
		switch a.kind {
		case 0:
			topo = randomIslands(r, n)
		case 1:
			write(writer(-1))
		case 3:
			// A node reboots: engine and log rebuilt from its storage
			// (in-flight state such as queues, claims and stashed runs is
			// lost).
			nw.restart(r.IntN(n))
		case 2:
			x := writer(-1)
			y := writer(x)
			for _, i := range []int{x, y} {
				if i < 0 {
					continue // only one member knows it is one yet
				}
				s := nw.appendAt(i, feed.KindFieldSet, feed.FieldSet{Record: "camp", Field: "status", Value: feed.String(fmt.Sprintf("set by n%d", i))})
				log = append(log, appended{i, s})
			}
		}
	}
	nw.run(chaosEnd)

	// Heal: one connected multi-hop topology, loss capped.
	topo = newTopology(n)
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	connectGroup(r, topo, all)
	nw.loss = min(nw.loss, 0.2)
	healed := nw.now
	if !nw.runUntil(healed+6*3600_000, func() bool { return nw.converged() && allHave(nw, log) }) {
		t.Fatalf("no convergence %d ms after heal (n=%d loss=%.2f dup=%.2f delay=%d preload=%v events=%d):\n%s",
			nw.now-healed, n, nw.loss, nw.dup, nw.maxDelay, preload, len(log), nw.describe())
	}
	checkConverged(t, nw, log)
}

// allHave reports whether every node holds every appended event.
func allHave(nw *network, log []appended) bool {
	for _, nd := range nw.nodes {
		for _, a := range log {
			if nd.eng.Frontier()[a.ev.Author] < a.ev.Seq {
				return false
			}
		}
	}
	return true
}

func checkConverged(t *testing.T, nw *network, log []appended) {
	t.Helper()
	f0 := nw.nodes[0].eng.Frontier()
	for _, nd := range nw.nodes[1:] {
		if f := nd.eng.Frontier(); !maps.Equal(f, f0) {
			t.Fatalf("frontiers differ: n0 %v, %s %v", shortFrontier(f0), nd.name, shortFrontier(f))
		}
	}
	for _, nd := range nw.nodes {
		// Every appended event, byte for byte.
		for _, a := range log {
			got, ok := nd.eng.Log().Get(a.ev.Author, a.ev.Seq)
			if !ok || got.ID() != a.ev.ID() {
				t.Fatalf("%s lacks %s/%d", nd.name, a.ev.Author, a.ev.Seq)
			}
		}
		// Everything accepted was persisted before being advertised.
		if got, want := len(nd.stored), nd.eng.Log().Len()-1; got != want {
			t.Fatalf("%s stored %d events, log holds %d besides the genesis", nd.name, got, want)
		}
		for k, c := range nd.reports {
			if k != ReportClockDrift && c > 0 {
				t.Fatalf("%s: unexpected reports %v", nd.name, nd.reports)
			}
		}
		// The view is the fold of the log.
		if got, want := nd.eng.View().Canonical(), view.FromLog(nd.eng.Log()).Canonical(); string(got) != string(want) {
			t.Fatalf("%s: incremental view differs from a fresh fold", nd.name)
		}
	}
	// LWW: for every field, the winner is the field-set with the highest
	// (HLC, author), on every node.
	type key struct{ rec, field string }
	winners := map[key]feed.Signed{}
	for _, a := range log {
		if a.ev.Kind != feed.KindFieldSet {
			continue
		}
		b, _ := feed.DecodeBody(feed.KindFieldSet, a.ev.Body)
		fs := b.(feed.FieldSet)
		k := key{fs.Record, fs.Field}
		if w, ok := winners[k]; !ok || view.StampOf(&a.ev.Event).Compare(view.StampOf(&w.Event)) > 0 {
			winners[k] = a.ev
		}
	}
	for k, w := range winners {
		b, _ := feed.DecodeBody(feed.KindFieldSet, w.Body)
		want := b.(feed.FieldSet).Value
		for _, nd := range nw.nodes {
			rec, ok := nd.eng.View().Record(k.rec)
			if !ok {
				t.Fatalf("%s: record %s missing", nd.name, k.rec)
			}
			f, ok := rec.Field(k.field)
			if !ok || !f.Value.Equal(want) {
				t.Fatalf("%s: %s.%s = %v, want LWW winner %v", nd.name, k.rec, k.field, f.Value, want)
			}
		}
	}
}
