package transport

import (
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

// baselineNsPerPacket times parsing and hashing the packets (what any
// router must do at least) over n rounds — as many as the benchmark loop
// runs, so that both see the same share of a busy machine.
func baselineNsPerPacket(pkts [][]byte, n int) float64 {
	start := time.Now()
	var p rns.Packet
	var sink byte
	for i := 0; i < n; i++ {
		if err := p.Unmarshal(pkts[i%len(pkts)]); err == nil {
			h := p.Hash()
			sink ^= h[0]
		}
	}
	_ = sink
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// BenchmarkRouterInbound measures packets per second through Router.Inbound
// on an active link (decrypt and deliver), for duplicates (dropped by the
// filter), and for announces (signature validation and path update). Each
// reports pkts/s and x_parse_hash, its cost relative to parsing and
// hashing the same packets in the same run.
func BenchmarkRouterInbound(b *testing.B) {
	n := newTestNet(b)
	n.announceB("")
	id, err := n.a.r.OpenLink(n.b.dest.Hash(), n.now)
	if err != nil {
		b.Fatal(err)
	}
	n.pump()
	const distinct = 2048
	linkPkts := make([][]byte, distinct)
	payload := make([]byte, 100)
	for i := range linkPkts {
		if _, err := n.a.r.LinkSend(id, payload, n.now); err != nil {
			b.Fatal(err)
		}
		linkPkts[i] = n.a.ifc.take()[0]
	}
	annPkts := make([][]byte, 64)
	for i := range annPkts {
		n.a.r.Announce(n.a.dest.Hash(), []byte("bench"), n.now.Add(time.Duration(i)*time.Second))
		annPkts[i] = n.a.ifc.take()[0]
	}
	r := n.b.r
	run := func(b *testing.B, pkts [][]byte, resetFilter bool, wantErr bool) {
		base := baselineNsPerPacket(pkts, b.N)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			k := i % len(pkts)
			if resetFilter && k == 0 {
				r.filter = NewHashFilter(2 * distinct)
				delete(r.paths, n.a.dest.Hash())
			}
			err := r.Inbound(pkts[k], n.b.ifc, n.now)
			if (err != nil) != wantErr {
				b.Fatalf("packet %d: %v", k, err)
			}
			r.events = r.events[:0]
		}
		b.StopTimer()
		per := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(1e9/per, "pkts/s")
		b.ReportMetric(per/base, "x_parse_hash")
	}
	b.Run("link-data-100B", func(b *testing.B) { run(b, linkPkts, true, false) })
	b.Run("duplicate", func(b *testing.B) {
		r.filter = NewHashFilter(2 * distinct)
		r.Inbound(linkPkts[0], n.b.ifc, n.now)
		run(b, linkPkts[:1], false, true)
	})
	b.Run("announce", func(b *testing.B) {
		// Also relative to the one Ed25519 verification every announce
		// needs, measured on the same announce in the same run.
		var p rns.Packet
		p.Unmarshal(annPkts[0])
		a, err := rns.ParseAnnounce(&p)
		if err != nil {
			b.Fatal(err)
		}
		pub, signed := ed25519.PublicKey(a.PublicKey[32:]), a.SignedData()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if !ed25519.Verify(pub, signed, a.Signature[:]) {
				b.Fatal("signature")
			}
		}
		verify := float64(time.Since(start).Nanoseconds()) / float64(b.N)
		run(b, annPkts, true, false)
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/verify, "x_ed25519_verify")
	})
}
