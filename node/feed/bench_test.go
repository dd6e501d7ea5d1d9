package feed_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/view"
)

type chachaReader struct{ r *rand.ChaCha8 }

func (c chachaReader) Read(p []byte) (int, error) { return c.r.Read(p) }

func newChaCha(n byte) *rand.ChaCha8 { return rand.NewChaCha8([32]byte{n, 0x77}) }

func ident(tb testing.TB, n byte) *rns.Identity {
	id, err := rns.NewIdentity(chachaReader{newChaCha(n)})
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// benchData is a dataset with one member who wrote n typical field sets,
// each signed (as Append stores them).
type benchData struct {
	genesis feed.Signed
	add     feed.Signed
	member  *rns.Identity
	log     *feed.Log
	events  []feed.Signed
}

func typical(i int) feed.FieldSet {
	// A 20-byte string value, an 7-byte record id, a 7-byte field name.
	return feed.FieldSet{Record: "hh-0042", Field: "water_l", Value: feed.String("12 jerrycans, clean" + string(rune('a'+i%26)))}
}

func newBenchData(tb testing.TB, n int) *benchData {
	founder, member := ident(tb, 1), ident(tb, 2)
	const t0 = 1_700_000_000_000
	g, err := feed.NewGenesis(founder, "bench", hlc.New(t0, 0))
	if err != nil {
		tb.Fatal(err)
	}
	l, err := feed.NewLog(g, feed.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	var add feed.MemberAdd
	copy(add.Key[:], member.PublicKey())
	ab, _ := feed.EncodeBody(add)
	addEv, _, err := l.Append(founder, feed.KindMemberAdd, ab, hlc.New(t0+1, 0))
	if err != nil {
		tb.Fatal(err)
	}
	d := &benchData{genesis: g, add: addEv, member: member, log: l}
	var clock hlc.Clock
	for i := range n {
		b, err := feed.EncodeBody(typical(i))
		if err != nil {
			tb.Fatal(err)
		}
		s, _, err := l.Append(member, feed.KindFieldSet, b, clock.Now(t0+int64(1000*(i+1))))
		if err != nil {
			tb.Fatal(err)
		}
		d.events = append(d.events, s)
	}
	return d
}

func (d *benchData) fresh(tb testing.TB) (*feed.Log, *view.View) {
	l, err := feed.NewLog(d.genesis, feed.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := l.Ingest(d.add); err != nil {
		tb.Fatal(err)
	}
	return l, view.New()
}

// verifier returns a function doing one raw ed25519.Verify of event j's
// signature: the in-run baseline.
func verifier(b *testing.B, d *benchData) func(j int) {
	pub := d.member.Ed25519PublicKey()
	msgs := make([][]byte, len(d.events))
	for i, s := range d.events {
		msgs[i] = feed.SigningMessage(d.log.DatasetID(), s.ID())
	}
	return func(j int) {
		j %= len(d.events)
		if !ed25519.Verify(pub, msgs[j], d.events[j].Sig) {
			b.Fatal("baseline verify failed")
		}
	}
}

// report publishes events/s of the pipeline and verifies/s of the
// baseline. Both are timed interleaved in the same loop in CPU time of the
// benchmark's thread (threadClock), so machine load affects neither.
func report(b *testing.B, events int, pipeline time.Duration, verifies int, baseline time.Duration) {
	rate := float64(events) / pipeline.Seconds()
	base := float64(verifies) / baseline.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(base, "verify/s")
	b.ReportMetric(rate/base, "x-verify")
}

// BenchmarkIngest measures decode + verify + chain + store-in-memory + fold
// of individually signed events (stored encoding), against raw
// ed25519.Verify in the same run.
func BenchmarkIngest(b *testing.B) {
	const n = 1024
	d := newBenchData(b, n)
	wire := make([][]byte, n)
	for i, s := range d.events {
		wire[i], _ = s.MarshalBinary()
	}
	l, v := d.fresh(b)
	verify := verifier(b, d)
	var pipe, base time.Duration
	clock, release := threadClock()
	defer release()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		j := i % n
		if j == 0 && i > 0 {
			b.StopTimer()
			l, v = d.fresh(b)
			b.StartTimer()
		}
		t0 := clock()
		s, err := feed.DecodeSigned(wire[j])
		if err != nil {
			b.Fatal(err)
		}
		res, err := l.Ingest(s)
		if err != nil || len(res.Accepted) != 1 {
			b.Fatalf("ingest: %v", err)
		}
		for _, a := range res.Accepted {
			v.Apply(a.Event)
		}
		t1 := clock()
		verify(j)
		pipe += t1 - t0
		base += clock() - t1
	}
	b.StopTimer()
	report(b, b.N, pipe, b.N, base)
}

// BenchmarkIngestRun10 measures the same pipeline for the wire form: runs
// of 10 events with one signature each (amortised signing).
func BenchmarkIngestRun10(b *testing.B) {
	const n = 1000
	d := newBenchData(b, n)
	var runs [][]byte
	for from := uint64(1); from <= n; from += 10 {
		run := d.log.Authenticated(d.member.Hash(), from, from+9)
		enc, err := feed.EncodeRun(nil, run, feed.RunOpts{AuthorBytes: 4})
		if err != nil {
			b.Fatal(err)
		}
		runs = append(runs, enc)
	}
	l, v := d.fresh(b)
	verify := verifier(b, d)
	var pipe, base time.Duration
	clock, release := threadClock()
	defer release()
	b.ReportAllocs()
	b.ResetTimer()
	events := 0
	for i := range b.N {
		j := i % len(runs)
		if j == 0 && i > 0 {
			b.StopTimer()
			l, v = d.fresh(b)
			b.StartTimer()
		}
		t0 := clock()
		run, _, err := feed.DecodeRun(runs[j], l)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range run {
			res, err := l.Ingest(s)
			if err != nil {
				b.Fatal(err)
			}
			for _, a := range res.Accepted {
				v.Apply(a.Event)
			}
			events += len(res.Accepted)
		}
		t1 := clock()
		verify(i) // one raw verify per run of 10: what amortised signing costs
		pipe += t1 - t0
		base += clock() - t1
	}
	b.StopTimer()
	report(b, events, pipe, b.N, base)
}

// prototypeJSON is the predecessor prototype's encoding of an event: a JSON
// object with hex id/author/prev, seq, hlc, kind and payload.
type prototypeJSON struct {
	ID      string         `json:"id"`
	Author  string         `json:"author"`
	Prev    string         `json:"prev"`
	Seq     uint64         `json:"seq"`
	HLC     uint64         `json:"hlc"`
	Kind    string         `json:"kind"`
	Payload map[string]any `json:"payload"`
}

func toJSON(s feed.Signed) []byte {
	body, _ := feed.DecodeBody(s.Kind, s.Body)
	fs := body.(feed.FieldSet)
	id := s.ID()
	p := prototypeJSON{
		ID: hex.EncodeToString(id[:]), Author: hex.EncodeToString(s.Author[:]), Prev: hex.EncodeToString(s.Prev[:]),
		Seq: s.Seq, HLC: uint64(s.HLC), Kind: "field_set",
		Payload: map[string]any{"record": fs.Record, "field": fs.Field, "value": fs.Value.Str()},
	}
	b, _ := json.Marshal(p)
	return b
}

// BenchmarkEventSize reports the size of a typical field-set event (20-byte
// value): canonical encoding, the prototype's JSON of the same event, a
// signed run of one, and bytes per event on the wire for bursts of 10 with
// one signature (amortised). The timed loop encodes a burst.
func BenchmarkEventSize(b *testing.B) {
	d := newBenchData(b, 20)
	s := d.events[12]
	canon := len(s.Canonical())
	js := len(toJSON(s))
	single, err := feed.EncodeRun(nil, d.log.Authenticated(d.member.Hash(), 13, 13), feed.RunOpts{AuthorBytes: 4})
	if err != nil {
		b.Fatal(err)
	}
	burst := d.log.Authenticated(d.member.Hash(), 11, 20)
	var enc []byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		enc, err = feed.EncodeRun(enc[:0], burst, feed.RunOpts{AuthorBytes: 4})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(canon), "canonical-B")
	b.ReportMetric(float64(js), "json-B")
	b.ReportMetric(float64(canon)/float64(js), "canonical/json")
	b.ReportMetric(float64(len(single)), "run1-signed-B")
	b.ReportMetric(float64(len(enc))/10, "wire-B/event(burst10)")
	b.ReportMetric(float64(len(enc))/10/float64(js), "wire/json")
}

// BenchmarkLogMemory100k measures what a Log holds in memory per accepted
// event: 100,000 typical field sets, each signed (as Append stores them),
// restored from their stored encoding as a node does at startup. It
// reports the Go heap in use per event after a GC against the stored
// encoding's size (the in-run baseline: what the same event takes on
// disk), and the restore rate. The timed loop decodes and restores all
// events into a fresh Log.
func BenchmarkLogMemory100k(b *testing.B) {
	const n = 100_000
	d := newBenchData(b, n)
	wire := make([][]byte, 0, n+1)
	stored := 0
	for s := range d.log.All() {
		if s.Kind == feed.KindGenesis {
			continue
		}
		enc, err := s.MarshalBinary()
		if err != nil {
			b.Fatal(err)
		}
		wire = append(wire, enc)
		stored += len(enc)
	}
	d.log, d.events = nil, nil // only the stored encodings stay live
	events := len(wire) + 1    // with the genesis
	var ms runtime.MemStats
	var heap uint64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap0 := ms.HeapInuse
		l, err := feed.NewLog(d.genesis, feed.Config{})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, rec := range wire {
			s, err := feed.DecodeSigned(rec)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := l.Restore(s); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if l.Len() != events {
			b.Fatalf("restored %d events, want %d", l.Len(), events)
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap = ms.HeapInuse - heap0
		runtime.KeepAlive(l)
		b.StartTimer()
	}
	b.StopTimer()
	perEvent := float64(heap) / float64(events)
	b.ReportMetric(perEvent, "heap-B/event")
	b.ReportMetric(float64(stored)/float64(len(wire)), "stored-B/event")
	b.ReportMetric(perEvent/(float64(stored)/float64(len(wire))), "x-stored")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
