package feed

import (
	"errors"
	"fmt"

	"github.com/tinylib/msgp/msgp"
)

// Sentinel errors. Callers branch with errors.Is; decoders wrap them in a
// *DecodeError that says where decoding stopped.
var (
	// ErrTruncated means the input ended inside a value.
	ErrTruncated = errors.New("feed: truncated input")
	// ErrTooLarge means a size limit was exceeded (event, body, string, run).
	ErrTooLarge = errors.New("feed: size limit exceeded")
	// ErrUnknownKind means an event kind this version does not know.
	ErrUnknownKind = errors.New("feed: unknown event kind")
	// ErrNonCanonical means the input decodes but is not the canonical
	// encoding of what it decodes to (e.g. a long form of a small integer).
	ErrNonCanonical = errors.New("feed: non-canonical encoding")
	// ErrMalformed means the input is not a well-formed value of the
	// expected type.
	ErrMalformed = errors.New("feed: malformed input")
	// ErrTrailing means bytes follow a complete value.
	ErrTrailing = errors.New("feed: trailing bytes")
	// ErrBadBody means an event body does not satisfy its kind's rules.
	ErrBadBody = errors.New("feed: invalid event body")

	// ErrBadSignature means a signature does not verify for the author.
	ErrBadSignature = errors.New("feed: bad signature")
	// ErrChainBreak means an event's prev does not link to its author's
	// feed (or, for seq 1, to the dataset) in a way that proves nothing.
	ErrChainBreak = errors.New("feed: broken hash chain")
	// ErrHLCOrder means an event's HLC is not above its predecessor's.
	ErrHLCOrder = errors.New("feed: hlc not increasing along the feed")
	// ErrNotMember means the author is not (or no longer, at this seq) a
	// member of the dataset.
	ErrNotMember = errors.New("feed: author is not a member")
	// ErrNotAdmin means a local write needs an admin and the author is not one.
	ErrNotAdmin = errors.New("feed: author is not an admin")
	// ErrForked means the author's feed is frozen by a proven fork.
	ErrForked = errors.New("feed: author's feed is frozen by a fork")
	// ErrWrongAuthor means an identity does not match the event's author.
	ErrWrongAuthor = errors.New("feed: identity is not the event's author")
	// ErrGapFull means the gap buffer cannot hold an event (larger than
	// its budget); the event was dropped.
	ErrGapFull = errors.New("feed: gap buffer full")
	// ErrUnsigned means an event needs a signature and has none.
	ErrUnsigned = errors.New("feed: event is not signed")

	// ErrUnknownAuthor means a run names an author (prefix) the decoder
	// does not know.
	ErrUnknownAuthor = errors.New("feed: unknown author")
	// ErrAmbiguousAuthor means a run's author prefix matches several members.
	ErrAmbiguousAuthor = errors.New("feed: ambiguous author prefix")
	// ErrUnknownPrev means a run omits the prev of its first event and the
	// decoder does not hold the predecessor.
	ErrUnknownPrev = errors.New("feed: predecessor of run unknown")
)

// DecodeError reports where decoding stopped and why.
type DecodeError struct {
	// Field names what was being decoded, e.g. "run.event[3].body".
	Field string
	// Offset is the number of input bytes consumed before the failure
	// (best effort; 0 when unknown).
	Offset int
	// Err is the cause; it unwraps to one of the sentinels above.
	Err error
}

// Error implements error.
func (e *DecodeError) Error() string {
	return fmt.Sprintf("feed: decode %s at offset %d: %v", e.Field, e.Offset, e.Err)
}

// Unwrap returns the cause.
func (e *DecodeError) Unwrap() error { return e.Err }

// msgpError converts an error from generated msgp code into a DecodeError
// that unwraps to a feed sentinel.
func msgpError(field string, in, rest []byte, err error) error {
	off := 0
	if rest != nil {
		off = len(in) - len(rest)
	}
	return &DecodeError{Field: field, Offset: off, Err: classify(err)}
}

// classify maps msgp errors onto feed sentinels, keeping msgp's text
// (which names the failing field) but cutting its error chain on purpose.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrTruncated), errors.Is(err, ErrTooLarge), errors.Is(err, ErrMalformed),
		errors.Is(err, ErrNonCanonical), errors.Is(err, ErrBadBody), errors.Is(err, ErrUnknownKind):
		return err
	case errors.Is(err, msgp.ErrShortBytes):
		return fmt.Errorf("%w (%v)", ErrTruncated, err)
	default:
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
}
