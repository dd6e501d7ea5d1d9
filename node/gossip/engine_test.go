package gossip

import (
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
