package rns

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// HDLC-like framing of the reference's TCP interfaces (RNS/Interfaces/TCPInterface.py).
const (
	HDLCFlag    = 0x7E
	HDLCEscape  = 0x7D
	HDLCEscMask = 0x20
	// TCPHardwareMTU is the frame limit a TCP interface ends up with at the
	// default bitrate guess (Interface.optimise_mtu); the reference starts
	// from 262144.
	TCPHardwareMTU = 8192
)

// KISS framing (RNS/Interfaces/KISSInterface.py, RNodeInterface.py).
const (
	KISSFend    = 0xC0
	KISSFesc    = 0xDB
	KISSTfend   = 0xDC
	KISSTfesc   = 0xDD
	KISSCmdData = 0x00
)

// Framing errors, reported through the deframers' OnDrop callbacks.
var (
	ErrFrameTooShort = errors.New("rns: frame shorter than a packet header")
	ErrFrameTooLong  = errors.New("rns: frame longer than the interface allows")
	ErrFrameOverflow = errors.New("rns: unterminated frame data exceeded the buffer limit")
)

// FrameError describes a dropped frame.
type FrameError struct {
	Len int   // length of the dropped frame (or buffered data)
	Err error // ErrFrameTooShort, ErrFrameTooLong or ErrFrameOverflow
}

func (e *FrameError) Error() string { return fmt.Sprintf("%v (%d bytes)", e.Err, e.Len) }

// Unwrap returns the sentinel error.
func (e *FrameError) Unwrap() error { return e.Err }

// AppendHDLC appends 7e ‖ escape(packet) ‖ 7e to dst; escaping replaces
// 7d by 7d 5d and 7e by 7d 5e.
func AppendHDLC(dst, packet []byte) []byte {
	dst = append(dst, HDLCFlag)
	for _, b := range packet {
		if b == HDLCFlag || b == HDLCEscape {
			dst = append(dst, HDLCEscape, b^HDLCEscMask)
		} else {
			dst = append(dst, b)
		}
	}
	return append(dst, HDLCFlag)
}

// replaceInPlace replaces every non-overlapping two-byte pattern (a, b) in s
// by c, scanning left to right like Python's bytes.replace, in place.
func replaceInPlace(s []byte, a, b, c byte) []byte {
	w := 0
	for r := 0; r < len(s); r++ {
		if s[r] == a && r+1 < len(s) && s[r+1] == b {
			s[w] = c
			r++
		} else {
			s[w] = s[r]
		}
		w++
	}
	return s[:w]
}

// HDLCDeframer splits a TCP byte stream into packets exactly as the
// reference's read loop: bytes before the first flag are ignored; a frame
// runs from a flag to the next flag, which may open the next frame; empty
// frames are skipped; unescaping replaces 7d 5e by 7e and then 7d 5d by 7d;
// frames of HeaderMinSize bytes or fewer and frames longer than MaxFrame
// are dropped; an unterminated frame is discarded once more than
// 2 × MaxFrame bytes are buffered. The zero value uses TCPHardwareMTU and no
// IFAC allowance.
type HDLCDeframer struct {
	// MaxFrame is the largest frame delivered (hardware MTU + IFAC size);
	// 0 means TCPHardwareMTU.
	MaxFrame int
	// OnDrop, if set, is told about every dropped frame (a *FrameError).
	OnDrop func(error)

	buf     []byte
	dropped uint64
}

func (d *HDLCDeframer) max() int {
	if d.MaxFrame > 0 {
		return d.MaxFrame
	}
	return TCPHardwareMTU
}

// Dropped returns how many frames were dropped so far.
func (d *HDLCDeframer) Dropped() uint64 { return d.dropped }

func (d *HDLCDeframer) drop(n int, err error) {
	d.dropped++
	if d.OnDrop != nil {
		d.OnDrop(&FrameError{Len: n, Err: err})
	}
}

// Feed consumes a chunk of the stream and calls deliver for every complete
// frame, in order. The frame slice is only valid during the call.
func (d *HDLCDeframer) Feed(chunk []byte, deliver func(frame []byte)) {
	d.buf = append(d.buf, chunk...)
	max := d.max()
	for {
		start := bytes.IndexByte(d.buf, HDLCFlag)
		if start < 0 {
			d.buf = d.buf[:0]
			return
		}
		end := bytes.IndexByte(d.buf[start+1:], HDLCFlag)
		if end < 0 {
			if len(d.buf)-start > 2*max {
				d.drop(len(d.buf)-start, ErrFrameOverflow)
				d.buf = d.buf[:0]
				return
			}
			d.compact(start)
			return
		}
		end += start + 1
		frame := d.buf[start+1 : end]
		if len(frame) > 0 {
			frame = replaceInPlace(frame, HDLCEscape, HDLCFlag^HDLCEscMask, HDLCFlag)
			frame = replaceInPlace(frame, HDLCEscape, HDLCEscape^HDLCEscMask, HDLCEscape)
			switch {
			case len(frame) <= HeaderMinSize:
				d.drop(len(frame), ErrFrameTooShort)
			case len(frame) > max:
				d.drop(len(frame), ErrFrameTooLong)
			default:
				deliver(frame)
			}
		}
		d.buf = d.buf[end:]
	}
}

// compact moves the unterminated frame starting at start to the front of
// the buffer so the buffer does not grow without bound.
func (d *HDLCDeframer) compact(start int) {
	n := copy(d.buf, d.buf[start:])
	d.buf = d.buf[:n]
}

// HDLCReader reads HDLC-framed packets from a byte stream (a TCP connection).
type HDLCReader struct {
	r     io.Reader
	d     HDLCDeframer
	queue [][]byte
	chunk []byte
}

// NewHDLCReader returns a reader delivering frames of at most maxFrame
// bytes (0 means TCPHardwareMTU); onDrop may be nil.
func NewHDLCReader(r io.Reader, maxFrame int, onDrop func(error)) *HDLCReader {
	return &HDLCReader{r: r, d: HDLCDeframer{MaxFrame: maxFrame, OnDrop: onDrop}, chunk: make([]byte, 4096)}
}

// ReadFrame returns the next packet (a fresh slice) or the reader's error.
func (h *HDLCReader) ReadFrame() ([]byte, error) {
	for len(h.queue) == 0 {
		n, err := h.r.Read(h.chunk)
		if n > 0 {
			h.d.Feed(h.chunk[:n], func(f []byte) { h.queue = append(h.queue, append([]byte(nil), f...)) })
		}
		if err != nil && len(h.queue) == 0 {
			return nil, err
		}
	}
	f := h.queue[0]
	h.queue[0] = nil
	h.queue = h.queue[1:]
	return f, nil
}

// AppendKISS appends c0 ‖ command ‖ escape(payload) ‖ c0 to dst; escaping
// replaces db by db dd and c0 by db dc.
func AppendKISS(dst []byte, command byte, payload []byte) []byte {
	dst = append(dst, KISSFend, command)
	for _, b := range payload {
		switch b {
		case KISSFesc:
			dst = append(dst, KISSFesc, KISSTfesc)
		case KISSFend:
			dst = append(dst, KISSFesc, KISSTfend)
		default:
			dst = append(dst, b)
		}
	}
	return append(dst, KISSFend)
}

// KISSDeframer splits a KISS byte stream into frames as the reference's
// KISS readers: a c0 opens a frame, the first byte is the command (masked
// with 0x0F when PortMask is set, as KISSInterface does; RNodeInterface
// uses the whole byte), the payload is unescaped and a c0 ends it. Payload
// bytes beyond MaxFrame are discarded as the reference does and the frame
// is reported dropped.
type KISSDeframer struct {
	// MaxFrame is the largest payload (hardware MTU); 0 means 564 (KISSInterface).
	MaxFrame int
	// PortMask makes the command byte's port nibble ignored.
	PortMask bool
	// OnDrop, if set, is told about every truncated frame.
	OnDrop func(error)

	inFrame  bool
	haveCmd  bool
	escape   bool
	overflow bool
	cmd      byte
	buf      []byte
	dropped  uint64
}

// Dropped returns how many frames were dropped so far.
func (k *KISSDeframer) Dropped() uint64 { return k.dropped }

// Feed consumes a chunk and calls deliver(command, payload) for every
// complete frame with a command byte. The payload slice is only valid during
// the call.
func (k *KISSDeframer) Feed(chunk []byte, deliver func(command byte, payload []byte)) {
	max := k.MaxFrame
	if max <= 0 {
		max = 564
	}
	for _, b := range chunk {
		if b == KISSFend {
			if k.inFrame && k.haveCmd {
				if k.overflow {
					k.dropped++
					if k.OnDrop != nil {
						k.OnDrop(&FrameError{Len: len(k.buf), Err: ErrFrameTooLong})
					}
				} else {
					deliver(k.cmd, k.buf)
				}
			}
			k.inFrame, k.haveCmd, k.escape, k.overflow = true, false, false, false
			k.buf = k.buf[:0]
			continue
		}
		if !k.inFrame {
			continue
		}
		if !k.haveCmd {
			k.cmd, k.haveCmd = b, true
			if k.PortMask {
				k.cmd &= 0x0F
			}
			continue
		}
		if b == KISSFesc {
			k.escape = true
			continue
		}
		if k.escape {
			switch b {
			case KISSTfend:
				b = KISSFend
			case KISSTfesc:
				b = KISSFesc
			}
			k.escape = false
		}
		if len(k.buf) >= max {
			k.overflow = true
			continue
		}
		k.buf = append(k.buf, b)
	}
}
