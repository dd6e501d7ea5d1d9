package feed

import (
	"fmt"

	"github.com/meshlogd/meshlogd/node/rns"
)

// ForkProof shows that an author signed two different histories: two
// chains of the author's consecutive events, each authenticated by a
// signature on its last event, that disagree about the event at Seq. A
// chain "claims" the event at Seq by containing it (first event at Seq) or
// by linking to it (first event at Seq+1, whose Prev names it).
type ForkProof struct {
	// Author is the author that forked.
	Author AuthorID
	// Seq is the first seq at which the two histories differ.
	Seq uint64
	// A is the chain this log had accepted; B is the conflicting one.
	A, B []Signed
}

// claim returns the id a chain asserts for seq, or false.
func claim(chain []Signed, seq uint64) (ID, bool) {
	if len(chain) == 0 {
		return ID{}, false
	}
	switch chain[0].Seq {
	case seq:
		return chain[0].ID(), true
	case seq + 1:
		return chain[0].Prev, true
	}
	return ID{}, false
}

// verifyChain checks that chain is consecutive, linked, by author, and ends
// with a valid signature by key in dataset.
func verifyChain(chain []Signed, author AuthorID, dataset ID, key *rns.Identity) error {
	if len(chain) == 0 {
		return fmt.Errorf("%w: empty chain", ErrMalformed)
	}
	for i := range chain {
		if chain[i].Author != author {
			return fmt.Errorf("%w: chain mixes authors", ErrMalformed)
		}
		if err := chain[i].Validate(); err != nil {
			return err
		}
		if i > 0 && (chain[i].Seq != chain[i-1].Seq+1 || chain[i].Prev != chain[i-1].ID()) {
			return fmt.Errorf("%w: chain not linked at seq %d", ErrChainBreak, chain[i].Seq)
		}
	}
	last := chain[len(chain)-1]
	if !last.VerifySig(dataset, key) {
		return fmt.Errorf("%w: last event of chain", ErrBadSignature)
	}
	return nil
}

// Verify checks the proof against the author's key in the dataset whose
// genesis id is dataset: both chains authenticated, and their claims for
// Seq different.
func (p *ForkProof) Verify(dataset ID, key *rns.Identity) error {
	if key.Hash() != p.Author {
		return ErrWrongAuthor
	}
	if err := verifyChain(p.A, p.Author, dataset, key); err != nil {
		return fmt.Errorf("fork proof chain A: %w", err)
	}
	if err := verifyChain(p.B, p.Author, dataset, key); err != nil {
		return fmt.Errorf("fork proof chain B: %w", err)
	}
	a, okA := claim(p.A, p.Seq)
	b, okB := claim(p.B, p.Seq)
	if !okA || !okB {
		return fmt.Errorf("%w: chains do not both reach seq %d", ErrMalformed, p.Seq)
	}
	if a == b {
		return fmt.Errorf("%w: chains agree at seq %d", ErrMalformed, p.Seq)
	}
	return nil
}
