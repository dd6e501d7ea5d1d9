package feed

import (
	"math/rand/v2"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// seededReader is a deterministic byte source for identities.
type seededReader struct{ r *rand.ChaCha8 }

func (s seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

// testIdentity returns a deterministic identity for n.
func testIdentity(t testing.TB, n uint64) *rns.Identity {
	t.Helper()
	var seed [32]byte
	seed[0] = byte(n)
	seed[1] = byte(n >> 8)
	seed[31] = 0x5a
	id, err := rns.NewIdentity(seededReader{rand.NewChaCha8(seed)})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// fixture is a dataset with a founder and some members.
type fixture struct {
	t       testing.TB
	founder *rns.Identity
	members []*rns.Identity // members[0] == founder
	genesis Signed
	log     *Log // the writers' log
	clocks  map[rns.Hash]*hlc.Clock
	written []Signed // every append, in write (causal) order
	now     int64
}

const t0 = 1_700_000_000_000 // ms

func newFixture(t testing.TB, nMembers int) *fixture {
	t.Helper()
	f := &fixture{t: t, founder: testIdentity(t, 1), clocks: map[rns.Hash]*hlc.Clock{}, now: t0}
	g, err := NewGenesis(f.founder, "field survey", hlc.New(t0, 0))
	if err != nil {
		t.Fatal(err)
	}
	f.genesis = g
	f.log = f.newLog(Config{})
	f.members = []*rns.Identity{f.founder}
	f.clocks[f.founder.Hash()] = &hlc.Clock{}
	f.clocks[f.founder.Hash()].Now(t0)
	for i := 1; i < nMembers; i++ {
		m := testIdentity(t, uint64(100+i))
		f.admit(m, false)
	}
	return f
}

func (f *fixture) newLog(cfg Config) *Log {
	f.t.Helper()
	l, err := NewLog(f.genesis, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

func (f *fixture) admit(m *rns.Identity, admin bool) Signed {
	f.t.Helper()
	var add MemberAdd
	copy(add.Key[:], m.PublicKey())
	add.Admin = admin
	s := f.write(f.founder, add)
	f.members = append(f.members, m)
	return s
}

func (f *fixture) clock(id *rns.Identity) *hlc.Clock {
	c := f.clocks[id.Hash()]
	if c == nil {
		c = &hlc.Clock{}
		f.clocks[id.Hash()] = c
	}
	return c
}

// write appends body as id to the writers' log.
func (f *fixture) write(id *rns.Identity, body Body) Signed {
	f.t.Helper()
	s, err := f.try(id, body)
	if err != nil {
		f.t.Fatalf("append %T by %s: %v", body, id.Hash(), err)
	}
	return s
}

func (f *fixture) try(id *rns.Identity, body Body) (Signed, error) {
	b, err := EncodeBody(body)
	if err != nil {
		return Signed{}, err
	}
	f.now += 1000
	s, _, err := f.log.Append(id, body.Kind(), b, f.clock(id).Now(f.now))
	if err == nil {
		f.written = append(f.written, s)
	}
	return s, err
}

func fieldSet(rec, field string, v Value) FieldSet {
	return FieldSet{Record: rec, Field: field, Value: v}
}

// forge builds a validly signed event by id at seq with the given prev,
// bypassing the Log (to make forks and chain breaks).
func (f *fixture) forge(id *rns.Identity, seq uint64, prev ID, ts hlc.Timestamp, body Body) Signed {
	f.t.Helper()
	b, err := EncodeBody(body)
	if err != nil {
		f.t.Fatal(err)
	}
	s, err := Sign(Event{Author: id.Hash(), Seq: seq, Prev: prev, HLC: ts, Kind: body.Kind(), Body: b}, f.log.DatasetID(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

// all returns every accepted event of the writers' log except the genesis.
func (f *fixture) all() []Signed {
	var out []Signed
	for s := range f.log.All() {
		if s.Kind != KindGenesis {
			out = append(out, s)
		}
	}
	return out
}

func mustIngest(t testing.TB, l *Log, s Signed) IngestResult {
	t.Helper()
	res, err := l.Ingest(s)
	if err != nil {
		t.Fatalf("ingest %s/%d: %v", s.Author, s.Seq, err)
	}
	return res
}
