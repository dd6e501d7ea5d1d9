package sim

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/meshlogd/meshlogd/node/airtime"
	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/sim/scenario"
)

// realProto runs the real stack on every node: node/gossip's Engine over a
// node/feed Log with its node/view View. The dataset is provisioned before
// the run: node 0 founds it (genesis) and admits every other node
// (member-add events); every node starts with that prefix, as if it had
// been set up at base camp.
type realProto struct {
	sync    scenario.Sync
	ids     []*rns.Identity
	genesis feed.Signed
	setup   []feed.Signed
	index   map[rns.Hash]int
}

func newRealProto(sc *scenario.Scenario) protocol { return &realProto{sync: sc.Sync} }

func (p *realProto) name() string {
	return "meshlogd (node/gossip + node/feed + node/view, Reticulum GROUP packets, RNode framing)"
}

// classify maps gossip message kinds to node/airtime priorities, as the
// node runtime does: slices and wants are data, frontiers control, beacons
// beacons (which may use only part of the budget and go stale).
func (p *realProto) classify(payload []byte) msgClass {
	if len(payload) == 0 {
		return msgClass{kind: "empty", priority: airtime.Beacon}
	}
	k := gossip.Kind(payload[0])
	c := msgClass{kind: k.String(), priority: airtime.Data}
	switch k {
	case gossip.KindBeacon:
		c.priority, c.ttl = airtime.Beacon, beaconTTL
	case gossip.KindFrontier:
		c.priority = airtime.Control
	}
	return c
}

// beaconTTL is how long a queued beacon stays worth sending: the engine
// sends a fresh one at its next Trickle interval anyway.
const beaconTTL = 30 * time.Second

func (p *realProto) prepare(ids []*rns.Identity, _ uint64) error {
	p.ids = ids
	p.index = map[rns.Hash]int{}
	for i, id := range ids {
		p.index[id.Hash()] = i
	}
	founder := ids[0]
	g, err := feed.NewGenesis(founder, "sim", hlc.New(1, 0))
	if err != nil {
		return err
	}
	log, err := feed.NewLog(g, feed.Config{})
	if err != nil {
		return err
	}
	p.genesis = g
	for i, id := range ids[1:] {
		var add feed.MemberAdd
		copy(add.Key[:], id.PublicKey())
		body, err := feed.EncodeBody(add)
		if err != nil {
			return err
		}
		s, _, err := log.Append(founder, feed.KindMemberAdd, body, hlc.New(1, uint16(i+1)))
		if err != nil {
			return fmt.Errorf("admit node %d: %w", i+1, err)
		}
		p.setup = append(p.setup, s)
	}
	return nil
}

// engineConfig is what the node runtime gives the engine of a radio node
// (node.Node's engineConfig) with the scenario's sync section: AwaitSent,
// Trickle bounds, the relay window.
func (p *realProto) engineConfig(id *rns.Identity, rnd func() uint64) gossip.Config {
	y := p.sync
	doublings := 0
	if ratio := y.BeaconMax / y.BeaconMin; ratio > 1 {
		doublings = bits.Len64(uint64(ratio)) - 1
	}
	relay := y.RelayWindow.Milliseconds()
	if relay <= 0 {
		relay = -1 // off
	}
	return gossip.Config{Identity: id, PayloadLimit: gossip.DefaultPayloadLimit, Rand: rnd, AwaitSent: true,
		TrickleIminMs: y.BeaconMin.Milliseconds(), TrickleDoublings: doublings, RelayWindowMs: relay}
}

func (p *realProto) start(env nodeEnv) (engine, error) {
	log, err := feed.NewLog(p.genesis, feed.Config{})
	if err != nil {
		return nil, err
	}
	for _, s := range p.setup {
		if _, err := log.Restore(s); err != nil {
			return nil, fmt.Errorf("restore setup: %w", err)
		}
	}
	for _, r := range env.durable {
		s, err := feed.DecodeSigned(r.data)
		if err != nil {
			return nil, fmt.Errorf("stored event: %w", err)
		}
		if _, err := log.Restore(s); err != nil {
			return nil, fmt.Errorf("restore stored event: %w", err)
		}
	}
	rnd := env.rand
	// AwaitSent: the runtime's duty-cycle queue may hold messages back for
	// long; the engine then paces itself by what really went on air.
	e, err := gossip.New(p.engineConfig(env.identity, rnd.Uint64), log, env.now.Milliseconds())
	if err != nil {
		return nil, err
	}
	return &realEngine{p: p, e: e}, nil
}

// realEngine adapts a gossip.Engine to the simulator's engine interface.
type realEngine struct {
	p     *realProto
	e     *gossip.Engine
	rd    gossip.Ready
	dig   *[32]byte
	nfork int
	errs  int
}

func (r *realEngine) payloadLimit() int { return gossip.DefaultPayloadLimit }

func (r *realEngine) receive(payload []byte, now time.Duration) {
	if err := r.e.Step(gossip.Broadcast, payload, now.Milliseconds()); err != nil {
		r.errs++
	}
}

func toValue(v any) (feed.Value, error) {
	switch x := v.(type) {
	case nil:
		return feed.Null(), nil
	case bool:
		return feed.Bool(x), nil
	case string:
		return feed.String(x), nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return feed.Int(int64(x)), nil
		}
		return feed.Float(x), nil
	}
	return feed.Value{}, fmt.Errorf("sim: unsupported value %T", v)
}

func (r *realEngine) write(op scenario.Op, now time.Duration) error {
	var b feed.Body
	switch {
	case op.Create != nil:
		b = feed.RecordCreate{Record: op.Create.Record, Type: op.Create.Type}
	case op.Set != nil:
		v, err := toValue(op.Set.Value)
		if err != nil {
			return err
		}
		b = feed.FieldSet{Record: op.Set.Record, Field: op.Set.Field, Value: v}
	case op.Note != nil:
		b = feed.NoteAppend{Record: op.Note.Record, Text: op.Note.Text}
	default:
		return errors.New("sim: empty op")
	}
	body, err := feed.EncodeBody(b)
	if err != nil {
		return err
	}
	_, err = r.e.Append(b.Kind(), body, now.Milliseconds())
	return err
}

func (r *realEngine) sent(payload []byte, now time.Duration) {
	r.e.Sent(gossip.Message{To: gossip.Broadcast, Payload: payload}, now.Milliseconds())
}

func (r *realEngine) tick(now time.Duration) { r.e.Tick(now.Milliseconds()) }

func (r *realEngine) nextDeadline() time.Duration {
	d := r.e.NextDeadline()
	if d < 0 || d >= math.MaxInt64/int64(time.Millisecond) {
		return -1
	}
	return time.Duration(d) * time.Millisecond
}

func (r *realEngine) ready() batch {
	r.rd = r.e.Ready()
	var b batch
	for _, s := range r.rd.Persist {
		data, err := s.MarshalBinary()
		if err != nil {
			r.errs++
			continue
		}
		b.persist = append(b.persist, record{id: s.ID(), data: data, size: len(s.Event.Canonical())})
	}
	for _, m := range r.rd.Messages {
		if m.To.IsBroadcast() {
			b.msgs = append(b.msgs, m.Payload)
		}
	}
	for _, s := range r.rd.Revoked {
		b.revoked = append(b.revoked, s.ID())
	}
	for _, rep := range r.rd.Reports {
		if rep.Kind == gossip.ReportFork {
			r.nfork++
		}
	}
	if len(r.rd.ViewChanges) > 0 || len(r.rd.Persist) > 0 || r.rd.ViewRebuilt {
		r.dig = nil
	}
	return b
}

func (r *realEngine) advance() {
	r.e.Advance(r.rd)
	r.rd = gossip.Ready{}
}

func (r *realEngine) forks() int { return max(r.nfork, len(r.e.Log().Forks())) }

func (r *realEngine) digest() [32]byte {
	if r.dig == nil {
		d := viewDigest(r.e)
		r.dig = &d
	}
	return *r.dig
}

func (r *realEngine) field(rec, field string) (string, int, bool) {
	return viewField(r.e, r.p.index, rec, field)
}
