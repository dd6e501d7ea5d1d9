package transport

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

var writeSeeds = flag.Bool("write-seeds", false, "rewrite testdata/fuzz seed corpora from the deterministic test network")

// fuzzNet builds a deterministic network in which b has a registered
// destination, knows a's announce, and has one active link from a; it
// returns the net and the packets b received on the way plus a's teardown
// (valid inputs that exercise every inbound branch; each run builds the
// same keys and link id, so the seeds stay meaningful to the fuzz body).
func fuzzNet(t testing.TB) (*testNet, [][]byte) {
	n := &testNet{t: t, a: newNode(t, "a", 1, Config{}), b: newNode(t, "b", 2, Config{MaxPaths: 16, HashFilterSize: 64}), now: time.Unix(1_700_000_000, 0)}
	n.a.r.InterfaceUp(n.a.ifc, n.now)
	n.b.r.InterfaceUp(n.b.ifc, n.now)
	n.a.r.Register(n.a.dest, LocalOptions{AcceptLinks: true})
	n.b.r.Register(n.b.dest, LocalOptions{AcceptLinks: true, ProveAll: true})
	var seeds [][]byte
	deliverAB := func() {
		for _, raw := range n.a.ifc.take() {
			seeds = append(seeds, raw)
			n.b.r.Inbound(raw, n.b.ifc, n.now)
		}
		for _, raw := range n.b.ifc.take() {
			n.a.r.Inbound(raw, n.a.ifc, n.now)
		}
	}
	n.a.r.Announce(n.a.dest.Hash(), []byte("a"), n.now)
	n.b.r.Announce(n.b.dest.Hash(), []byte("b"), n.now)
	deliverAB()
	n.a.r.RequestPath(n.b.dest.Hash(), n.now)
	deliverAB()
	id, err := n.a.r.OpenLink(n.b.dest.Hash(), n.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		deliverAB()
	}
	n.a.r.LinkSend(id, []byte("data"), n.now)
	n.a.r.IdentifyLink(id, n.a.id, n.now)
	n.a.r.links[id].lastKeepalive = time.Time{}
	n.a.r.linkSendPacket(n.a.r.links[id], n.a.r.links[id].session.KeepalivePacket(), n.now)
	deliverAB()
	n.a.r.SendPacket(n.b.dest.Hash(), []byte("single"), n.now)
	deliverAB()
	// The teardown is a seed, but not delivered: b keeps the active link.
	n.a.r.CloseLink(id, n.now)
	seeds = append(seeds, n.a.ifc.take()...)
	n.a.r.Events()
	n.b.r.Events()
	// Forget what b has seen, so the seeds (and their mutants) reach the
	// handlers instead of the duplicate filter.
	n.b.r.filter = NewHashFilter(64)
	n.b.r.prTags = NewHashFilter(64)
	return n, seeds
}

var (
	fuzzOnce  sync.Once
	fuzzTmpl  *testNet
	fuzzSeeds [][]byte
)

// fuzzRouter returns a fresh copy of b's router from the deterministic
// fuzz network (built once per process: key generation and handshakes are
// far too slow to repeat for every input) and the net for its clock and
// interface. Each copy has its own tables, so inputs do not interfere.
func fuzzRouter(t testing.TB) (*Router, *testNet) {
	fuzzOnce.Do(func() { fuzzTmpl, fuzzSeeds = fuzzNet(t) })
	if fuzzTmpl == nil {
		t.Fatal("fuzz network setup failed")
	}
	src := fuzzTmpl.b.r
	r := NewRouter(src.cfg)
	for k, v := range src.ifaces {
		c := *v
		r.ifaces[k] = &c
	}
	r.ifaceSeq = src.ifaceSeq
	for k, v := range src.paths {
		c := *v
		c.randomBlobs = append([][rns.RandomHashLength]byte(nil), v.randomBlobs...)
		r.paths[k] = &c
	}
	for k, v := range src.known {
		c := *v
		r.known[k] = &c
	}
	locals := map[*localDest]*localDest{}
	for k, v := range src.locals {
		c := *v
		locals[v] = &c
		r.locals[k] = &c
	}
	for k, v := range src.links {
		c := *v
		if c.local != nil {
			c.local = locals[c.local]
		}
		r.links[k] = &c
	}
	fuzzTmpl.b.ifc.take()
	return r, fuzzTmpl
}

func checkRouterInvariants(t *testing.T, r *Router) {
	if r.Paths() > r.cfg.MaxPaths || len(r.known) > 2*r.cfg.MaxPaths || len(r.links) > r.cfg.MaxLinks ||
		r.filter.Len() > 2*r.filter.half || len(r.receipts) > maxPendingReceipts {
		t.Fatalf("router tables exceed their bounds: paths %d known %d links %d filter %d receipts %d",
			r.Paths(), len(r.known), len(r.links), r.filter.Len(), len(r.receipts))
	}
	for _, l := range r.links {
		if l.status == LinkClosed {
			t.Fatal("closed link still registered")
		}
	}
}

// FuzzRouterInbound feeds arbitrary packets to a router that has a local
// destination, a known peer and an active link: it must never panic, and
// its tables stay within their bounds.
func FuzzRouterInbound(f *testing.F) {
	_, seeds := fuzzNet(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add(make([]byte, 19))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, n := fuzzRouter(t)
		r.Inbound(raw, n.b.ifc, n.now)
		// A second copy must be handled too (duplicate or idempotent).
		r.Inbound(raw, n.b.ifc, n.now.Add(time.Second))
		for _, e := range r.Events() {
			if ae, ok := e.(AnnounceEvent); ok && ae.Valid && ae.Identity == nil && ae.Err == nil {
				t.Fatal("valid announce event without identity")
			}
		}
		r.Tick(n.now.Add(time.Hour))
		checkRouterInvariants(t, r)
	})
}

// FuzzStreamInbound feeds an arbitrary TCP byte stream, cut into chunks,
// through the HDLC deframer into the router, as a TCP interface does.
func FuzzStreamInbound(f *testing.F) {
	_, seeds := fuzzNet(f)
	var stream []byte
	for _, s := range seeds {
		stream = rns.AppendHDLC(stream, s)
	}
	f.Add(stream, uint8(7))
	f.Add(append([]byte("garbage before the first flag"), stream...), uint8(1))
	f.Add([]byte{0x7e, 0x7d, 0x7d, 0x5e, 0x7e, 0x7e}, uint8(0))
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		r, n := fuzzRouter(t)
		d := rns.HDLCDeframer{MaxFrame: rns.MTU + rns.IFACSizeTCP}
		step := int(chunk)
		if step == 0 {
			step = len(stream) + 1
		}
		frames := 0
		for len(stream) > 0 {
			k := min(step, len(stream))
			d.Feed(stream[:k], func(frame []byte) {
				frames++
				if len(frame) > rns.MTU+rns.IFACSizeTCP || len(frame) <= rns.HeaderMinSize {
					t.Fatalf("deframer delivered a %d-byte frame", len(frame))
				}
				r.Inbound(append([]byte(nil), frame...), n.b.ifc, n.now)
			})
			stream = stream[k:]
		}
		r.Tick(n.now.Add(time.Hour))
		checkRouterInvariants(t, r)
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora with
// -write-seeds; otherwise it checks that they exist.
func TestWriteFuzzSeeds(t *testing.T) {
	_, seeds := fuzzNet(t)
	if len(seeds) < 8 {
		t.Fatalf("only %d seed packets", len(seeds))
	}
	dirR := filepath.Join("testdata", "fuzz", "FuzzRouterInbound")
	dirS := filepath.Join("testdata", "fuzz", "FuzzStreamInbound")
	if !*writeSeeds {
		for _, d := range []string{dirR, dirS} {
			if ents, err := os.ReadDir(d); err != nil || len(ents) == 0 {
				t.Fatalf("seed corpus %s missing (run go test -run TestWriteFuzzSeeds -write-seeds)", d)
			}
		}
		return
	}
	for _, d := range []string{dirR, dirS} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var stream []byte
	for i, s := range seeds {
		write(t, filepath.Join(dirR, fmt.Sprintf("seed-%02d", i)), fmt.Sprintf("[]byte(%q)\n", s))
		stream = rns.AppendHDLC(stream, s)
	}
	write(t, filepath.Join(dirS, "seed-stream"), fmt.Sprintf("[]byte(%q)\nbyte('\\x07')\n", stream))
	write(t, filepath.Join(dirS, "seed-stream-bytewise"), fmt.Sprintf("[]byte(%q)\nbyte('\\x01')\n", stream))
}

func write(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("go test fuzz v1\n"+body), 0o644); err != nil {
		t.Fatal(err)
	}
}
