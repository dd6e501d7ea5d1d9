// Package sim runs a whole meshlogd mesh on virtual time, reproducibly from a
// seed, with the real code: every simulated node runs node/gossip's Engine
// over a node/feed Log and its node/view View, wraps each sync message in a
// Reticulum GROUP packet with node/groupwire (the node runtime's own code:
// a node/rns GROUP destination and packet, the dataset's group key), queues it in a node/airtime Scheduler under the
// node's duty-cycle budget, and puts it on air with the RNode on-air framing
// of hal (EncodeFrames; packets above 254 bytes go out as two frames, and
// receivers reassemble them with hal.Reassembler). Airtime is hal.Airtime.
//
// # Time and randomness
//
// A min-heap of (time, insertion sequence, action) is the only clock:
// virtual time moves by popping it, nothing sleeps or reads the wall clock,
// and actions due at the same instant run in the order they were scheduled.
// Every random draw comes from a PRNG derived from the scenario seed by
// hashing (seed, concern, indices): node identities, the group key, the
// workload, each node's backoff/IVs/header nibbles, each engine's Rand, and
// each directed link's loss draws have their own stream, so adding a node or
// a concern does not reshuffle the others. The same scenario and seed give
// byte-identical text, JSON and SVG reports (wall time is printed by the CLI
// on stderr only).
//
// # The medium
//
// Nodes hear each other when they are within range_km (or when an explicit
// link joins them) and are in the same partition group. Each frame is on air
// for hal.Airtime of its length. Radios are half duplex: a node that starts
// transmitting loses every frame it was receiving, and a node that is
// transmitting receives nothing. Channel access imitates the RNode firmware:
// a random backoff of DIFS plus 0..14 slots (hal.CSMATiming) before each
// attempt, and carrier sense that defers while a frame the node can hear is
// on air. A frame becomes detectable only 2 symbols after it started, so
// nodes that decide within that window (or hidden terminals that cannot hear
// each other at all) transmit together and collide.
//
// Collisions use a log-distance path-loss model with a free-space reference
// at 1 m:
//
//	Pr(d) = Ptx − 20·log10(4π·f/c) − 10·n·log10(d / 1 m),  n = 2.7
//
// When frames overlap at a receiver, each survives only if it arrives at
// least 6 dB stronger than every other frame overlapping it there (capture);
// otherwise it is lost and counted as a collision. Explicit links between
// nodes without positions are taken as 1 km long, so overlapping frames on
// them always collide. A frame that survives is then dropped with its link's
// loss probability (drawn per frame and receiver).
//
// # Duty cycle
//
// Each node's node/airtime Scheduler releases a packet only when the
// airtime of every sliding window (duty_window, 1 h by default) that would
// contain it stays within duty_cycle; data waits (slices and wants first,
// then frontiers, then beacons, which may use half the budget and go stale
// after 30 s). The medium independently records each node's airtime and
// reports the largest share any window reached (max_duty_cycle); tests
// assert it never exceeds the budget.
//
// # Durability and crashes
//
// A node runtime handles each engine Ready like the real one: the events
// to persist become durable after persist_delay, and only then are the
// batch's messages queued and Advance called. A node going down loses its
// transmit queue, its radio state and every event not yet durable; coming
// up, it rebuilds its Log from the durable events (feed.Log.Restore) and
// starts a fresh engine. Its airtime budget survives the restart.
//
// # Convergence and reports
//
// The mesh has converged when every node is up, holds every event that
// exists anywhere (durable or not), and all views have the same digest;
// converged_at_s is the moment it last became so (it stays converged to
// the end). Report holds the JSON figures (Figures), and Detail the rest of
// the text report: phases, per-node statistics, per-message-kind costs and
// the last-writer-wins outcome of fields the script wrote from several
// nodes. WriteSVG draws the timeline.
//
// # The baseline
//
// Options.Baseline also runs the prototype's protocol on the same medium:
// JSON events (hex ids, prev and signatures), every node sending its full
// frontier to every neighbour it heard recently every 2 minutes, addressed
// to it, and pushing every event a peer lacks to that peer. Its messages
// ride the same GROUP packets and RNode frames (fragmented when a JSON
// message exceeds a packet) under the same duty-cycle budget.
//
// # SX127x nodes
//
// A node with "radio": "sx127x" keeps the same node runtime (engine,
// persist before send, node/airtime scheduler and budget) but puts its
// packets on air through the real sx127x driver (sx127x.Dev: carrier
// sense and backoff, RNode split framing, DIO0 servicing, reassembly)
// running against an emulated chip (sx127xtest.Chip: registers, FIFO,
// IRQ flags, DIO0 edges), on virtual time. The driver's goroutine blocks
// in DIO0's WaitForEdge and in Opts.Sleep; the simulator runs it as a
// coroutine: it resumes the goroutine (wake channel) and waits until it
// parks again (event channel), so exactly one goroutine runs at a time
// and the run is as deterministic as with "sim" radios, whatever
// GOMAXPROCS. A parked goroutine is resumed at its deadline (an event in
// the heap; stale ones are ignored by a generation counter) or, when it
// waits in WaitForEdge, as soon as the chip has queued an edge on DIO0
// (after a carrier start or end, or a chip timer such as TxDone). The
// chip's Clock is the simulator's: its timers are heap events.
// sx127x.New, whose reset pulse sleeps, runs on its own goroutine under
// the same protocol, so a radio is ready 20 ms of virtual time after
// power-on. The driver gets the simulator's clock, a PRNG derived from
// the seed, and its default PollInterval (25 ms) and SensePeriod (5 ms);
// no Region (the scenario's duty cycle is enforced by node/airtime).
//
// The medium stays the single judge of who hears what: each frame the
// chip starts (ChipOpts.Transmit) becomes a medium frame like any other
// (airtime accounting, duty tracker, collisions it causes at others); an
// sx127x receiver gets CarrierStart once the preamble is detectable
// (2 symbols, as for carrier sense of "sim" radios) and CarrierEnd with
// Corrupt set when the medium's capture model, a partition or the link's
// loss draw says the frame is lost (ChipOpts.ExternalVerdict: the chip
// does not judge overlaps itself), so such frames reach the driver as
// CRC errors. Half duplex is the chip's business: in TX it does not
// listen. The runtime hands the scheduler's next packet to the driver
// with Dev.Submit (non-blocking) instead of doing its own backoff, and
// after each handoff collects Dev.TryReceive packets and the Submit
// result. Because the driver transmits some time after the scheduler
// released a packet (its poll interval and channel access), the budget
// also records the part of the real transmission its release-time record
// does not cover, so no sliding window of real transmissions exceeds the
// duty cycle. A node going down loses power: its driver goroutine exits
// where it is parked (runtime.Goexit; Close is not called, as in a
// crash) and the chip is dropped; coming up builds a new chip and driver.
// The text report lists, per sx127x node, the driver's packet and frame
// counters, CRC errors, the chip's SPI transactions and the handoffs.
//
// Each idle sx127x node costs 40 handoffs per virtual second (the 25 ms
// poll), about 1 µs each; see BenchmarkSX127xNodes.
package sim
