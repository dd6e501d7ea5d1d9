package gossip

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/rns"
)

// fuzzFixture is a dataset (genesis + membership + a few events of two
// authors) built once per test binary, from which each fuzz iteration
// builds a fresh engine cheaply (Restore skips signature checks).
type fuzzFixture struct {
	genesis feed.Signed
	events  []feed.Signed
}

var fixture *fuzzFixture

func getFixture(t testing.TB) *fuzzFixture {
	if fixture != nil {
		return fixture
	}
	nw := newNetwork(t, 5, 3, true, nil)
	nw.appendAt(0, feed.KindRecordCreate, feed.RecordCreate{Record: "camp", Type: "site"})
	nw.appendAt(1, feed.KindFieldSet, feed.FieldSet{Record: "camp", Field: "water", Value: feed.Int(3)})
	nw.appendAt(1, feed.KindNoteAppend, feed.NoteAppend{Record: "camp", Text: "pump fixed"})
	if !nw.runUntil(3_600_000, func() bool { return nw.converged() }) {
		t.Fatal("fixture did not converge")
	}
	l := nw.nodes[0].eng.Log()
	f := &fuzzFixture{genesis: l.Genesis()}
	// The founder's feed (membership) first, node 1's two events last.
	last := nw.nodes[1].id.Hash()
	var tailEvs []feed.Signed
	for _, a := range append([]rns.Hash{l.Founder()}, l.Authors()...) {
		if a == l.Founder() && len(f.events) > 0 {
			continue
		}
		for _, s := range l.Range(a, 1, l.Seq(a)) {
			switch {
			case s.Kind == feed.KindGenesis:
			case a == last:
				tailEvs = append(tailEvs, s)
			default:
				f.events = append(f.events, s)
			}
		}
	}
	f.events = append(f.events, tailEvs...)
	fixture = f
	return f
}

// engine builds a fresh engine for node index who (identity from the
// pool) holding the fixture's events up to (but excluding) the last
// `missing` ones of author 1, so that valid slices of those are new to it.
func (f *fuzzFixture) engine(t testing.TB, who int, seed uint64) *Engine {
	l, err := feed.NewLog(f.genesis, feed.Config{MaxPendingBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.events[:len(f.events)-2] {
		if _, err := l.Restore(s); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(seed, 1))
	e, err := New(Config{Identity: identities(t, 3)[who], Rand: r.Uint64, MaxPeers: 4, MaxClaims: 8}, l, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fuzzSeeds returns real messages of every kind: from a converged
// fixture's engine (beacon, frontier) and slices/wants of its events.
func fuzzSeeds(t testing.TB) [][]byte {
	f := getFixture(t)
	full, err := feed.NewLog(f.genesis, feed.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range f.events {
		if _, err := full.Restore(s); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(3, 3))
	e, err := New(Config{Identity: identities(t, 3)[2], Rand: r.Uint64}, full, 0)
	if err != nil {
		t.Fatal(err)
	}
	var seeds [][]byte
	h, c := e.Digest()
	seeds = append(seeds, (&Beacon{Tag: e.Tag(), Hash: h, Count: c}).AppendTo(nil))
	var entries []FrontierEntry
	for _, a := range sortedAuthors(e.durable) {
		entries = append(entries, FrontierEntry{Author: a, Seq: e.durable[a]})
	}
	for _, ch := range chunkFrontier(e.Tag(), h, entries, DefaultPayloadLimit) {
		seeds = append(seeds, ch.AppendTo(nil))
	}
	last := f.events[len(f.events)-1]
	run := full.Authenticated(last.Author, last.Seq-1, last.Seq)
	enc, err := feed.EncodeRun(nil, run, feed.RunOpts{AuthorBytes: full.AuthorPrefixLen(last.Author)})
	if err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, (&Slice{Tag: e.Tag(), Run: enc}).AppendTo(nil))
	seeds = append(seeds, (&Want{Tag: e.Tag(), Ranges: []WantRange{{Author: last.Author, From: 1, To: last.Seq}}}).AppendTo(nil))
	return seeds
}

// splitMessages cuts fuzz input into messages: each is preceded by a
// one-byte length (0 = the rest of the input).
func splitMessages(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 && len(out) < 8 {
		n := int(b[0])
		b = b[1:]
		if n == 0 || n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func joinMessages(msgs ...[]byte) []byte {
	var out []byte
	for i, m := range msgs {
		if i == len(msgs)-1 || len(m) > 255 {
			out = append(out, 0)
		} else {
			out = append(out, byte(len(m)))
		}
		out = append(out, m...)
	}
	return out
}

// FuzzStep feeds arbitrary messages (from a peer or the broadcast channel,
// with ticks in between) to an engine: no panic; errors are typed; every
// output message fits its payload limit and decodes; nothing unverified
// is persisted; engine state stays within its bounds.
func FuzzStep(f *testing.F) {
	seeds := fuzzSeeds(f)
	for _, s := range seeds {
		f.Add(joinMessages(s))
	}
	f.Add(joinMessages(seeds[len(seeds)-2], seeds[0], seeds[len(seeds)-1]))
	fx := getFixture(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e := fx.engine(t, 2, uint64(len(data)))
		now := int64(10_000)
		for i, m := range splitMessages(data) {
			from := Broadcast
			if i%3 == 2 {
				from = PeerID{byte(i)}
			}
			err := e.Step(from, m, now)
			var de *DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Fatalf("Step error %T is not a *DecodeError: %v", err, err)
			}
			now += 700
			e.Tick(now)
			checkReady(t, e)
			now = max(now, min(e.NextDeadline(), now+60_000))
			e.Tick(now)
			checkReady(t, e)
		}
		if len(e.peers) > e.cfg.MaxPeers || len(e.claims) > e.cfg.MaxClaims || len(e.tails) > e.cfg.MaxClaims || len(e.pend) > e.cfg.MaxClaims {
			t.Fatalf("state out of bounds: peers %d claims %d tails %d pend %d", len(e.peers), len(e.claims), len(e.tails), len(e.pend))
		}
		if e.log.PendingBytes() > 4096 {
			t.Fatalf("gap buffer holds %d bytes > 4096", e.log.PendingBytes())
		}
	})
}

func checkReady(t *testing.T, e *Engine) {
	t.Helper()
	for e.HasReady() {
		rd := e.Ready()
		for _, s := range rd.Persist {
			if got, ok := e.log.Get(s.Author, s.Seq); !ok || got.ID() != s.ID() {
				t.Fatalf("persisting %s/%d which the log does not hold", s.Author, s.Seq)
			}
		}
		for _, m := range rd.Messages {
			limit := e.cfg.PayloadLimit
			if !m.To.IsBroadcast() {
				limit = e.peers[m.To].limit
			}
			if len(m.Payload) > limit {
				t.Fatalf("message of %d bytes > limit %d", len(m.Payload), limit)
			}
			if _, err := Decode(m.Payload, limit); err != nil {
				t.Fatalf("engine sent an undecodable message: %v", err)
			}
		}
		e.Advance(rd)
	}
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/{FuzzDecode,FuzzStep}
// when GOSSIP_WRITE_CORPUS=1; otherwise it checks that the committed
// corpus exists.
func TestWriteFuzzCorpus(t *testing.T) {
	dirs := map[string][][]byte{}
	seeds := fuzzSeeds(t)
	for _, sd := range seeds {
		if len(sd) > 0 && Kind(sd[0]) == KindSlice {
			push := bytes.Clone(sd)
			push[0] = byte(KindPush) // the same run, flooded
			seeds = append(seeds, push)
			break
		}
	}
	for _, m := range sampleMsgs() {
		dirs["FuzzDecode"] = append(dirs["FuzzDecode"], m.AppendTo(nil))
	}
	dirs["FuzzDecode"] = append(dirs["FuzzDecode"], seeds...)
	for _, s := range seeds {
		dirs["FuzzStep"] = append(dirs["FuzzStep"], joinMessages(s))
	}
	dirs["FuzzStep"] = append(dirs["FuzzStep"], joinMessages(seeds...))
	write := os.Getenv("GOSSIP_WRITE_CORPUS") == "1"
	for name, inputs := range dirs {
		dir := filepath.Join("testdata", "fuzz", name)
		if !write {
			ents, err := os.ReadDir(dir)
			if err != nil || len(ents) < len(inputs) {
				t.Fatalf("seed corpus %s missing or short (run with GOSSIP_WRITE_CORPUS=1): %v", dir, err)
			}
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, in := range inputs {
			body := "go test fuzz v1\n[]byte(" + strconv.Quote(string(in)) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
