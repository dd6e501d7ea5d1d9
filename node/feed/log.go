package feed

import (
	"bytes"
	"fmt"
	"iter"
	"math"
	"slices"

	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
)

// DefaultMaxPendingBytes is the default byte bound of a Log's gap buffer.
const DefaultMaxPendingBytes = 256 << 10

// Config tunes a Log. The zero Config is valid.
type Config struct {
	// MaxPendingBytes bounds the gap buffer (events waiting for a
	// predecessor, a signed successor or their author's admission), counted
	// as an estimate of each buffered event's memory (see PendingBytes).
	// 0 means DefaultMaxPendingBytes.
	MaxPendingBytes int
}

// Frontier maps each author to the highest contiguous accepted seq.
type Frontier map[AuthorID]uint64

// Member describes an admitted author.
type Member struct {
	// Author is the member's identity hash.
	Author AuthorID
	// Key is the member's 64-byte Reticulum public key.
	Key [64]byte
	// Admin reports whether the member may add and remove members.
	Admin bool
	// Founder reports whether the member created the dataset.
	Founder bool
	// Removed reports whether a removal is in effect; then only seqs up
	// to After are valid.
	Removed bool
	// After is the last valid seq of a removed member.
	After uint64
}

// IngestResult says what one Ingest, Restore or Append changed.
type IngestResult struct {
	// Accepted lists the events newly accepted, each author's in chain
	// order: the ingested event and any it released from the gap buffer.
	// Persist them; fold them into the view.
	Accepted []Signed
	// Duplicate reports that the event was already accepted or buffered.
	Duplicate bool
	// Pending reports that the event waits in the gap buffer.
	Pending bool
	// Forks lists forks proven by this call. The forked author's feed is
	// frozen just below the fork.
	Forks []ForkProof
	// Revoked lists events withdrawn from the accepted set (by a fork
	// freeze, a member removal, or the loss of the membership that admitted
	// their author). When it is not empty the view must be rebuilt from
	// All, and storage may forget them.
	Revoked []Signed
	// Evicted counts buffered events dropped to keep the gap buffer within
	// its byte bound.
	Evicted int
}

// memberState is an admitted author as derived from the accepted events.
type memberState struct {
	key     [64]byte
	ident   *rns.Identity
	admin   bool
	founder bool
	after   uint64 // last valid seq; math.MaxUint64 when not removed
}

// Log is the verified in-memory state of one dataset: the accepted feeds,
// the membership they imply, the gap buffer and the fork proofs. It does
// no I/O and reads no clock. It is not safe for concurrent use.
type Log struct {
	cfg     Config
	genesis Signed
	dataset ID
	name    string
	founder AuthorID

	feeds   map[AuthorID]*feedState
	members map[AuthorID]*memberState
	frozen  map[AuthorID]uint64 // fork freezes: last valid seq
	count   int
	maxHLC  hlc.Timestamp

	pending *gapBuffer
	forks   []ForkProof
}

// NewGenesis builds the signed genesis event of a new dataset named name,
// founded by founder at time ts.
func NewGenesis(founder *rns.Identity, name string, ts hlc.Timestamp) (Signed, error) {
	g := Genesis{Name: name}
	copy(g.FounderKey[:], founder.PublicKey())
	body, err := EncodeBody(g)
	if err != nil {
		return Signed{}, err
	}
	return Sign(Event{Author: founder.Hash(), Seq: 1, HLC: ts, Kind: KindGenesis, Body: body}, ID{}, founder)
}

// NewLog returns a Log for the dataset created by genesis, which must be a
// validly signed genesis event whose founder key hashes to its author. The
// genesis is the only accepted event of the new log.
func NewLog(genesis Signed, cfg Config) (*Log, error) {
	if cfg.MaxPendingBytes <= 0 {
		cfg.MaxPendingBytes = DefaultMaxPendingBytes
	}
	if err := genesis.Validate(); err != nil {
		return nil, fmt.Errorf("feed: genesis: %w", err)
	}
	if genesis.Kind != KindGenesis {
		return nil, fmt.Errorf("feed: genesis: %w: kind %s", ErrBadBody, genesis.Kind)
	}
	body, _ := DecodeBody(KindGenesis, genesis.Body) // validated above
	g := body.(Genesis)
	ident, err := rns.FromPublicKey(g.FounderKey[:])
	if err != nil {
		return nil, fmt.Errorf("feed: genesis founder key: %w", err)
	}
	if ident.Hash() != genesis.Author {
		return nil, fmt.Errorf("feed: genesis: %w: founder key does not hash to the author", ErrWrongAuthor)
	}
	id := genesis.ID()
	if !genesis.VerifySig(id, ident) {
		return nil, fmt.Errorf("feed: genesis: %w", ErrBadSignature)
	}
	l := &Log{
		cfg:     cfg,
		genesis: genesis,
		dataset: id,
		name:    g.Name,
		founder: genesis.Author,
		feeds:   make(map[AuthorID]*feedState),
		members: make(map[AuthorID]*memberState),
		frozen:  make(map[AuthorID]uint64),
		pending: newGapBuffer(cfg.MaxPendingBytes),
	}
	f := &feedState{}
	if err := f.push(&genesis, id); err != nil {
		return nil, fmt.Errorf("feed: genesis: %w", err)
	}
	l.feeds[l.founder] = f
	l.count = 1
	l.maxHLC = genesis.HLC
	l.members = l.computeMembers()
	return l, nil
}

// DatasetID returns the dataset id: the genesis event's id.
func (l *Log) DatasetID() ID { return l.dataset }

// Name returns the dataset name from the genesis.
func (l *Log) Name() string { return l.name }

// Founder returns the founder's author id.
func (l *Log) Founder() AuthorID { return l.founder }

// Genesis returns the genesis event.
func (l *Log) Genesis() Signed { return l.genesis }

// Len returns the number of accepted events, genesis included.
func (l *Log) Len() int { return l.count }

// MaxHLC returns the highest HLC among accepted events; a node seeds its
// clock with it after a restore.
func (l *Log) MaxHLC() hlc.Timestamp { return l.maxHLC }

// Seq returns the highest contiguous accepted seq of author (0 if none).
func (l *Log) Seq(author AuthorID) uint64 { return l.feeds[author].len() }

// Frontier returns a fresh map of every author with accepted events to its
// highest contiguous accepted seq.
func (l *Log) Frontier() Frontier {
	f := make(Frontier, len(l.feeds))
	for a, fs := range l.feeds {
		if n := fs.len(); n > 0 {
			f[a] = n
		}
	}
	return f
}

// Authors returns the authors with accepted events, in ascending id order.
func (l *Log) Authors() []AuthorID {
	out := make([]AuthorID, 0, len(l.feeds))
	for a, fs := range l.feeds {
		if fs.len() > 0 {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y AuthorID) int { return bytes.Compare(x[:], y[:]) })
	return out
}

// Get returns the accepted event (author, seq). The returned Signed shares
// its Body and Sig with the log; callers must not modify them.
func (l *Log) Get(author AuthorID, seq uint64) (Signed, bool) {
	f := l.feeds[author]
	if seq == 0 || seq > f.len() {
		return Signed{}, false
	}
	return l.event(author, f, int(seq-1)), true
}

// GetID returns the id of the accepted event (author, seq).
func (l *Log) GetID(author AuthorID, seq uint64) (ID, bool) {
	f := l.feeds[author]
	if seq == 0 || seq > f.len() {
		return ID{}, false
	}
	return f.id(int(seq - 1)), true
}

// Range returns the accepted events from..to (inclusive) of author,
// clamped to what is accepted, as stored (each with or without its own
// signature). The slice is fresh; events share Body and Sig with the log.
func (l *Log) Range(author AuthorID, from, to uint64) []Signed {
	f := l.feeds[author]
	n := f.len()
	if from == 0 {
		from = 1
	}
	if to > n {
		to = n
	}
	if from > to {
		return nil
	}
	return l.events(author, f, from, to)
}

// Authenticated returns the accepted events from..to of author, extended
// beyond to up to the first event that carries its own signature, with
// every signature but the last removed: the smallest run a receiver can
// verify with one signature check (amortised signing). Every accepted feed
// ends with a signed event, except a feed frozen by a fork whose signed
// successor was revoked: then the run continues with the fork proof's
// chain A (events above the freeze, which a receiver that knows the fork
// rejects after using them to authenticate the rest). The result is nil
// when from is beyond the accepted feed.
func (l *Log) Authenticated(author AuthorID, from, to uint64) []Signed {
	f := l.feeds[author]
	n := f.len()
	if from == 0 {
		from = 1
	}
	if from > n {
		return nil
	}
	if to < from {
		to = from
	}
	if to > n {
		to = n
	}
	for to < n && !f.signed(int(to-1)) {
		to++
	}
	out := l.events(author, f, from, to)
	if out[len(out)-1].Sig == nil {
		// A feed frozen by a fork can end with an event whose signed
		// successor was revoked: authenticate it with the fork proof's
		// accepted-side chain, which links to it.
		for _, p := range l.forks {
			if p.Author == author && len(p.A) > 0 && p.A[0].Seq == to+1 && p.A[0].Prev == f.id(int(to-1)) {
				out = append(out, p.A...)
				break
			}
		}
	}
	for i := range out[:len(out)-1] {
		out[i].Sig = nil
	}
	return out
}

// All yields every accepted event in a deterministic order: authors in
// ascending id order, each feed in seq order.
func (l *Log) All() iter.Seq[Signed] {
	return func(yield func(Signed) bool) {
		for _, a := range l.Authors() {
			// A snapshot of the feed: the index and the arena are never
			// overwritten, so this iteration is unaffected by changes the
			// caller makes to the log meanwhile.
			f := *l.feeds[a]
			for i := range f.n {
				if !yield(l.event(a, &f, i)) {
					return
				}
			}
		}
	}
}

// IsMember reports whether author is an admitted member not removed.
func (l *Log) IsMember(author AuthorID) bool {
	m := l.members[author]
	return m != nil && m.after == math.MaxUint64
}

// IsAdmin reports whether author is an admitted admin not removed.
func (l *Log) IsAdmin(author AuthorID) bool {
	m := l.members[author]
	return m != nil && m.admin && m.after == math.MaxUint64
}

// Members returns every admitted author, removed ones included, in
// ascending id order.
func (l *Log) Members() []Member {
	out := make([]Member, 0, len(l.members))
	for a, m := range l.members {
		mm := Member{Author: a, Key: m.key, Admin: m.admin, Founder: m.founder}
		if m.after != math.MaxUint64 {
			mm.Removed, mm.After = true, m.after
		}
		out = append(out, mm)
	}
	slices.SortFunc(out, func(x, y Member) int { return bytes.Compare(x.Author[:], y.Author[:]) })
	return out
}

// Identity returns the verify-only identity of a member.
func (l *Log) Identity(author AuthorID) (*rns.Identity, bool) {
	m := l.members[author]
	if m == nil {
		return nil, false
	}
	return m.ident, true
}

// Forks returns every fork proven so far, in the order found.
func (l *Log) Forks() []ForkProof { return slices.Clone(l.forks) }

// Frozen reports whether author's feed is frozen by a fork, and the last
// valid seq if so.
func (l *Log) Frozen(author AuthorID) (uint64, bool) {
	at, ok := l.frozen[author]
	return at, ok
}

// PendingLen returns the number of events in the gap buffer.
func (l *Log) PendingLen() int { return len(l.pending.byID) }

// PendingBytes returns the gap buffer's accounted size: for each event,
// its body and signature plus a fixed PendingOverhead.
func (l *Log) PendingBytes() int { return l.pending.bytes }

// expectedPrev returns the prev that event seq of author must carry, given
// that seq-1 is accepted (or seq is 1).
func (l *Log) expectedPrev(author AuthorID, seq uint64) ID {
	if seq == 1 {
		if author == l.founder {
			return ID{}
		}
		return l.dataset
	}
	return l.feeds[author].id(int(seq - 2))
}

// Predecessor returns the id of the event before seq in author's feed, if
// known: for seq 1 the dataset id (zero for the founder). It implements
// Resolver.
func (l *Log) Predecessor(author AuthorID, seq uint64) (ID, bool) {
	if seq == 0 {
		return ID{}, false
	}
	if seq == 1 {
		return l.expectedPrev(author, 1), true
	}
	f := l.feeds[author]
	if seq-1 > f.len() {
		return ID{}, false
	}
	return f.id(int(seq - 2)), true
}

// ResolveAuthor returns the member whose id starts with prefix. It
// implements Resolver.
func (l *Log) ResolveAuthor(prefix []byte) (AuthorID, error) {
	var found AuthorID
	n := 0
	for a := range l.members {
		if bytes.HasPrefix(a[:], prefix) {
			found = a
			n++
		}
	}
	switch {
	case n == 1:
		return found, nil
	case n == 0 && len(prefix) == len(AuthorID{}):
		// A full id of a not-yet-admitted author: let the caller buffer it.
		copy(found[:], prefix)
		return found, nil
	case n == 0:
		return AuthorID{}, fmt.Errorf("%w: prefix %x", ErrUnknownAuthor, prefix)
	default:
		return AuthorID{}, fmt.Errorf("%w: prefix %x matches %d members", ErrAmbiguousAuthor, prefix, n)
	}
}

// AuthorPrefixLen returns how many leading bytes of author's id identify
// it unambiguously among this log's members: DefaultAuthorPrefix unless
// another member shares that prefix, else the full id (also for an
// author that is not a member).
func (l *Log) AuthorPrefixLen(author AuthorID) int {
	if l.members[author] == nil {
		return len(author)
	}
	for a := range l.members {
		if a != author && bytes.Equal(a[:DefaultAuthorPrefix], author[:DefaultAuthorPrefix]) {
			return len(author)
		}
	}
	return DefaultAuthorPrefix
}

// Append writes a new event to the feed of id's author (who must be a
// member; membership changes need an admin) with the given kind, body and
// HLC, signs it and accepts it. ts must be above the author's previous HLC.
// The result lists the new event first in Accepted, followed by anything
// it released (e.g. buffered events of a member it admits).
func (l *Log) Append(id *rns.Identity, kind Kind, body []byte, ts hlc.Timestamp) (Signed, IngestResult, error) {
	author := id.Hash()
	m := l.members[author]
	if m == nil || m.after != math.MaxUint64 {
		return Signed{}, IngestResult{}, fmt.Errorf("%w: %s", ErrNotMember, author)
	}
	if _, frozen := l.frozen[author]; frozen {
		return Signed{}, IngestResult{}, fmt.Errorf("%w: %s", ErrForked, author)
	}
	b, err := DecodeBody(kind, body)
	if err != nil {
		return Signed{}, IngestResult{}, err
	}
	switch v := b.(type) {
	case Genesis:
		return Signed{}, IngestResult{}, fmt.Errorf("%w: genesis cannot be appended", ErrBadBody)
	case MemberAdd:
		if !m.admin || (v.Admin && !m.founder) {
			return Signed{}, IngestResult{}, fmt.Errorf("%w: %s", ErrNotAdmin, author)
		}
	case MemberRemove:
		if !m.admin {
			return Signed{}, IngestResult{}, fmt.Errorf("%w: %s", ErrNotAdmin, author)
		}
		if v.Member == l.founder {
			return Signed{}, IngestResult{}, fmt.Errorf("%w: the founder cannot be removed", ErrBadBody)
		}
		if t := l.members[v.Member]; t != nil && t.admin && !m.founder {
			return Signed{}, IngestResult{}, fmt.Errorf("%w: only the founder removes admins", ErrNotAdmin)
		}
	}
	f := l.feeds[author]
	seq := f.len() + 1
	if f.len() > 0 && ts <= f.tipHLC {
		return Signed{}, IngestResult{}, fmt.Errorf("%w: %s not above %s", ErrHLCOrder, ts, f.tipHLC)
	}
	e := Event{Author: author, Seq: seq, Prev: l.expectedPrev(author, seq), HLC: ts, Kind: kind, Body: body}
	s, err := Sign(e, l.dataset, id)
	if err != nil {
		return Signed{}, IngestResult{}, err
	}
	res, err := l.ingest(s, true)
	if err != nil {
		return Signed{}, res, err
	}
	if len(res.Accepted) == 0 || res.Accepted[0].Seq != seq || res.Accepted[0].Author != author {
		return Signed{}, res, fmt.Errorf("feed: append of %s/%d was not accepted", author, seq)
	}
	return s, res, nil
}

// Ingest verifies a received event and accepts it, buffers it, or rejects
// it with an error (ErrBadSignature, ErrChainBreak, ErrNotMember,
// ErrForked, ErrHLCOrder, ErrGapFull or a decoding sentinel). Ingest is
// idempotent: an event already accepted or buffered is reported as
// Duplicate. A rejected event changes nothing but may still come with a
// fork proof in the result.
func (l *Log) Ingest(s Signed) (IngestResult, error) { return l.ingest(s, false) }

// Restore ingests an event read back from this node's own storage, where it
// was stored only after verification: signatures are not checked again and
// an unsigned event is treated as authenticated. Chains and membership are
// still checked. Restore events in the order they were stored.
func (l *Log) Restore(s Signed) (IngestResult, error) { return l.ingest(s, true) }

func (l *Log) ingest(s Signed, trusted bool) (IngestResult, error) {
	var res IngestResult
	if err := s.Validate(); err != nil {
		return res, err
	}
	if s.Sig != nil && len(s.Sig) != rns.SigLength {
		return res, fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(s.Sig))
	}
	if len(s.Sig) == 0 {
		s.Sig = nil
	}
	id := s.ID()
	a := s.Author
	if s.Kind == KindGenesis {
		if id == l.dataset {
			res.Duplicate = true
			return res, nil
		}
		return res, fmt.Errorf("%w: genesis of another dataset", ErrChainBreak)
	}
	f := l.feeds[a]
	if s.Seq <= f.len() && f.id(int(s.Seq-1)) == id {
		res.Duplicate = true
		return res, nil
	}
	m := l.members[a]
	if m != nil {
		if s.Seq > m.after {
			return res, fmt.Errorf("%w: %s removed after seq %d", ErrNotMember, a, m.after)
		}
		if at, frozen := l.frozen[a]; frozen && s.Seq > at {
			return res, fmt.Errorf("%w: %s frozen at seq %d", ErrForked, a, at)
		}
	}
	if pe := l.pending.byID[id]; pe != nil {
		res.Duplicate = true
		if pe.verified || s.Sig == nil || pe.s.Sig != nil {
			res.Pending = true
			return res, nil
		}
		if m == nil {
			// Undecided author: keep the signature for when it is admitted.
			res.Evicted += l.pending.setSig(pe, s.Sig)
			res.Pending = true
			return res, nil
		}
		// A signature for a buffered unsigned event: verify (below) and
		// replace the entry.
		if !trusted && !l.verify(&s, id, m) {
			return res, fmt.Errorf("%w: %s/%d", ErrBadSignature, a, s.Seq)
		}
		l.pending.remove(pe)
		res.Duplicate = false
		trusted = true // just verified
	}
	verified := trusted
	if m != nil && s.Sig != nil && !trusted {
		if !l.verify(&s, id, m) {
			return res, fmt.Errorf("%w: %s/%d", ErrBadSignature, a, s.Seq)
		}
		verified = true
	}
	if m == nil {
		verified = false // undecided: the author's admission has not arrived
	}
	if verified && s.Seq == f.len()+1 && s.Prev == l.expectedPrev(a, s.Seq) {
		// Fast path: an authenticated event on the tip needs no buffering.
		_, drops := l.acceptChain(a, []*pendingEntry{{s: s, id: id, verified: true}}, &res)
		if len(drops) > 0 {
			return res, drops[0].err
		}
		if len(l.pending.byAuthor[a]) > 0 {
			err := l.settle(a, &res, nil)
			return res, err
		}
		return res, nil
	}
	pe, evicted, err := l.pending.add(s, id, verified, trusted)
	res.Evicted += evicted
	if err != nil {
		return res, err
	}
	if m == nil {
		res.Pending = true
		return res, nil
	}
	err = l.settle(a, &res, pe)
	if err == nil && l.pending.byID[id] == pe {
		res.Pending = true
	}
	return res, err
}

// verify checks s's own signature; id is s's id.
func (l *Log) verify(s *Signed, id ID, m *memberState) bool {
	if len(s.Sig) != rns.SigLength {
		return false
	}
	return m.ident.Verify(s.Sig, SigningMessage(l.dataset, id))
}

// errDropped records why settle dropped a buffered event.
type errDropped struct {
	pe  *pendingEntry
	err error
}

// settle tries to connect author's verified buffered events to the accepted
// feed until nothing more moves. If the event `watch` is dropped as
// invalid, settle returns its reason.
func (l *Log) settle(author AuthorID, res *IngestResult, watch *pendingEntry) error {
	var watchErr error
	for {
		if l.members[author] == nil {
			return watchErr // admission lost meanwhile: its events wait, undecided
		}
		progressed := false
		for _, pe := range l.pending.verifiedOf(author) {
			if l.pending.byID[pe.id] != pe {
				continue
			}
			moved, drops := l.resolve(author, pe, res)
			for _, d := range drops {
				if d.pe == watch && watchErr == nil {
					watchErr = d.err
				}
				l.pending.remove(d.pe)
			}
			if moved {
				progressed = true
				break
			}
		}
		if !progressed {
			return watchErr
		}
	}
}

// resolve walks back from the verified buffered event pe through buffered
// predecessors. It accepts the chain when it links to the feed's tip,
// records a fork when it conflicts with accepted events, and drops events
// that can never be accepted. moved reports a change to the accepted feed
// or the membership.
func (l *Log) resolve(author AuthorID, pe *pendingEntry, res *IngestResult) (moved bool, drops []errDropped) {
	chain := []*pendingEntry{pe}
	cur := pe
	for {
		f := l.feeds[author]
		n := f.len()
		s := cur.s.Seq
		if s <= n+1 {
			exp := l.expectedPrev(author, s)
			if cur.s.Prev == exp {
				slices.Reverse(chain)
				if s == n+1 {
					return l.acceptChain(author, chain, res)
				}
				// Same predecessor, different event at s: a fork at s.
				return l.fork(author, s, chain, res)
			}
		}
		if p := l.pending.byID[cur.s.Prev]; p != nil && p.s.Author == author && p.s.Seq+1 == s {
			chain = append(chain, p)
			cur = p
			continue
		}
		if s > n+1 {
			return false, nil // a gap: wait for the predecessors
		}
		// cur's prev is neither the accepted predecessor nor buffered.
		slices.Reverse(chain)
		if s == 1 || (s == 2 && author == l.founder) {
			for _, c := range chain {
				drops = append(drops, errDropped{c, fmt.Errorf("%w: %s/%d does not link to this dataset", ErrChainBreak, author, c.s.Seq)})
			}
			return false, drops
		}
		// The author signed a chain through a different event at s-1.
		return l.fork(author, s-1, chain, res)
	}
}

// acceptChain accepts the buffered chain (consecutive, linked, authenticated
// by its last event) on top of author's feed, up to the first event that
// breaks the HLC order or the author's validity limits.
func (l *Log) acceptChain(author AuthorID, chain []*pendingEntry, res *IngestResult) (bool, []errDropped) {
	m := l.members[author]
	if m == nil {
		for _, pe := range chain {
			l.pending.markUnverified(pe)
		}
		return false, nil
	}
	f := l.feeds[author]
	if f == nil {
		f = &feedState{}
		l.feeds[author] = f
	}
	limit := m.after
	if at, ok := l.frozen[author]; ok && at < limit {
		limit = at
	}
	var drops []errDropped
	membership := false
	accepted := 0
	for i, pe := range chain {
		var reason error
		switch {
		case pe.s.Seq > limit:
			reason = fmt.Errorf("%w: %s/%d beyond seq %d", ErrNotMember, author, pe.s.Seq, limit)
		case f.n > 0 && pe.s.HLC <= f.tipHLC:
			reason = fmt.Errorf("%w: %s/%d", ErrHLCOrder, author, pe.s.Seq)
		case pe.s.Seq != f.len()+1 || pe.s.Prev != l.expectedPrev(author, pe.s.Seq):
			// Callers pass chains that link to the tip; the stored form
			// relies on it (prev is implied), so never store one that does not.
			reason = fmt.Errorf("%w: %s/%d does not link to the feed", ErrChainBreak, author, pe.s.Seq)
		default:
			reason = f.push(&pe.s, pe.id)
		}
		if reason != nil {
			for _, rest := range chain[i:] {
				drops = append(drops, errDropped{rest, reason})
			}
			break
		}
		l.pending.remove(pe)
		l.count++
		if pe.s.HLC > l.maxHLC {
			l.maxHLC = pe.s.HLC
		}
		res.Accepted = append(res.Accepted, pe.s)
		accepted++
		if pe.s.Kind == KindMemberAdd || pe.s.Kind == KindMemberRemove {
			membership = true
		}
	}
	if membership {
		l.updateMembers(res)
	}
	return accepted > 0, drops
}

// fork records that author's buffered chain (authenticated by its last
// event) conflicts with the accepted feed at seq at, freezes the feed at
// at-1 and revokes the accepted events from at on.
func (l *Log) fork(author AuthorID, at uint64, chain []*pendingEntry, res *IngestResult) (bool, []errDropped) {
	if at == 1 && author == l.founder {
		var drops []errDropped
		for _, c := range chain {
			drops = append(drops, errDropped{c, fmt.Errorf("%w: %s/%d conflicts with the genesis", ErrChainBreak, author, c.s.Seq)})
		}
		return false, drops
	}
	theirs := make([]Signed, len(chain))
	for i, c := range chain {
		theirs[i] = c.s
	}
	ours := l.Authenticated(author, at, at)
	p := ForkProof{Author: author, Seq: at, A: ours, B: theirs}
	l.forks = append(l.forks, p)
	res.Forks = append(res.Forks, p)
	// The proof keeps the conflicting chain; the buffer need not.
	for _, c := range chain {
		l.pending.remove(c)
	}
	if old, ok := l.frozen[author]; !ok || at-1 < old {
		l.frozen[author] = at - 1
	}
	l.truncate(author, at-1, res, false)
	l.updateMembers(res)
	return true, nil
}

// truncate revokes author's accepted events above keep and drops buffered
// events of author above keep. With requeue (the author lost its
// admission, which a later event may restore) the revoked and buffered
// events go back to the gap buffer as undecided instead of being dropped.
func (l *Log) truncate(author AuthorID, keep uint64, res *IngestResult, requeue bool) bool {
	changed := false
	var revoked []Signed
	var revokedIDs []ID
	if f := l.feeds[author]; f.len() > keep {
		revoked = l.events(author, f, keep+1, f.len())
		for i := keep; i < f.len(); i++ {
			revokedIDs = append(revokedIDs, f.id(int(i)))
		}
		res.Revoked = append(res.Revoked, revoked...)
		l.count -= int(f.len() - keep)
		f.truncate(int(keep))
		if keep == 0 {
			delete(l.feeds, author)
		}
		changed = true
	}
	for _, pe := range l.pending.allOf(author) {
		switch {
		case pe.s.Seq <= keep:
		case requeue:
			l.pending.markUnverified(pe)
		default:
			l.pending.remove(pe)
		}
	}
	if requeue {
		for i, s := range revoked {
			if _, ev, err := l.pending.add(s, revokedIDs[i], false, false); err == nil {
				res.Evicted += ev
			}
		}
	}
	return changed
}

// updateMembers recomputes the membership from the accepted events, revokes
// what it no longer admits (repeating until stable), and settles the feeds
// of newly admitted authors.
func (l *Log) updateMembers(res *IngestResult) {
	for {
		next := l.computeMembers()
		l.members = next
		changed := false
		for a := range l.feeds {
			m := next[a]
			keep := uint64(0)
			if m != nil {
				keep = m.after
			}
			if l.truncate(a, keep, res, m == nil) {
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	// Authors whose admission arrived: verify their buffered events. Nested
	// settles may change the membership again, so re-read it each time.
	authors := make([]AuthorID, 0, len(l.members))
	for a := range l.members {
		authors = append(authors, a)
	}
	slices.SortFunc(authors, func(x, y AuthorID) int { return bytes.Compare(x[:], y[:]) })
	for _, a := range authors {
		m := l.members[a]
		if m != nil && l.pending.hasUndecided(a) {
			for _, pe := range l.pending.allOf(a) {
				if pe.verified {
					continue
				}
				if pe.s.Seq > m.after {
					l.pending.remove(pe)
					continue
				}
				switch {
				case pe.trusted || (pe.s.Sig != nil && l.verify(&pe.s, pe.id, m)):
					l.pending.markVerified(pe)
				case pe.s.Sig != nil:
					l.pending.remove(pe) // a forged signature
				}
			}
			_ = l.settle(a, res, nil) // errors of buffered events are not the caller's
		}
	}
}

// computeMembers derives the membership from the accepted events, in two
// strata so that the result cannot oscillate: the founder (never removed)
// admits members and admins and removes anyone but itself; admins admit and
// remove non-admin members with events up to their own validity limit.
func (l *Log) computeMembers() map[AuthorID]*memberState {
	out := make(map[AuthorID]*memberState)
	g, _ := DecodeBody(KindGenesis, l.genesis.Body)
	fk := g.(Genesis).FounderKey
	out[l.founder] = newMember(fk, true, true)
	cut := make(map[AuthorID]uint64)
	setCut := func(a AuthorID, after uint64) {
		if old, ok := cut[a]; !ok || after < old {
			cut[a] = after
		}
	}
	apply := func(author AuthorID, upTo uint64, founder bool) {
		f := l.feeds[author]
		for i := range f.len() {
			if i+1 > upTo {
				break
			}
			k := f.kind(int(i))
			if k != KindMemberAdd && k != KindMemberRemove {
				continue
			}
			e := l.event(author, f, int(i))
			switch e.Kind {
			case KindMemberAdd:
				b, err := DecodeBody(e.Kind, e.Body)
				if err != nil {
					continue
				}
				add := b.(MemberAdd)
				t := rns.TruncatedHash(add.Key[:])
				if m := out[t]; m != nil {
					if founder && add.Admin {
						m.admin = true
					}
					continue
				}
				out[t] = newMember(add.Key, founder && add.Admin, false)
			case KindMemberRemove:
				b, err := DecodeBody(e.Kind, e.Body)
				if err != nil {
					continue
				}
				rm := b.(MemberRemove)
				if rm.Member == l.founder {
					continue
				}
				if !founder {
					if t := out[rm.Member]; t != nil && t.admin {
						continue
					}
				}
				setCut(rm.Member, rm.After)
			}
		}
	}
	founderLimit := uint64(math.MaxUint64)
	if at, ok := l.frozen[l.founder]; ok {
		founderLimit = at
	}
	apply(l.founder, founderLimit, true)
	// Admin set is fixed by the founder's events now; order admins for determinism.
	var admins []AuthorID
	for a, m := range out {
		if m.admin && !m.founder {
			admins = append(admins, a)
		}
	}
	slices.SortFunc(admins, func(x, y AuthorID) int { return bytes.Compare(x[:], y[:]) })
	for _, a := range admins {
		limit := uint64(math.MaxUint64)
		if c, ok := cut[a]; ok {
			limit = c
		}
		if at, ok := l.frozen[a]; ok && at < limit {
			limit = at
		}
		apply(a, limit, false)
	}
	for a, c := range cut {
		if m := out[a]; m != nil {
			m.after = c
		}
	}
	return out
}

func newMember(key [64]byte, admin, founder bool) *memberState {
	ident, _ := rns.FromPublicKey(key[:]) // cannot fail: the key is 64 bytes
	return &memberState{key: key, ident: ident, admin: admin, founder: founder, after: math.MaxUint64}
}
