package sim

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/sim/scenario"
)

// FuzzBaselineReceive feeds arbitrary payloads (as heard on air) to the
// baseline engine: it must never panic, and its fragment buffer stays
// bounded.
func FuzzBaselineReceive(f *testing.F) {
	ids := make([]*rns.Identity, 2)
	for i := range ids {
		id, err := rns.FromPrivateKey(streamBytes(1, "identity", 64, i))
		if err != nil {
			f.Fatal(err)
		}
		ids[i] = id
	}
	p := &baselineProto{}
	if err := p.prepare(ids, 1); err != nil {
		f.Fatal(err)
	}
	// Seeds: real messages of a writing node.
	src, err := p.start(nodeEnv{idx: 0, identity: ids[0], rand: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		f.Fatal(err)
	}
	_ = src.write(scenario.Op{Create: &scenario.Create{Record: "R", Type: "t"}}, time.Minute)
	_ = src.write(scenario.Op{Note: &scenario.Note{Record: "R", Text: "a longer note to make the message fragment"}}, 2*time.Minute)
	src.tick(10 * time.Minute)
	dst := p.index
	_ = dst
	// A frontier from node 1 addressed to node 0 makes it push events.
	h := ids[1].Hash()
	src.receive([]byte(`{"t":"frontier","from":"`+h.String()+`","to":"*","frontier":{}}`), 11*time.Minute)
	for _, m := range src.ready().msgs {
		f.Add(m)
	}
	f.Add([]byte(`F`))
	f.Add([]byte{'F', 0, 1, 0x12, '{'})
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, err := p.start(nodeEnv{idx: 1, identity: ids[1], rand: rand.New(rand.NewPCG(2, 2))})
		if err != nil {
			t.Fatal(err)
		}
		be := e.(*baselineEngine)
		for i := range 3 {
			e.receive(payload, time.Duration(i)*time.Second)
		}
		if len(be.frags) > 64 {
			t.Fatalf("%d fragment buffers", len(be.frags))
		}
		_ = e.ready()
		_ = e.digest()
	})
}
