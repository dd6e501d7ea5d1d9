package hal

import (
	"errors"
	"fmt"
	"time"
)

// RNode on-air framing constants (RNode_Firmware Config.h, Framing.h).
const (
	// MaxFrameLen is the largest LoRa frame: 255 bytes including the
	// header byte.
	MaxFrameLen = 255
	// HeaderLen is the size of the RNode header byte in front of each frame.
	HeaderLen = 1
	// MaxFramePayload is the packet bytes one frame carries (254).
	MaxFramePayload = MaxFrameLen - HeaderLen
	// MaxPacketLen is the largest packet meshlogd sends: two frames
	// (254 + 253 bytes). The firmware accepts 508 but then emits a third,
	// header-only frame, which meshlogd never does.
	MaxPacketLen = 2*MaxFramePayload - 1
	// MaxReceivedLen is the largest packet a receiver can reassemble from
	// two full frames (an RNode's 508-byte packet).
	MaxReceivedLen = 2 * MaxFramePayload
	// SeqMask selects the random sequence nibble of a header byte.
	SeqMask byte = 0xf0
	// FlagSplit marks a frame that belongs to a two-frame packet.
	FlagSplit byte = 0x01
)

// Header returns the RNode header byte for sequence nibble seq (only its
// high four bits are used, as random(256) & 0xf0 in the firmware) and the
// split flag. Bits 3..1 are zero.
func Header(seq byte, split bool) byte {
	h := seq & SeqMask
	if split {
		h |= FlagSplit
	}
	return h
}

// Errors of the on-air framing.
var (
	// ErrPacketSize reports a packet outside 1..MaxPacketLen bytes.
	ErrPacketSize = errors.New("hal: packet size outside 1..507 bytes")
	// ErrEmptyFrame reports a received LoRa frame that carries no packet
	// bytes: zero bytes, or an unsplit frame holding only the header byte.
	ErrEmptyFrame = errors.New("hal: empty LoRa frame")
	// ErrFrameTooLong reports a received frame longer than MaxFrameLen.
	ErrFrameTooLong = errors.New("hal: LoRa frame longer than 255 bytes")
	// ErrLoneSecondHalf reports a split frame that cannot be the first half
	// of a packet (shorter than a full frame) while no first half waits:
	// its first half was lost. Also the firmware's header-only third frame.
	ErrLoneSecondHalf = errors.New("hal: second half of a split packet without its first half")
)

// EncodeFrames splits pkt into the LoRa frames an RNode puts on air for it,
// using the sequence nibble seq&0xf0 (RNode_Firmware.ino transmit):
// 1..254 bytes go in one frame header|pkt; 255..507 bytes go in two frames
// that both carry the split flag, the first holding pkt[:254] (255 bytes),
// the second pkt[254:]. The frames are freshly allocated.
func EncodeFrames(seq byte, pkt []byte) ([][]byte, error) {
	n := len(pkt)
	if n < 1 || n > MaxPacketLen {
		return nil, fmt.Errorf("%w: %d", ErrPacketSize, n)
	}
	if n <= MaxFramePayload {
		f := make([]byte, 0, n+HeaderLen)
		f = append(f, Header(seq, false))
		return [][]byte{append(f, pkt...)}, nil
	}
	h := Header(seq, true)
	buf := make([]byte, 0, n+2*HeaderLen)
	buf = append(buf, h)
	buf = append(buf, pkt[:MaxFramePayload]...)
	buf = append(buf, h)
	buf = append(buf, pkt[MaxFramePayload:]...)
	return [][]byte{buf[:MaxFrameLen:MaxFrameLen], buf[MaxFrameLen:]}, nil
}

// FrameCount returns how many frames EncodeFrames makes of an n-byte
// packet (1 or 2), or 0 for n outside 1..MaxPacketLen.
func FrameCount(n int) int {
	switch {
	case n < 1 || n > MaxPacketLen:
		return 0
	case n <= MaxFramePayload:
		return 1
	}
	return 2
}

// ReassemblyStats counts what a Reassembler did. All counters only grow.
type ReassemblyStats struct {
	Frames    uint64 // frames pushed
	Packets   uint64 // packets delivered
	Split     uint64 // delivered packets that needed two frames
	Empty     uint64 // frames without packet bytes rejected (ErrEmptyFrame)
	TooLong   uint64 // frames over 255 bytes rejected (ErrFrameTooLong)
	Lone      uint64 // lone second halves dropped (ErrLoneSecondHalf)
	Replaced  uint64 // first halves dropped because another packet started
	TimedOut  uint64 // first halves dropped after the partial timeout
	Truncated uint64 // first halves dropped by Reset
}

// Reassembler turns received LoRa frames back into packets with the RNode
// firmware's receive state machine (RNode_Firmware.ino receive_callback),
// plus two safeguards the firmware lacks: a first half is dropped when its
// second half does not arrive within the timeout, and a split frame shorter
// than a full frame with no first half waiting is recognised as a lone
// second half and dropped (it cannot start a packet, since every first
// half is a full 255-byte frame). It accepts everything an RNode sends,
// including the 508-byte packet's header-only third frame (dropped as a
// lone second half after delivering the 508 bytes).
//
// A Reassembler is not safe for concurrent use. The zero value is not
// usable; call NewReassembler.
type Reassembler struct {
	timeout time.Duration
	partial [MaxFramePayload]byte // body of the waiting first half
	waiting bool                  // a first half waits in partial
	seq     byte                  // nibble of the waiting first half
	since   time.Time
	stats   ReassemblyStats
}

// NewReassembler returns a Reassembler that drops a waiting first half
// once timeout has passed since it arrived (see PartialTimeout). A timeout
// ≤ 0 disables the timeout, as in the firmware.
func NewReassembler(timeout time.Duration) *Reassembler {
	return &Reassembler{timeout: timeout}
}

// Push processes one received frame (header byte + body; CRC-error frames
// must be dropped before it) that arrived at now, and returns a complete
// packet when one is ready. The returned slice is freshly allocated and
// owned by the caller. A non-nil error means the frame itself was
// rejected; dropped first halves are only counted (Stats).
func (r *Reassembler) Push(frame []byte, now time.Time) ([]byte, error) {
	r.stats.Frames++
	r.Expire(now)
	if len(frame) == 0 {
		r.stats.Empty++
		return nil, ErrEmptyFrame
	}
	if len(frame) > MaxFrameLen {
		r.stats.TooLong++
		return nil, fmt.Errorf("%w: %d bytes", ErrFrameTooLong, len(frame))
	}
	h, body := frame[0], frame[HeaderLen:]
	if h&FlagSplit == 0 {
		if r.waiting {
			r.drop(&r.stats.Replaced)
		}
		if len(body) == 0 {
			r.stats.Empty++
			return nil, fmt.Errorf("%w: header %02x only", ErrEmptyFrame, h)
		}
		return r.deliver(body, nil, false), nil
	}
	seq := h & SeqMask
	if r.waiting {
		if seq == r.seq {
			r.waiting = false
			return r.deliver(r.partial[:], body, true), nil
		}
		r.drop(&r.stats.Replaced)
	}
	if len(body) < MaxFramePayload {
		r.stats.Lone++
		return nil, fmt.Errorf("%w: %d-byte frame, header %02x", ErrLoneSecondHalf, len(frame), h)
	}
	copy(r.partial[:], body)
	r.waiting = true
	r.seq = seq
	r.since = now
	return nil, nil
}

func (r *Reassembler) deliver(a, b []byte, split bool) []byte {
	out := make([]byte, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	r.stats.Packets++
	if split {
		r.stats.Split++
	}
	return out
}

func (r *Reassembler) drop(counter *uint64) {
	r.waiting = false
	*counter++
}

// Expire drops a waiting first half whose timeout has passed at now and
// reports whether it did. Receivers call it when they wake without a frame.
func (r *Reassembler) Expire(now time.Time) bool {
	if !r.waiting || r.timeout <= 0 || now.Sub(r.since) <= r.timeout {
		return false
	}
	r.drop(&r.stats.TimedOut)
	return true
}

// Pending reports whether a first half is waiting, and until when (the
// zero time when the timeout is disabled).
func (r *Reassembler) Pending() (bool, time.Time) {
	if !r.waiting {
		return false, time.Time{}
	}
	if r.timeout <= 0 {
		return true, time.Time{}
	}
	return true, r.since.Add(r.timeout)
}

// SetTimeout changes the partial-packet timeout (for new and waiting
// first halves), e.g. after the radio was reconfigured.
func (r *Reassembler) SetTimeout(timeout time.Duration) { r.timeout = timeout }

// Reset drops any waiting first half (counted as Truncated), e.g. when the
// radio is reconfigured.
func (r *Reassembler) Reset() {
	if r.waiting {
		r.drop(&r.stats.Truncated)
	}
}

// Stats returns the counters.
func (r *Reassembler) Stats() ReassemblyStats { return r.stats }
