package gossip

// span is a closed interval of sequence numbers, From ≤ To.
type span struct{ From, To uint64 }

// seqSet is a set of sequence numbers kept as sorted, disjoint, non-adjacent
// closed intervals. The number of intervals is capped by maxSpans: adding
// beyond the cap merges the closest neighbours (the set may then grow by
// the numbers between them, which for a send queue means sending a little
// more, never less).
type seqSet struct {
	spans []span
}

// maxSpans bounds the intervals one seqSet holds.
const maxSpans = 16

// empty reports whether the set holds nothing.
func (s *seqSet) empty() bool { return len(s.spans) == 0 }

// first returns the lowest interval; the set must not be empty.
func (s *seqSet) first() span { return s.spans[0] }

// add inserts [from, to].
func (s *seqSet) add(from, to uint64) {
	if from > to {
		return
	}
	out := make([]span, 0, len(s.spans)+1)
	n := span{from, to}
	placed := false
	for _, x := range s.spans {
		switch {
		case x.To != ^uint64(0) && x.To+1 < n.From:
			out = append(out, x)
		case n.To != ^uint64(0) && n.To+1 < x.From:
			if !placed {
				out = append(out, n)
				placed = true
			}
			out = append(out, x)
		default: // overlapping or adjacent: merge into n
			n.From = min(n.From, x.From)
			n.To = max(n.To, x.To)
		}
	}
	if !placed {
		out = append(out, n)
	}
	for len(out) > maxSpans {
		// Merge the pair with the smallest hole.
		best := 0
		for i := 1; i+1 < len(out); i++ {
			if out[i+1].From-out[i].To < out[best+1].From-out[best].To {
				best = i
			}
		}
		out[best].To = out[best+1].To
		out = append(out[:best+1], out[best+2:]...)
	}
	s.spans = out
}

// remove deletes [from, to].
func (s *seqSet) remove(from, to uint64) {
	if from > to || len(s.spans) == 0 {
		return
	}
	out := s.spans[:0:0]
	for _, x := range s.spans {
		if x.To < from || x.From > to {
			out = append(out, x)
			continue
		}
		if x.From < from {
			out = append(out, span{x.From, from - 1})
		}
		if x.To > to {
			out = append(out, span{to + 1, x.To})
		}
	}
	s.spans = out
}

// removeBelow deletes every number ≤ seq.
func (s *seqSet) removeBelow(seq uint64) {
	if seq > 0 {
		s.remove(0, seq)
	}
}

// contains reports whether seq is in the set.
func (s *seqSet) contains(seq uint64) bool {
	for _, x := range s.spans {
		if seq >= x.From && seq <= x.To {
			return true
		}
	}
	return false
}
