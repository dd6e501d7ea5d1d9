package gossip_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/rns"
)

// Two engines on one shared (lossless) channel: the base camp founds a
// dataset and admits a team; the team writes a reading; the runtime loop —
// persist, transmit, advance — brings both to the same view.
func Example() {
	keys := rand.NewChaCha8([32]byte{1})
	baseID, _ := rns.NewIdentity(keys)
	teamID, _ := rns.NewIdentity(keys)

	genesis, _ := feed.NewGenesis(baseID, "field-camp", hlc.New(1_000, 0))
	newEngine := func(id *rns.Identity, seed uint64) *gossip.Engine {
		log, _ := feed.NewLog(genesis, feed.Config{})
		r := rand.New(rand.NewPCG(seed, 0))
		e, err := gossip.New(gossip.Config{Identity: id, Rand: r.Uint64}, log, 0)
		if err != nil {
			panic(err)
		}
		return e
	}
	base, team := newEngine(baseID, 1), newEngine(teamID, 2)

	var add feed.MemberAdd
	copy(add.Key[:], teamID.PublicKey())
	body, _ := feed.EncodeBody(add)
	if _, err := base.Append(feed.KindMemberAdd, body, 2_000); err != nil {
		panic(err)
	}

	var airBytes int
	// deliver handles one engine's Ready: persist (here: nothing to do),
	// transmit to the other engine, then Advance.
	deliver := func(from, to *gossip.Engine, now int64) {
		for from.HasReady() {
			rd := from.Ready()
			// storage.AppendBatch(rd.Persist) and fsync would go here.
			for _, m := range rd.Messages {
				airBytes += len(m.Payload)
				_ = to.Step(gossip.Broadcast, m.Payload, now) // valid by construction
			}
			from.Advance(rd)
		}
	}
	wrote := false
	for now := int64(2_000); now < 600_000; now += 100 {
		if !wrote && team.Log().IsMember(teamID.Hash()) {
			body, _ := feed.EncodeBody(feed.FieldSet{Record: "well-3", Field: "depth_m", Value: feed.Float(12.5)})
			if _, err := team.Append(feed.KindFieldSet, body, now); err != nil {
				panic(err)
			}
			wrote = true
		}
		for _, e := range []*gossip.Engine{base, team} {
			if e.NextDeadline() <= now {
				e.Tick(now)
			}
		}
		deliver(base, team, now)
		deliver(team, base, now)
	}
	bh, bc := base.Digest()
	th, tc := team.Digest()
	rec, _ := base.View().Record("well-3")
	depth, _ := rec.Field("depth_m")
	fmt.Println("same digest:", bh == th && bc == tc, "events:", bc)
	fmt.Println("base camp sees well-3 depth_m =", depth.Value)
	fmt.Println("bytes on air under 1 KiB:", airBytes < 1024)
	// Output:
	// same digest: true events: 3
	// base camp sees well-3 depth_m = 12.5
	// bytes on air under 1 KiB: true
}
