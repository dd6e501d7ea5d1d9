package hal

import (
	"math/bits"
	"time"
)

// PayloadSymbols returns the number of symbols after the preamble of one
// explicit-header, CRC-on LoRa frame of payloadLen bytes (Semtech AN1200.13,
// SX1276 datasheet §4.1.1.7):
//
//	8 + max(ceil((8·PL − 4·SF + 28 + 16) / (4·(SF − 2·DE))) · (CR+4), 0)
//
// with DE = 1 when LowDataRateOptimize is on. It returns 0 when p is
// outside the formula's domain (SF ≤ 2·DE, CR < 5) or payloadLen < 0.
func PayloadSymbols(p Params, payloadLen int) int {
	de := 0
	if p.LowDataRateOptimize() {
		de = 1
	}
	div := 4 * (p.SpreadingFactor - 2*de)
	if div <= 0 || p.CodingRate < MinCodingRate || payloadLen < 0 || payloadLen > 1<<16 {
		return 0
	}
	num := 8*payloadLen - 4*p.SpreadingFactor + 28 + 16
	blocks := 0
	if num > 0 {
		blocks = (num + div - 1) / div
	}
	return 8 + blocks*p.CodingRate
}

// Airtime returns the time on air of one LoRa frame of payloadLen bytes
// (for an RNode-framed frame, payloadLen includes the header byte) with an
// SX127x: (N + 0.25) preamble symbols (RegPreamble = N−4 plus the chip's
// 4.25) and PayloadSymbols, each 2^SF/BW long. The result is exact to the
// nanosecond (rounded half up); at 62.5–500 kHz it is a whole number of
// microseconds and equals vectors/lora/airtime.json. It returns 0 for
// parameters outside the formula's domain.
func Airtime(p Params, payloadLen int) time.Duration {
	if p.BandwidthHz == 0 || p.SpreadingFactor < 1 || p.SpreadingFactor > 12 {
		return 0
	}
	ps := PayloadSymbols(p, payloadLen)
	if ps == 0 {
		return 0
	}
	n := p.PreambleSymbols
	if n == 0 {
		n = RNodePreamble(p)
	}
	if n < 0 || n > MaxPreambleSymbols {
		return 0
	}
	quarters := uint64(4*n+1) + 4*uint64(ps)
	// ns = quarters × 2^SF × 1e9 / (4 × BW), in 128-bit arithmetic.
	hi, lo := bits.Mul64(quarters<<p.SpreadingFactor, 1e9)
	den := 4 * uint64(p.BandwidthHz)
	hi, lo = add128(hi, lo, den/2)
	if hi >= den {
		return 0
	}
	q, _ := bits.Div64(hi, lo, den)
	if q > 1<<62 {
		return 0
	}
	return time.Duration(q)
}

func add128(hi, lo, x uint64) (uint64, uint64) {
	lo, c := bits.Add64(lo, x, 0)
	return hi + c, lo
}

// PacketAirtime returns the total time on air of an n-byte packet sent
// with the RNode on-air framing: one frame of n+1 bytes for n ≤ 254, two
// frames (255 and n−253 bytes) for 255 ≤ n ≤ MaxPacketLen. It excludes the
// gap between the two frames. It returns 0 for n outside 1..MaxPacketLen.
func PacketAirtime(p Params, n int) time.Duration {
	if n < 1 || n > MaxPacketLen {
		return 0
	}
	if n <= MaxFramePayload {
		return Airtime(p, n+HeaderLen)
	}
	return Airtime(p, MaxFrameLen) + Airtime(p, n-MaxFramePayload+HeaderLen)
}

// PartialTimeout returns how long a receiver keeps the first half of a
// split packet waiting for the second: twice the airtime of a full
// 255-byte frame (RNODE.md §7.3), at least one second.
func PartialTimeout(p Params) time.Duration {
	d := 2 * Airtime(p, MaxFrameLen)
	if d < time.Second {
		d = time.Second
	}
	return d
}
