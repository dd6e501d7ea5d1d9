package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/config"
	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/rns/transport"
)

// runNodes opens and runs one node per data directory with the given
// interface each; the returned stop function shuts them down.
func runNodes(t *testing.T, dirs []string, ifcs []config.Interface) ([]*Node, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	nodes := make([]*Node, len(dirs))
	for i, d := range dirs {
		n, err := Open(Options{DataDir: d, Config: fastConfig(t, d, ifcs[i])})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		nodes[i] = n
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Run(ctx); err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		}()
	}
	var once sync.Once
	return nodes, func() {
		once.Do(func() {
			cancel()
			wg.Wait()
			for _, n := range nodes {
				n.Close()
			}
		})
	}
}

func linkPeers(n *Node) (active int, sent, received uint64) {
	for _, p := range n.Status().Peers {
		if p.Link == LinkStateActive {
			active++
		}
		sent += p.LinkSent
		received += p.LinkReceived
	}
	return
}

// Three nodes on loopback TCP whose interfaces are sync = links: GROUP
// broadcasts are neither sent nor read there, so everything — the joiners'
// admissions, then records written on every node — can only travel over
// Reticulum links (b and c each link to the hub a, which relays).
func TestSyncOverLinksOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node sync over links")
	}
	base := t.TempDir()
	dirs := []string{filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")}
	newDataset(t, dirs...)
	addr := freePort(t)
	ifcs := []config.Interface{
		{Name: "hub", Type: config.TypeTCPServer, Listen: addr, Enabled: true, Sync: config.SyncLinks},
		{Name: "up", Type: config.TypeTCPClient, Target: addr, Enabled: true, Sync: config.SyncLinks},
		{Name: "up", Type: config.TypeTCPClient, Target: addr, Enabled: true, Sync: config.SyncLinks},
	}
	nodes, stop := runNodes(t, dirs, ifcs)
	defer stop()

	waitFor(t, "two active links at the hub", 60*time.Second, func() bool {
		active, _, _ := linkPeers(nodes[0])
		return active == 2
	})
	for i, n := range nodes {
		waitFor(t, fmt.Sprintf("node %d membership", i), 60*time.Second, func() bool { return n.Status().Member })
	}
	for i, n := range nodes {
		rec := fmt.Sprintf("R-%d", i)
		if _, err := n.CreateRecord(rec, "water_point"); err != nil {
			t.Fatal(err)
		}
		if _, err := n.SetField(rec, "depth_m", feed.Int(int64(10+i))); err != nil {
			t.Fatal(err)
		}
		if _, err := n.AppendNote(rec, "checked by node "+fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "convergence over links", 90*time.Second, func() bool {
		d0 := nodes[0].ViewDigest()
		for _, n := range nodes {
			if n.ViewDigest() != d0 || n.Status().Records != 3 {
				return false
			}
		}
		return true
	})

	// The traffic went over links, none as GROUP broadcasts.
	for i, n := range nodes {
		st := n.Status()
		for _, ifc := range st.Interfaces {
			if ifc.SentMessages != 0 {
				t.Errorf("node %d interface %s sent %d GROUP messages on a links-only interface", i, ifc.Name, ifc.SentMessages)
			}
		}
		active, sent, received := linkPeers(n)
		want := 1
		if i == 0 {
			want = 2
		}
		if active != want || sent == 0 || received == 0 {
			t.Errorf("node %d: %d active link peers (want %d), %d messages sent, %d received over links; peers %+v",
				i, active, want, sent, received, st.Peers)
		}
		for _, p := range st.Peers {
			if p.Link == LinkStateActive && (p.LinkID == "" || p.Identity == "") {
				t.Errorf("node %d: active link peer without ids: %+v", i, p)
			}
		}
	}

	// A removed member loses its link to the hub and cannot get it back.
	removed := nodes[2].Identity().Hash().String()
	if _, err := nodes[0].RemoveMember(removed); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hub dropping the removed member's link", 30*time.Second, func() bool {
		active, _, _ := linkPeers(nodes[0])
		return active == 1
	})
	time.Sleep(2 * linkTickInterval)
	for _, p := range nodes[0].Status().Peers {
		if p.Identity == removed && p.Link == LinkStateActive {
			t.Errorf("removed member still linked: %+v", p)
		}
	}
}

// A Reticulum endpoint that is not a member of the dataset opens a link to
// a node and identifies: the node closes the link and never syncs with it.
func TestLinkFromNonMemberRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("link refusal over TCP")
	}
	base := t.TempDir()
	dir := filepath.Join(base, "a")
	newDataset(t, dir)
	addr := freePort(t)
	nodes, stop := runNodes(t, []string{dir}, []config.Interface{
		{Name: "hub", Type: config.TypeTCPServer, Listen: addr, Enabled: true, Sync: config.SyncLinks},
	})
	defer stop()
	a := nodes[0]
	dest, err := rns.NewDestination(a.Identity(), rns.Out, rns.Single, "meshlogd", "node")
	if err != nil {
		t.Fatal(err)
	}

	// The outsider: a bare Reticulum stack with its own identity.
	outsider, err := rns.NewIdentity(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	st := transport.NewStack(transport.StackConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- st.Run(ctx, transport.NewTCPClient(transport.TCPClientConfig{Addr: addr, Name: "outsider"}))
	}()
	defer func() { cancel(); <-done }()

	events := st.Events()
	next := func(what string, match func(transport.Event) bool, tick func()) transport.Event {
		t.Helper()
		deadline := time.After(40 * time.Second)
		tk := time.NewTicker(time.Second)
		defer tk.Stop()
		for {
			select {
			case ev := <-events:
				if match(ev) {
					return ev
				}
			case <-tk.C:
				if tick != nil {
					tick()
				}
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	// Learn the node's destination (its announce, or a path response).
	next("the node's announce", func(ev transport.Event) bool {
		e, ok := ev.(transport.AnnounceEvent)
		return ok && e.Valid && e.Destination == dest.Hash()
	}, func() {
		st.Do(func(r *transport.Router, now time.Time) error { return r.RequestPath(dest.Hash(), now) })
	})
	var linkID rns.Hash
	if err := st.Do(func(r *transport.Router, now time.Time) (err error) {
		linkID, err = r.OpenLink(dest.Hash(), now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	next("link established", func(ev transport.Event) bool {
		e, ok := ev.(transport.LinkEstablishedEvent)
		return ok && e.Link.ID == linkID
	}, nil)
	if err := st.Do(func(r *transport.Router, now time.Time) error { return r.IdentifyLink(linkID, outsider, now) }); err != nil {
		t.Fatal(err)
	}
	ev := next("link closed by the node", func(ev transport.Event) bool {
		e, ok := ev.(transport.LinkClosedEvent)
		return ok && e.Link.ID == linkID
	}, nil).(transport.LinkClosedEvent)
	if ev.Reason != transport.ReasonDestinationClosed {
		t.Errorf("link closed with reason %s, want destination closed", ev.Reason)
	}
	rt := a.runtimeOf()
	if rt == nil {
		t.Fatal("node not running")
	}
	if _, refused := rt.links.counters(); refused != 1 {
		t.Errorf("refused %d links, want 1", refused)
	}
	if active, _, _ := linkPeers(a); active != 0 {
		t.Errorf("%d active link peers after refusal", active)
	}
	for _, p := range a.Status().Peers {
		if bytes.Contains([]byte(p.Identity), []byte(outsider.Hash().String())) {
			t.Errorf("outsider listed as a peer: %+v", p)
		}
	}
}

func TestLinkBackoff(t *testing.T) {
	n := &Node{opts: Options{Rand: rand.Reader}}
	lm := &linkManager{n: n}
	prev := time.Duration(0)
	for f := 1; f <= 12; f++ {
		d := lm.backoff(f)
		base := linkRetryMin << (f - 1)
		if base > linkRetryMax || base <= 0 {
			base = linkRetryMax
		}
		if d < base*3/4 || d > base*5/4 {
			t.Fatalf("failure %d: backoff %s outside %s ±25%%", f, d, base)
		}
		if f > 1 && base < linkRetryMax && d < prev/2 {
			t.Fatalf("failure %d: backoff %s shrank from %s", f, d, prev)
		}
		prev = d
	}
}

func TestIsDatasetAnnounce(t *testing.T) {
	const prefix = "meshlogd:0011223344556677"
	for _, c := range []struct {
		data string
		want bool
	}{
		{prefix, true},
		{prefix + ":mast 3", true},
		{prefix + "88", false}, // a longer tag is another dataset
		{"meshlogd:0011", false},
		{"", false},
	} {
		if got := isDatasetAnnounce([]byte(c.data), prefix); got != c.want {
			t.Errorf("isDatasetAnnounce(%q) = %v, want %v", c.data, got, c.want)
		}
	}
}

// Which announces make a peer due for a link: per the interface's sync
// mode and the announce's hop count; other datasets and invalid announces
// never.
func TestLinkEligibility(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	newDataset(t, dir)
	n, err := Open(Options{DataDir: dir, Config: fastConfig(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	rt := &runtimeState{ifaces: map[transport.Interface]*ifaceInfo{}}
	for _, m := range []string{config.SyncGroup, config.SyncLinks, config.SyncBoth} {
		rt.ifaces[transport.NewTCPClient(transport.TCPClientConfig{Addr: "127.0.0.1:1", Name: m})] = &ifaceInfo{name: m, sync: m}
	}
	lm := newLinkManager(n, rt)
	appData := n.announceAppData()
	other := append([]byte(nil), appData...)
	other[len("meshlogd:")] ^= 1 // another dataset's tag
	for _, c := range []struct {
		iface   string
		hops    int
		data    []byte
		valid   bool
		aspects []string
		want    bool
	}{
		{config.SyncGroup, 1, appData, true, nil, false},
		{config.SyncGroup, 3, appData, true, nil, false},
		{config.SyncLinks, 1, appData, true, nil, true},
		{config.SyncBoth, 1, appData, true, nil, false},
		{config.SyncBoth, 2, appData, true, nil, true},
		{config.SyncBoth, 2, other, true, nil, false},
		{config.SyncBoth, 2, appData, false, nil, false},
		{config.SyncBoth, 2, appData, true, []string{"sync"}, false}, // not meshlogd.node
		{"unknown-interface", 2, appData, true, nil, false},
	} {
		peer, err := rns.NewIdentity(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		aspects := c.aspects
		if aspects == nil {
			aspects = []string{"node"}
		}
		dest, err := rns.NewDestination(peer, rns.Out, rns.Single, "meshlogd", aspects...)
		if err != nil {
			t.Fatal(err)
		}
		lm.onAnnounce(transport.AnnounceEvent{Destination: dest.Hash(), Identity: peer, AppData: c.data,
			Hops: c.hops, Interface: c.iface, Valid: c.valid})
		lm.mu.Lock()
		p := lm.peers[peer.Hash()]
		got := p != nil && p.eligible
		var state string
		if p != nil {
			state = lm.peerStatusLocked(p, n.clock.now()).Link
		}
		lm.mu.Unlock()
		if got != c.want {
			t.Errorf("%+v: eligible %v", c, got)
		}
		if c.want && state != LinkStateWaiting {
			t.Errorf("%+v: link state %q, want %q", c, state, LinkStateWaiting)
		}
	}
}

// runNode runs one node until the returned stop function is called.
func runNode(t *testing.T, dir string, ifc config.Interface) (*Node, func()) {
	t.Helper()
	nodes, stop := runNodes(t, []string{dir}, []config.Interface{ifc})
	return nodes[0], stop
}

// A linked node that restarts (its old link dead on the other end) gets a
// new link and catches up with what was written while it was down.
func TestLinkResumesAfterRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("restart over links")
	}
	base := t.TempDir()
	dirs := []string{filepath.Join(base, "a"), filepath.Join(base, "b")}
	newDataset(t, dirs...)
	addr := freePort(t)
	hub := config.Interface{Name: "hub", Type: config.TypeTCPServer, Listen: addr, Enabled: true, Sync: config.SyncLinks}
	up := config.Interface{Name: "up", Type: config.TypeTCPClient, Target: addr, Enabled: true, Sync: config.SyncLinks}
	a, stopA := runNode(t, dirs[0], hub)
	defer stopA()
	b, stopB := runNode(t, dirs[1], up)
	oldLink := ""
	waitFor(t, "b's link", 60*time.Second, func() bool {
		for _, p := range b.Status().Peers {
			if p.Link == LinkStateActive {
				oldLink = p.LinkID
			}
		}
		return oldLink != ""
	})
	stopB()

	if _, err := a.CreateRecord("while-b-was-down", "water_point"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b, stopB = runNode(t, dirs[1], up)
	defer stopB()
	waitFor(t, "b catching up over a new link", 60*time.Second, func() bool {
		return b.Status().Records == 1 && b.ViewDigest() == a.ViewDigest()
	})
	t.Logf("b caught up %.1f s after its restart", time.Since(start).Seconds())
	waitFor(t, "a single active link at a, not the old one", 30*time.Second, func() bool {
		active, _, _ := linkPeers(a)
		for _, p := range a.Status().Peers {
			if p.Link == LinkStateActive && p.LinkID == oldLink {
				return false
			}
		}
		return active == 1
	})
}

// Of two links between the same pair, both ends keep the one opened by the
// smaller identity hash, or the newer one of two opened by the same end.
func TestLinkPreference(t *testing.T) {
	small, large := rns.Hash{0x01}, rns.Hash{0xf0}
	// At the smaller node: its own (initiator) link beats the peer's.
	lm := &linkManager{self: small}
	peer := &linkPeer{id: large}
	own := &linkConn{id: rns.Hash{1}, initiator: true, peer: peer}
	theirs := &linkConn{id: rns.Hash{2}, peer: peer}
	if lm.preferLocked(own, theirs) != own || lm.preferLocked(theirs, own) != own {
		t.Error("smaller node does not keep its own link")
	}
	// At the larger node: the peer's (the smaller's) link wins.
	lm = &linkManager{self: large}
	peer = &linkPeer{id: small}
	own = &linkConn{id: rns.Hash{1}, initiator: true, peer: peer}
	theirs = &linkConn{id: rns.Hash{2}, peer: peer}
	if lm.preferLocked(own, theirs) != theirs || lm.preferLocked(theirs, own) != theirs {
		t.Error("larger node does not keep the smaller node's link")
	}
	// Same opener: the newer (second argument) wins.
	newer := &linkConn{id: rns.Hash{3}, peer: peer}
	if lm.preferLocked(theirs, newer) != newer {
		t.Error("a newer link from the same opener does not replace the old one")
	}
}

// activate enforces the link peer bound and resolves two links to one peer
// (without a network: closing an unknown link is a no-op for the router).
func TestLinkActivateBoundAndDuplicates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	newDataset(t, dir)
	n, err := Open(Options{DataDir: dir, Config: fastConfig(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	rt := &runtimeState{ifaces: map[transport.Interface]*ifaceInfo{}, stack: transport.NewStack(transport.StackConfig{}), wake: make(chan struct{}, 1)}
	lm := newLinkManager(n, rt)
	self := n.Identity().Hash()
	// Peer ids just above (or below) ours: self ± (i+1), big-endian.
	peerID := func(i int, larger bool) rns.Hash {
		h := self
		for k := 0; k <= i; k++ {
			for j := len(h) - 1; j >= 0; j-- {
				if larger {
					h[j]++
					if h[j] != 0 {
						break
					}
				} else {
					h[j]--
					if h[j] != 0xff {
						break
					}
				}
			}
		}
		return h
	}
	addLink := func(p *linkPeer, initiator bool, state linkState) *linkConn {
		var id rns.Hash
		if _, err := rand.Read(id[:]); err != nil {
			t.Fatal(err)
		}
		lc := &linkConn{id: id, initiator: initiator, peer: p, state: state, mdu: 431}
		lm.links[id] = lc
		return lc
	}
	for i := range maxLinkPeers {
		p := &linkPeer{id: peerID(i, true)}
		lm.peers[p.id] = p
		p.link = addLink(p, true, lsActive)
	}
	// One more peer identifies on an incoming link: refused, the bound holds.
	extra := &linkPeer{id: peerID(100, true)}
	lm.peers[extra.id] = extra
	lc := addLink(extra, false, lsIdentifying)
	lm.activate(lc.id)
	if extra.link != nil || lm.links[lc.id] != nil || lm.linkedPeersLocked() != maxLinkPeers {
		t.Fatalf("link beyond the bound kept: peer link %v, %d linked", extra.link, lm.linkedPeersLocked())
	}

	// A second link to a linked peer with a larger id: ours (the smaller
	// opener's) stays, theirs is closed.
	var big *linkPeer
	for _, p := range lm.peers {
		if p.link != nil {
			big = p
			break
		}
	}
	ours := big.link
	theirs := addLink(big, false, lsIdentifying)
	lm.activate(theirs.id)
	if big.link != ours || lm.links[theirs.id] != nil {
		t.Fatalf("duplicate link to a larger peer: kept %v, want our own", big.link)
	}

	// Our link to a larger peer still opening (its path may be broken)
	// gives way to the peer's established one.
	pending := &linkPeer{id: peerID(50, true)}
	lm.peers[pending.id] = pending
	delete(lm.peers, big.id)
	delete(lm.links, ours.id)
	opening := addLink(pending, true, lsOpening)
	pending.link = opening
	incoming := addLink(pending, false, lsIdentifying)
	lm.activate(incoming.id)
	if pending.link != incoming || incoming.state != lsActive || lm.links[opening.id] != nil {
		t.Fatalf("an opening link beat an established one: kept %+v", pending.link)
	}
	big = pending
	ours = incoming

	// With a smaller peer, its link wins over ours and becomes the channel.
	delete(lm.peers, big.id)
	delete(lm.links, ours.id)
	small := &linkPeer{id: peerID(7, false)}
	lm.peers[small.id] = small
	mine := addLink(small, true, lsActive)
	small.link = mine
	its := addLink(small, false, lsIdentifying)
	lm.activate(its.id)
	if small.link != its || its.state != lsActive || lm.links[mine.id] != nil {
		t.Fatalf("duplicate link to a smaller peer: kept %+v, want the peer's", small.link)
	}
}

// Link messages are reported sent to the engine (gossip AwaitSent, on when
// the node has radios) once handed to the router, and at once when dropped:
// otherwise a link channel would stall for AwaitSentTimeoutMs per message.
func TestLinkMessagesReportedSent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a")
	newDataset(t, dir)
	n, err := Open(Options{DataDir: dir, Config: fastConfig(t, dir)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	rt := &runtimeState{ifaces: map[transport.Interface]*ifaceInfo{}, stack: transport.NewStack(transport.StackConfig{}),
		wake: make(chan struct{}, 1), sent: make(chan sentNote, 8)}
	lm := newLinkManager(n, rt)
	rt.links = lm
	peer := &linkPeer{id: rns.Hash{9}}
	lm.peers[peer.id] = peer
	peer.link = &linkConn{id: rns.Hash{7}, initiator: true, peer: peer, state: lsActive}
	lm.links[peer.link.id] = peer.link

	queued := gossip.Message{To: gossip.PeerID(peer.id), Payload: []byte{byte(gossip.KindWant), 1}}
	unknown := gossip.Message{To: gossip.PeerID{5}, Payload: []byte{byte(gossip.KindWant), 2}}
	rt.dispatch([]gossip.Message{queued, unknown})
	got := func() gossip.Message {
		t.Helper()
		select {
		case s := <-rt.sent:
			return s.m
		case <-time.After(5 * time.Second):
			t.Fatal("no sent report")
		}
		return gossip.Message{}
	}
	if m := got(); m.To != unknown.To {
		t.Fatalf("dropped message not reported first: %+v", m)
	}
	lm.sendQueued() // the router has no such link: counted as dropped, still reported
	if m := got(); m.To != queued.To || !bytes.Equal(m.Payload, queued.Payload) {
		t.Fatalf("queued message not reported: %+v", m)
	}
	if dropped, _ := lm.counters(); dropped != 2 {
		t.Errorf("dropped %d, want 2", dropped)
	}
}
