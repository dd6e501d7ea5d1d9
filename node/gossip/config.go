package gossip

import (
	"errors"
	"fmt"

	"github.com/meshlogd/meshlogd/node/rns"
)

// Default configuration values. Times are milliseconds.
const (
	// DefaultPayloadLimit is what fits one LoRa frame inside a Reticulum
	// GROUP packet: 254-byte frame payload after the RNode header byte,
	// minus the 19-byte header and the 48-byte token overhead, minus PKCS7
	// padding to a 16-byte block.
	DefaultPayloadLimit = 175
	// LinkPayloadLimit is the Reticulum link MDU: the payload limit for
	// messages addressed to a peer over a link.
	LinkPayloadLimit = 431
	// DefaultTrickleIminMs is the shortest beacon interval. While data
	// flows, nodes keep hurrying or resetting to Imin, so it sets the
	// beacon rate of a busy mesh: 30 s keeps that at a few percent of the
	// airtime (8 s took 15 % in the field-50 scenario) and still notices
	// a neighbour that comes into range within half a minute.
	DefaultTrickleIminMs = 30_000
	// DefaultTrickleDoublings gives Imax = Imin·2^7 = 64 min.
	DefaultTrickleDoublings = 7
	// DefaultTrickleK is the Trickle redundancy constant.
	DefaultTrickleK = 1
	// DefaultHoldBackMs bounds the random delay before answering a
	// frontier, a want or a beacon mismatch (duplicate suppression window).
	DefaultHoldBackMs = 1_500
	// DefaultTxSpacingMs is the least time between two data messages
	// (frontier, slice, want) on the broadcast channel; it is stretched
	// further while the channel is busy (see Pacing in the package
	// documentation).
	DefaultTxSpacingMs = 2_000
	// DefaultPeerTxSpacingMs is the least time between two data messages
	// to one link peer.
	DefaultPeerTxSpacingMs = 1_000
	// DefaultQuietMs: while slices are being heard on a channel, a node
	// postpones its frontier until the channel was quiet this long (at
	// least 4·TxSpacingMs).
	DefaultQuietMs = 4_000
	// DefaultFrontierGapMs is the least time between two frontiers a node
	// sends on one channel.
	DefaultFrontierGapMs = 10_000
	// DefaultFrontierRepeatMs: a beacon mismatch does not make a node
	// repeat an unchanged frontier on a channel within this time (a
	// frontier that shows the node lacks something still does).
	DefaultFrontierRepeatMs = 60_000
	// DefaultResendGuardMs: a range sent on a channel is not sent there
	// again in answer to a frontier within this time (at least
	// 8·TxSpacingMs): the frontier may predate the slice's arrival.
	// Explicit wants are always served.
	DefaultResendGuardMs = 8_000
	// DefaultWantAfterMs is how long a known gap must persist before the
	// first want; later wants back off exponentially.
	DefaultWantAfterMs = 12_000
	// DefaultAppendDelayMs batches local appends before pushing them.
	DefaultAppendDelayMs = 1_000
	// DefaultRelayWindowMs bounds the random delay before a node relays,
	// on the broadcast channel, events that are new to it.
	DefaultRelayWindowMs = 8_000
	// DefaultSigSpanBytes is how many bytes of unsigned run a sender
	// lets go on air before it includes a signature again (a receiver
	// holds that much pending in its gap buffer).
	DefaultSigSpanBytes = 2048
	// DefaultAwaitSentTimeoutMs: with Config.AwaitSent, a data message
	// not confirmed by Sent within this time is taken as sent.
	DefaultAwaitSentTimeoutMs = 600_000
	// DefaultStashBytes bounds the runs a node keeps while an earlier
	// chunk of the same transfer is missing (lost on air): with them, only
	// the lost chunk needs to be sent again.
	DefaultStashBytes = 4096
	// DefaultMaxPeers bounds per-peer (link) channels.
	DefaultMaxPeers = 8
	// DefaultMaxClaims bounds remembered "a neighbour has more of author
	// X" claims that drive wants.
	DefaultMaxClaims = 64
	// DefaultMaxWantAttempts: a claim that gets no progress after this
	// many wants is forgotten (a lying or departed neighbour).
	DefaultMaxWantAttempts = 6
)

// Config configures an Engine. Zero fields take the defaults above, except
// Rand, which is required. A Config is validated once by New; nothing
// changes behaviour afterwards.
type Config struct {
	// Identity is the local author. Nil makes a relay: it syncs and
	// relays every member's events but cannot Append.
	Identity *rns.Identity
	// PayloadLimit bounds every broadcast message (bytes of sync payload
	// handed to the Reticulum layer). Default DefaultPayloadLimit.
	PayloadLimit int
	// PeerPayloadLimit bounds messages addressed to a peer (a link).
	// Default LinkPayloadLimit.
	PeerPayloadLimit int
	// Rand returns uniformly random 64-bit values: Trickle fire times and
	// hold-back delays. Pass a seeded generator for reproducible runs.
	Rand func() uint64
	// TrickleIminMs, TrickleDoublings and TrickleK parameterise the beacon
	// timer (RFC 6206 Imin, Imax = Imin·2^doublings, k). TrickleK < 0
	// disables suppression.
	TrickleIminMs    int64
	TrickleDoublings int
	TrickleK         int
	// TxSpacingMs is the least time between two data messages on the
	// broadcast channel, stretched while the channel is busy. A runtime
	// whose duty-cycle budget allows fewer messages should set it to the
	// interval it can sustain for full-size messages, so that the engine's
	// suppression windows match what is on air.
	TxSpacingMs int64
	// PeerTxSpacingMs is the least time between two data messages to one
	// link peer (default DefaultPeerTxSpacingMs).
	PeerTxSpacingMs int64
	// HoldBackMs, QuietMs, FrontierGapMs, FrontierRepeatMs, ResendGuardMs,
	// WantAfterMs and AppendDelayMs: see the Default… constants.
	HoldBackMs       int64
	QuietMs          int64
	FrontierGapMs    int64
	FrontierRepeatMs int64
	ResendGuardMs    int64
	WantAfterMs      int64
	AppendDelayMs    int64
	// RelayWindowMs: events new to this node (someone else's) are pushed
	// on the broadcast channel after a random delay in [0, RelayWindowMs),
	// unless a neighbour is heard sending them first (counter-based
	// flooding). Negative disables eager relaying: relayed data then moves
	// only by beacon → frontier → slice, which costs less airtime where
	// every node hears every other and more in a multi-hop mesh.
	RelayWindowMs int64
	// AwaitSent makes the engine wait, per channel, until the runtime
	// confirms with Engine.Sent that its previous data message went on air
	// before it emits the next one (at most AwaitSentTimeoutMs, default
	// DefaultAwaitSentTimeoutMs). Use it when a duty-cycle scheduler may
	// hold messages back for long: suppression then works on what is
	// really on air and the runtime's queue never fills with stale slices.
	AwaitSent          bool
	AwaitSentTimeoutMs int64
	// SigSpanBytes: see DefaultSigSpanBytes.
	SigSpanBytes int
	// StashBytes: see DefaultStashBytes.
	StashBytes int
	// MaxPeers, MaxClaims, MaxWantAttempts bound per-peer state.
	MaxPeers        int
	MaxClaims       int
	MaxWantAttempts int
	// MaxClockDriftMs bounds how far ahead of local physical time a
	// received HLC may be and still advance the local clock. Default
	// hlc.DefaultMaxDrift.
	MaxClockDriftMs int64
}

// ErrConfig is returned by New for an invalid Config.
var ErrConfig = errors.New("gossip: invalid config")

func (c *Config) withDefaults() (Config, error) {
	out := *c
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defInt(&out.PayloadLimit, DefaultPayloadLimit)
	defInt(&out.PeerPayloadLimit, LinkPayloadLimit)
	def(&out.TrickleIminMs, DefaultTrickleIminMs)
	defInt(&out.TrickleDoublings, DefaultTrickleDoublings)
	defInt(&out.TrickleK, DefaultTrickleK)
	def(&out.HoldBackMs, DefaultHoldBackMs)
	def(&out.TxSpacingMs, DefaultTxSpacingMs)
	def(&out.PeerTxSpacingMs, DefaultPeerTxSpacingMs)
	def(&out.QuietMs, DefaultQuietMs)
	def(&out.FrontierGapMs, DefaultFrontierGapMs)
	def(&out.ResendGuardMs, DefaultResendGuardMs)
	def(&out.FrontierRepeatMs, DefaultFrontierRepeatMs)
	def(&out.AwaitSentTimeoutMs, DefaultAwaitSentTimeoutMs)
	def(&out.WantAfterMs, DefaultWantAfterMs)
	def(&out.AppendDelayMs, DefaultAppendDelayMs)
	def(&out.RelayWindowMs, DefaultRelayWindowMs)
	defInt(&out.SigSpanBytes, DefaultSigSpanBytes)
	defInt(&out.StashBytes, DefaultStashBytes)
	defInt(&out.MaxPeers, DefaultMaxPeers)
	defInt(&out.MaxClaims, DefaultMaxClaims)
	defInt(&out.MaxWantAttempts, DefaultMaxWantAttempts)
	def(&out.MaxClockDriftMs, defaultMaxDrift)
	out.QuietMs = max(out.QuietMs, 4*out.TxSpacingMs)
	out.ResendGuardMs = max(out.ResendGuardMs, 8*out.TxSpacingMs)
	if out.TrickleK < 0 {
		out.TrickleK = 0
	}
	switch {
	case out.Rand == nil:
		return out, fmt.Errorf("%w: Rand is required", ErrConfig)
	case out.PayloadLimit < MinPayloadLimit || out.PayloadLimit > MaxPayloadLimit:
		return out, fmt.Errorf("%w: PayloadLimit %d outside [%d, %d]", ErrConfig, out.PayloadLimit, MinPayloadLimit, MaxPayloadLimit)
	case out.PeerPayloadLimit < MinPayloadLimit || out.PeerPayloadLimit > MaxPayloadLimit:
		return out, fmt.Errorf("%w: PeerPayloadLimit %d outside [%d, %d]", ErrConfig, out.PeerPayloadLimit, MinPayloadLimit, MaxPayloadLimit)
	case out.TrickleDoublings < 0 || out.TrickleDoublings > 20:
		return out, fmt.Errorf("%w: TrickleDoublings %d outside [0, 20]", ErrConfig, out.TrickleDoublings)
	case out.TrickleIminMs < 0 || out.HoldBackMs < 0 || out.TxSpacingMs < 0 || out.PeerTxSpacingMs < 0 || out.QuietMs < 0 ||
		out.FrontierGapMs < 0 || out.FrontierRepeatMs < 0 || out.AwaitSentTimeoutMs < 0 || out.ResendGuardMs < 0 || out.WantAfterMs < 0 || out.AppendDelayMs < 0:
		return out, fmt.Errorf("%w: negative duration", ErrConfig)
	case out.SigSpanBytes < 0 || out.StashBytes < 0 || out.MaxPeers < 0 || out.MaxClaims < 0 || out.MaxWantAttempts < 0:
		return out, fmt.Errorf("%w: negative bound", ErrConfig)
	}
	return out, nil
}
