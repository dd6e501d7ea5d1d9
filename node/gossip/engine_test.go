package gossip

import (
	"errors"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
)

func TestTwoNodesConverge(t *testing.T) {
	nw := newNetwork(t, 1, 2, true, nil)
	for i := range 5 {
		nw.appendAt(0, feed.KindRecordCreate, feed.RecordCreate{Record: "r" + string(rune('a'+i)), Type: "site"})
		nw.appendAt(1, feed.KindFieldSet, feed.FieldSet{Record: "ra", Field: "water", Value: feed.Int(int64(i))})
	}
	if !nw.runUntil(10*60_000, func() bool { return nw.converged() && len(nw.nodes[0].eng.View().Records()) == 5 }) {
		t.Fatalf("not converged at %d ms:\n%s", nw.now, nw.describe())
	}
	t.Logf("converged at %d ms; bytes %v msgs %v", nw.now, nw.bytesByKind, nw.msgsByKind)
}

// TestAdvanceOutOfOrder: Readies advanced in reverse order still make
// every event durable, and nothing is advertised before its predecessors.
func TestAdvanceOutOfOrder(t *testing.T) {
	fx := getFixture(t)
	e := fx.engine(t, 2, 11)
	self := e.self()
	base := e.Frontier()[self]
	var rds []Ready
	for i := range 3 {
		body, _ := feed.EncodeBody(feed.NoteAppend{Record: "camp", Text: "n" + string(rune('0'+i))})
		if _, err := e.Append(feed.KindNoteAppend, body, 20_000+int64(i)); err != nil {
			t.Fatal(err)
		}
		rds = append(rds, e.Ready())
	}
	e.Advance(rds[2])
	e.Advance(rds[1])
	if got := e.Frontier()[self]; got != base {
		t.Fatalf("durable %d before the first Ready was advanced, want %d", got, base)
	}
	e.Advance(rds[0])
	if got := e.Frontier()[self]; got != base+3 {
		t.Fatalf("durable %d, want %d", got, base+3)
	}
	if len(e.durAhead) != 0 {
		t.Fatalf("durAhead not cleaned: %v", e.durAhead)
	}
}

func TestConfigValidation(t *testing.T) {
	fx := getFixture(t)
	l, err := feed.NewLog(fx.genesis, feed.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rnd := func() uint64 { return 4 }
	for _, c := range []Config{
		{},
		{Rand: rnd, PayloadLimit: 100},
		{Rand: rnd, PayloadLimit: 600},
		{Rand: rnd, PeerPayloadLimit: 50},
		{Rand: rnd, TrickleDoublings: 40},
		{Rand: rnd, HoldBackMs: -1},
		{Rand: rnd, MaxPeers: -1},
	} {
		if _, err := New(c, l, 0); !errors.Is(err, ErrConfig) {
			t.Errorf("New(%+v) = %v, want ErrConfig", c, err)
		}
	}
	if _, err := New(Config{Rand: rnd}, nil, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("nil log: %v", err)
	}
	e, err := New(Config{Rand: rnd}, l, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Append(feed.KindNoteAppend, nil, 1); !errors.Is(err, ErrNoIdentity) {
		t.Errorf("Append without identity: %v", err)
	}
	if err := e.AddPeer(Broadcast, 0, 0); !errors.Is(err, ErrConfig) {
		t.Errorf("AddPeer(Broadcast): %v", err)
	}
}
