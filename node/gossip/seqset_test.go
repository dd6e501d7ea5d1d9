package gossip

import (
	"math/rand/v2"
	"testing"
)

// TestSeqSetAgainstNaive compares seqSet with a map-backed set on random
// operations, within the span cap (no merging needed).
func TestSeqSetAgainstNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for trial := range 300 {
		var s seqSet
		naive := map[uint64]bool{}
		for range 12 {
			a := r.Uint64N(60) + 1
			b := a + r.Uint64N(6)
			switch r.IntN(3) {
			case 0, 1:
				s.add(a, b)
				for x := a; x <= b; x++ {
					naive[x] = true
				}
			case 2:
				s.remove(a, b)
				for x := a; x <= b; x++ {
					delete(naive, x)
				}
			}
		}
		if len(s.spans) > maxSpans {
			t.Fatalf("trial %d: %d spans", trial, len(s.spans))
		}
		merged := len(s.spans) == maxSpans
		for x := uint64(0); x < 80; x++ {
			if got := s.contains(x); got != naive[x] && !(merged && got) {
				t.Fatalf("trial %d: contains(%d) = %v, want %v; spans %v", trial, x, got, naive[x], s.spans)
			}
		}
		for i := 1; i < len(s.spans); i++ {
			if s.spans[i-1].To+1 >= s.spans[i].From {
				t.Fatalf("trial %d: spans not disjoint/non-adjacent: %v", trial, s.spans)
			}
		}
	}
}

func TestSeqSetCapMergesConservatively(t *testing.T) {
	var s seqSet
	for i := uint64(0); i < 40; i++ {
		s.add(i*10, i*10+1)
	}
	if len(s.spans) > maxSpans {
		t.Fatalf("%d spans > cap", len(s.spans))
	}
	for i := uint64(0); i < 40; i++ {
		if !s.contains(i*10) || !s.contains(i*10+1) {
			t.Fatalf("lost %d after merging: %v", i*10, s.spans)
		}
	}
	s.removeBelow(385)
	if s.contains(385) || !s.contains(390) || !s.contains(391) {
		t.Fatalf("removeBelow(385) left %v", s.spans)
	}
	for _, x := range s.spans {
		if x.From <= 385 {
			t.Fatalf("removeBelow(385) left %v", s.spans)
		}
	}
	s.add(^uint64(0)-1, ^uint64(0))
	s.add(5, ^uint64(0))
	if len(s.spans) != 1 || s.spans[0] != (span{5, ^uint64(0)}) {
		t.Fatalf("max-value merge: %v", s.spans)
	}
}
