package view

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
)

func ev(author byte, seq uint64, ts hlc.Timestamp, body feed.Body) feed.Event {
	b, err := feed.EncodeBody(body)
	if err != nil {
		panic(err)
	}
	return feed.Event{Author: feed.AuthorID{author}, Seq: seq, Prev: feed.ID{1}, HLC: ts, Kind: body.Kind(), Body: b}
}

// randomEvents makes a set of events from a few authors with many
// conflicts: few records, few fields, clustered timestamps.
func randomEvents(rng *rand.Rand, n int) []feed.Event {
	seqs := map[byte]uint64{}
	var out []feed.Event
	for range n {
		a := byte(rng.IntN(4))
		seqs[a]++
		ts := hlc.New(1000+int64(rng.IntN(5)), uint16(rng.IntN(3)))
		rec := fmt.Sprintf("r%d", rng.IntN(4))
		var body feed.Body
		switch rng.IntN(4) {
		case 0:
			body = feed.RecordCreate{Record: rec, Type: []string{"household", "well"}[rng.IntN(2)]}
		case 1:
			body = feed.NoteAppend{Record: rec, Text: fmt.Sprintf("note %d", rng.IntN(3))}
		default:
			vals := []feed.Value{feed.Int(int64(rng.IntN(9))), feed.String("ok"), feed.Float(1.5), feed.Bool(true), feed.Null(), feed.Bytes([]byte{7})}
			body = feed.FieldSet{Record: rec, Field: fmt.Sprintf("f%d", rng.IntN(3)), Value: vals[rng.IntN(len(vals))]}
		}
		out = append(out, ev(a, seqs[a], ts, body))
	}
	return out
}

func TestFoldPermutationInvariant(t *testing.T) {
	for seed := range uint64(50) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			evs := randomEvents(rng, 60)
			ref := New()
			ref.Apply(evs...)
			want := ref.Canonical()
			for range 10 {
				perm := append([]feed.Event(nil), evs...)
				rng.Shuffle(len(perm), func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
				perm = append(perm, perm[:rng.IntN(len(perm))]...) // duplicates
				v := New()
				// Apply in random-sized batches.
				for len(perm) > 0 {
					k := 1 + rng.IntN(len(perm))
					v.Apply(perm[:k]...)
					perm = perm[k:]
				}
				if got := v.Canonical(); !bytes.Equal(got, want) {
					t.Fatalf("permutation changed the view:\n got %x\nwant %x", got, want)
				}
				if v.Digest() != ref.Digest() {
					t.Fatal("digest differs")
				}
			}
		})
	}
}

func TestLWWAndTies(t *testing.T) {
	v := New()
	early := ev(9, 1, hlc.New(100, 0), feed.FieldSet{Record: "r", Field: "f", Value: feed.Int(1)})
	late := ev(1, 1, hlc.New(200, 0), feed.FieldSet{Record: "r", Field: "f", Value: feed.Int(2)})
	tieLow := ev(3, 2, hlc.New(300, 0), feed.FieldSet{Record: "r", Field: "g", Value: feed.String("low")})
	tieHigh := ev(4, 2, hlc.New(300, 0), feed.FieldSet{Record: "r", Field: "g", Value: feed.String("high")})
	ch := v.Apply(late, early, tieHigh, tieLow)
	if len(ch) != 2 {
		t.Fatalf("changes %v: the losing writes must not report changes", ch)
	}
	r, ok := v.Record("r")
	if !ok || r.Created || r.Type != "" {
		t.Fatalf("record %+v", r)
	}
	if f, _ := r.Field("f"); f.Value.Int() != 2 {
		t.Fatalf("f = %v, want the later HLC's 2", f.Value)
	}
	if f, _ := r.Field("g"); f.Value.Str() != "high" {
		t.Fatalf("g = %v, want the higher author's value", f.Value)
	}
	v.Apply(ev(2, 5, hlc.New(50, 0), feed.RecordCreate{Record: "r", Type: "well"}))
	v.Apply(ev(2, 6, hlc.New(60, 0), feed.NoteAppend{Record: "r", Text: "second"}),
		ev(1, 7, hlc.New(55, 0), feed.NoteAppend{Record: "r", Text: "first"}))
	r, _ = v.Record("r")
	if !r.Created || r.Type != "well" || len(r.Notes) != 2 || r.Notes[0].Text != "first" {
		t.Fatalf("record %+v", r)
	}
	// Membership and genesis events leave the view alone.
	var add feed.MemberAdd
	before := v.Digest()
	if ch := v.Apply(ev(1, 9, hlc.New(70, 0), add)); len(ch) != 0 || v.Digest() != before {
		t.Fatal("member add changed the view")
	}
}

func TestCanonicalGolden(t *testing.T) {
	v := New()
	v.Apply(ev(1, 1, hlc.New(100, 0), feed.RecordCreate{Record: "r", Type: "t"}),
		ev(1, 2, hlc.New(101, 0), feed.FieldSet{Record: "r", Field: "f", Value: feed.Bool(true)}),
		ev(1, 3, hlc.New(102, 0), feed.NoteAppend{Record: "r", Text: "n"}))
	author := "c410" + "01" + strings.Repeat("00", 15)
	want := "91" + "96" + "a172" + "a174" + "c3" + "93ce00640000" + author + "01" +
		"91" + "93a166c3" + "93ce00650000" + author + "02" +
		"91" + "92" + "93ce00660000" + author + "03" + "a16e"
	if got := fmt.Sprintf("%x", v.Canonical()); got != want {
		t.Fatalf("canonical view encoding changed:\n got %s\nwant %s", got, want)
	}
}

// naiveFold is a deliberately simple reference: for each (record, field) the
// event with the greatest stamp wins; notes are all note events, sorted,
// without duplicates.
func naiveFold(evs []feed.Event) map[string]string {
	out := map[string]string{}
	best := map[string]Stamp{}
	notes := map[string][]Note{}
	for i := range evs {
		e := &evs[i]
		b, err := feed.DecodeBody(e.Kind, e.Body)
		if err != nil {
			continue
		}
		st := StampOf(e)
		switch v := b.(type) {
		case feed.FieldSet:
			k := v.Record + "/" + v.Field
			if old, ok := best[k]; !ok || st.Compare(old) > 0 {
				best[k], out[k] = st, v.Value.String()
			}
		case feed.RecordCreate:
			k := v.Record + "#type"
			if old, ok := best[k]; !ok || st.Compare(old) > 0 {
				best[k], out[k] = st, v.Type
			}
		case feed.NoteAppend:
			dup := false
			for _, n := range notes[v.Record] {
				dup = dup || n.Stamp == st
			}
			if !dup {
				notes[v.Record] = append(notes[v.Record], Note{Stamp: st, Text: v.Text})
			}
		}
	}
	for rec, ns := range notes {
		slices.SortFunc(ns, func(a, b Note) int { return a.Stamp.Compare(b.Stamp) })
		for _, n := range ns {
			out[rec+"#notes"] += n.Text + ";"
		}
	}
	return out
}

func flatten(v *View) map[string]string {
	out := map[string]string{}
	for _, r := range v.Records() {
		for _, f := range r.Fields {
			out[r.ID+"/"+f.Name] = f.Value.String()
		}
		if r.Created {
			out[r.ID+"#type"] = r.Type
		}
		for _, n := range r.Notes {
			out[r.ID+"#notes"] += n.Text + ";"
		}
	}
	return out
}

func TestFoldMatchesNaive(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 7))
		evs := randomEvents(rng, 80)
		v := New()
		v.Apply(evs...)
		got, want := flatten(v), naiveFold(evs)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("seed=%d:\n got %v\nwant %v", seed, got, want)
		}
	}
}
