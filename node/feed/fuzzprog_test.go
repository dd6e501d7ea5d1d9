package feed

import (
	"testing"

	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// progFixture is a writer log with honest feeds: the founder admits three
// members (one of them an admin) and later removes member 3 after its
// seq 6; every member writes 12 events.
type progFixture struct {
	*fixture
	people []*rns.Identity
}

func newProgFixture(t testing.TB) *progFixture {
	f := newFixture(t, 1)
	p := &progFixture{fixture: f, people: []*rns.Identity{f.founder}}
	for i := 1; i <= 3; i++ {
		id := testIdentity(t, uint64(200+i))
		f.admit(id, i == 1)
		p.people = append(p.people, id)
	}
	for i := range 12 {
		for _, id := range p.people[1:] {
			if id == p.people[3] && i >= 6 {
				continue
			}
			f.write(id, fieldSet("r", "f", Int(int64(i))))
		}
	}
	f.write(f.founder, MemberRemove{Member: p.people[3].Hash(), After: 6})
	return p
}

// FuzzLogProgram drives a replica Log with sequences of genuinely signed,
// unsigned, forked and mis-linked events, three input bytes per step, and
// checks the log's invariants: bounded gap buffer, linked accepted chains,
// only members' events, nothing above a fork freeze.
func FuzzLogProgram(f *testing.F) {
	pf := newProgFixture(f)
	f.Add([]byte{0, 2, 1, 1, 1, 1, 1, 2, 0, 1, 3, 1})
	f.Add([]byte{1, 1, 1, 0, 2, 1, 1, 3, 3, 1, 2, 1, 0, 5, 1})
	f.Add([]byte{0, 2, 1, 2, 1, 1, 2, 2, 8, 2, 3, 1, 2, 2, 3, 0, 6, 1})
	const budget = 3 << 10
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 300 {
			prog = prog[:300]
		}
		l, err := NewLog(pf.genesis, Config{MaxPendingBytes: budget})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+2 < len(prog); i += 3 {
			who := pf.people[int(prog[i])%len(pf.people)]
			seq := 1 + uint64(prog[i+1])%16
			flags := prog[i+2]
			s, ok := pf.log.Get(who.Hash(), seq)
			if !ok {
				continue
			}
			switch {
			case flags&0x06 == 0x02 && seq > 1: // a fork: same prev, other body
				b, _ := EncodeBody(fieldSet("r", "f", String("fork")))
				s.Body = b
				s.Kind = KindFieldSet
				s, _ = Sign(s.Event, pf.log.DatasetID(), who)
			case flags&0x06 == 0x04: // a mis-linked event
				s.Prev = ID{flags, byte(seq)}
				s, _ = Sign(s.Event, pf.log.DatasetID(), who)
			case flags&0x01 == 0: // an unsigned copy
				s.Sig = nil
			default: // make sure the honest event is signed
				s, _ = Sign(s.Event, pf.log.DatasetID(), who)
			}
			if flags&0x08 != 0 && s.HLC > 1 {
				s.HLC = hlc.Timestamp(uint64(s.HLC) - 1)
				s, _ = Sign(s.Event, pf.log.DatasetID(), who)
			}
			_, _ = l.Ingest(s) // rejections are expected
			if l.PendingBytes() > budget {
				t.Fatalf("gap buffer %d > %d", l.PendingBytes(), budget)
			}
		}
		total := 0
		for a, n := range l.Frontier() {
			total += int(n)
			if a != l.Founder() && l.members[a] == nil {
				t.Fatalf("accepted events of non-member %s", a)
			}
			if at, ok := l.Frozen(a); ok && n > at {
				t.Fatalf("%s has seq %d above its freeze at %d", a, n, at)
			}
			for seq := uint64(1); seq <= n; seq++ {
				s, _ := l.Get(a, seq)
				if prev, _ := l.Predecessor(a, seq); s.Prev != prev {
					t.Fatalf("%s/%d not linked", a, seq)
				}
				if id, _ := l.GetID(a, seq); id != s.ID() {
					t.Fatalf("%s/%d id cache wrong", a, seq)
				}
			}
			if run := l.Authenticated(a, 1, n); run[len(run)-1].Sig == nil {
				t.Fatalf("%s's accepted feed cannot be authenticated", a)
			}
		}
		if total != l.Len() {
			t.Fatalf("Len %d, frontier total %d", l.Len(), total)
		}
	})
}
