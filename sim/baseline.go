package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/meshlogd/meshlogd/node/airtime"
	"github.com/meshlogd/meshlogd/node/groupwire"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/sim/scenario"
)

// The baseline is the predecessor prototype's sync protocol, re-implemented
// here so both protocols run on the same medium: events travel as JSON
// objects (hex ids, hex Ed25519 signatures); every round (baselineRound) a
// node sends its full frontier to every neighbour it has heard recently,
// addressed to that neighbour; a node receiving a frontier pushes every
// event the sender lacks, addressed to it. Overheard messages addressed to
// others are ignored. Messages ride in the same GROUP packets and RNode
// frames as the real engine's, so only the sync protocol differs.
const (
	baselineRound     = 2 * time.Minute
	baselineNeighbour = 3 * baselineRound // forget a neighbour not heard for this long
	baselineGapLimit  = 4096              // out-of-order events buffered per node
)

// bEvent is the prototype's JSON event.
type bEvent struct {
	Author string          `json:"author"`
	Seq    uint64          `json:"seq"`
	Prev   string          `json:"prev,omitempty"`
	HLC    uint64          `json:"hlc"`
	Kind   string          `json:"kind"`
	Record string          `json:"record"`
	Type   string          `json:"type,omitempty"`
	Field  string          `json:"field,omitempty"`
	Value  json.RawMessage `json:"value,omitempty"`
	Text   string          `json:"text,omitempty"`
	Sig    string          `json:"sig,omitempty"`
}

// bMsg is one prototype message.
type bMsg struct {
	T        string            `json:"t"` // "frontier" or "events"
	From     string            `json:"from"`
	To       string            `json:"to"` // a node's author id or "*"
	Frontier map[string]uint64 `json:"frontier,omitempty"`
	Events   []json.RawMessage `json:"events,omitempty"`
}

type baselineProto struct {
	ids   []*rns.Identity
	index map[string]int // author hex → node index
}

func (p *baselineProto) name() string {
	return "baseline: the prototype's protocol (JSON events, full frontier to every neighbour each round, per-peer pushes)"
}

// classify: the prototype had no priorities; its messages share one FIFO
// under the duty-cycle budget.
func (p *baselineProto) classify(payload []byte) msgClass {
	c := msgClass{kind: "fragment", priority: airtime.Data}
	if len(payload) > 0 && payload[0] != 'F' {
		var m struct {
			T string `json:"t"`
		}
		_ = json.Unmarshal(payload, &m) // an unknown kind is reported as ""
		c.kind = m.T
	}
	return c
}

func (p *baselineProto) prepare(ids []*rns.Identity, _ uint64) error {
	p.ids = ids
	p.index = map[string]int{}
	for i, id := range ids {
		h := id.Hash()
		p.index[hex.EncodeToString(h[:])] = i
	}
	return nil
}

func (p *baselineProto) start(env nodeEnv) (engine, error) {
	h := env.identity.Hash()
	e := &baselineEngine{p: p, env: env, me: hex.EncodeToString(h[:]),
		feeds: map[string][]stored{}, gaps: map[string]map[uint64]stored{},
		heard: map[string]time.Duration{}, frags: map[uint16]*fragBuf{}, view: map[string]*bRecord{}}
	for _, r := range env.durable {
		var ev bEvent
		if err := json.Unmarshal(r.data, &ev); err != nil {
			return nil, fmt.Errorf("baseline: stored event: %w", err)
		}
		e.accept(stored{ev: ev, rec: r}, false)
	}
	e.next = env.now + time.Duration(env.rand.Int64N(int64(baselineRound)))
	return e, nil
}

type stored struct {
	ev  bEvent
	rec record
}

type bField struct {
	value  json.RawMessage
	hlc    uint64
	author string
}

type bRecord struct {
	typ    string
	fields map[string]bField
	notes  []string
}

type baselineEngine struct {
	p     *baselineProto
	env   nodeEnv
	me    string
	feeds map[string][]stored // author → events seq 1..n
	gaps  map[string]map[uint64]stored
	ngaps int
	heard map[string]time.Duration
	next  time.Duration // next round
	hlc   uint64
	view  map[string]*bRecord
	dig   *[32]byte
	nfork int
	frags map[uint16]*fragBuf

	out     batch
	pending batch // handed out by ready, cleared by advance
}

func (e *baselineEngine) payloadLimit() int { return groupwire.MaxPlaintextMTU }

func (e *baselineEngine) clock(now time.Duration) uint64 {
	t := uint64(now.Milliseconds()+1) << 16
	if t <= e.hlc {
		t = e.hlc + 1
	}
	e.hlc = t
	return t
}

func (e *baselineEngine) write(op scenario.Op, now time.Duration) error {
	seq := uint64(len(e.feeds[e.me]) + 1)
	ev := bEvent{Author: e.me, Seq: seq, HLC: e.clock(now)}
	if seq > 1 {
		ev.Prev = e.feeds[e.me][seq-2].ev.id()
	}
	switch {
	case op.Create != nil:
		ev.Kind, ev.Record, ev.Type = "create", op.Create.Record, op.Create.Type
	case op.Set != nil:
		v, err := json.Marshal(op.Set.Value)
		if err != nil {
			return err
		}
		ev.Kind, ev.Record, ev.Field, ev.Value = "set", op.Set.Record, op.Set.Field, v
	case op.Note != nil:
		ev.Kind, ev.Record, ev.Text = "note", op.Note.Record, op.Note.Text
	default:
		return errors.New("baseline: empty op")
	}
	id := sha256.Sum256(ev.unsigned())
	sig, err := e.env.identity.Sign(id[:])
	if err != nil {
		return err
	}
	ev.Sig = hex.EncodeToString(sig)
	data, _ := json.Marshal(ev)
	e.accept(stored{ev: ev, rec: record{id: id, data: data, size: len(data)}}, true)
	return nil
}

func (ev bEvent) unsigned() []byte {
	ev.Sig = ""
	b, _ := json.Marshal(ev)
	return b
}

func (ev bEvent) id() string {
	id := sha256.Sum256(ev.unsigned())
	return hex.EncodeToString(id[:])
}

// accept appends a verified, in-order event and folds it into the view.
func (e *baselineEngine) accept(s stored, persist bool) {
	e.feeds[s.ev.Author] = append(e.feeds[s.ev.Author], s)
	if s.ev.HLC > e.hlc {
		e.hlc = s.ev.HLC
	}
	if persist {
		e.out.persist = append(e.out.persist, s.rec)
	}
	e.dig = nil
	r := e.view[s.ev.Record]
	if r == nil {
		r = &bRecord{fields: map[string]bField{}}
		e.view[s.ev.Record] = r
	}
	switch s.ev.Kind {
	case "create":
		if r.typ == "" {
			r.typ = s.ev.Type
		}
	case "set":
		old, ok := r.fields[s.ev.Field]
		if !ok || s.ev.HLC > old.hlc || (s.ev.HLC == old.hlc && s.ev.Author > old.author) {
			r.fields[s.ev.Field] = bField{value: s.ev.Value, hlc: s.ev.HLC, author: s.ev.Author}
		}
	case "note":
		r.notes = append(r.notes, fmt.Sprintf("%020d/%s/%s", s.ev.HLC, s.ev.Author, s.ev.Text))
	}
}

func (e *baselineEngine) receive(payload []byte, now time.Duration) {
	payload = e.defragment(payload, now)
	var m bMsg
	if err := json.Unmarshal(payload, &m); err != nil {
		return
	}
	if _, ok := e.p.index[m.From]; !ok || m.From == e.me {
		return
	}
	e.heard[m.From] = now
	if m.To != e.me && m.To != "*" {
		return
	}
	switch m.T {
	case "frontier":
		e.push(m.From, m.Frontier)
	case "events":
		for _, raw := range m.Events {
			e.ingest(raw)
		}
	}
}

// push sends peer every event above its frontier, addressed to it.
func (e *baselineEngine) push(peer string, theirs map[string]uint64) {
	authors := make([]string, 0, len(e.feeds))
	for a := range e.feeds {
		authors = append(authors, a)
	}
	sort.Strings(authors)
	var evs []json.RawMessage
	for _, a := range authors {
		for _, s := range e.feeds[a][min(theirs[a], uint64(len(e.feeds[a]))):] {
			evs = append(evs, s.rec.data)
		}
	}
	e.emitEvents(peer, evs)
}

func (e *baselineEngine) emitEvents(peer string, evs []json.RawMessage) {
	for len(evs) > 0 {
		// The size of {"t":"events",...,"events":[a,b,c]} is the size with
		// one event plus each further event and its comma (the stored
		// events are compact JSON), so packing needs one Marshal.
		b, _ := json.Marshal(bMsg{T: "events", From: e.me, To: peer, Events: evs[:1]})
		size, n := len(b), 1
		for n < len(evs) && size+len(evs[n])+1 <= e.payloadLimit() {
			size += len(evs[n]) + 1
			n++
		}
		e.emit(bMsg{T: "events", From: e.me, To: peer, Events: evs[:n]})
		evs = evs[n:]
	}
}

// emit queues m. A message longer than a packet's payload (a single JSON
// event with its hex id, prev and signature is about 400 bytes) is split
// into fragments: 'F', a 16-bit message id, index<<4|count, then the bytes.
func (e *baselineEngine) emit(m bMsg) {
	b, _ := json.Marshal(m)
	limit := e.payloadLimit()
	if len(b) <= limit {
		e.out.msgs = append(e.out.msgs, b)
		return
	}
	per := limit - 4
	count := (len(b) + per - 1) / per
	if count > 15 {
		return // cannot happen with bounded events; never send a broken message
	}
	id := uint16(e.env.rand.Uint32())
	for i := range count {
		chunk := b[i*per : min(len(b), (i+1)*per)]
		frag := append([]byte{'F', byte(id >> 8), byte(id), byte(i<<4 | count)}, chunk...)
		e.out.msgs = append(e.out.msgs, frag)
	}
}

// defragment collects fragments; it returns a whole message when complete.
func (e *baselineEngine) defragment(p []byte, now time.Duration) []byte {
	if len(p) < 5 || p[0] != 'F' {
		return p
	}
	id, idx, count := uint16(p[1])<<8|uint16(p[2]), int(p[3]>>4), int(p[3]&15)
	if count == 0 || idx >= count {
		return nil
	}
	for k, f := range e.frags {
		if now-f.at > baselineRound {
			delete(e.frags, k)
		}
	}
	f := e.frags[id]
	if f == nil || f.count != count {
		if len(e.frags) >= 64 {
			return nil
		}
		f = &fragBuf{count: count, parts: make([][]byte, count), at: now}
		e.frags[id] = f
	}
	if f.parts[idx] == nil {
		f.parts[idx] = append([]byte(nil), p[4:]...)
		f.have++
	}
	if f.have < count {
		return nil
	}
	delete(e.frags, id)
	var out []byte
	for _, part := range f.parts {
		out = append(out, part...)
	}
	return out
}

type fragBuf struct {
	count, have int
	parts       [][]byte
	at          time.Duration
}

func (e *baselineEngine) ingest(raw json.RawMessage) {
	var ev bEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return
	}
	ai, ok := e.p.index[ev.Author]
	if !ok || ev.Seq == 0 {
		return
	}
	have := uint64(len(e.feeds[ev.Author]))
	if ev.Seq <= have {
		if e.feeds[ev.Author][ev.Seq-1].ev.id() != ev.id() {
			e.nfork++
		}
		return
	}
	id := sha256.Sum256(ev.unsigned())
	sig, err := hex.DecodeString(ev.Sig)
	if err != nil || !e.p.ids[ai].Verify(sig, id[:]) {
		return
	}
	s := stored{ev: ev, rec: record{id: id, data: append([]byte(nil), raw...), size: len(raw)}}
	if ev.Seq > have+1 {
		g := e.gaps[ev.Author]
		if g == nil {
			g = map[uint64]stored{}
			e.gaps[ev.Author] = g
		}
		if _, dup := g[ev.Seq]; !dup && e.ngaps < baselineGapLimit {
			g[ev.Seq] = s
			e.ngaps++
		}
		return
	}
	for {
		if have > 0 && s.ev.Prev != e.feeds[s.ev.Author][have-1].ev.id() {
			return // chain break: drop
		}
		e.accept(s, true)
		have++
		g := e.gaps[ev.Author]
		next, ok := g[have+1]
		if !ok {
			return
		}
		delete(g, have+1)
		e.ngaps--
		s = next
	}
}

func (e *baselineEngine) tick(now time.Duration) {
	if now < e.next {
		return
	}
	jitter := time.Duration(e.env.rand.Int64N(int64(baselineRound / 5)))
	e.next = now + baselineRound - baselineRound/10 + jitter
	front := map[string]uint64{}
	authors := make([]string, 0, len(e.feeds))
	for a, f := range e.feeds {
		front[a] = uint64(len(f))
		authors = append(authors, a)
	}
	sort.Strings(authors)
	var peers []string
	for p, t := range e.heard {
		if now-t <= baselineNeighbour {
			peers = append(peers, p)
		}
	}
	sort.Strings(peers)
	if len(peers) == 0 {
		peers = []string{"*"}
	}
	for _, p := range peers {
		// The full frontier, split into messages that fit a packet. Each
		// entry adds "author":seq and a comma to the JSON object.
		empty, _ := json.Marshal(bMsg{T: "frontier", From: e.me, To: p, Frontier: map[string]uint64{"": 0}})
		base := len(empty) - len(`"":0`)
		chunk, size := map[string]uint64{}, base
		for _, a := range authors {
			add := len(a) + 3 + len(strconv.FormatUint(front[a], 10))
			if len(chunk) > 0 {
				add++
			}
			if len(chunk) > 0 && size+add > e.payloadLimit() {
				e.emit(bMsg{T: "frontier", From: e.me, To: p, Frontier: chunk})
				chunk, size = map[string]uint64{}, base
				add--
			}
			chunk[a] = front[a]
			size += add
		}
		e.emit(bMsg{T: "frontier", From: e.me, To: p, Frontier: chunk})
	}
}

func (e *baselineEngine) sent([]byte, time.Duration) {}

func (e *baselineEngine) nextDeadline() time.Duration { return e.next }

func (e *baselineEngine) ready() batch {
	e.pending = e.out
	e.out = batch{}
	return e.pending
}

func (e *baselineEngine) advance() { e.pending = batch{} }

func (e *baselineEngine) digest() [32]byte {
	if e.dig != nil {
		return *e.dig
	}
	h := sha256.New()
	recs := make([]string, 0, len(e.view))
	for r := range e.view {
		recs = append(recs, r)
	}
	sort.Strings(recs)
	for _, name := range recs {
		r := e.view[name]
		fmt.Fprintf(h, "R%q %q\n", name, r.typ)
		fields := make([]string, 0, len(r.fields))
		for f := range r.fields {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			fmt.Fprintf(h, "F%q=%s\n", f, r.fields[f].value)
		}
		notes := append([]string(nil), r.notes...)
		sort.Strings(notes)
		for _, n := range notes {
			fmt.Fprintf(h, "N%q\n", n)
		}
	}
	var d [32]byte
	h.Sum(d[:0])
	e.dig = &d
	return d
}

func (e *baselineEngine) forks() int { return e.nfork }

func (e *baselineEngine) field(rec, field string) (string, int, bool) {
	r := e.view[rec]
	if r == nil {
		return "", -1, false
	}
	f, ok := r.fields[field]
	if !ok {
		return "", -1, false
	}
	return string(f.value), e.p.index[f.author], true
}
