package gossip

import (
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
)

// lineNetwork is 0 — 1 — 2: nodes 0 and 2 do not hear each other. Beacons
// are slow (Imin 60 s) so that within the first seconds only pushes move
// data.
func lineNetwork(t *testing.T, relayMs int64) *network {
	nw := newNetwork(t, 7, 3, true, func(i int, c *Config) {
		c.TrickleIminMs = 60_000
		c.RelayWindowMs = relayMs
	})
	nw.link = func(i, j int) bool { return i-j == 1 || j-i == 1 }
	return nw
}

// TestRelayCrossesHiddenNodes: an event written by node 0 reaches node 2,
// which cannot hear node 0, through node 1's relay within the append delay
// plus the relay window — without any beacon or frontier. With relaying
// off it does not get there that fast.
func TestRelayCrossesHiddenNodes(t *testing.T) {
	for _, relay := range []bool{true, false} {
		ms := int64(DefaultRelayWindowMs)
		if !relay {
			ms = -1
		}
		nw := lineNetwork(t, ms)
		nw.now = 5_000
		s := nw.appendAt(0, feed.KindRecordCreate, feed.RecordCreate{Record: "R-1", Type: "water_point"})
		deadline := nw.now + DefaultAppendDelayMs + DefaultRelayWindowMs + 1_000
		got := nw.runUntil(deadline, func() bool { return nw.nodes[2].eng.Log().Seq(s.Author) >= s.Seq })
		if got != relay {
			t.Fatalf("relay %v: node 2 has the event by %d ms: %v; messages %v", relay, deadline, got, nw.msgsByKind)
		}
		if relay {
			if n := nw.msgsByKind[KindFrontier] + nw.msgsByKind[KindWant]; n != 0 {
				t.Fatalf("relay needed %d frontiers/wants", n)
			}
			if n := nw.msgsByKind[KindSlice] + nw.msgsByKind[KindPush]; n != 2 {
				t.Fatalf("%d slices, want 2 (the push and one relay)", n)
			}
		}
	}
}

// TestRelaySuppressedByNeighbour: where every node hears every other, the
// first relay suppresses the others: node 0's event goes on air twice (its
// push and one relay), not once per node.
func TestRelaySuppressedByNeighbour(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		nw := newNetwork(t, seed, 5, true, func(i int, c *Config) { c.TrickleIminMs = 60_000 })
		nw.now = 5_000
		nw.appendAt(0, feed.KindRecordCreate, feed.RecordCreate{Record: "R-1", Type: "water_point"})
		nw.run(nw.now + DefaultAppendDelayMs + DefaultRelayWindowMs + 5_000)
		if !nw.converged() {
			t.Fatalf("seed %d: not converged:\n%s", seed, nw.describe())
		}
		if n := nw.msgsByKind[KindSlice] + nw.msgsByKind[KindPush]; n != 2 {
			t.Fatalf("seed %d: %d slices, want 2 (push + one relay, the other 3 suppressed)", seed, n)
		}
	}
}

// TestPaceStretchesWithLoad: the pause after a data message grows with
// the data messages heard from others over the last 30 s, s·(1 + n·s/W),
// is capped, and shrinks back once the window has passed; beacons do not
// count.
func TestPaceStretchesWithLoad(t *testing.T) {
	fx := getFixture(t)
	e := fx.engine(t, 2, 3)
	s := e.cfg.TxSpacingMs
	if got := e.pace(e.bcast, 20_000); got != s {
		t.Fatalf("idle pace %d, want %d", got, s)
	}
	want := &Want{Tag: e.tag, Ranges: []WantRange{{Author: fx.genesis.Author, From: 999, To: 999}}}
	beacon := &Beacon{Tag: e.tag, Hash: 1, Count: 1}
	for i := range 30 {
		now := int64(20_000 + i*500)
		if err := e.Step(Broadcast, want.AppendTo(nil), now); err != nil {
			t.Fatal(err)
		}
		if err := e.Step(Broadcast, beacon.AppendTo(nil), now); err != nil {
			t.Fatal(err)
		}
	}
	if got, exp := e.pace(e.bcast, 35_000), s+30*s*s/loadWindowMs; got != exp {
		t.Fatalf("pace after 30 wants %d, want %d", got, exp)
	}
	if got := e.pace(e.bcast, 20_000+14_500+loadWindowMs); got != s {
		t.Fatalf("pace after the window %d, want %d", got, s)
	}
	for i := range 2 * maxLoadMarks {
		if err := e.Step(Broadcast, want.AppendTo(nil), int64(100_000+i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.pace(e.bcast, 100_000+2*maxLoadMarks); got != maxPaceFactor*s {
		t.Fatalf("pace under a flood %d, want the cap %d", got, maxPaceFactor*s)
	}
	if len(e.bcast.heard) > maxLoadMarks {
		t.Fatalf("%d load marks kept, bound %d", len(e.bcast.heard), maxLoadMarks)
	}
}

// TestAnswersAreNotRelayed: events that arrive in a plain slice soon after
// this node asked (here: it heard a frontier equal to its own state, which
// asks for it too) are an answer that the neighbours that needed it hear
// as well, and are not relayed; the same slice heard when nobody near it
// asked is an answer to someone it may be the only link to, and is
// relayed, and so are the events of a push.
func TestAnswersAreNotRelayed(t *testing.T) {
	fx := getFixture(t)
	src := fx.engine(t, 0, 1)
	for _, s := range fx.events[len(fx.events)-2:] {
		if _, err := src.log.Restore(s); err != nil {
			t.Fatal(err)
		}
	}
	last := fx.events[len(fx.events)-1]
	run, err := feed.EncodeRun(nil, src.log.Range(last.Author, last.Seq-1, last.Seq), feed.RunOpts{AuthorBytes: src.log.AuthorPrefixLen(last.Author)})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name         string
		asked, push  bool
		wantRelaying bool
	}{
		{"answer to us", true, false, false},
		{"answer to someone else", false, false, true},
		{"push after we asked", true, true, true},
	} {
		e := fx.engine(t, 2, 9)
		if c.asked {
			h, _ := e.Digest()
			same := &Frontier{Tag: e.tag, Hash: h, First: true, Last: true}
			if err := e.Step(Broadcast, same.AppendTo(nil), 19_000); err != nil {
				t.Fatal(err)
			}
		}
		msg := &Slice{Tag: e.tag, Run: run, Push: c.push}
		if err := e.Step(Broadcast, msg.AppendTo(nil), 20_000); err != nil {
			t.Fatal(err)
		}
		rd := e.Ready()
		if len(rd.Persist) != 2 {
			t.Fatalf("%s: %d events accepted, want 2", c.name, len(rd.Persist))
		}
		e.Advance(rd)
		if got := len(e.bcast.relay) > 0; got != c.wantRelaying {
			t.Fatalf("%s: relay scheduled %v", c.name, got)
		}
		pushes := 0
		for _, m := range collect(t, e, 20_000+DefaultRelayWindowMs+1) {
			if Kind(m.Payload[0]) == KindPush {
				pushes++
			}
		}
		if (pushes > 0) != c.wantRelaying {
			t.Fatalf("%s: %d pushes sent", c.name, pushes)
		}
	}
}
