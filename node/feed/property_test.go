package feed_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/view"
)

// history writes a random dataset history through a writer log: data
// events by several members, admissions and removals by the founder and an
// admin, and (outside the writer log) forks signed by misbehaving members.
func history(t *testing.T, rng *rand.Rand) (feed.Signed, []feed.Signed) {
	const t0 = 1_700_000_000_000
	founder := ident(t, 1)
	g, err := feed.NewGenesis(founder, "prop", hlc.New(t0, 0))
	if err != nil {
		t.Fatal(err)
	}
	l, err := feed.NewLog(g, feed.Config{})
	if err != nil {
		t.Fatal(err)
	}
	clocks := map[rns.Hash]*hlc.Clock{founder.Hash(): {}}
	clocks[founder.Hash()].Now(t0) // the genesis' time
	now := int64(t0)
	var out []feed.Signed
	write := func(id *rns.Identity, body feed.Body) (feed.Signed, error) {
		b, err := feed.EncodeBody(body)
		if err != nil {
			t.Fatal(err)
		}
		c := clocks[id.Hash()]
		if c == nil {
			c = &hlc.Clock{}
			clocks[id.Hash()] = c
		}
		now += int64(rng.IntN(3)) // clustered times: many HLC ties broken by author
		s, res, err := l.Append(id, body.Kind(), b, c.Now(now))
		if err == nil {
			out = append(out, res.Accepted...)
		}
		return s, err
	}
	admin := ident(t, 2)
	people := []*rns.Identity{founder, admin}
	for i := range 4 {
		people = append(people, ident(t, byte(10+i)))
	}
	addKey := func(p *rns.Identity, isAdmin bool) feed.MemberAdd {
		var a feed.MemberAdd
		copy(a.Key[:], p.PublicKey())
		a.Admin = isAdmin
		return a
	}
	if _, err := write(founder, addKey(admin, true)); err != nil {
		t.Fatal(err)
	}
	for _, p := range people[2:4] {
		if _, err := write(founder, addKey(p, false)); err != nil {
			t.Fatal(err)
		}
	}
	var forks []feed.Signed
	for range 40 {
		p := people[rng.IntN(len(people))]
		var body feed.Body
		switch r := rng.IntN(20); {
		case r == 0 && p == founder || r == 0 && p == admin:
			body = addKey(people[2+rng.IntN(4)], false)
		case r == 1 && (p == founder || p == admin):
			target := people[2+rng.IntN(4)]
			after := l.Seq(target.Hash()) + uint64(rng.IntN(3))
			if after > 0 {
				after-- // sometimes cuts below what the target already wrote
			}
			body = feed.MemberRemove{Member: target.Hash(), After: after}
		case r == 2 && l.Seq(p.Hash()) > 2:
			// A fork: a second, validly signed event at an existing seq
			// (for the founder, never at the genesis).
			seq := 2 + uint64(rng.IntN(int(l.Seq(p.Hash()))-1))
			prev, _ := l.Predecessor(p.Hash(), seq)
			b, _ := feed.EncodeBody(feed.FieldSet{Record: "r0", Field: "f0", Value: feed.String("fork")})
			orig, _ := l.Get(p.Hash(), seq)
			s, err := feed.Sign(feed.Event{Author: p.Hash(), Seq: seq, Prev: prev, HLC: orig.HLC + 1, Kind: feed.KindFieldSet, Body: b}, l.DatasetID(), p)
			if err != nil {
				t.Fatal(err)
			}
			forks = append(forks, s)
			continue
		case r < 8:
			body = feed.NoteAppend{Record: fmt.Sprintf("r%d", rng.IntN(3)), Text: fmt.Sprintf("n%d", rng.IntN(5))}
		case r < 11:
			body = feed.RecordCreate{Record: fmt.Sprintf("r%d", rng.IntN(3)), Type: []string{"well", "hh"}[rng.IntN(2)]}
		default:
			body = feed.FieldSet{Record: fmt.Sprintf("r%d", rng.IntN(3)), Field: fmt.Sprintf("f%d", rng.IntN(2)), Value: feed.Int(int64(rng.IntN(100)))}
		}
		_, err := write(p, body)
		if err != nil && !errors.Is(err, feed.ErrNotMember) && !errors.Is(err, feed.ErrNotAdmin) && !errors.Is(err, feed.ErrBadBody) {
			t.Fatal(err)
		}
	}
	// Strip most signatures as a relay would (amortised), keeping each feed's last.
	var all []feed.Signed
	for _, a := range l.Authors() {
		all = append(all, l.Authenticated(a, 1, 1)...)
		n := l.Seq(a)
		for from := uint64(1); from <= n; {
			run := l.Authenticated(a, from, from+uint64(rng.IntN(4)))
			all = append(all, run...)
			from = run[len(run)-1].Seq + 1
		}
	}
	_ = out
	return g, append(all, forks...)
}

// TestLogConvergesUnderPermutation checks that the accepted set (frontier,
// forks) and the folded view are a function of the set of events
// received, whatever the order and duplication: membership changes, forks
// and amortised signatures included.
func TestLogConvergesUnderPermutation(t *testing.T) {
	trials := 60
	if runtime.GOARCH == "arm" {
		trials = 4 // ed25519 under qemu is slow
	}
	for seed := range uint64(trials) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			g, evs := history(t, rng)
			var wantDigest [32]byte
			var wantFrontier feed.Frontier
			for p := range 4 {
				perm := append([]feed.Signed(nil), evs...)
				rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
				perm = append(perm, perm[:rng.IntN(len(perm)/2+1)]...)
				l, err := feed.NewLog(g, feed.Config{})
				if err != nil {
					t.Fatal(err)
				}
				v := view.New()
				rebuild := false
				for _, s := range perm {
					res, _ := l.Ingest(s) // rejections are part of the test
					for _, a := range res.Accepted {
						v.Apply(a.Event)
					}
					rebuild = rebuild || len(res.Revoked) > 0
				}
				if rebuild {
					v = view.FromLog(l)
				}
				if d := view.FromLog(l).Digest(); d != v.Digest() {
					t.Fatalf("perm %d: incremental view differs from a rebuild", p)
				}
				fr := l.Frontier()
				if p == 0 {
					wantDigest, wantFrontier = v.Digest(), fr
					continue
				}
				if v.Digest() != wantDigest || fmt.Sprint(fr) != fmt.Sprint(wantFrontier) {
					t.Fatalf("perm %d: frontier %v digest %x; want %v %x", p, fr, v.Digest(), wantFrontier, wantDigest)
				}
			}
		})
	}
}
