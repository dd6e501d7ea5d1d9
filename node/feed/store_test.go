package feed

import (
	"bytes"
	"crypto/sha256"
	"math/rand/v2"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// storeEvents returns n synthetic events of one author (not signed for
// real: feedState stores without verifying) with bodies of 0..MaxBodySize
// bytes and a signature on some, plus their ids. Prev links each to the
// previous id, the first to dataset.
func storeEvents(n int, author AuthorID, dataset ID, seed uint64) ([]Signed, []ID) {
	rng := rand.New(rand.NewPCG(seed, 7))
	evs := make([]Signed, n)
	ids := make([]ID, n)
	prev := dataset
	ts := hlc.New(t0, 0)
	for i := range evs {
		body := make([]byte, rng.IntN(MaxBodySize+1))
		for j := range body {
			body[j] = byte(rng.Uint32())
		}
		ts += hlc.Timestamp(1 + rng.IntN(1<<20))
		s := Signed{Event: Event{Author: author, Seq: uint64(i + 1), Prev: prev, HLC: ts, Kind: Kind(1 + rng.IntN(int(maxKind))), Body: body}}
		if rng.IntN(3) == 0 || i == n-1 {
			s.Sig = make([]byte, rns.SigLength)
			for j := range s.Sig {
				s.Sig[j] = byte(rng.Uint32())
			}
		}
		evs[i] = s
		ids[i] = sha256.Sum256(append([]byte{byte(i), byte(i >> 8)}, body...)) // any distinct value
		prev = ids[i]
	}
	return evs, ids
}

func sameSigned(a, b Signed) bool {
	return a.Author == b.Author && a.Seq == b.Seq && a.Prev == b.Prev && a.HLC == b.HLC && a.Kind == b.Kind &&
		bytes.Equal(a.Body, b.Body) && bytes.Equal(a.Sig, b.Sig) && (a.Sig == nil) == (b.Sig == nil)
}

// storeLog returns a Log holding f as the feed of author, enough for
// decoding (the prev of seq 1 is the dataset id).
func storeLog(author AuthorID, dataset ID, f *feedState) *Log {
	return &Log{dataset: dataset, feeds: map[AuthorID]*feedState{author: f}}
}

func TestStoreRoundTripAcrossChunks(t *testing.T) {
	author := AuthorID{1, 2, 3}
	dataset := ID{9}
	const n = 3*indexChunk + 17 // several index chunks, ~20 arena chunks
	evs, ids := storeEvents(n, author, dataset, 1)
	f := &feedState{}
	l := storeLog(author, dataset, f)
	for i := range evs {
		if err := f.push(&evs[i], ids[i]); err != nil {
			t.Fatal(err)
		}
		if f.tipHLC != evs[i].HLC || f.len() != uint64(i+1) {
			t.Fatalf("after push %d: tip %v, len %d", i, f.tipHLC, f.len())
		}
	}
	if len(f.arena) < 4 || len(f.index) != 4 {
		t.Fatalf("test does not cross chunks: %d arena, %d index chunks", len(f.arena), len(f.index))
	}
	for i := range evs {
		got := l.event(author, f, i)
		if !sameSigned(got, evs[i]) || f.id(i) != ids[i] || f.signed(i) != (evs[i].Sig != nil) || f.kind(i) != evs[i].Kind {
			t.Fatalf("event %d: got %+v, want %+v", i, got, evs[i])
		}
		if cap(got.Body) != len(got.Body) || cap(got.Sig) != len(got.Sig) {
			t.Fatalf("event %d: decoded slices not capped (%d/%d, %d/%d)", i, len(got.Body), cap(got.Body), len(got.Sig), cap(got.Sig))
		}
	}
	// Appending to a decoded body must not reach the next record.
	b := l.event(author, f, 5).Body
	_ = append(b, 0xff)
	if got := l.event(author, f, 6); !sameSigned(got, evs[6]) {
		t.Fatal("append to a decoded body changed the next event")
	}
}

// TestStoreSlackBounded checks the point of the chunked layout: memory
// reserved stays within one chunk (plus the unusable tail of each full
// arena chunk) of what the events need, instead of up to twice as much.
func TestStoreSlackBounded(t *testing.T) {
	author, dataset := AuthorID{1}, ID{2}
	for _, n := range []int{1, 7, indexChunk - 1, indexChunk, indexChunk + 1, 5000} {
		evs, ids := storeEvents(n, author, dataset, uint64(n))
		f := &feedState{}
		need := 0
		for i := range evs {
			if err := f.push(&evs[i], ids[i]); err != nil {
				t.Fatal(err)
			}
			need += recHeader + len(evs[i].Body) + len(evs[i].Sig)
		}
		reserved := 0
		for _, c := range f.arena {
			reserved += cap(c)
		}
		if limit := need + len(f.arena)*recMaxSize + max(arenaChunk, 2*arenaFirst); reserved > limit {
			t.Errorf("n=%d: arena reserves %d bytes for %d (limit %d)", n, reserved, need, limit)
		}
		entries := 0
		for _, c := range f.index {
			entries += cap(c)
		}
		if entries > n+max(indexChunk, indexFirst) {
			t.Errorf("n=%d: index reserves %d entries", n, entries)
		}
	}
}

func TestStoreTruncateKeepsHandedOutEvents(t *testing.T) {
	author, dataset := AuthorID{7}, ID{8}
	const n = 2*indexChunk + 40
	evs, ids := storeEvents(n, author, dataset, 3)
	for _, keep := range []int{0, 1, indexChunk - 1, indexChunk, indexChunk + 1, n - 1} {
		f := &feedState{}
		l := storeLog(author, dataset, f)
		for i := range evs {
			if err := f.push(&evs[i], ids[i]); err != nil {
				t.Fatal(err)
			}
		}
		snap := *f // what an All in progress holds
		handed := make([]Signed, n)
		for i := range handed {
			handed[i] = l.event(author, f, i)
		}
		f.truncate(keep)
		if f.len() != uint64(keep) {
			t.Fatalf("keep %d: len %d", keep, f.len())
		}
		if want := hlc.Timestamp(0); keep > 0 {
			want = evs[keep-1].HLC
			if f.tipHLC != want {
				t.Fatalf("keep %d: tip %v, want %v", keep, f.tipHLC, want)
			}
		} else if f.tipHLC != want {
			t.Fatalf("keep 0: tip %v", f.tipHLC)
		}
		// A different continuation overwrites nothing handed out.
		alt, altIDs := storeEvents(n, author, dataset, 99)
		for i := keep; i < n; i++ {
			if err := f.push(&alt[i], altIDs[i]); err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			if !sameSigned(handed[i], evs[i]) {
				t.Fatalf("keep %d: handed-out event %d changed", keep, i)
			}
			if got := l.event(author, &snap, i); !sameSigned(got, evs[i]) || snap.id(i) != ids[i] {
				t.Fatalf("keep %d: snapshot event %d changed", keep, i)
			}
			want, wantID := evs[i], ids[i]
			if i >= keep {
				want, wantID = alt[i], altIDs[i]
			}
			got := l.event(author, f, i)
			if i == keep && keep > 0 {
				want.Prev = ids[keep-1] // alt[keep] was generated linking to its own chain
			}
			if i == 0 {
				want.Prev = dataset
			}
			if !sameSigned(got, want) || f.id(i) != wantID {
				t.Fatalf("keep %d: event %d after re-append: %+v, want %+v", keep, i, got, want)
			}
		}
	}
}

func TestStoreRejectsOversizedRecord(t *testing.T) {
	f := &feedState{}
	s := Signed{Event: Event{Seq: 1, HLC: 1, Kind: KindFieldSet, Body: make([]byte, 256)}}
	if err := f.push(&s, ID{}); err == nil {
		t.Fatal("a 256-byte body was stored")
	}
	s.Body, s.Sig = nil, make([]byte, 10)
	if err := f.push(&s, ID{}); err == nil {
		t.Fatal("a 10-byte signature was stored")
	}
	if f.len() != 0 || len(f.arena) != 0 {
		t.Fatal("a rejected record left state behind")
	}
}
