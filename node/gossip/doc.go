// Package gossip is meshlogd's anti-entropy sync engine: a pure state
// machine that keeps every copy of one dataset converging over a lossy,
// slow broadcast radio (LoRa) and over Reticulum links.
//
// # Shape
//
// Engine is built in the style of etcd's raft RawNode. It does no I/O,
// starts no goroutines, reads no clock and draws no randomness of its own:
// time (milliseconds on any monotonic scale) is an argument of every call
// and randomness comes from Config.Rand. The same inputs give the same
// outputs, byte for byte. The runtime restores its stored events into a
// feed.Log (feed.Log.Restore), then builds the engine with
// New(cfg, log, now). Inputs:
//
//	e.Step(from, payload, now)  // a received sync message; from = Broadcast (zero PeerID) or a link peer
//	e.Append(kind, body, now)   // a local write by Config.Identity
//	e.Tick(now)                 // time passed; call it at e.NextDeadline() (earlier is harmless)
//
// Outputs are collected into a Ready:
//
//	for e.HasReady() {
//		rd := e.Ready()
//		persist(rd.Persist)     // durable (fsync) BEFORE anything else
//		send(rd.Messages)       // each ≤ its channel's payload limit; To = Broadcast or a peer
//		show(rd.ViewChanges, rd.Reports)
//		e.Advance(rd)           // confirms rd.Persist is durable
//	}
//
// Ordering contract: only events confirmed durable by Advance are counted
// in beacons and frontier hashes and carried in slices, so a node never
// advertises or relays what a power cut could take back. (A frontier entry
// may report more while a gap is being repaired — see Losses — which only
// stops others from pushing that author again; it never makes anyone
// rely on this node for events it does not durably hold.) (New treats the
// events already in the log it is given as durable: they were restored
// from storage.) Events are folded into the view as soon as they are
// accepted. Engine is not safe for concurrent use.
//
// The engine owns a feed.Log (verification, chains, membership, gap
// buffer, forks — package node/feed) and a view.View (the fold, package
// node/view). It never logs; what the runtime should log comes back as
// Reports: forks, rejected events with the reason (bad signature, broken
// chain, non-member, …), undecodable runs, clock drift, unsendable events.
// Malformed sync messages make Step return a *DecodeError (errors.Is with
// ErrTruncated, ErrTooLarge, ErrUnknownKind, ErrMalformed,
// ErrNonCanonical, ErrTrailing) or ErrOtherDataset; nothing else happens.
//
// # Protocol
//
// Frontier: {author: highest contiguous seq}. Each node runs an RFC 6206
// Trickle timer per channel (the broadcast channel and each link peer) and
// beacons its digest: a 64-bit hash of its durable frontier and its event
// count. A beacon equal to ours counts towards Trickle suppression (at most
// k per interval go on air); a different one resets the interval to Imin
// and makes the node schedule its frontier after a random hold-back. When
// a node's own durable state changes it "hurries" its timer instead: one
// Imin interval (a beacon soon, so that neighbours that missed the change
// notice), then back to the interval it was in — neighbours that heard the
// same broadcast agree and stay quiet, those that did not show the
// inconsistency that resets the timers. A
// node that hears a frontier pushes, as slices, what the frontier's owner
// lacks; if the frontier shows something the listener lacks, the listener
// sends its own frontier too, otherwise it cancels its pending one (the
// slices are the answer). Everything is broadcast by default: one slice
// serves every neighbour, and a node that hears a neighbour send a slice of
// the same author and an overlapping range drops that range from its own
// queue. Slices are paced (Config.TxSpacingMs per channel) and the first
// one waits a random hold-back, so suppression has time to work. Frontiers
// are not sent while slices are being heard on the channel (QuietMs), nor
// more often than FrontierGapMs, and a beacon mismatch does not repeat an
// unchanged frontier within FrontierRepeatMs; a node that heard a
// complete frontier showing it lacks nothing answers that state's beacons
// with slices only. A range already sent on a channel is not sent again in
// answer to a frontier within ResendGuardMs (the frontier may predate the
// slice's arrival).
//
// Amortised signing: every event a node authors is stored signed, but a
// slice carries a signature only where a verifier needs one — at the end of
// what was asked for, and after SigSpanBytes of unsigned run so that a
// receiver's gap buffer never holds much unverified data. A long transfer
// is cut into chunks that each fit the payload limit; a receiver decodes
// chunk k+1 against the last event of chunk k even while that one is still
// pending (the engine remembers, per author, the tail of the last decoded
// run). Unsigned events wait in the log's gap buffer (bounded in bytes)
// until a signed successor verifies the chain. Nothing unverified is ever
// stored, relayed or folded.
//
// Losses: a chunk whose predecessor is missing (an earlier chunk was lost)
// cannot be decoded yet; it is kept in a small stash (StashBytes) and
// decoded as soon as the gap is filled, so only lost chunks need to be
// sent again. Hearing a frontier or a slice that shows more of an author
// than a node holds records a claim. When data of that author stops
// flowing (2·QuietMs after the last slice; WantAfterMs if none came) and
// the gap persists, the node broadcasts want(author, from, to) ranges for
// the spans it lacks (up to 4 per author in one message). A hole followed
// by data the node holds is marked "bare": the server sends exactly that
// span without a signature, because the held data brings it; otherwise a
// server extends the range to an event it holds a signature for. Anyone holding the range serves it. Wants back off
// exponentially, fall back to asking for everything above the frontier
// after two tries, and a claim is forgotten after MaxWantAttempts
// unanswered wants. A want heard from another node for the same range
// holds back one's own. While a node is repairing such a gap its frontier
// reports the claimed tip for that author (its reach), so that nobody
// pushes the whole transfer again; beacon and frontier hashes always
// cover the durable frontier only.
//
// Relaying: a node serves every member's durable events, not only its own,
// so data crosses the mesh by store and forward without routing. Its own
// fresh events are pushed eagerly (batched over AppendDelayMs) as push
// messages. A node to which the events of a push are new relays them, as a
// push, on the broadcast channel after a random delay in
// [0, RelayWindowMs) (an author's events waiting together share one relay
// time and go out together), unless it hears a neighbour send them first:
// counter-based flooding, which carries fresh data across a multi-hop mesh
// without waiting for beacons. Events new to a node that arrive in a plain
// slice (an answer to a frontier or a want) are relayed the same way,
// unless the node asked on that channel within the last two minutes (sent
// a frontier or wants, or heard a frontier equal to its own state, which
// asks for it too): then the answer is its own, and the neighbours that
// needed it asked as well and hear it; while such an answer keeps bringing
// new events it stays the node's own. Everything else moves by the beacon
// → frontier → slice exchange.
//
// Pacing: the pause after each of a channel's data messages is its spacing
// s (TxSpacingMs, PeerTxSpacingMs for links) stretched by the load heard
// on it: s·(1 + n·s/30 s) for n data messages heard from others over the
// last 30 s, at most 16·s. In a dense mesh every node otherwise sends at
// full pace and the channel saturates: hidden terminals collide,
// suppression fails because what should suppress is lost, and the repairs
// load the channel further.
//
// Links: a message from a non-zero PeerID opens a channel to that peer
// (at most MaxPeers, least recently heard dropped first; AddPeer and
// RemovePeer manage them explicitly). Each channel has its own Trickle
// timer, queues and payload limit (PeerPayloadLimit, default 431: the
// Reticulum link MDU); answers go back to the channel the question came
// from.
//
// Bounded memory: the log's gap buffer is bounded in bytes, the stash by
// StashBytes; per-channel send queues are sets of at most 16 intervals per
// author, keyed only by authors the node holds events of; claims, run tails
// and pending-range notes are capped by MaxClaims; peers by MaxPeers;
// Reports by 256 per Ready (forks excepted); decoders never allocate more
// than the input length justifies.
//
// Back-pressure: with Config.AwaitSent the engine keeps at most one data
// message per channel in the runtime's transmit queue and waits for
// Engine.Sent (the message went on air) before emitting the next one, so
// that what it hears can still suppress what it has not sent yet.
//
// # Wire format (protocol version 1)
//
// Every message starts with a 5-byte header: the kind byte (high nibble =
// protocol version 1, low nibble = kind) and the 4-byte dataset tag (the
// first 4 bytes of the dataset id, i.e. of the genesis event id). A
// message with another tag is ignored (ErrOtherDataset). The body is a
// sequence of MessagePack values (positional, no enclosing array) in their
// shortest encoding; a decoder re-encodes and rejects anything else
// (ErrNonCanonical) and rejects trailing bytes.
//
//	0x11 beacon    hash uint64, count uint
//	0x12 frontier  hash uint64, flags uint (bit 0 first, bit 1 last),
//	               entries array of [author bin16, seq uint ≥ 1]
//	0x13 slice     run: the rest of the payload, a feed run (feed.EncodeRun)
//	0x14 want      ranges array (≥ 1) of [author bin16, from uint ≥ 1, to uint ≥ from]
//	               or [author, from, to, flags uint = 1] (bit 0: bare, see Losses)
//	0x15 push      run: as slice; fresh events being flooded (see Relaying)
//
// The hash is FrontierHash: the first 8 bytes, big-endian, of SHA-256 over
// "meshlogd/gossip/v1/frontier\x00" followed, for each author with seq > 0
// in increasing byte order of author id, by the 16-byte author and the seq
// as 8 bytes big-endian. count is the sum of the frontier's seqs.
//
// A frontier chunk lists entries in strictly increasing author order and
// covers the closed author interval from its first to its last entry,
// extended down to the smallest id if "first" is set and up to the largest
// if "last" is set; an author inside the covered interval that is absent
// had seq 0 at the sender. Consecutive chunks overlap by one entry, so the
// union of the intervals has no hole. An empty frontier is one chunk with
// both flags and no entries. An entry's seq is the sender's reach for that
// author (see Losses), normally its durable seq.
//
// The feed run inside a slice (defined by package node/feed) is: flags (1
// byte: author prefix length L in bits 0-4, prev-present in bit 5), the
// first L bytes of the author id, the first seq and the event count as
// LEB128 varints, then per event a head byte (kind | 0x80 when a 64-byte
// signature follows the body), the HLC (absolute for the first event,
// delta from the previous one after that) and the body length as varints,
// the body, and the optional signature.
//
// Example (from the tests): beacon 11 deadbeef cf0123456789abcdef cd012c =
// tag de ad be ef, hash 0x0123456789abcdef, count 300 (17 bytes).
//
// # Sizes and constants
//
// DefaultPayloadLimit = 175 bytes: a GROUP packet's plaintext that fits one
// 255-byte LoRa frame (RNode header byte, 19-byte Reticulum header, 48-byte
// token overhead, PKCS7 padding). A beacon is 15-17 bytes; a frontier chunk
// holds 7-8 authors at 175 bytes (18-20 at 431); a slice of typical field-set
// events (20-byte values) carries 3 events at 175 bytes and 9 at 431.
// Defaults: Trickle Imin 30 s, Imax = Imin·2^7 = 64 min, k = 1; hold-back
// 1.5 s; TxSpacing 2 s (links 1 s), stretched by load; Quiet 8 s
// (≥ 4·TxSpacing); FrontierGap 10 s; FrontierRepeat 60 s; ResendGuard 16 s
// (≥ 8·TxSpacing); WantAfter 12 s; AppendDelay 1 s; RelayWindow 8 s;
// SigSpanBytes 2048; StashBytes 4096; MaxPeers 8;
// MaxClaims 64; AwaitSent off (timeout 10 min);
// MaxWantAttempts 6; at most 256 Reports per Ready (forks are never
// dropped). The engine does not budget airtime: the runtime's duty-cycle
// scheduler may delay messages. A runtime that can only sustain one
// full-size message every few seconds should say so in TxSpacingMs, so
// that the suppression windows (which scale with it) match what is really
// on air.
//
// Measured (go test -run '^$' -bench . -benchtime 1x ./node/gossip):
// reconciling two nodes that differ by N ≥ 50 events costs 1.14-1.19× the
// bytes of those events in their most compact encoding at 175-byte
// payloads (1.06-1.11× at 431), 1.46× with 10 % loss; one node ahead of
// four neighbours costs the same as ahead of one without loss (one
// broadcast serves all), 1.84× with 10 % independent loss per reception; a
// converged neighbourhood sends 0.92-0.96 beacons per hour in total. In
// the simulator's 50-node scenario (package sim) relaying and pacing cut
// the bytes on air from 130 to about 40 times the event bytes. The README
// section "Data model and sync" has the tables.
//
// References: RFC 6206 (Trickle); etcd raft's RawNode (Ready/Advance);
// DESIGN.md §3 and §5.
package gossip
