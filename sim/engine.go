package sim

import (
	"math/rand/v2"
	"time"

	"github.com/meshlogd/meshlogd/node/airtime"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/sim/scenario"
)

// record is one event as a simulated node's storage holds it.
type record struct {
	id   [32]byte
	data []byte // stored encoding, re-ingested after a restart
	size int    // canonical size of the event (report: event_bytes)
}

// batch is what an engine asks its node runtime to do: make persist durable,
// then transmit msgs (GROUP payloads, broadcast). Like a raft Ready, a batch
// must be handled in that order and then confirmed with advance.
type batch struct {
	persist []record
	msgs    [][]byte
	revoked [][32]byte // ids of accepted events withdrawn (forks, membership)
}

func (b batch) empty() bool { return len(b.persist) == 0 && len(b.msgs) == 0 && len(b.revoked) == 0 }

// engine is one node's sync protocol as the simulator drives it. The real
// engine (node/gossip with node/feed and node/view) and the prototype's
// protocol (baseline) both implement it, so they run on the same runtime
// and medium.
type engine interface {
	// receive hands over a GROUP payload heard on air.
	receive(payload []byte, now time.Duration)
	// write performs a local write.
	write(op scenario.Op, now time.Duration) error
	// sent reports that a message of an earlier batch finished going on
	// air (or left the transmit queue unsent).
	sent(payload []byte, now time.Duration)
	// tick advances the engine's timers.
	tick(now time.Duration)
	// nextDeadline is when tick is next due (< 0: no deadline).
	nextDeadline() time.Duration
	// ready drains pending output; advance confirms it was handled.
	ready() batch
	advance()
	// digest is the view's digest, equal on nodes with equal views.
	digest() [32]byte
	// forks counts fork proofs the engine holds.
	forks() int
	// field looks a record field up in the view and returns its value as
	// text and the index of the node whose write won.
	field(rec, field string) (value string, writer int, ok bool)
	// payloadLimit is the largest payload the engine puts in one message.
	payloadLimit() int
}

// nodeEnv is what a protocol gets to start one node's engine.
type nodeEnv struct {
	idx      int
	name     string
	identity *rns.Identity
	now      time.Duration
	rand     *rand.Rand
	durable  []record // what storage kept; nil on a fresh start
}

// protocol builds engines for the nodes of one run.
type protocol interface {
	name() string
	// prepare is called once with every node's identity (index order)
	// before the first start: it sets up the dataset and its members.
	prepare(ids []*rns.Identity, seed uint64) error
	start(env nodeEnv) (engine, error)
	// classify says how the node runtime queues a payload.
	classify(payload []byte) msgClass
}

// msgClass is how a message is queued for the radio: its kind name (for
// statistics), its node/airtime priority and how long it stays useful
// (0: until sent).
type msgClass struct {
	kind     string
	priority airtime.Priority
	ttl      time.Duration
}
