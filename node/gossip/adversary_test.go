package gossip

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// collect runs Tick at the given times and returns every message the
// engine emits, advancing each Ready.
func collect(t *testing.T, e *Engine, times ...int64) []Message {
	t.Helper()
	var out []Message
	for _, now := range times {
		e.Tick(now)
		for e.HasReady() {
			rd := e.Ready()
			out = append(out, rd.Messages...)
			e.Advance(rd)
		}
	}
	return out
}

// slicesOf returns the decoded runs of every slice in msgs.
func slicesOf(t *testing.T, e *Engine, msgs []Message) [][]feed.Signed {
	t.Helper()
	var out [][]feed.Signed
	for _, m := range msgs {
		d, err := Decode(m.Payload, 0)
		if err != nil {
			t.Fatalf("engine sent undecodable message: %v", err)
		}
		if s, ok := d.(*Slice); ok {
			evs, _, err := feed.DecodeRun(s.Run, e.log)
			if err != nil {
				t.Fatalf("engine sent undecodable run: %v", err)
			}
			out = append(out, evs)
		}
	}
	return out
}

func everyMinute(from int64, n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = from + int64(i+1)*60_000
	}
	return out
}

func TestForgedSignatureRejectedNotRelayed(t *testing.T) {
	fx := getFixture(t)
	seeds := fuzzSeeds(t)
	slice := bytes.Clone(seeds[len(seeds)-2]) // the last two events of author 1, signed at the end
	slice[len(slice)-1] ^= 0x01               // corrupt the signature
	e := fx.engine(t, 2, 1)
	last := fx.events[len(fx.events)-1]
	before := e.Frontier()[last.Author]
	if err := e.Step(Broadcast, slice, 20_000); err != nil {
		t.Fatalf("Step: %v", err)
	}
	rd := e.Ready()
	if len(rd.Persist) != 0 {
		t.Fatalf("persisted %d events from a forged run", len(rd.Persist))
	}
	rejected := 0
	for _, r := range rd.Reports {
		if r.Kind == ReportRejected && errors.Is(r.Err, feed.ErrBadSignature) {
			rejected++
		}
	}
	if rejected == 0 {
		t.Fatalf("no bad-signature report: %+v", rd.Reports)
	}
	e.Advance(rd)
	// Asked for everything, it serves only what it verified.
	want := (&Want{Tag: e.Tag(), Ranges: []WantRange{{Author: last.Author, From: 1, To: last.Seq}}}).AppendTo(nil)
	if err := e.Step(Broadcast, want, 21_000); err != nil {
		t.Fatal(err)
	}
	for _, run := range slicesOf(t, e, collect(t, e, everyMinute(21_000, 10)...)) {
		for _, s := range run {
			if s.Author == last.Author && s.Seq > before {
				t.Fatalf("relayed unverified event %s/%d", s.Author, s.Seq)
			}
		}
	}
	if got := e.Frontier()[last.Author]; got != before {
		t.Fatalf("frontier moved from %d to %d", before, got)
	}
}

func TestNonMemberNeitherAcceptedNorRelayed(t *testing.T) {
	fx := getFixture(t)
	e := fx.engine(t, 2, 2)
	outsider := identities(t, 8)[7]
	ds := e.log.DatasetID()
	body, err := feed.EncodeBody(feed.RecordCreate{Record: "fake", Type: "site"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := feed.Sign(feed.Event{Author: outsider.Hash(), Seq: 1, Prev: ds, HLC: hlc.New(20_000, 0), Kind: feed.KindRecordCreate, Body: body}, ds, outsider)
	if err != nil {
		t.Fatal(err)
	}
	run, err := feed.EncodeRun(nil, []feed.Signed{s}, feed.RunOpts{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Step(Broadcast, (&Slice{Tag: e.Tag(), Run: run}).AppendTo(nil), 20_000); err != nil {
		t.Fatal(err)
	}
	want := (&Want{Tag: e.Tag(), Ranges: []WantRange{{Author: outsider.Hash(), From: 1, To: 1}}}).AppendTo(nil)
	if err := e.Step(Broadcast, want, 20_500); err != nil {
		t.Fatal(err)
	}
	for e.HasReady() {
		rd := e.Ready()
		if len(rd.Persist) != 0 {
			t.Fatalf("persisted a non-member's event")
		}
		e.Advance(rd)
	}
	for _, run := range slicesOf(t, e, collect(t, e, everyMinute(20_500, 10)...)) {
		if run[0].Author == outsider.Hash() {
			t.Fatal("relayed a non-member's event")
		}
	}
	if _, ok := e.View().Record("fake"); ok {
		t.Fatal("non-member's record in the view")
	}
	if _, ok := e.claims[outsider.Hash()]; ok {
		t.Fatal("a non-member's claim drives wants")
	}
}

// TestFloodStaysBounded: hundreds of bogus runs (random unsigned events of
// a member chained on its real tip, unknown full-length authors, garbage)
// and messages from many peers leave the engine within its bounds.
func TestFloodStaysBounded(t *testing.T) {
	fx := getFixture(t)
	e := fx.engine(t, 2, 3)
	r := rand.New(rand.NewPCG(4, 4))
	member := fx.events[len(fx.events)-1].Author
	tip := e.log.Seq(member)
	prev, _ := e.log.GetID(member, tip)
	tipEv, _ := e.log.Get(member, tip)
	now := int64(20_000)
	for i := range 400 {
		var s feed.Signed
		body, _ := feed.EncodeBody(feed.NoteAppend{Record: "camp", Text: string(rune('a'+i%26)) + "flood"})
		switch i % 3 {
		case 0: // unsigned, links to the real tip: buffered until a signature that never comes
			s = feed.Signed{Event: feed.Event{Author: member, Seq: tip + 1, Prev: prev, HLC: tipEv.HLC + hlc.Timestamp(1+r.IntN(1<<20)), Kind: feed.KindNoteAppend, Body: body}}
		case 1: // an unknown author, full id
			var a rns.Hash
			for k := range a {
				a[k] = byte(r.Uint32())
			}
			s = feed.Signed{Event: feed.Event{Author: a, Seq: 1 + uint64(r.IntN(5)), Prev: sha256.Sum256([]byte{byte(i)}), HLC: hlc.New(20_000, uint16(i)), Kind: feed.KindNoteAppend, Body: body}, Sig: make([]byte, 64)}
		case 2: // far ahead of the tip with a random prev
			s = feed.Signed{Event: feed.Event{Author: member, Seq: tip + 2 + uint64(r.IntN(1000)), Prev: sha256.Sum256([]byte{byte(i), 1}), HLC: hlc.New(30_000, uint16(i)), Kind: feed.KindNoteAppend, Body: body}}
		}
		opts := feed.RunOpts{AuthorBytes: 16, WithPrev: i%3 != 0}
		run, err := feed.EncodeRun(nil, []feed.Signed{s}, opts)
		if err != nil {
			t.Fatal(err)
		}
		from := Broadcast
		if i%4 == 0 {
			from = PeerID{byte(i), byte(i >> 8), 1}
		}
		if err := e.Step(from, (&Slice{Tag: e.Tag(), Run: run}).AppendTo(nil), now); err != nil {
			t.Fatal(err)
		}
		garbage := make([]byte, 1+r.IntN(200))
		for k := range garbage {
			garbage[k] = byte(r.Uint32())
		}
		_ = e.Step(from, garbage, now) // expected to fail: it is garbage
		now += 100
		e.Tick(now)
		for e.HasReady() {
			rd := e.Ready()
			if len(rd.Persist) != 0 {
				t.Fatalf("flood event persisted: %+v", rd.Persist[0].Event)
			}
			e.Advance(rd)
		}
	}
	if got := e.log.PendingBytes(); got > 4096 {
		t.Fatalf("gap buffer %d bytes > bound 4096", got)
	}
	if len(e.peers) > e.cfg.MaxPeers || len(e.tails) > e.cfg.MaxClaims || len(e.claims) > e.cfg.MaxClaims || len(e.pend) > e.cfg.MaxClaims {
		t.Fatalf("engine state out of bounds: peers %d tails %d claims %d pend %d", len(e.peers), len(e.tails), len(e.claims), len(e.pend))
	}
	for _, ch := range append([]*channel{e.bcast}, mapValues(e.peers)...) {
		for a, set := range ch.push {
			if len(set.spans) > maxSpans || e.durable[a] == 0 {
				t.Fatalf("push queue for %s: %v", a, set.spans)
			}
		}
	}
}

func mapValues[K comparable, V any](m map[K]V) []V {
	var out []V
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestDurableOnlyAdvertising: an appended event is neither in beacons nor
// in slices until Advance confirms it durable.
func TestDurableOnlyAdvertising(t *testing.T) {
	fx := getFixture(t)
	e := fx.engine(t, 2, 5)
	h0, c0 := e.Digest()
	body, _ := feed.EncodeBody(feed.NoteAppend{Record: "camp", Text: "not yet durable"})
	s, err := e.Append(feed.KindNoteAppend, body, 20_000)
	if err != nil {
		t.Fatal(err)
	}
	pending := e.Ready()
	if len(pending.Persist) != 1 || pending.Persist[0].ID() != s.ID() {
		t.Fatalf("Ready.Persist = %v", pending.Persist)
	}
	want := (&Want{Tag: e.Tag(), Ranges: []WantRange{{Author: s.Author, From: 1, To: s.Seq}}}).AppendTo(nil)
	if err := e.Step(Broadcast, want, 20_100); err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	for _, now := range everyMinute(20_100, 30) {
		e.Tick(now)
		for e.HasReady() {
			rd := e.Ready()
			if len(rd.Persist) != 0 {
				t.Fatal("unexpected persist")
			}
			msgs = append(msgs, rd.Messages...)
			e.Advance(rd)
		}
	}
	for _, m := range msgs {
		d, _ := Decode(m.Payload, 0)
		if b, ok := d.(*Beacon); ok && (b.Hash != h0 || b.Count != c0) {
			t.Fatal("beacon advertises a non-durable event")
		}
	}
	for _, run := range slicesOf(t, e, msgs) {
		for _, ev := range run {
			if ev.Author == s.Author && ev.Seq == s.Seq {
				t.Fatal("non-durable event sent")
			}
		}
	}
	e.Advance(pending)
	if h, c := e.Digest(); h == h0 || c != c0+1 {
		t.Fatalf("digest after Advance: %x/%d (before %x/%d)", h, c, h0, c0)
	}
	now := everyMinute(20_100, 30)[29]
	sent := false
	for _, run := range slicesOf(t, e, collect(t, e, now+1_000, now+2_000, now+3_000, now+4_000)) {
		for _, ev := range run {
			sent = sent || ev.ID() == s.ID()
		}
	}
	if !sent {
		t.Fatal("durable own event not pushed after Advance")
	}
}

func TestOtherDatasetIgnored(t *testing.T) {
	fx := getFixture(t)
	e := fx.engine(t, 2, 6)
	b := (&Beacon{Tag: Tag{1, 2, 3, 4}, Hash: 1, Count: 1}).AppendTo(nil)
	if err := e.Step(Broadcast, b, 20_000); !errors.Is(err, ErrOtherDataset) {
		t.Fatalf("Step = %v, want ErrOtherDataset", err)
	}
	if e.HasReady() {
		t.Fatal("output for another dataset's message")
	}
}

// TestForkReported: two different signed events at the same seq of one
// author are reported as a fork, the author's feed freezes below it and
// neither branch is advertised.
func TestForkReported(t *testing.T) {
	fx := getFixture(t)
	e := fx.engine(t, 0, 7)
	author := identities(t, 3)[1]
	// Build both branches on copies of the log.
	branch := func(text string) []byte {
		l, err := feed.NewLog(fx.genesis, feed.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range fx.events {
			if _, err := l.Restore(s); err != nil {
				t.Fatal(err)
			}
		}
		body, _ := feed.EncodeBody(feed.NoteAppend{Record: "camp", Text: text})
		s, _, err := l.Append(author, feed.KindNoteAppend, body, hlc.New(50_000, 0))
		if err != nil {
			t.Fatal(err)
		}
		run, err := feed.EncodeRun(nil, l.Authenticated(s.Author, s.Seq-2, s.Seq), feed.RunOpts{AuthorBytes: 16})
		if err != nil {
			t.Fatal(err)
		}
		return (&Slice{Tag: e.Tag(), Run: run}).AppendTo(nil)
	}
	a, b := branch("branch a"), branch("branch b")
	var reports []Report
	for i, m := range [][]byte{a, b} {
		if err := e.Step(Broadcast, m, 60_000+int64(i)); err != nil {
			t.Fatal(err)
		}
		for e.HasReady() {
			rd := e.Ready()
			reports = append(reports, rd.Reports...)
			e.Advance(rd)
		}
	}
	forks := 0
	for _, r := range reports {
		if r.Kind == ReportFork && r.Author == author.Hash() {
			forks++
		}
	}
	if forks == 0 {
		t.Fatalf("no fork report; reports %+v", reports)
	}
	at, frozen := e.log.Frozen(author.Hash())
	if !frozen {
		t.Fatal("author not frozen")
	}
	if got := e.Frontier()[author.Hash()]; got > at {
		t.Fatalf("durable frontier %d above the freeze at %d", got, at)
	}
	if h := FrontierHash(e.Frontier()); h != e.durHash {
		t.Fatal("digest not recomputed after the fork")
	}
}

// TestLinkPeers: two engines syncing over a link (addressed messages, 431
// byte payloads) converge, and use the larger payloads.
func TestLinkPeers(t *testing.T) {
	nw := newNetwork(t, 9, 2, true, nil)
	nw.link = func(i, j int) bool { return false } // no shared radio
	pa, pb := PeerID{0xa}, PeerID{0xb}
	a, b := nw.nodes[0].eng, nw.nodes[1].eng
	if err := a.AddPeer(pb, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := b.AddPeer(pa, 0, 0); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		nw.appendAt(0, feed.KindFieldSet, feed.FieldSet{Record: "camp", Field: "reading", Value: feed.Int(int64(i))})
	}
	nw.appendAt(1, feed.KindNoteAppend, feed.NoteAppend{Record: "camp", Text: "from b"})
	biggest := 0
	pump := func(from *Engine, self PeerID, to *Engine, peer PeerID, now int64) {
		for from.HasReady() {
			rd := from.Ready()
			for _, m := range rd.Messages {
				if m.To.IsBroadcast() {
					continue // nobody hears the radio
				}
				if m.To != peer {
					t.Fatalf("message to unknown peer %s", m.To)
				}
				if len(m.Payload) > LinkPayloadLimit {
					t.Fatalf("%d bytes on a link", len(m.Payload))
				}
				biggest = max(biggest, len(m.Payload))
				if err := to.Step(self, m.Payload, now); err != nil {
					t.Fatal(err)
				}
			}
			from.Advance(rd)
		}
	}
	for now := int64(0); now < 3_600_000; now += 250 {
		a.Tick(now)
		b.Tick(now)
		pump(a, pa, b, pb, now)
		pump(b, pb, a, pa, now)
		if nw.converged() {
			break
		}
	}
	if !nw.converged() {
		t.Fatalf("link peers did not converge:\n%s", nw.describe())
	}
	if biggest <= DefaultPayloadLimit {
		t.Fatalf("largest link message %d bytes: link payload limit unused", biggest)
	}
}

// TestDeterministic: the same seed gives the same transcript, byte for byte.
func TestDeterministic(t *testing.T) {
	transcript := func() [32]byte {
		h := sha256.New()
		debugHook = func(nw *network, i int, m Message) {
			h.Write([]byte{byte(i)})
			h.Write(m.Payload)
		}
		defer func() { debugHook = nil }()
		convergenceTrial(t, 17)
		var sum [32]byte
		copy(sum[:], h.Sum(nil))
		return sum
	}
	if a, b := transcript(), transcript(); a != b {
		t.Fatal("same seed, different transcripts")
	}
}
