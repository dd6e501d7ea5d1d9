package transport

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

// detRand is a deterministic randomness source for tests.
type detRand struct{ r *rand.ChaCha8 }

func newDetRand(seed byte) *detRand {
	var s [32]byte
	s[0] = seed
	return &detRand{rand.NewChaCha8(s)}
}

func (d *detRand) Read(p []byte) (int, error) { return d.r.Read(p) }

// node is one router with one fake interface in a two-node test network.
type node struct {
	r     *Router
	ifc   *fakeIface
	id    *rns.Identity
	dest  *rns.Destination
	evs   []Event
	drops []error
}

func newNode(t testing.TB, name string, seed byte, cfg Config) *node {
	t.Helper()
	rnd := newDetRand(seed)
	cfg.Rand = rnd
	id, err := rns.NewIdentity(rnd)
	if err != nil {
		t.Fatal(err)
	}
	d, err := rns.NewDestination(id, rns.In, rns.Single, "meshlogd", "test", name)
	if err != nil {
		t.Fatal(err)
	}
	n := &node{r: NewRouter(cfg), ifc: &fakeIface{name: name, mtu: rns.MTU}, id: id, dest: d}
	return n
}

// net is a deterministic two-node network on virtual time: packets sent
// on one node's interface are delivered to the other when pump runs.
type testNet struct {
	t    testing.TB
	a, b *node
	now  time.Time
	// cut drops everything sent while set.
	cut bool
}

func newTestNet(t testing.TB) *testNet {
	n := &testNet{t: t, a: newNode(t, "a", 1, Config{}), b: newNode(t, "b", 2, Config{}), now: time.Unix(1_700_000_000, 0)}
	n.a.r.InterfaceUp(n.a.ifc, n.now)
	n.b.r.InterfaceUp(n.b.ifc, n.now)
	for _, x := range []*node{n.a, n.b} {
		if err := x.r.Register(x.dest, LocalOptions{AcceptLinks: true}); err != nil {
			t.Fatal(err)
		}
	}
	n.collect()
	return n
}

func (n *testNet) collect() {
	n.a.evs = append(n.a.evs, n.a.r.Events()...)
	n.b.evs = append(n.b.evs, n.b.r.Events()...)
}

// pump delivers queued packets back and forth until none are left.
func (n *testNet) pump() {
	for i := 0; i < 100; i++ {
		pa, pb := n.a.ifc.take(), n.b.ifc.take()
		if len(pa) == 0 && len(pb) == 0 {
			n.collect()
			return
		}
		if n.cut {
			continue
		}
		for _, raw := range pa {
			if err := n.b.r.Inbound(raw, n.b.ifc, n.now); err != nil {
				n.b.drops = append(n.b.drops, err)
			}
		}
		for _, raw := range pb {
			if err := n.a.r.Inbound(raw, n.a.ifc, n.now); err != nil {
				n.a.drops = append(n.a.drops, err)
			}
		}
		n.collect()
	}
	n.t.Fatal("network did not quiesce")
}

func (n *testNet) advance(d time.Duration) {
	n.now = n.now.Add(d)
	n.a.r.Tick(n.now)
	n.b.r.Tick(n.now)
	n.collect()
}

func findEvent[T Event](evs []Event) (T, bool) {
	for _, e := range evs {
		if x, ok := e.(T); ok {
			return x, true
		}
	}
	var zero T
	return zero, false
}

func countEvents[T Event](evs []Event) int {
	c := 0
	for _, e := range evs {
		if _, ok := e.(T); ok {
			c++
		}
	}
	return c
}

func (n *testNet) announceB(appData string) {
	n.t.Helper()
	if err := n.b.r.Announce(n.b.dest.Hash(), []byte(appData), n.now); err != nil {
		n.t.Fatal(err)
	}
	n.pump()
}

func TestAnnounceValidatedAndPathLearnt(t *testing.T) {
	n := newTestNet(t)
	n.announceB("dataset-tag")
	ev, ok := findEvent[AnnounceEvent](n.a.evs)
	if !ok || !ev.Valid || !ev.PathUpdated {
		t.Fatalf("announce event %+v", ev)
	}
	if ev.Destination != n.b.dest.Hash() || ev.Hops != 1 || string(ev.AppData) != "dataset-tag" || !ev.Identity.Equal(n.b.id) {
		t.Fatalf("announce event fields %+v", ev)
	}
	p, ok := n.a.r.Path(n.b.dest.Hash(), n.now)
	if !ok || p.Hops != 1 || p.Interface != Interface(n.a.ifc) || p.NextHop != (rns.Hash{}) {
		t.Fatalf("path %+v ok=%v", p, ok)
	}
	id, appData, ok := n.a.r.Recall(n.b.dest.Hash())
	if !ok || !id.Equal(n.b.id) || string(appData) != "dataset-tag" {
		t.Fatal("recall failed")
	}
}

func TestForgedAnnounceRejected(t *testing.T) {
	n := newTestNet(t)
	if err := n.b.r.Announce(n.b.dest.Hash(), []byte("x"), n.now); err != nil {
		t.Fatal(err)
	}
	raw := n.b.ifc.take()[0]
	for _, tc := range []struct {
		name   string
		mutate func([]byte)
		want   error
	}{
		{"signature", func(b []byte) { b[19+64+10+10+5] ^= 1 }, rns.ErrAnnounceSignature},
		{"app data", func(b []byte) { b[len(b)-1] ^= 1 }, rns.ErrAnnounceSignature},
		{"destination", func(b []byte) { b[5] ^= 1 }, rns.ErrAnnounceSignature},
	} {
		bad := append([]byte(nil), raw...)
		tc.mutate(bad)
		err := n.a.r.Inbound(bad, n.a.ifc, n.now)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	n.collect()
	if c := countEvents[AnnounceEvent](n.a.evs); c != 3 {
		t.Fatalf("%d announce events, want 3 invalid ones", c)
	}
	for _, e := range n.a.evs {
		if ae, ok := e.(AnnounceEvent); ok && (ae.Valid || ae.Err == nil) {
			t.Fatalf("forged announce reported valid: %+v", ae)
		}
	}
	if n.a.r.Paths() != 0 {
		t.Fatal("forged announce created a path")
	}
	// A correctly signed announce whose destination hash does not match
	// its key and name: re-sign under another identity's key.
	other := newNode(t, "c", 3, Config{})
	od, _ := rns.NewDestination(other.id, rns.In, rns.Single, "meshlogd", "test", "b")
	p, _ := od.Announce(newDetRand(9), n.now, rns.AnnounceOptions{})
	p.Destination = n.b.dest.Hash()
	a, _ := rns.ParseAnnounce(p)
	sig, _ := other.id.Sign(a.SignedData())
	copy(a.Signature[:], sig)
	p.Data = a.Marshal()
	raw2, _ := p.Pack()
	if err := n.a.r.Inbound(raw2, n.a.ifc, n.now); !errors.Is(err, rns.ErrAnnounceDestination) {
		t.Fatalf("wrong destination hash: err %v", err)
	}
}

func TestAnnounceReplayAndNewer(t *testing.T) {
	n := newTestNet(t)
	if err := n.b.r.Announce(n.b.dest.Hash(), []byte("v1"), n.now); err != nil {
		t.Fatal(err)
	}
	first := n.b.ifc.take()[0]
	if err := n.a.r.Inbound(first, n.a.ifc, n.now); err != nil {
		t.Fatal(err)
	}
	// Replayed: valid, but not newer than the held path.
	if err := n.a.r.Inbound(first, n.a.ifc, n.now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	n.collect()
	evs := n.a.evs
	last := evs[len(evs)-1].(AnnounceEvent)
	if !last.Valid || last.PathUpdated || !errors.Is(last.Err, ErrStale) {
		t.Fatalf("replayed announce: %+v", last)
	}
	// A fresh announce emitted in the same second is not newer either.
	n.b.r.Announce(n.b.dest.Hash(), []byte("v2"), n.now)
	same := n.b.ifc.take()[0]
	n.a.r.Inbound(same, n.a.ifc, n.now)
	n.collect()
	if e := n.a.evs[len(n.a.evs)-1].(AnnounceEvent); e.PathUpdated {
		t.Fatal("announce with equal emission time replaced the path")
	}
	// One emitted later replaces it and updates the app data.
	n.b.r.Announce(n.b.dest.Hash(), []byte("v3"), n.now.Add(2*time.Second))
	newer := n.b.ifc.take()[0]
	n.a.r.Inbound(newer, n.a.ifc, n.now.Add(2*time.Second))
	n.collect()
	if e := n.a.evs[len(n.a.evs)-1].(AnnounceEvent); !e.PathUpdated {
		t.Fatalf("newer announce did not update the path: %+v", e)
	}
	if _, ad, _ := n.a.r.Recall(n.b.dest.Hash()); string(ad) != "v3" {
		t.Fatalf("app data %q", ad)
	}
	// Emission times never go backwards at the sender.
	n.b.r.Announce(n.b.dest.Hash(), nil, n.now.Add(-time.Hour))
	back := n.b.ifc.take()[0]
	var p rns.Packet
	p.Unmarshal(back)
	a, _ := rns.ParseAnnounce(&p)
	if a.Timestamp() != n.now.Add(2*time.Second).Unix() {
		t.Fatalf("emission time went backwards: %d", a.Timestamp())
	}
	// Nor across a restart, given the persisted floor.
	floor, ok := n.b.r.LastEmitted(n.b.dest.Hash())
	if !ok || floor != a.Timestamp() {
		t.Fatalf("LastEmitted %d %v", floor, ok)
	}
	restarted := NewRouter(Config{Rand: newDetRand(5)})
	restarted.InterfaceUp(n.b.ifc, n.now)
	restarted.Register(n.b.dest, LocalOptions{MinEmitted: floor})
	restarted.Announce(n.b.dest.Hash(), nil, n.now.Add(-24*time.Hour))
	p.Unmarshal(n.b.ifc.take()[0])
	if a, _ = rns.ParseAnnounce(&p); a.Timestamp() != floor {
		t.Fatalf("announce after restart emitted at %d, floor %d", a.Timestamp(), floor)
	}
}

func TestAnnounceKeyConflictRejected(t *testing.T) {
	n := newTestNet(t)
	n.announceB("")
	// Another identity cannot take over b's destination hash; the
	// conflict check runs after the signature and hash checks, so craft a
	// valid announce for the same hash is impossible — check the branch
	// through the known-key table instead.
	n.a.r.known[n.b.dest.Hash()].identity = newNode(t, "c", 3, Config{}).id
	n.b.r.Announce(n.b.dest.Hash(), nil, n.now.Add(5*time.Second))
	raw := n.b.ifc.take()[0]
	if err := n.a.r.Inbound(raw, n.a.ifc, n.now); !errors.Is(err, rns.ErrAnnounceKeyConflict) {
		t.Fatalf("err %v", err)
	}
}

func TestPathExpiry(t *testing.T) {
	n := newTestNet(t)
	n.a.r.cfg.PathExpiry = time.Hour
	n.announceB("")
	if _, ok := n.a.r.Path(n.b.dest.Hash(), n.now); !ok {
		t.Fatal("no path")
	}
	n.advance(59 * time.Minute)
	if _, ok := n.a.r.Path(n.b.dest.Hash(), n.now); !ok {
		t.Fatal("path expired early")
	}
	n.advance(time.Minute)
	if _, ok := n.a.r.Path(n.b.dest.Hash(), n.now); ok || n.a.r.Paths() != 0 {
		t.Fatal("path did not expire")
	}
	// An expired path accepts an announce with more hops.
	n.announceB("")
	if n.a.r.Paths() != 1 {
		t.Fatal("path not relearnt")
	}
}

func TestPathTableBounded(t *testing.T) {
	a := newNode(t, "a", 1, Config{MaxPaths: 8})
	now := time.Unix(1_700_000_000, 0)
	a.r.InterfaceUp(a.ifc, now)
	for i := 0; i < 40; i++ {
		o := newNode(t, "x", byte(10+i), Config{})
		o.r.InterfaceUp(o.ifc, now)
		o.r.Register(o.dest, LocalOptions{})
		o.r.Announce(o.dest.Hash(), nil, now)
		if err := a.r.Inbound(o.ifc.take()[0], a.ifc, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if a.r.Paths() > 8 || len(a.r.known) > 16 {
		t.Fatalf("%d paths, %d identities: tables not bounded", a.r.Paths(), len(a.r.known))
	}
}

func TestPathDroppedAfterInterfaceGrace(t *testing.T) {
	n := newTestNet(t)
	n.announceB("")
	n.a.r.InterfaceDown(n.a.ifc, n.now)
	if _, ok := n.a.r.Path(n.b.dest.Hash(), n.now); ok {
		t.Fatal("path via a downed interface reported live")
	}
	n.a.r.InterfaceUp(n.a.ifc, n.now.Add(time.Minute))
	n.advance(time.Minute)
	if _, ok := n.a.r.Path(n.b.dest.Hash(), n.now); !ok {
		t.Fatal("path lost across a quick reconnect")
	}
	n.a.r.InterfaceDown(n.a.ifc, n.now)
	n.advance(DefaultInterfaceGrace)
	if n.a.r.Paths() != 0 {
		t.Fatal("path kept after the interface stayed down")
	}
}

func TestDuplicateFilter(t *testing.T) {
	n := newTestNet(t)
	n.announceB("")
	h, err := n.a.r.SendPacket(n.b.dest.Hash(), []byte("reading 42"), n.now)
	if err != nil {
		t.Fatal(err)
	}
	raw := n.a.ifc.take()[0]
	if err := n.b.r.Inbound(raw, n.b.ifc, n.now); err != nil {
		t.Fatal(err)
	}
	if err := n.b.r.Inbound(raw, n.b.ifc, n.now); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("replayed packet: err %v", err)
	}
	// A different hop count does not change the packet hash.
	hopped := append([]byte(nil), raw...)
	hopped[1] = 3
	if err := n.b.r.Inbound(hopped, n.b.ifc, n.now); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("replay with other hops: err %v", err)
	}
	n.collect()
	if c := countEvents[PacketEvent](n.b.evs); c != 1 {
		t.Fatalf("delivered %d times", c)
	}
	pe, _ := findEvent[PacketEvent](n.b.evs)
	if string(pe.Data) != "reading 42" || pe.PacketHash != h {
		t.Fatalf("packet event %+v", pe)
	}
	if n.b.r.Stats().Duplicates != 2 {
		t.Fatalf("stats %+v", n.b.r.Stats())
	}
}

func TestHashFilterBounded(t *testing.T) {
	f := NewHashFilter(100)
	var h [32]byte
	for i := 0; i < 1000; i++ {
		h[0], h[1] = byte(i), byte(i>>8)
		f.Add(h)
		if f.Len() > 100 {
			t.Fatalf("filter holds %d > 100", f.Len())
		}
		if !f.Seen(h) {
			t.Fatal("just-added hash not seen")
		}
	}
	recent := 999 - 49
	h[0], h[1] = byte(recent), byte(recent>>8)
	if !f.Seen(h) {
		t.Fatal("recent hash forgotten")
	}
	h[0], h[1] = 0, 0
	if f.Seen(h) {
		t.Fatal("oldest hash still remembered")
	}
}

func TestFilterRules(t *testing.T) {
	n := newTestNet(t)
	mk := func(p rns.Packet) []byte {
		raw, err := p.Pack()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	plain := rns.Packet{Type: rns.Data, DestType: rns.Plain, Destination: rns.Hash{1}, Data: []byte("x")}
	plain.Hops = 1 // arrives with 2 after the increment
	if err := n.a.r.Inbound(mk(plain), n.a.ifc, n.now); !errors.Is(err, ErrFiltered) {
		t.Errorf("PLAIN over 2 hops: %v", err)
	}
	grpAnn := rns.Packet{Type: rns.Announce, DestType: rns.Group, Destination: rns.Hash{2}, Data: make([]byte, 200)}
	if err := n.a.r.Inbound(mk(grpAnn), n.a.ifc, n.now); !errors.Is(err, ErrFiltered) {
		t.Errorf("GROUP announce: %v", err)
	}
	h2 := rns.Packet{HeaderType: rns.Header2, TransportType: rns.Transport, TransportID: rns.Hash{3}, Type: rns.Data, DestType: rns.Single, Destination: n.a.dest.Hash(), Data: []byte("y")}
	if err := n.a.r.Inbound(mk(h2), n.a.ifc, n.now); !errors.Is(err, ErrFiltered) {
		t.Errorf("HEADER_2 for another transport node: %v", err)
	}
	ifacFlag := mk(plain)
	ifacFlag[0] |= 0x80
	if err := n.a.r.Inbound(ifacFlag, n.a.ifc, n.now); err == nil {
		t.Error("packet with IFAC flag accepted on an open interface")
	}
	if err := n.a.r.Inbound(make([]byte, 10), n.a.ifc, n.now); !errors.Is(err, rns.ErrTruncated) {
		t.Errorf("short packet: %v", err)
	}
	if err := n.a.r.Inbound(make([]byte, rns.MTU+1), n.a.ifc, n.now); !errors.Is(err, rns.ErrOversized) {
		t.Errorf("oversized packet: %v", err)
	}
	if err := n.a.r.Inbound(mk(plain), &fakeIface{name: "stranger", mtu: 500}, n.now); !errors.Is(err, ErrUnknownInterface) {
		t.Errorf("unknown interface: %v", err)
	}
}

func TestPathRequestAnswered(t *testing.T) {
	n := newTestNet(t)
	if err := n.b.r.SetAppData(n.b.dest.Hash(), []byte("tag")); err != nil {
		t.Fatal(err)
	}
	if err := n.a.r.RequestPath(n.b.dest.Hash(), n.now); err != nil {
		t.Fatal(err)
	}
	req := n.a.ifc.sent[0]
	n.pump()
	ev, ok := findEvent[AnnounceEvent](n.a.evs)
	if !ok || !ev.Valid || !ev.PathResponse || string(ev.AppData) != "tag" {
		t.Fatalf("path response %+v", ev)
	}
	if n.b.r.Stats().PathRequestsAnswered != 1 {
		t.Fatal("not answered")
	}
	// The same request (same tag) is served once.
	if err := n.b.r.Inbound(req, n.b.ifc, n.now); err == nil {
		t.Fatal("repeated path request served again")
	}
	// Requests for unknown destinations are not answered by an endpoint.
	n.a.r.RequestPath(rns.Hash{9}, n.now)
	n.pump()
	if n.b.r.Stats().PathRequestsAnswered != 1 {
		t.Fatal("answered a path request for a foreign destination")
	}
}

func TestSinglePacketProof(t *testing.T) {
	n := newTestNet(t)
	n.b.r.Register(n.b.dest, LocalOptions{ProveAll: true})
	n.announceB("")
	h, err := n.a.r.SendPacket(n.b.dest.Hash(), []byte("ping"), n.now)
	if err != nil {
		t.Fatal(err)
	}
	n.pump()
	pe, ok := findEvent[ProofEvent](n.a.evs)
	if !ok || pe.PacketHash != h || pe.LinkID != nil {
		t.Fatalf("proof event %+v ok=%v", pe, ok)
	}
}

// establish opens a link from a to b and returns its id.
func establish(t *testing.T, n *testNet) rns.Hash {
	t.Helper()
	n.announceB("")
	id, err := n.a.r.OpenLink(n.b.dest.Hash(), n.now)
	if err != nil {
		t.Fatal(err)
	}
	n.now = n.now.Add(40 * time.Millisecond) // the proof takes a while
	n.pump()
	for _, x := range []*node{n.a, n.b} {
		li, ok := x.r.LinkInfo(id)
		if !ok || li.Status != LinkActive || li.MDU != rns.LinkMDU {
			t.Fatalf("%s: link %+v ok=%v", x.ifc.name, li, ok)
		}
	}
	return id
}

func TestLinkDataBothWaysAndTeardown(t *testing.T) {
	n := newTestNet(t)
	id := establish(t, n)
	ea, _ := findEvent[LinkEstablishedEvent](n.a.evs)
	eb, _ := findEvent[LinkEstablishedEvent](n.b.evs)
	if !ea.Link.Initiator || eb.Link.Initiator || ea.Link.RTT != 40*time.Millisecond || eb.Link.RTT != 40*time.Millisecond {
		t.Fatalf("established events %+v / %+v", ea, eb)
	}
	if _, err := n.a.r.LinkSend(id, []byte("to b"), n.now); err != nil {
		t.Fatal(err)
	}
	if _, err := n.b.r.LinkSend(id, []byte("to a"), n.now); err != nil {
		t.Fatal(err)
	}
	n.pump()
	da, _ := findEvent[LinkDataEvent](n.a.evs)
	db, _ := findEvent[LinkDataEvent](n.b.evs)
	if string(da.Data) != "to a" || string(db.Data) != "to b" {
		t.Fatalf("link data %q %q", da.Data, db.Data)
	}
	big := bytes.Repeat([]byte{7}, rns.LinkMDU)
	if _, err := n.a.r.LinkSend(id, big, n.now); err != nil {
		t.Fatalf("MDU-sized payload: %v", err)
	}
	if _, err := n.a.r.LinkSend(id, append(big, 0), n.now); !errors.Is(err, ErrLinkPayload) {
		t.Fatalf("oversized payload: %v", err)
	}
	if err := n.a.r.IdentifyLink(id, n.a.id, n.now); err != nil {
		t.Fatal(err)
	}
	n.pump()
	ie, ok := findEvent[LinkIdentifiedEvent](n.b.evs)
	if !ok || !ie.Identity.Equal(n.a.id) {
		t.Fatal("identify not received")
	}
	if err := n.a.r.CloseLink(id, n.now); err != nil {
		t.Fatal(err)
	}
	n.pump()
	ca, _ := findEvent[LinkClosedEvent](n.a.evs)
	cb, okb := findEvent[LinkClosedEvent](n.b.evs)
	if ca.Reason != ReasonInitiatorClosed || !okb || cb.Reason != ReasonInitiatorClosed {
		t.Fatalf("close reasons %v %v", ca.Reason, cb.Reason)
	}
	if len(n.a.r.Links()) != 0 || len(n.b.r.Links()) != 0 {
		t.Fatal("closed links remembered")
	}
	if _, err := n.a.r.LinkSend(id, []byte("late"), n.now); !errors.Is(err, ErrNoLink) {
		t.Fatalf("send on closed link: %v", err)
	}
}

func TestLinkProofForgedIgnored(t *testing.T) {
	n := newTestNet(t)
	n.announceB("")
	id, _ := n.a.r.OpenLink(n.b.dest.Hash(), n.now)
	req := n.a.ifc.take()
	n.b.r.Inbound(req[0], n.b.ifc, n.now)
	proof := n.b.ifc.take()[0]
	bad := append([]byte(nil), proof...)
	bad[20] ^= 1 // signature byte
	if err := n.a.r.Inbound(bad, n.a.ifc, n.now); err == nil {
		t.Fatal("forged proof accepted")
	}
	if li, _ := n.a.r.LinkInfo(id); li.Status != LinkPending {
		t.Fatalf("forged proof changed the link to %v", li.Status)
	}
	if err := n.a.r.Inbound(proof, n.a.ifc, n.now); err != nil {
		t.Fatalf("genuine proof after a forged one: %v", err)
	}
}

func TestUnprovenLinkCleanedUp(t *testing.T) {
	n := newTestNet(t)
	n.announceB("")
	id, err := n.a.r.OpenLink(n.b.dest.Hash(), n.now)
	if err != nil {
		t.Fatal(err)
	}
	n.a.ifc.take() // the request is lost
	// 1 hop: first-hop allowance (6 s + MTU airtime) + 6 s per hop.
	n.advance(12 * time.Second)
	if _, ok := n.a.r.LinkInfo(id); !ok {
		t.Fatal("link closed before its establishment timeout")
	}
	n.advance(10 * time.Millisecond)
	if _, ok := n.a.r.LinkInfo(id); ok {
		t.Fatal("unproven link not cleaned up")
	}
	ce, ok := findEvent[LinkClosedEvent](n.a.evs)
	if !ok || ce.Reason != ReasonTimeout || ce.Link.Status != LinkClosed {
		t.Fatalf("close event %+v", ce)
	}
}

func TestResponderWithoutRTTCleanedUp(t *testing.T) {
	n := newTestNet(t)
	n.announceB("")
	id, _ := n.a.r.OpenLink(n.b.dest.Hash(), n.now)
	n.b.r.Inbound(n.a.ifc.take()[0], n.b.ifc, n.now)
	n.b.ifc.take() // the proof is lost; b waits in handshake
	if li, _ := n.b.r.LinkInfo(id); li.Status != LinkHandshake {
		t.Fatalf("responder status %v", li.Status)
	}
	n.advance(rns.EstablishmentTimeoutPerHop + rns.KeepaliveMax - time.Second)
	if _, ok := n.b.r.LinkInfo(id); !ok {
		t.Fatal("responder link closed early")
	}
	n.advance(time.Second)
	if _, ok := n.b.r.LinkInfo(id); ok {
		t.Fatal("responder link without RTT packet not cleaned up")
	}
}

func TestKeepaliveKeepsLinkAlive(t *testing.T) {
	n := newTestNet(t)
	id := establish(t, n)
	li, _ := n.a.r.LinkInfo(id)
	// RTT 40 ms → 40 ms × 360/1.75 ≈ 8.23 s.
	if want := rns.KeepaliveInterval(40 * time.Millisecond); li.Keepalive != want || want < 8*time.Second {
		t.Fatalf("keepalive %v, want %v", li.Keepalive, want)
	}
	for i := 0; i < 60; i++ {
		n.advance(time.Second)
		n.pump()
	}
	for _, x := range []*node{n.a, n.b} {
		if li, ok := x.r.LinkInfo(id); !ok || li.Status != LinkActive {
			t.Fatalf("link died despite keepalives: %+v", li)
		}
	}
	if n.a.r.links[id].tx < 4 || n.b.r.links[id].tx < 4 {
		t.Fatalf("keepalives not exchanged: a tx %d, b tx %d", n.a.r.links[id].tx, n.b.r.links[id].tx)
	}
}

func TestStaleLinkCleanedUp(t *testing.T) {
	n := newTestNet(t)
	id := establish(t, n)
	n.cut = true // the peer vanishes
	stale := false
	var closedAt time.Duration
	for i := 1; i <= 80; i++ {
		n.advance(500 * time.Millisecond)
		n.pump()
		li, ok := n.a.r.LinkInfo(id)
		if !ok {
			closedAt = time.Duration(i) * 500 * time.Millisecond
			break
		}
		if li.Status == LinkStale {
			stale = true
		}
	}
	if !stale || closedAt == 0 {
		t.Fatalf("stale=%v closedAt=%v", stale, closedAt)
	}
	// Stale after 2 × keepalive (16.5 s), closed RTT × 4 + 5 s later
	// (5.16 s), checked every 0.5 s.
	want := 2*rns.KeepaliveInterval(40*time.Millisecond) + 4*40*time.Millisecond + rns.StaleGrace
	if closedAt < want || closedAt > want+time.Second+40*time.Millisecond {
		t.Fatalf("closed after %v, want about %v", closedAt, want)
	}
	ce, _ := findEvent[LinkClosedEvent](n.a.evs)
	if ce.Reason != ReasonTimeout {
		t.Fatalf("reason %v", ce.Reason)
	}
	if d := n.a.r.NextDeadline(); !d.IsZero() {
		t.Fatalf("deadline %v with no links", d)
	}
}

func TestLinkPacketOnWrongInterfaceIgnored(t *testing.T) {
	n := newTestNet(t)
	id := establish(t, n)
	other := &fakeIface{name: "other", mtu: rns.MTU}
	n.b.r.InterfaceUp(other, n.now)
	n.a.r.LinkSend(id, []byte("x"), n.now)
	raw := n.a.ifc.take()[0]
	if err := n.b.r.Inbound(raw, other, n.now); !errors.Is(err, ErrLinkInterface) {
		t.Fatalf("err %v", err)
	}
}

func TestResponderClampsLinkMTU(t *testing.T) {
	n := newTestNet(t)
	n.announceB("")
	li, err := rns.NewLinkInitiator(newDetRand(7), n.b.dest.Hash(), 8192)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := li.Request().Pack()
	if err := n.b.r.Inbound(raw, n.b.ifc, n.now); err != nil {
		t.Fatal(err)
	}
	var proof rns.Packet
	proof.Unmarshal(n.b.ifc.take()[0])
	sess, err := li.Accept(n.b.id, &proof)
	if err != nil {
		t.Fatal(err)
	}
	if sess.MTU() != rns.MTU || sess.MDU() != rns.LinkMDU {
		t.Fatalf("confirmed MTU %d MDU %d", sess.MTU(), sess.MDU())
	}
}
