package rnode

import (
	"fmt"
)

// KISS framing bytes (Framing.h FEND, FESC, TFEND, TFESC).
const (
	FEND  byte = 0xC0 // frame delimiter
	FESC  byte = 0xDB // escape introducer
	TFEND byte = 0xDC // after FESC: a literal FEND
	TFESC byte = 0xDD // after FESC: a literal FESC
)

// Command is the first byte of a KISS frame: what the frame carries.
type Command byte

// Command bytes of the RNode firmware (Framing.h), the ones this package
// sends or understands.
const (
	CmdData       Command = 0x00 // a packet, both directions
	CmdFrequency  Command = 0x01 // u32 BE Hz; 0 = query
	CmdBandwidth  Command = 0x02 // u32 BE Hz; 0 = query
	CmdTxPower    Command = 0x03 // 1 byte dBm; 0xff = query
	CmdSF         Command = 0x04 // spreading factor; 0xff = query
	CmdCR         Command = 0x05 // coding rate 5..8; 0xff = query
	CmdRadioState Command = 0x06 // 0 off, 1 on, 0xff query
	CmdRadioLock  Command = 0x07 // answer: 1 while a parameter is unset
	CmdDetect     Command = 0x08 // host 0x73, device answers 0x46
	CmdLeave      Command = 0x0A // host says goodbye (0xff)
	CmdSTALock    Command = 0x0B // short-term airtime limit, u16 BE percent*100
	CmdLTALock    Command = 0x0C // long-term airtime limit, u16 BE percent*100
	CmdReady      Command = 0x0F // flow control: 1 queue has room, 0 full
	CmdStatRX     Command = 0x21 // u32 counter (never incremented by firmware 1.86)
	CmdStatTX     Command = 0x22 // u32 counter (never incremented by firmware 1.86)
	CmdStatRSSI   Command = 0x23 // RSSI of the next DATA frame, dBm + 157
	CmdStatSNR    Command = 0x24 // SNR of the next DATA frame, signed quarter dB
	CmdStatCHTM   Command = 0x25 // channel time/load statistics, 11 bytes
	CmdStatPHYPRM Command = 0x26 // PHY timing, 6 × u16 BE
	CmdStatBat    Command = 0x27 // battery state and percent
	CmdStatCSMA   Command = 0x28 // contention window band, min, max
	CmdStatTemp   Command = 0x29 // °C + 120
	CmdRandom     Command = 0x40 // a random byte
	CmdFBExt      Command = 0x41 // external framebuffer on/off (display boards)
	CmdPlatform   Command = 0x48 // platform byte (AVR 0x90, ESP32 0x80, nRF52 0x70)
	CmdMCU        Command = 0x49 // MCU byte
	CmdFWVersion  Command = 0x50 // major, minor
	CmdReset      Command = 0x55 // 0xf8: reset request, and the boot announcement
	CmdError      Command = 0x90 // error code
)

// Fixed single-byte bodies.
const (
	DetectRequest  byte = 0x73 // body of the host's DETECT
	DetectResponse byte = 0x46 // body of the device's DETECT answer
	ResetByte      byte = 0xF8 // body of RESET (request and boot announcement)
	queryByte      byte = 0xFF // body of a single-byte parameter query
)

// Platform bytes reported by CMD_PLATFORM (Boards.h PLATFORM_*).
const (
	PlatformAVR   byte = 0x90
	PlatformESP32 byte = 0x80
	PlatformNRF52 byte = 0x70
)

// Error codes carried by CMD_ERROR (Framing.h ERROR_*).
const (
	ErrCodeInitRadio    byte = 0x01 // radio initialisation failed
	ErrCodeTxFailed     byte = 0x02 // transmit failed (also: asked to send with the radio off)
	ErrCodeEEPROMLocked byte = 0x03 // EEPROM locked
	ErrCodeQueueFull    byte = 0x04 // queue full (defined, not sent by firmware 1.86)
	ErrCodeMemoryLow    byte = 0x05 // memory low
	ErrCodeModemTimeout byte = 0x06 // modem communication timed out
)

// MaxPacket is the largest DATA body accepted in either direction: the
// firmware's MTU (Config.h MTU) and the reference host's HW_MTU.
const MaxPacket = 508

var commandNames = map[Command]string{
	CmdData: "DATA", CmdFrequency: "FREQUENCY", CmdBandwidth: "BANDWIDTH",
	CmdTxPower: "TXPOWER", CmdSF: "SF", CmdCR: "CR", CmdRadioState: "RADIO_STATE",
	CmdRadioLock: "RADIO_LOCK", CmdDetect: "DETECT", CmdLeave: "LEAVE",
	CmdSTALock: "ST_ALOCK", CmdLTALock: "LT_ALOCK", CmdReady: "READY",
	CmdStatRX: "STAT_RX", CmdStatTX: "STAT_TX", CmdStatRSSI: "STAT_RSSI",
	CmdStatSNR: "STAT_SNR", CmdStatCHTM: "STAT_CHTM", CmdStatPHYPRM: "STAT_PHYPRM",
	CmdStatBat: "STAT_BAT", CmdStatCSMA: "STAT_CSMA", CmdStatTemp: "STAT_TEMP",
	CmdRandom: "RANDOM", CmdFBExt: "FB_EXT", CmdPlatform: "PLATFORM", CmdMCU: "MCU",
	CmdFWVersion: "FW_VERSION", CmdReset: "RESET", CmdError: "ERROR",
}

// String returns the firmware's name of c, e.g. "FREQUENCY", or "CMD_0x7e".
func (c Command) String() string {
	if n, ok := commandNames[c]; ok {
		return n
	}
	return fmt.Sprintf("CMD_0x%02x", byte(c))
}

// AppendEscaped appends body to dst with every FEND written as FESC TFEND
// and every FESC as FESC TFESC.
func AppendEscaped(dst, body []byte) []byte {
	for _, b := range body {
		switch b {
		case FEND:
			dst = append(dst, FESC, TFEND)
		case FESC:
			dst = append(dst, FESC, TFESC)
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

// AppendFrame appends the KISS frame FEND cmd escaped(body) FEND to dst and
// returns the extended slice. The command byte is written as is (no command
// value equals FEND or FESC). Escaping single-byte parameter bodies, which
// the reference host writes raw, gives the same bytes for every value the
// firmware accepts.
func AppendFrame(dst []byte, cmd Command, body []byte) []byte {
	dst = append(dst, FEND, byte(cmd))
	dst = AppendEscaped(dst, body)
	return append(dst, FEND)
}

// Frame is one decoded KISS frame.
type Frame struct {
	Cmd  Command
	Body []byte // un-escaped body
}

// DecoderStats counts what a Decoder dropped. All counters only grow.
type DecoderStats struct {
	Frames    uint64 // frames delivered
	Empty     uint64 // FEND FEND pairs (harmless)
	Junk      uint64 // bytes before the first FEND (outside any frame)
	Oversize  uint64 // frames dropped because the body exceeded the limit
	BadEscape uint64 // frames dropped because FESC was not followed by TFEND/TFESC
	Truncated uint64 // partial frames abandoned by Abort (e.g. a line idle mid-frame)
}

type decState uint8

const (
	stOutside decState = iota // before the first FEND: junk
	stCommand                 // after FEND, waiting for the command byte
	stBody                    // collecting the body
	stEscape                  // after FESC inside the body
	stSkip                    // frame being dropped; wait for FEND
)

// Decoder is a streaming KISS deframer, fed bytes in any chunking. Every
// FEND ends the frame in progress and starts a new one, as both the
// firmware and the reference host do. Bodies longer than the limit and
// frames with an invalid escape are dropped and counted; memory use is
// bounded by the limit whatever the input.
//
// The zero value is not usable; call NewDecoder. A Decoder is not safe for
// concurrent use.
type Decoder struct {
	limit int
	buf   []byte
	cmd   Command
	state decState
	stats DecoderStats
}

// NewDecoder returns a Decoder that accepts bodies of up to maxBody bytes
// (after un-escaping). maxBody < 1 selects MaxPacket.
func NewDecoder(maxBody int) *Decoder {
	if maxBody < 1 {
		maxBody = MaxPacket
	}
	return &Decoder{limit: maxBody, buf: make([]byte, 0, maxBody)}
}

// Decode consumes bytes of p until one frame is complete. It returns how
// many bytes it consumed and, if ok, the frame. f.Body aliases the
// decoder's buffer and is valid only until the next call to Decode or
// Abort; copy it to keep it. Call Decode again with p[n:] for the rest.
func (d *Decoder) Decode(p []byte) (n int, f Frame, ok bool) {
	for i, b := range p {
		if b == FEND {
			switch d.state {
			case stBody:
				d.state = stCommand
				d.stats.Frames++
				return i + 1, Frame{Cmd: d.cmd, Body: d.buf}, true
			case stCommand:
				d.stats.Empty++
			case stEscape:
				d.stats.BadEscape++
			}
			d.state = stCommand
			d.buf = d.buf[:0]
			continue
		}
		switch d.state {
		case stOutside:
			d.stats.Junk++
		case stCommand:
			d.cmd = Command(b)
			d.buf = d.buf[:0]
			d.state = stBody
		case stBody:
			if b == FESC {
				d.state = stEscape
				continue
			}
			d.push(b)
		case stEscape:
			switch b {
			case TFEND:
				d.state = stBody
				d.push(FEND)
			case TFESC:
				d.state = stBody
				d.push(FESC)
			default:
				d.stats.BadEscape++
				d.state = stSkip
			}
		case stSkip:
		}
	}
	return len(p), Frame{}, false
}

func (d *Decoder) push(b byte) {
	if len(d.buf) >= d.limit {
		d.stats.Oversize++
		d.state = stSkip
		return
	}
	d.buf = append(d.buf, b)
}

// InFrame reports whether the decoder holds part of a frame (a command
// byte has been seen and the closing FEND has not).
func (d *Decoder) InFrame() bool {
	return d.state == stBody || d.state == stEscape
}

// Abort drops a partially received frame, counting it as truncated, and
// waits for the next FEND. The reference host does this when a frame stays
// incomplete for more than 100 ms; a caller that reads with timestamps
// calls Abort when the line was idle that long mid-frame.
func (d *Decoder) Abort() {
	if d.InFrame() {
		d.stats.Truncated++
		d.state = stSkip
		d.buf = d.buf[:0]
	}
}

func (s DecoderStats) plus(o DecoderStats) DecoderStats {
	return DecoderStats{Frames: s.Frames + o.Frames, Empty: s.Empty + o.Empty, Junk: s.Junk + o.Junk,
		Oversize: s.Oversize + o.Oversize, BadEscape: s.BadEscape + o.BadEscape, Truncated: s.Truncated + o.Truncated}
}

// Stats returns the decoder's counters.
func (d *Decoder) Stats() DecoderStats { return d.stats }
