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
// Nodes with "radio": "sx127x" are refused for now: the emulated chip
// (sx127x/sx127xtest) exists, but driving the real driver against it on
// virtual time is not wired yet.
package sim
