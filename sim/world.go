package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/node/airtime"
	"github.com/meshlogd/meshlogd/node/groupwire"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/sim/scenario"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

// senseSymbols is how many preamble symbols carrier sense needs to detect
// a frame (an SX127x CAD takes about two symbols; the RNode firmware polls
// its modem status every few milliseconds).
const senseSymbols = 2

// maxQueue bounds a node's transmit queue in packets, like an RNode's
// packet queue: when it is full, new packets are dropped (and counted).
const maxQueue = 256

// epochTime anchors virtual time for APIs that take a time.Time.
var epochTime = time.Unix(1_700_000_000, 0).UTC()

// txRecord is one frame a node transmitted (for reports and the timeline).
type txRecord struct {
	start, dur time.Duration
	bytes      int
}

// simNode is one simulated node: the runtime around its engine (persist
// before send, ticks, a transmit queue with carrier sense and a duty-cycle
// budget) and its radio state on the medium.
type simNode struct {
	idx      int
	name     string
	identity *rns.Identity
	wire     *groupwire.Wire
	rng      *rand.Rand // backoff draws, IVs, nibbles

	up    bool
	epoch int // bumped by every crash: stale callbacks compare it
	eng   engine

	sched          *airtime.Scheduler // node/airtime: priorities and the duty-cycle budget
	sending        bool
	attemptPending bool

	inFlight bool     // a batch waits to become durable
	pending  []record // its records
	durable  []record

	tickArmed bool
	tickAt    time.Duration
	tickGen   uint64

	reasm *hal.Reassembler
	duty  dutyTracker

	// "radio": "sx127x" nodes: the real driver on an emulated chip.
	isSX     bool
	radio    *sxRadio // nil while down
	radioGen int      // radios built so far (seeds each one's Rand)
	sxTotals sxStats  // counters of radios already dropped

	count      int           // events held (durable + in flight)
	lastChange time.Duration // when count last changed

	downs                      [][2]time.Duration // down spans (end -1 while down)
	tx                         []txRecord
	frames, bytes, drops       int64
	airtime                    time.Duration
	rxPackets, rxBad, rxLost   int64
	writes, writeErrs, skipped int
}

// kindStat counts what one kind of message cost.
type kindStat struct {
	msgs, payloadBytes, frames, airBytes int64
	airtime                              time.Duration
}

// world is one run of a scenario with one protocol.
type world struct {
	sc     *scenario.Scenario
	seed   uint64
	proto  protocol
	q      queue
	params hal.Params
	slot   time.Duration
	difs   time.Duration
	// senseDelay is how long a frame must be on air before carrier sense
	// detects it.
	senseDelay time.Duration

	nodes []*simNode
	link  [][]linkInfo
	group []int
	nbr   [][]int // who hears whom now (links minus partition)

	active   []*frame
	lossRand map[int]*rand.Rand

	holders  map[[32]byte]int
	sizes    map[[32]byte]int
	distinct int

	convNow   bool
	convSince time.Duration

	collisions int64
	kinds      map[string]*kindStat
	kindNames  []string
	backoffFn  func(*simNode) time.Duration // tests: replaces the CSMA backoff
	partitions []partitionSpan
	phases     []phase
	errs       []string
}

// partitionSpan is a time range during which a partition was in force.
type partitionSpan struct {
	from, to time.Duration
	groups   [][]string
}

// phase is a labelled script step.
type phase struct {
	at    time.Duration
	label string
	what  string
}

func newWorld(sc *scenario.Scenario, seed uint64, proto protocol) (*world, error) {
	w := &world{sc: sc, seed: seed, proto: proto,
		holders: map[[32]byte]int{}, sizes: map[[32]byte]int{}, lossRand: map[int]*rand.Rand{}, kinds: map[string]*kindStat{}}
	w.params = hal.Params{
		FrequencyHz:     uint32(math.Round(sc.Radio.FreqMHz * 1e6)),
		BandwidthHz:     uint32(math.Round(sc.Radio.BWkHz * 1000)),
		SpreadingFactor: sc.Radio.SF,
		CodingRate:      sc.Radio.CR,
		TxPowerDBm:      sc.Radio.TxDBm,
		PreambleSymbols: sc.Radio.Preamble,
	}
	if hal.Airtime(w.params, hal.MaxFrameLen) <= 0 {
		return nil, fmt.Errorf("sim: radio parameters %v have no airtime", w.params)
	}
	w.slot, w.difs = hal.CSMATiming(w.params)
	w.senseDelay = senseSymbols * hal.SymbolTime(w.params)
	n := len(sc.Nodes)
	budget := time.Duration(float64(sc.Radio.DutyWindow) * sc.Radio.DutyCycle)
	founderKey := streamBytes(seed, "group-key", 64)
	for i, sn := range sc.Nodes {
		id, err := rns.FromPrivateKey(streamBytes(seed, "identity", 64, i))
		if err != nil {
			return nil, fmt.Errorf("sim: identity of %s: %w", sn.Name, err)
		}
		bud, err := airtime.NewBudget(sc.Radio.DutyCycle, sc.Radio.DutyWindow)
		if err != nil {
			return nil, fmt.Errorf("sim: %w", err)
		}
		nd := &simNode{sched: airtime.NewScheduler(bud, maxQueue), idx: i, name: sn.Name, identity: id, rng: stream(seed, "node", i), up: true,
			reasm: hal.NewReassembler(hal.PartialTimeout(w.params)),
			duty:  dutyTracker{window: sc.Radio.DutyWindow, budget: budget}, isSX: sn.Radio == "sx127x"}
		w.nodes = append(w.nodes, nd)
	}
	for _, nd := range w.nodes {
		gw, err := groupwire.New(w.nodes[0].identity, founderKey, readerOf{nd.rng})
		if err != nil {
			return nil, fmt.Errorf("sim: group destination: %w", err)
		}
		nd.wire = gw
	}
	w.link = make([][]linkInfo, n)
	for i := range w.link {
		w.link[i] = make([]linkInfo, n)
	}
	dist := func(i, j int) float64 {
		a, b := sc.Nodes[i], sc.Nodes[j]
		if !a.HasPos || !b.HasPos {
			return linkDistanceKm
		}
		return math.Hypot(a.Pos[0]-b.Pos[0], a.Pos[1]-b.Pos[1])
	}
	setLink := func(i, j int, loss float64) {
		p := rxPowerDBm(float64(sc.Radio.TxDBm), sc.Radio.FreqMHz, dist(i, j))
		w.link[i][j] = linkInfo{exists: true, loss: loss, rxDBm: p}
		w.link[j][i] = linkInfo{exists: true, loss: loss, rxDBm: p}
	}
	if sc.Links != nil {
		for _, l := range sc.Links {
			setLink(sc.NodeIndex(l.A), sc.NodeIndex(l.B), l.Loss)
		}
	} else {
		for i := range n {
			for j := i + 1; j < n; j++ {
				if !sc.Nodes[i].HasPos || !sc.Nodes[j].HasPos {
					return nil, fmt.Errorf("sim: nodes[%d] or nodes[%d] has no pos; give every node a pos or list links", i, j)
				}
				if dist(i, j) <= sc.RangeKm {
					setLink(i, j, sc.Loss)
				}
			}
		}
	}
	w.group = make([]int, n)
	w.recomputeNeighbours()
	ids := make([]*rns.Identity, n)
	for i, nd := range w.nodes {
		ids[i] = nd.identity
	}
	if err := proto.prepare(ids, seed); err != nil {
		return nil, fmt.Errorf("sim: %s: %w", proto.name(), err)
	}
	for _, nd := range w.nodes {
		eng, err := proto.start(w.env(nd))
		if err != nil {
			return nil, fmt.Errorf("sim: start %s: %w", nd.name, err)
		}
		nd.eng = eng
	}
	for _, nd := range w.nodes {
		if !nd.isSX {
			continue
		}
		if err := w.startRadio(nd); err != nil {
			w.shutdown()
			return nil, fmt.Errorf("sim: node %s: radio \"sx127x\": %w", nd.name, err)
		}
	}
	return w, nil
}

func (w *world) env(nd *simNode) nodeEnv {
	return nodeEnv{idx: nd.idx, name: nd.name, identity: nd.identity, now: w.q.now,
		rand: stream(w.seed, "engine", nd.idx, nd.epoch), durable: nd.durable}
}

func (w *world) recomputeNeighbours() {
	n := len(w.nodes)
	w.nbr = make([][]int, n)
	for i := range n {
		for j := range n {
			if i != j && w.hears(i, j) {
				w.nbr[i] = append(w.nbr[i], j)
			}
		}
	}
}

// hears reports whether a frame sent by a reaches b now.
func (w *world) hears(a, b int) bool { return w.link[a][b].exists && w.group[a] == w.group[b] }

// ---- scenario script and workload ----

func (w *world) schedule() {
	for _, st := range w.sc.Script {
		w.q.at(st.At, func() { w.step(st) })
	}
	if wl := w.sc.Workload; wl != nil {
		names := wl.Nodes
		if len(names) == 0 {
			for _, n := range w.sc.Nodes {
				names = append(names, n.Name)
			}
		}
		gen := newWorkload(stream(w.seed, "workload"), names, wl)
		for _, it := range gen {
			w.q.at(it.at, func() { w.write(w.nodes[w.sc.NodeIndex(it.node)], it.op) })
		}
	}
}

func (w *world) step(st scenario.Step) {
	what := ""
	switch {
	case st.Op != nil:
		w.write(w.nodes[w.sc.NodeIndex(st.Node)], *st.Op)
		what = fmt.Sprintf("%s writes %s", st.Node, describeOp(*st.Op))
	case st.Down:
		w.down(w.nodes[w.sc.NodeIndex(st.Node)])
		what = st.Node + " goes down"
	case st.Up:
		w.upNode(w.nodes[w.sc.NodeIndex(st.Node)])
		what = st.Node + " comes up"
	case st.Partition != nil:
		w.partition(st.Partition)
		what = "partition " + groupsString(st.Partition, w.sc)
	case st.Heal:
		w.partition(nil)
		what = "partition healed"
	case st.Link != nil:
		a, b := w.sc.NodeIndex(st.Link.A), w.sc.NodeIndex(st.Link.B)
		if w.link[a][b].exists {
			w.link[a][b].loss, w.link[b][a].loss = st.Link.Loss, st.Link.Loss
			what = fmt.Sprintf("link %s–%s loss %.0f%%", st.Link.A, st.Link.B, 100*st.Link.Loss)
		} else {
			what = fmt.Sprintf("link %s–%s out of range: loss change ignored", st.Link.A, st.Link.B)
		}
	}
	if st.Label != "" || st.Op == nil {
		w.phases = append(w.phases, phase{at: w.q.now, label: st.Label, what: what})
	}
}

func describeOp(op scenario.Op) string {
	switch {
	case op.Create != nil:
		return fmt.Sprintf("create %s (%s)", op.Create.Record, op.Create.Type)
	case op.Set != nil:
		return fmt.Sprintf("set %s.%s = %v", op.Set.Record, op.Set.Field, op.Set.Value)
	case op.Note != nil:
		return fmt.Sprintf("note on %s", op.Note.Record)
	}
	return "nothing"
}

func groupsString(groups [][]string, sc *scenario.Scenario) string {
	listed := map[string]bool{}
	s := ""
	for _, g := range groups {
		s += fmt.Sprint(g)
		for _, n := range g {
			listed[n] = true
		}
	}
	var rest []string
	for _, n := range sc.Nodes {
		if !listed[n.Name] {
			rest = append(rest, n.Name)
		}
	}
	if len(rest) > 0 {
		s += fmt.Sprint(rest)
	}
	return s
}

func (w *world) partition(groups [][]string) {
	now := w.q.now
	if k := len(w.partitions); k > 0 && w.partitions[k-1].to < 0 {
		w.partitions[k-1].to = now
	}
	for i := range w.group {
		w.group[i] = 0
	}
	if groups != nil {
		for gi, g := range groups {
			for _, name := range g {
				w.group[w.sc.NodeIndex(name)] = gi + 1
			}
		}
		w.partitions = append(w.partitions, partitionSpan{from: now, to: -1, groups: groups})
	}
	w.recomputeNeighbours()
	// Frames already on air towards a now separated receiver are lost.
	for _, f := range w.active {
		for k := range f.rx {
			if !w.hears(f.from, f.rx[k].to) {
				f.rx[k].ok = false
			}
		}
	}
}

func (w *world) write(nd *simNode, op scenario.Op) {
	if !nd.up {
		nd.skipped++
		return
	}
	nd.writes++
	if err := nd.eng.write(op, w.q.now); err != nil {
		nd.writeErrs++
		if len(w.errs) < 20 {
			w.errs = append(w.errs, fmt.Sprintf("%v %s: write %s: %v", fmtDur(w.q.now), nd.name, describeOp(op), err))
		}
	}
	w.pump(nd)
}

// ---- node runtime ----

// pump drains the engine's output: records are made durable (after the
// persist delay) before the batch's messages are queued for the radio.
func (w *world) pump(nd *simNode) {
	for nd.up && !nd.inFlight {
		b := nd.eng.ready()
		if b.empty() {
			nd.eng.advance()
			break
		}
		w.revoke(nd, b.revoked)
		if len(b.persist) > 0 {
			for _, r := range b.persist {
				w.hold(r, +1)
			}
			nd.pending = b.persist
			nd.count += len(b.persist)
			nd.lastChange = w.q.now
			nd.inFlight = true
			ep := nd.epoch
			w.q.after(w.sc.PersistDelay, func() {
				if nd.epoch != ep {
					return
				}
				nd.durable = append(nd.durable, nd.pending...)
				nd.pending = nil
				nd.inFlight = false
				nd.eng.advance()
				w.enqueue(nd, b.msgs)
				w.pump(nd)
			})
			break
		}
		nd.eng.advance()
		w.enqueue(nd, b.msgs)
	}
	w.armTick(nd)
	w.checkConvergence()
}

// revoke forgets events the engine withdrew (a fork freeze or a membership
// change): the node no longer holds them, and storage may drop them.
func (w *world) revoke(nd *simNode, ids [][32]byte) {
	for _, id := range ids {
		for _, list := range []*[]record{&nd.durable, &nd.pending} {
			for i, r := range *list {
				if r.id == id {
					*list = append((*list)[:i], (*list)[i+1:]...)
					w.hold(r, -1)
					nd.count--
					nd.lastChange = w.q.now
					break
				}
			}
		}
	}
}

func (w *world) hold(r record, delta int) {
	h := w.holders[r.id]
	switch {
	case delta > 0 && h == 0:
		w.distinct++
		w.sizes[r.id] = r.size
	case delta < 0 && h == 1:
		w.distinct--
		delete(w.sizes, r.id)
	}
	if h+delta == 0 {
		delete(w.holders, r.id)
	} else {
		w.holders[r.id] = h + delta
	}
}

func (w *world) armTick(nd *simNode) {
	if !nd.up {
		return
	}
	d := nd.eng.nextDeadline()
	if d < 0 {
		return
	}
	if d <= w.q.now {
		d = w.q.now + time.Millisecond // never spin at one instant
	}
	if nd.tickArmed && nd.tickAt <= d {
		return
	}
	nd.tickGen++
	gen, ep := nd.tickGen, nd.epoch
	nd.tickArmed, nd.tickAt = true, d
	w.q.at(d, func() {
		if nd.tickGen != gen || nd.epoch != ep || !nd.up {
			return
		}
		nd.tickArmed = false
		nd.eng.tick(w.q.now)
		w.pump(nd)
	})
}

func (w *world) enqueue(nd *simNode, msgs [][]byte) {
	now := epochTime.Add(w.q.now)
	for _, m := range msgs {
		pkt, err := nd.wire.Wrap(m)
		if err != nil {
			if len(w.errs) < 20 {
				w.errs = append(w.errs, fmt.Sprintf("%v %s: wrap %d-byte payload: %v", fmtDur(w.q.now), nd.name, len(m), err))
			}
			continue
		}
		if len(pkt) > hal.MaxPacketLen {
			nd.drops++
			continue
		}
		c := w.proto.classify(m)
		ki := w.kindIndex(c.kind)
		ks := w.kinds[c.kind]
		ks.msgs++
		ks.payloadBytes += int64(len(m))
		// The queued frame carries the kind, the message (for Sent) and the
		// packet: frames the scheduler drops leave nothing behind.
		buf := make([]byte, 0, frameHeader+len(m)+len(pkt))
		buf = append(buf, byte(ki), byte(len(m)>>8), byte(len(m)))
		buf = append(append(buf, m...), pkt...)
		f := airtime.Frame{Payload: buf, Airtime: hal.PacketAirtime(w.params, len(pkt)),
			Priority: c.priority, Queued: now}
		if c.ttl > 0 {
			f.Expires = now.Add(c.ttl)
		}
		if err := nd.sched.Enqueue(f); err != nil {
			nd.drops++
			nd.eng.sent(m, w.q.now)
		}
	}
	w.kick(nd)
}

// kindIndex returns the index of a message kind name (registering it).
func (w *world) kindIndex(k string) int {
	for i, n := range w.kindNames {
		if n == k {
			return i
		}
	}
	w.kindNames = append(w.kindNames, k)
	w.kinds[k] = &kindStat{}
	return len(w.kindNames) - 1
}

func (w *world) backoff(nd *simNode) time.Duration {
	if w.backoffFn != nil {
		return w.backoffFn(nd)
	}
	return w.difs + time.Duration(nd.rng.IntN(15))*w.slot
}

// kick starts the channel-access procedure when a packet waits.
func (w *world) kick(nd *simNode) {
	if !nd.up || nd.sending || nd.attemptPending || nd.sched.Len() == 0 {
		return
	}
	nd.attemptPending = true
	ep := nd.epoch
	var d time.Duration
	if !nd.isSX { // the sx127x driver does its own channel access
		d = w.backoff(nd)
	}
	w.q.after(d, func() { w.attempt(nd, ep) })
}

// busyUntil returns when the last frame nd can hear ends (carrier sense),
// or 0 when the channel is free at nd. A frame becomes detectable only
// senseDelay after it started (preamble detection takes a few symbols), so
// two nodes that decide within that window both transmit and collide.
func (w *world) busyUntil(nd *simNode) time.Duration {
	var end time.Duration
	for _, f := range w.active {
		if f.from != nd.idx && w.hears(f.from, nd.idx) && f.end > end && w.q.now-f.start >= w.senseDelay {
			end = f.end
		}
	}
	return end
}

func (w *world) attempt(nd *simNode, ep int) {
	if nd.epoch != ep {
		return
	}
	nd.attemptPending = false
	if !nd.up || nd.sending || nd.sched.Len() == 0 {
		return
	}
	if nd.isSX {
		w.submit(nd, ep)
		return
	}
	now := w.q.now
	if end := w.busyUntil(nd); end > now {
		nd.attemptPending = true
		w.q.at(end+w.backoff(nd), func() { w.attempt(nd, ep) })
		return
	}
	_, kind, msg, pkt, ok := w.release(nd, ep)
	if !ok {
		return
	}
	frames, err := hal.EncodeFrames(byte(nd.rng.Uint32()), pkt)
	if err != nil {
		nd.drops++
		w.kick(nd)
		return
	}
	nd.sending = true
	ks := w.kinds[kind]
	for _, fr := range frames {
		ks.frames++
		ks.airBytes += int64(len(fr))
		ks.airtime += hal.Airtime(w.params, len(fr))
	}
	w.startFrame(nd, frames, 0, ep, msg)
}

// beginFrame puts a frame of data from nd on the medium for dur: the
// sender's accounting, who may hear it, the collisions it causes, and the
// carrier start at sx127x receivers. cf is the frame as an emulated chip
// sent it (nil for a frame from a "sim" radio).
func (w *world) beginFrame(nd *simNode, data []byte, dur time.Duration, cf *sx127xtest.Frame) *frame {
	now := w.q.now
	f := &frame{from: nd.idx, start: now, end: now + dur, data: data, cf: cf}
	nd.duty.add(now, f.end)
	nd.frames++
	nd.bytes += int64(len(data))
	nd.airtime += dur
	nd.tx = append(nd.tx, txRecord{start: now, dur: dur, bytes: len(data)})
	for _, r := range w.nbr[nd.idx] {
		rn := w.nodes[r]
		// Half duplex: a "sim" radio that is sending hears nothing; an
		// sx127x chip decides that itself (in TX it does not listen).
		ok := rn.up && (rn.isSX || !rn.sending)
		f.rx = append(f.rx, rxState{to: r, epoch: rn.epoch, ok: ok})
	}
	for _, g := range w.active {
		// Half duplex: nd stops hearing g.
		for k := range g.rx {
			rs := &g.rx[k]
			if rs.to == nd.idx {
				rs.ok = false
				continue
			}
			if w.hears(nd.idx, rs.to) && w.link[nd.idx][rs.to].rxDBm > w.link[g.from][rs.to].rxDBm-captureDB {
				w.collide(rs)
			}
		}
		for k := range f.rx {
			rs := &f.rx[k]
			if w.hears(g.from, rs.to) && w.link[g.from][rs.to].rxDBm > w.link[nd.idx][rs.to].rxDBm-captureDB {
				w.collide(rs)
			}
		}
	}
	w.active = append(w.active, f)
	// sx127x receivers: the chip hears the preamble once it is detectable
	// (senseDelay, as carrier sense for "sim" radios), so that both kinds
	// of radio sense the channel alike; it decides itself whether it was
	// listening then (half duplex, its RX session).
	for _, rs := range f.rx {
		if x := w.nodes[rs.to].radio; x != nil && rs.ok && !x.dead {
			l := w.chipLink(f.from, rs.to)
			w.q.at(f.start+w.senseDelay, func() {
				if !x.dead {
					x.chip.CarrierStart(w.chipFrame(f), l)
					x.poke()
				}
			})
		}
	}
	return f
}

// release takes the next frame the node's airtime scheduler lets go now
// and splits it into the message kind, the sync message (for Sent) and the
// packet. When nothing may go yet it schedules the next attempt for when
// the budget allows, and reports false.
func (w *world) release(nd *simNode, ep int) (f airtime.Frame, kind string, msg, pkt []byte, ok bool) {
	f, ok, retry := nd.sched.Next(epochTime.Add(w.q.now))
	if !ok {
		if !retry.IsZero() {
			nd.attemptPending = true
			w.q.at(retry.Sub(epochTime), func() { w.attempt(nd, ep) })
		}
		return f, "", nil, nil, false
	}
	ml := int(f.Payload[1])<<8 | int(f.Payload[2])
	kind = w.kindNames[f.Payload[0]]
	msg, pkt = f.Payload[frameHeader:frameHeader+ml], f.Payload[frameHeader+ml:]
	return f, kind, msg, pkt, true
}

// frameHeader is what enqueue puts in front of the message and the packet
// in an airtime.Frame: the kind index and the message length (16 bits).
const frameHeader = 3

func (w *world) startFrame(nd *simNode, frames [][]byte, i int, ep int, msg []byte) {
	data := frames[i]
	f := w.beginFrame(nd, data, hal.Airtime(w.params, len(data)), nil)
	w.q.at(f.end, func() {
		w.endFrame(f)
		if nd.epoch != ep {
			return
		}
		if i+1 < len(frames) {
			w.startFrame(nd, frames, i+1, ep, msg)
			return
		}
		nd.sending = false
		if msg != nil {
			nd.eng.sent(msg, w.q.now)
			w.pump(nd)
		}
		w.kick(nd)
	})
}

func (w *world) collide(rs *rxState) {
	if rs.ok {
		rs.ok = false
		rs.collided = true
		w.collisions++
	}
}

func (w *world) lossFor(a, b int) *rand.Rand {
	k := a*len(w.nodes) + b
	r := w.lossRand[k]
	if r == nil {
		r = stream(w.seed, "loss", a, b)
		w.lossRand[k] = r
	}
	return r
}

func (w *world) endFrame(f *frame) {
	if i := slices.Index(w.active, f); i >= 0 {
		w.active = slices.Delete(w.active, i, i+1)
	}
	for _, rs := range f.rx {
		rn := w.nodes[rs.to]
		if rn.isSX {
			w.endChipFrame(f, rs)
			continue
		}
		if !rs.ok || !rn.up || rn.epoch != rs.epoch {
			continue
		}
		if l := w.link[f.from][rs.to].loss; l > 0 && w.lossFor(f.from, rs.to).Float64() < l {
			rn.rxLost++
			continue
		}
		pkt, err := rn.reasm.Push(f.data, epochTime.Add(w.q.now))
		if err != nil || pkt == nil {
			continue
		}
		payload, err := rn.wire.Unwrap(pkt)
		if err != nil {
			rn.rxBad++
			continue
		}
		rn.rxPackets++
		rn.eng.receive(payload, w.q.now)
		w.pump(rn)
	}
}

// endChipFrame ends frame f at an sx127x receiver: the medium's verdict
// (capture, partition, per-link loss) becomes the Link of CarrierEnd, and
// the chip and driver do the rest (CRC error, FIFO, RxDone, reassembly).
func (w *world) endChipFrame(f *frame, rs rxState) {
	rn := w.nodes[rs.to]
	x := rn.radio
	if x == nil || x.dead || !rn.up || rn.epoch != rs.epoch {
		return
	}
	survived := rs.ok
	if survived {
		if l := w.link[f.from][rs.to].loss; l > 0 && w.lossFor(f.from, rs.to).Float64() < l {
			rn.rxLost++
			survived = false
		}
	}
	x.chip.CarrierEnd(w.chipFrame(f), sx127xtest.Link{Corrupt: !survived})
	x.poke()
}

// ---- crashes ----

func (w *world) down(nd *simNode) {
	if !nd.up {
		return
	}
	nd.up = false
	nd.downs = append(nd.downs, [2]time.Duration{w.q.now, -1})
	nd.epoch++
	for _, r := range nd.pending {
		w.hold(r, -1)
	}
	nd.count -= len(nd.pending)
	nd.pending, nd.inFlight = nil, false
	nd.sched = airtime.NewScheduler(nd.sched.Budget(), maxQueue) // the queue is lost, the budget is not
	nd.sending, nd.attemptPending, nd.tickArmed = false, false, false
	nd.reasm.Reset()
	if nd.radio != nil {
		nd.radio.kill() // power loss: the radio's state is gone
	}
	nd.eng = nil
	nd.lastChange = w.q.now
	w.checkConvergence()
}

func (w *world) upNode(nd *simNode) {
	if nd.up {
		return
	}
	eng, err := w.proto.start(w.env(nd))
	if err != nil {
		w.errs = append(w.errs, fmt.Sprintf("%v %s: restart: %v", fmtDur(w.q.now), nd.name, err))
		return
	}
	nd.up = true
	nd.downs[len(nd.downs)-1][1] = w.q.now
	nd.eng = eng
	nd.lastChange = w.q.now
	if nd.isSX {
		if err := w.startRadio(nd); err != nil {
			w.errs = append(w.errs, fmt.Sprintf("%v %s: sx127x radio: %v", fmtDur(w.q.now), nd.name, err))
		}
	}
	w.pump(nd)
}

// ---- convergence ----

func (w *world) converged() bool {
	for _, nd := range w.nodes {
		if !nd.up || nd.count != w.distinct || nd.inFlight {
			return false
		}
	}
	d0 := w.nodes[0].eng.digest()
	for _, nd := range w.nodes[1:] {
		if nd.eng.digest() != d0 {
			return false
		}
	}
	return true
}

func (w *world) checkConvergence() {
	c := w.converged()
	if c && !w.convNow {
		w.convNow, w.convSince = true, w.q.now
	} else if !c && w.convNow {
		w.convNow = false
	}
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Truncate(time.Millisecond).String()
}

// sortedNames returns node names in scenario order (for stable output).
func (w *world) sortedNames() []string {
	out := make([]string, len(w.nodes))
	for i, nd := range w.nodes {
		out[i] = nd.name
	}
	sort.Strings(out)
	return out
}
