package transport

// HDLC-like framing used by the reference's TCP interfaces
// (RNS/Interfaces/TCPInterface.py HDLC): frame = 7e || escape(packet) || 7e,
// where escape replaces 7d by 7d 5d and then 7e by 7d 5e. There is no
// checksum; TCP provides integrity.

const (
	hdlcFlag    = 0x7e
	hdlcEsc     = 0x7d
	hdlcEscMask = 0x20
)

// headerMinSize is the smallest packet the reference accepts from a stream
// (RNS/Reticulum.py HEADER_MINSIZE): frames of this length or shorter are
// dropped by the reference's check_frame_len and by Deframer.
const headerMinSize = 19

// AppendHDLCFrame appends the HDLC frame of packet to dst and returns the
// extended slice.
func AppendHDLCFrame(dst, packet []byte) []byte {
	dst = append(dst, hdlcFlag)
	for _, b := range packet {
		switch b {
		case hdlcEsc, hdlcFlag:
			dst = append(dst, hdlcEsc, b^hdlcEscMask)
		default:
			dst = append(dst, b)
		}
	}
	return append(dst, hdlcFlag)
}

// Deframer turns a TCP byte stream into packets exactly as the reference's
// read loop does: bytes before the first flag are ignored; the bytes between
// two flags form a frame (the closing flag also opens the next frame); empty
// frames are skipped; the escapes 7d 5e and 7d 5d are reversed (any other
// byte after 7d is kept literally, as the reference's replace-based
// unescaping does); frames of 19 bytes or fewer, or longer than MaxFrame, are
// dropped and counted. Memory is bounded by MaxFrame: an over-long frame is
// discarded as it streams in, never buffered.
//
// A Deframer is not safe for concurrent use.
type Deframer struct {
	// MaxFrame is the largest unescaped frame accepted (the interface's
	// hardware MTU plus its IFAC size). Zero means DefaultHWMTU.
	MaxFrame int

	buf      []byte
	inFrame  bool
	escape   bool
	overflow bool

	// Dropped counts frames discarded for their length.
	Dropped uint64
}

// Write feeds stream bytes to the deframer and calls emit for every complete
// frame, in order. The slice passed to emit is only valid during the call.
func (d *Deframer) Write(p []byte, emit func(frame []byte)) {
	max := d.MaxFrame
	if max <= 0 {
		max = DefaultHWMTU
	}
	for _, b := range p {
		if !d.inFrame {
			if b == hdlcFlag {
				d.startFrame()
			}
			continue
		}
		if b == hdlcFlag {
			d.endFrame(max, emit)
			d.startFrame()
			continue
		}
		if d.overflow {
			continue
		}
		if d.escape {
			switch b {
			case hdlcFlag ^ hdlcEscMask:
				d.put(hdlcFlag, max)
				d.escape = false
			case hdlcEsc ^ hdlcEscMask:
				d.put(hdlcEsc, max)
				d.escape = false
			case hdlcEsc:
				// The pending escape byte was literal; this one may
				// start a new escape.
				d.put(hdlcEsc, max)
			default:
				d.put(hdlcEsc, max)
				d.put(b, max)
				d.escape = false
			}
			continue
		}
		if b == hdlcEsc {
			d.escape = true
			continue
		}
		d.put(b, max)
	}
}

func (d *Deframer) startFrame() {
	d.inFrame = true
	d.escape = false
	d.overflow = false
	d.buf = d.buf[:0]
}

func (d *Deframer) put(b byte, max int) {
	if len(d.buf) >= max {
		d.overflow = true
		d.buf = d.buf[:0]
		return
	}
	d.buf = append(d.buf, b)
}

func (d *Deframer) endFrame(max int, emit func([]byte)) {
	if d.escape && !d.overflow {
		d.put(hdlcEsc, max) // a trailing escape byte is kept literally
	}
	switch {
	case d.overflow:
		d.Dropped++
	case len(d.buf) == 0:
		// empty frame (back-to-back flags): skipped silently
	case len(d.buf) <= headerMinSize || len(d.buf) > max:
		d.Dropped++
	default:
		emit(d.buf)
	}
}
