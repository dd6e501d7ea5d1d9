package gossip

import (
	"bytes"
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// This file is the in-test message shuttle: a deterministic, single
// goroutine network of engines in the spirit of raft's interaction
// harness. Time is virtual; the shuttle, not a scheduler, orders every
// delivery; randomness comes from one seeded generator per network.

// identities are generated once per test binary: key generation is the
// slowest part of a trial and the property does not depend on fresh keys.
var (
	identOnce sync.Once
	identPool []*rns.Identity
)

func identities(t testing.TB, n int) []*rns.Identity {
	t.Helper()
	identOnce.Do(func() {
		r := rand.NewChaCha8([32]byte{'m', 'e', 's', 'h'})
		for range 16 {
			id, err := rns.NewIdentity(r)
			if err != nil {
				panic(err)
			}
			identPool = append(identPool, id)
		}
	})
	if n > len(identPool) {
		t.Fatalf("need %d identities, pool has %d", n, len(identPool))
	}
	return identPool[:n]
}

// tnode is one simulated node: an engine plus its "durable storage".
type tnode struct {
	name   string
	id     *rns.Identity
	eng    *Engine
	stored []feed.Signed
	// reports seen, by kind
	reports map[ReportKind]int
}

type delivery struct {
	at      int64
	seq     uint64
	to      int
	from    PeerID
	payload []byte
}

type deliveryHeap []delivery

func (h deliveryHeap) Len() int { return len(h) }
func (h deliveryHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h deliveryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deliveryHeap) Push(x any)   { *h = append(*h, x.(delivery)) }
func (h *deliveryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// network is the shuttle.
type network struct {
	t     testing.TB
	rnd   *rand.Rand
	now   int64
	nodes []*tnode
	queue deliveryHeap
	seq   uint64

	// link reports whether i hears j's broadcasts now.
	link func(i, j int) bool
	// loss is the probability a reception is lost; dup that it is
	// delivered twice; maxDelay the largest extra delivery delay (ms),
	// which reorders messages.
	loss     float64
	dup      float64
	minDelay int64
	maxDelay int64
	// airtime, if set, is how long a message of n bytes occupies the air
	// before it is delivered (and before its sender is told it was sent).
	airtime func(n int) int64

	// accounting
	bytesByKind map[Kind]int
	msgsByKind  map[Kind]int
}

// testConfig is the engine configuration used by the shuttle tests:
// defaults, with shorter Trickle intervals so that trials settle in less
// virtual time.
func testConfig(id *rns.Identity, rnd func() uint64) Config {
	return Config{
		Identity:         id,
		Rand:             rnd,
		TrickleIminMs:    2_000,
		TrickleDoublings: 7,
	}
}

// newNetwork creates n nodes sharing one dataset founded by node 0, which
// admits every other node; all nodes start from the genesis alone unless
// preload is set, in which case they start with the membership events
// already stored (a dataset distributed before deployment).
func newNetwork(t testing.TB, seed uint64, n int, preload bool, cfg func(i int, c *Config)) *network {
	t.Helper()
	ids := identities(t, n)
	rnd := rand.New(rand.NewPCG(seed, 0x6d6573686c6f67))
	nw := &network{t: t, rnd: rnd, link: func(i, j int) bool { return true },
		bytesByKind: map[Kind]int{}, msgsByKind: map[Kind]int{}, minDelay: 1, maxDelay: 1}
	genesis, err := feed.NewGenesis(ids[0], "field-camp", hlc.New(1_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	// Membership events written by the founder.
	flog, err := feed.NewLog(genesis, feed.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var members []feed.Signed
	for i := 1; i < n; i++ {
		var add feed.MemberAdd
		copy(add.Key[:], ids[i].PublicKey())
		body, err := feed.EncodeBody(add)
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := flog.Append(ids[0], feed.KindMemberAdd, body, hlc.New(1_000+int64(i), 0))
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, s)
	}
	for i := range n {
		log, err := feed.NewLog(genesis, feed.Config{})
		if err != nil {
			t.Fatal(err)
		}
		var stored []feed.Signed
		if preload || i == 0 {
			for _, s := range members {
				if _, err := log.Restore(s); err != nil {
					t.Fatal(err)
				}
				stored = append(stored, s)
			}
		}
		nodeRand := rand.New(rand.NewPCG(seed, uint64(i)+1))
		c := testConfig(ids[i], nodeRand.Uint64)
		if cfg != nil {
			cfg(i, &c)
		}
		eng, err := New(c, log, 0)
		if err != nil {
			t.Fatal(err)
		}
		nw.nodes = append(nw.nodes, &tnode{name: fmt.Sprintf("n%d", i), id: ids[i], eng: eng, stored: stored, reports: map[ReportKind]int{}})
	}
	return nw
}

// drain handles every Ready of node i: persist, transmit, advance.
func (nw *network) drain(i int) {
	nd := nw.nodes[i]
	for nd.eng.HasReady() {
		rd := nd.eng.Ready()
		nd.stored = append(nd.stored, rd.Persist...)
		for _, r := range rd.Reports {
			nd.reports[r.Kind]++
		}
		for _, m := range rd.Messages {
			nw.transmit(i, m)
		}
		nd.eng.Advance(rd)
	}
}

// debugHook, when set, sees every transmission (for debugging a seed).
var debugHook func(nw *network, i int, m Message)

func (nw *network) transmit(i int, m Message) {
	if debugHook != nil {
		debugHook(nw, i, m)
	}
	limit := nw.nodes[i].eng.cfg.PayloadLimit
	if !m.To.IsBroadcast() {
		limit = nw.nodes[i].eng.cfg.PeerPayloadLimit
	}
	if len(m.Payload) > limit || len(m.Payload) == 0 {
		nw.t.Fatalf("%s sent %d bytes, limit %d", nw.nodes[i].name, len(m.Payload), limit)
	}
	k := Kind(m.Payload[0])
	nw.bytesByKind[k] += len(m.Payload)
	nw.msgsByKind[k]++
	if !m.To.IsBroadcast() {
		nw.t.Fatalf("shuttle carries broadcasts only; %s addressed %s", nw.nodes[i].name, m.To)
	}
	var air int64
	if nw.airtime != nil {
		air = nw.airtime(len(m.Payload))
	}
	// The sender learns when its message finished going on air.
	nw.seq++
	heap.Push(&nw.queue, delivery{at: nw.now + air, seq: nw.seq, to: -1 - i, payload: slices.Clone(m.Payload)})
	for j := range nw.nodes {
		if j == i || !nw.link(j, i) {
			continue
		}
		copies := 1
		if nw.rnd.Float64() < nw.loss {
			copies = 0
		} else if nw.rnd.Float64() < nw.dup {
			copies = 2
		}
		for range copies {
			d := nw.minDelay
			if nw.maxDelay > nw.minDelay {
				d += nw.rnd.Int64N(nw.maxDelay - nw.minDelay)
			}
			nw.seq++
			heap.Push(&nw.queue, delivery{at: nw.now + air + d, seq: nw.seq, to: j, from: Broadcast, payload: slices.Clone(m.Payload)})
		}
	}
}

// step advances to the next event (delivery or engine deadline) no later
// than until; it reports false when nothing is due by then.
func (nw *network) step(until int64) bool {
	next := until + 1
	if len(nw.queue) > 0 {
		next = nw.queue[0].at
	}
	for _, nd := range nw.nodes {
		next = min(next, nd.eng.NextDeadline())
	}
	if next > until {
		nw.now = until
		return false
	}
	if next > nw.now {
		nw.now = next
	}
	for len(nw.queue) > 0 && nw.queue[0].at <= nw.now {
		d := heap.Pop(&nw.queue).(delivery)
		if d.to < 0 {
			nd := nw.nodes[-1-d.to]
			nd.eng.Sent(Message{To: Broadcast, Payload: d.payload}, nw.now)
			nw.drain(-1 - d.to)
			continue
		}
		if err := nw.nodes[d.to].eng.Step(d.from, d.payload, nw.now); err != nil {
			nw.t.Fatalf("%s: Step: %v", nw.nodes[d.to].name, err)
		}
		nw.drain(d.to)
	}
	for i, nd := range nw.nodes {
		if nd.eng.NextDeadline() <= nw.now {
			nd.eng.Tick(nw.now)
		}
		nw.drain(i)
	}
	return true
}

// run advances virtual time to until.
func (nw *network) run(until int64) {
	for nw.step(until) {
	}
}

// runUntil advances until cond holds (checked after every step) or until
// passes; it reports whether cond held.
func (nw *network) runUntil(until int64, cond func() bool) bool {
	for {
		if cond() {
			return true
		}
		if !nw.step(until) {
			return cond()
		}
	}
}

func (nw *network) appendAt(i int, kind feed.Kind, body feed.Body) feed.Signed {
	nw.t.Helper()
	b, err := feed.EncodeBody(body)
	if err != nil {
		nw.t.Fatal(err)
	}
	s, err := nw.nodes[i].eng.Append(kind, b, nw.now)
	if err != nil {
		nw.t.Fatalf("%s: Append: %v", nw.nodes[i].name, err)
	}
	nw.drain(i)
	return s
}

// converged reports whether the given nodes (all if none) hold the same
// durable frontier and byte-identical views.
func (nw *network) converged(idx ...int) bool {
	if len(idx) == 0 {
		for i := range nw.nodes {
			idx = append(idx, i)
		}
	}
	h0, c0 := nw.nodes[idx[0]].eng.Digest()
	v0 := nw.nodes[idx[0]].eng.View().Canonical()
	for _, i := range idx[1:] {
		h, c := nw.nodes[i].eng.Digest()
		if h != h0 || c != c0 {
			return false
		}
		if !bytes.Equal(nw.nodes[i].eng.View().Canonical(), v0) {
			return false
		}
	}
	return true
}

// describe summarises node states for failure messages.
func (nw *network) describe() string {
	var b bytes.Buffer
	for _, nd := range nw.nodes {
		h, c := nd.eng.Digest()
		fmt.Fprintf(&b, "  %s: hash %016x count %d frontier %v pending %d reports %v\n", nd.name, h, c, shortFrontier(nd.eng.Frontier()), nd.eng.log.PendingLen(), nd.reports)
	}
	return b.String()
}

func shortFrontier(f map[rns.Hash]uint64) string {
	var b bytes.Buffer
	for _, a := range sortedAuthors(f) {
		fmt.Fprintf(&b, "%x:%d ", a[:2], f[a])
	}
	return b.String()
}
