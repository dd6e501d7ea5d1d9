package sx127xtest

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Register addresses and bits the emulator gives behaviour to (SX1276
// datasheet §6.4, LoRa mode).
const (
	regFifo          = 0x00
	regOpMode        = 0x01
	regFrfMsb        = 0x06
	regPaConfig      = 0x09
	regFifoAddrPtr   = 0x0d
	regFifoTxBase    = 0x0e
	regFifoRxBase    = 0x0f
	regFifoRxCurrent = 0x10
	regIrqFlagsMask  = 0x11
	regIrqFlags      = 0x12
	regRxNbBytes     = 0x13
	regRxHeaderCnt   = 0x14
	regRxPacketCnt   = 0x16
	regModemStat     = 0x18
	regPktSnr        = 0x19
	regPktRssi       = 0x1a
	regRssi          = 0x1b
	regHopChannel    = 0x1c
	regModemConfig1  = 0x1d
	regModemConfig2  = 0x1e
	regPreambleMsb   = 0x20
	regPayloadLength = 0x22
	regFifoRxByte    = 0x25
	regModemConfig3  = 0x26
	regRssiWideband  = 0x2c
	regSyncWord      = 0x39
	regDioMapping1   = 0x40
	regVersion       = 0x42
	regPaDac         = 0x4d

	modeSleep   = 0
	modeStandby = 1
	modeTx      = 3
	modeRxCont  = 5
	modeRxSng   = 6
	modeCAD     = 7
	modeMask    = 0x07
	longRange   = 0x80

	irqRxTimeout   = 0x80
	irqRxDone      = 0x40
	irqCRCError    = 0x20
	irqValidHeader = 0x10
	irqTxDone      = 0x08
	irqCadDone     = 0x04
	irqCadDetected = 0x01

	// MaxTxSize is the largest SPI transfer the emulated bus accepts, the
	// default spidev buffer size.
	MaxTxSize = 4096
)

// resetValues are the register values after power-on or NRESET
// (SX1276 datasheet §6.4; SX127X.md §3).
var resetValues = map[byte]byte{
	0x01: 0x09, 0x06: 0x6c, 0x07: 0x80, 0x08: 0x00, 0x09: 0x4f, 0x0a: 0x09, 0x0b: 0x2b,
	0x0c: 0x20, 0x0e: 0x80, 0x18: 0x10, 0x1d: 0x72, 0x1e: 0x70, 0x1f: 0x64, 0x21: 0x08,
	0x22: 0x01, 0x23: 0xff, 0x31: 0xc3, 0x33: 0x27, 0x36: 0x03, 0x37: 0x0a, 0x39: 0x12,
	0x3b: 0x1d, 0x42: 0x12, 0x4b: 0x09, 0x4d: 0x84,
}

// readOnly registers ignore writes.
var readOnly = map[byte]bool{
	0x10: true, 0x13: true, 0x14: true, 0x15: true, 0x16: true, 0x17: true, 0x18: true,
	0x19: true, 0x1a: true, 0x1b: true, 0x1c: true, 0x25: true, 0x28: true, 0x29: true,
	0x2a: true, 0x2c: true, 0x42: true,
}

// ChipOpts configure an emulated chip.
type ChipOpts struct {
	// Name is the chip's station name on the Air and its String; default
	// "sx127x-emu".
	Name string
	// Clock drives TX timing, CAD, frame reception and pin timeouts.
	// Required.
	Clock Clock
	// Air, if set, is joined: frames sent go on it and frames on it are
	// received when the chip listens with matching settings.
	Air *Air
	// Version is RegVersion (0x42); 0 means 0x12 (SX1276/77/78/79).
	Version byte
	// NoiseFloorDBm is the RSSI the chip reports without a carrier;
	// 0 means −110 dBm.
	NoiseFloorDBm float64
	// Transmit, if set, is called with every frame the chip starts to
	// transmit (besides putting it on Air, if set), from the goroutine
	// whose SPI write started it, after the chip's lock is released. A
	// simulator that owns the medium uses it instead of an Air.
	Transmit func(Frame)
	// ExternalVerdict lets the medium decide which frames survive: the
	// chip does not detect collisions itself, and a frame is corrupt
	// (PayloadCrcError) iff the Link given to CarrierStart or to
	// CarrierEnd says so (or its LowDataRateOptimize differs). A heard
	// frame completes only once CarrierEnd was called for it (and its end
	// is due), so the verdict always arrives first.
	ExternalVerdict bool
}

// ChipStats count what the host did to the chip and what it sent and
// received.
type ChipStats struct {
	SPITransactions uint64 // Tx calls plus TxPackets transfers (CS assertions)
	SPIBytes        uint64 // bytes clocked in both directions
	TxFrames        uint64 // frames transmitted
	RxFrames        uint64 // frames written to the FIFO (including CRC errors)
	RxCRCErrors     uint64 // of those, with PayloadCrcError
	RxMissed        uint64 // frames heard while not listening or with other settings
	CADs            uint64 // CAD runs
	Resets          uint64 // NRESET pulses
}

// Chip is an emulated SX1276/77/78/79 in LoRa mode behind spi.Conn and
// gpio pins. See the package documentation for what it models.
type Chip struct {
	name     string
	clock    Clock
	air      *Air
	noise    float64
	transmit func(Frame)
	external bool

	reset, dio0, dio1 *Pin

	mu         sync.Mutex
	reg        [128]byte
	fifo       [256]byte
	version    byte
	rxWrite    byte
	inReset    bool
	absent     bool
	absentVal  byte
	dio0Broken bool
	gen        uint64 // bumped on every mode change; invalidates timers and receptions
	txEnd      time.Time
	hold       bool   // an RxDone is being serviced: later frames wait (see completeDueLocked)
	txGen      uint64 // gen of the running transmission; 0 when none
	cadEnd     time.Time
	cadGen     uint64 // gen of the running CAD; 0 when none
	heard      []heard
	lastTx     *Frame
	txLog      []Frame
	rnd        uint32
	stats      ChipStats
}

type heard struct {
	f         Frame
	l         Link
	listening bool // in RX with matching settings when the preamble began
	gen       uint64
	done      bool // completed (delivered or missed); kept for collision checks
	ended     bool // CarrierEnd was called (ExternalVerdict: only then may it complete)
}

// NewChip returns a chip in its power-on state (FSK standby, registers at
// reset values) and joins o.Air if set.
func NewChip(o ChipOpts) *Chip {
	if o.Clock == nil {
		panic("sx127xtest: ChipOpts.Clock is required")
	}
	c := &Chip{name: o.Name, clock: o.Clock, air: o.Air, noise: o.NoiseFloorDBm, version: o.Version, rnd: 0x2545f491,
		transmit: o.Transmit, external: o.ExternalVerdict}
	if c.name == "" {
		c.name = "sx127x-emu"
	}
	if c.noise == 0 {
		c.noise = -110
	}
	if c.version == 0 {
		c.version = 0x12
	}
	c.reset = newPin(c.name+".NRESET", 0, o.Clock, c.resetLine)
	c.reset.level = gpio.High
	c.dio0 = newPin(c.name+".DIO0", 1, o.Clock, nil)
	c.dio1 = newPin(c.name+".DIO1", 2, o.Clock, nil)
	c.dio0.poll, c.dio1.poll = c.hostWaits, c.hostWaits
	c.mu.Lock()
	c.powerOnLocked()
	c.mu.Unlock()
	if c.air != nil {
		c.air.Attach(c)
	}
	return c
}

// String implements Station and fmt.Stringer.
func (c *Chip) String() string { return c.name }

// ResetPin returns the NRESET line (drive Low to hold the chip in reset).
func (c *Chip) ResetPin() *Pin { return c.reset }

// DIO0 returns the DIO0 line.
func (c *Chip) DIO0() *Pin { return c.dio0 }

// DIO1 returns the DIO1 line.
func (c *Chip) DIO1() *Pin { return c.dio1 }

// Port returns a new spi.Port to the chip; its Connect may be called once.
func (c *Chip) Port() spi.PortCloser { return &port{c: c} }

// Stats returns the counters.
func (c *Chip) Stats() ChipStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

// Register returns the raw value of register addr without side effects.
func (c *Chip) Register(addr byte) byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reg[addr&0x7f]
}

// SetAbsent makes every SPI read return v (0x00 or 0xff model a missing
// chip or broken wiring); SetAbsent(false, 0) restores the chip.
func (c *Chip) SetAbsent(absent bool, v byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.absent, c.absentVal = absent, v
}

// BreakDIO0 disconnects DIO0 (it never rises) when broken is true.
func (c *Chip) BreakDIO0(broken bool) {
	c.mu.Lock()
	c.dio0Broken = broken
	c.updatePinsLocked()
	c.mu.Unlock()
}

// TxLog returns a copy of every frame the chip transmitted.
func (c *Chip) TxLog() []Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Frame(nil), c.txLog...)
}

// Params returns the modem settings the registers currently hold.
func (c *Chip) Params() hal.Params {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paramsLocked()
}

// Inject makes the chip hear a frame of data sent with its own current
// settings (as if from another station): CarrierStart now and CarrierEnd
// after the airtime, on the chip's clock. It works without an Air.
func (c *Chip) Inject(data []byte, l Link) Frame {
	c.mu.Lock()
	p := c.paramsLocked()
	c.mu.Unlock()
	f := Frame{From: "inject", Params: p, Data: append([]byte(nil), data...), Start: c.clock.Now()}
	f.Airtime = hal.Airtime(p, len(data))
	c.CarrierStart(f, l)
	c.clock.AfterFunc(f.Airtime, func() { c.CarrierEnd(f, l) })
	return f
}

func (c *Chip) powerOnLocked() {
	c.reg = [128]byte{}
	for a, v := range resetValues {
		c.reg[a] = v
	}
	c.reg[regVersion] = c.version
	c.rxWrite = 0
	c.gen++
	c.heard = c.heard[:0]
	c.updatePinsLocked()
}

// resetLine is called when the host drives NRESET.
func (c *Chip) resetLine(l gpio.Level) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !l {
		if !c.inReset {
			c.stats.Resets++
		}
		c.inReset = true
		c.gen++
		return
	}
	if c.inReset {
		c.inReset = false
		c.powerOnLocked()
	}
}

func (c *Chip) mode() byte   { return c.reg[regOpMode] & modeMask }
func (c *Chip) isLoRa() bool { return c.reg[regOpMode]&longRange != 0 }

// paramsLocked decodes the modem settings from the registers.
func (c *Chip) paramsLocked() hal.Params {
	frf := uint64(c.reg[regFrfMsb])<<16 | uint64(c.reg[regFrfMsb+1])<<8 | uint64(c.reg[regFrfMsb+2])
	p := hal.Params{FrequencyHz: uint32(frf * 32_000_000 >> 19)}
	if bw := int(c.reg[regModemConfig1] >> 4); bw < len(hal.Bandwidths) {
		p.BandwidthHz = hal.Bandwidths[bw]
	}
	p.CodingRate = int(c.reg[regModemConfig1]>>1&7) + 4
	p.SpreadingFactor = int(c.reg[regModemConfig2] >> 4)
	p.PreambleSymbols = int(c.reg[regPreambleMsb])<<8 | int(c.reg[regPreambleMsb+1]) + 4
	p.SyncWord = c.reg[regSyncWord]
	p.LDRO = hal.LDROOff
	if c.reg[regModemConfig3]&0x08 != 0 {
		p.LDRO = hal.LDROOn
	}
	pa := c.reg[regPaConfig]
	switch {
	case pa&0x80 != 0 && c.reg[regPaDac]&7 == 7:
		p.TxPowerDBm = int(pa&0x0f) + 5
	case pa&0x80 != 0:
		p.TxPowerDBm = int(pa&0x0f) + 2
	default:
		pmax := 10.8 + 0.6*float64(pa>>4&7)
		p.TxPowerDBm = int(math.Floor(pmax - float64(15-int(pa&0x0f))))
	}
	return p
}

func (c *Chip) raiseLocked(bits byte) {
	c.reg[regIrqFlags] |= bits &^ c.reg[regIrqFlagsMask]
	c.updatePinsLocked()
}

// updatePinsLocked drives DIO0/DIO1 from the IRQ flags and the mapping.
func (c *Chip) updatePinsLocked() {
	flags := c.reg[regIrqFlags]
	var d0, d1 byte
	switch c.reg[regDioMapping1] >> 6 {
	case 0:
		d0 = irqRxDone
	case 1:
		d0 = irqTxDone
	case 2:
		d0 = irqCadDone
	}
	switch c.reg[regDioMapping1] >> 4 & 3 {
	case 0:
		d1 = irqRxTimeout
	case 2:
		d1 = irqCadDetected
	}
	c.dio0.drive(gpio.Level(flags&d0 != 0 && !c.dio0Broken && !c.inReset))
	c.dio1.drive(gpio.Level(flags&d1 != 0 && !c.inReset))
}

// rssiOffset is −157 on the HF port, −164 on the LF port (< 525 MHz).
func rssiOffset(freq uint32) float64 {
	if freq < 525_000_000 {
		return -164
	}
	return -157
}

func clampByte(v float64) byte {
	v = math.Round(v)
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return byte(v)
}

func (c *Chip) readLocked(addr byte) byte {
	switch addr {
	case regFifo:
		if c.mode() == modeSleep {
			return 0
		}
		v := c.fifo[c.reg[regFifoAddrPtr]]
		c.reg[regFifoAddrPtr]++
		return v
	case regModemStat:
		st := c.reg[regModemStat] &^ 0x1f
		if c.carrierLocked() {
			st |= 0x0f // signal detected, synchronized, RX on-going, header valid
		} else {
			st |= 0x10 // modem clear
		}
		return st
	case regRssi:
		p := c.paramsLocked()
		dbm := c.noise
		now := c.clock.Now()
		for _, h := range c.heard {
			if channelsOverlap(p, h.f.Params) && !now.Before(h.f.Start) && now.Before(h.f.End()) && h.l.RSSI > dbm {
				dbm = h.l.RSSI
			}
		}
		return clampByte(dbm - rssiOffset(p.FrequencyHz))
	case regRssiWideband:
		c.rnd = c.rnd*1664525 + 1013904223
		return byte(c.rnd >> 24)
	}
	return c.reg[addr]
}

// carrierLocked reports whether a matching LoRa preamble/packet is being
// received (RegModemStat signal detected).
func (c *Chip) carrierLocked() bool {
	if !c.isLoRa() || (c.mode() != modeRxCont && c.mode() != modeRxSng) {
		return false
	}
	now := c.clock.Now()
	for _, h := range c.heard {
		if h.listening && !h.done && h.gen == c.gen && !now.Before(h.f.Start) && now.Before(h.f.End()) {
			return true
		}
	}
	return false
}

// writeLocked applies a register write and returns a frame to put on the
// air (after the lock is released), if the write started a transmission.
func (c *Chip) writeLocked(addr, v byte) *Frame {
	switch {
	case addr == regFifo:
		if c.mode() != modeSleep {
			c.fifo[c.reg[regFifoAddrPtr]] = v
			c.reg[regFifoAddrPtr]++
		}
		return nil
	case addr == regOpMode:
		// The host moves on: frames held for it land first.
		c.hold = false
		c.completeDueLocked(c.clock.Now())
		return c.setModeLocked(v)
	case addr == regIrqFlags:
		c.reg[regIrqFlags] &^= v
		c.updatePinsLocked()
		return nil
	case readOnly[addr]:
		return nil
	}
	c.reg[addr] = v
	if addr == regDioMapping1 || addr == regIrqFlagsMask {
		c.updatePinsLocked()
	}
	return nil
}

func (c *Chip) setModeLocked(v byte) *Frame {
	old := c.reg[regOpMode]
	if old&modeMask != modeSleep {
		// LongRangeMode can only change in SLEEP; the write keeps the old bit.
		v = v&^longRange | old&longRange
	}
	c.reg[regOpMode] = v
	newMode := v & modeMask
	if old == v {
		return nil
	}
	c.gen++
	if !c.isLoRa() {
		return nil
	}
	switch newMode {
	case modeSleep:
		c.reg[regRxHeaderCnt], c.reg[regRxHeaderCnt+1] = 0, 0
		c.reg[regRxPacketCnt], c.reg[regRxPacketCnt+1] = 0, 0
	case modeRxCont, modeRxSng:
		c.rxWrite = c.reg[regFifoRxBase]
	case modeTx:
		return c.startTxLocked()
	case modeCAD:
		c.stats.CADs++
		d := 2 * hal.SymbolTime(c.paramsLocked())
		c.cadGen, c.cadEnd = c.gen, c.clock.Now().Add(d)
		c.clock.AfterFunc(d, c.catchUp)
	}
	return nil
}

// catchUp applies every chip event due at the clock's now. Timer callbacks
// call it, and so does every SPI transfer and every pin that is about to
// report a timeout, so what the host observes always matches the clock,
// however late the timer goroutines run.
func (c *Chip) catchUp() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.catchUpLocked()
}

// hostWaits is the pins' hook: the host looks at DIO0/DIO1, so it has
// finished servicing the last RxDone and held frames may land.
func (c *Chip) hostWaits() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hold = false
	c.catchUpLocked()
}

func (c *Chip) catchUpLocked() {
	now := c.clock.Now()
	defer c.completeDueLocked(now)
	if c.txGen != 0 && !now.Before(c.txEnd) {
		gen := c.txGen
		c.txGen = 0
		c.txDoneLocked(gen)
	}
	if c.cadGen != 0 && !now.Before(c.cadEnd) {
		gen := c.cadGen
		c.cadGen = 0
		c.cadDoneLocked(gen, c.cadEnd)
	}
}

func (c *Chip) startTxLocked() *Frame {
	p := c.paramsLocked()
	n := int(c.reg[regPayloadLength])
	data := make([]byte, n)
	base := c.reg[regFifoTxBase]
	for i := range data {
		data[i] = c.fifo[base+byte(i)]
	}
	f := Frame{From: c.name, Params: p, Data: data, NoCRC: c.reg[regModemConfig2]&0x04 == 0,
		Start: c.clock.Now(), Airtime: hal.Airtime(p, n)}
	c.stats.TxFrames++
	c.txLog = append(c.txLog, f)
	c.txGen, c.txEnd = c.gen, f.End()
	c.clock.AfterFunc(f.Airtime, c.catchUp)
	return &f
}

func (c *Chip) txDoneLocked(gen uint64) {
	if gen != c.gen || c.inReset || c.mode() != modeTx {
		return
	}
	c.reg[regOpMode] = c.reg[regOpMode]&^modeMask | modeStandby
	c.gen++
	c.raiseLocked(irqTxDone)
}

func (c *Chip) cadDoneLocked(gen uint64, at time.Time) {
	if gen != c.gen || c.inReset || c.mode() != modeCAD {
		return
	}
	p := c.paramsLocked()
	bits := byte(irqCadDone)
	for _, h := range c.heard {
		if matches(p, h.f.Params) && !at.Before(h.f.Start) && at.Before(h.f.End()) {
			bits |= irqCadDetected
		}
	}
	c.reg[regOpMode] = c.reg[regOpMode]&^modeMask | modeStandby
	c.gen++
	c.raiseLocked(bits)
}

// matches reports whether a receiver with settings rx demodulates a frame
// sent with tx: same bandwidth, SF and sync word, carrier within a quarter
// of the bandwidth. CR is in the explicit header; LDRO mismatches are
// demodulated with errors (see CarrierEnd).
func matches(rx, tx hal.Params) bool {
	d := int64(rx.FrequencyHz) - int64(tx.FrequencyHz)
	if d < 0 {
		d = -d
	}
	return rx.BandwidthHz == tx.BandwidthHz && rx.SpreadingFactor == tx.SpreadingFactor &&
		rx.SyncWord == tx.SyncWord && d <= int64(rx.BandwidthHz)/4
}

// CarrierStart implements Station.
func (c *Chip) CarrierStart(f Frame, l Link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.catchUpLocked()
	rx := c.isLoRa() && !c.inReset && (c.mode() == modeRxCont || c.mode() == modeRxSng)
	c.heard = append(c.heard, heard{f: f, l: l, gen: c.gen,
		listening: rx && matches(c.paramsLocked(), f.Params) && c.reg[regModemConfig1]&1 == 0})
}

// CarrierEnd implements Station. The chip completes every frame whose end
// is due, in the order the frames ended, whenever it is touched (see
// catchUp), so CarrierEnd only prompts it: late or reordered timer
// goroutines cannot reorder or lose frames. A frame heard from its
// preamble on, in the same RX session, with matching settings, lands in
// the FIFO; one that overlapped another heard frame on the same channel
// (a collision) gets a CRC error, as does l.Corrupt from CarrierStart.
//
// With ChipOpts.ExternalVerdict the chip instead waits for CarrierEnd
// before completing f, and l.Corrupt (from CarrierStart or here) is the
// only collision verdict.
func (c *Chip) CarrierEnd(f Frame, l Link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.heard {
		h := &c.heard[i]
		if !h.done && !h.ended && h.f.From == f.From && h.f.Start.Equal(f.Start) {
			h.ended = true
			h.l.Corrupt = h.l.Corrupt || l.Corrupt
			break
		}
	}
	c.catchUpLocked()
}

// completeDueLocked processes heard frames that ended by now, in end order.
//
// A frame that would land in the FIFO while the host is still servicing
// the previous RxDone (from the RxDone until the host next waits on or
// reads a DIO pin, or changes the operating mode) is held back until then,
// as if the host had reacted in time. A real chip would overwrite the
// previous frame's registers and FIFO bytes; with a ScaledClock the host's
// wall-clock latency is multiplied by the scale, so without this an
// overloaded test machine would lose frames the driver on real hardware
// reads in time. Chip-level tests play the host by calling DIO0().Read().
func (c *Chip) completeDueLocked(now time.Time) {
	for {
		idx := -1
		for i, h := range c.heard {
			if !h.done && !h.f.End().After(now) && (h.ended || !c.external) && (idx < 0 || h.f.End().Before(c.heard[idx].f.End())) {
				idx = i
			}
		}
		if idx < 0 {
			break
		}
		if c.hold && c.wouldDeliverLocked(c.heard[idx]) {
			break
		}
		c.heard[idx].done = true
		c.completeLocked(c.heard[idx])
	}
	// Forget frames that can no longer overlap anything still on air.
	keep := c.heard[:0]
	for _, h := range c.heard {
		if !h.done || h.f.End().After(now.Add(-time.Minute)) {
			keep = append(keep, h)
		}
	}
	c.heard = keep
}

func (c *Chip) collidedLocked(h heard) bool {
	for _, g := range c.heard {
		if g.f.From == h.f.From && g.f.Start.Equal(h.f.Start) {
			continue
		}
		if g.f.Start.Before(h.f.End()) && g.f.End().After(h.f.Start) && channelsOverlap(g.f.Params, h.f.Params) {
			return true
		}
	}
	return false
}

func (c *Chip) wouldDeliverLocked(h heard) bool {
	return h.listening && h.gen == c.gen && !c.inReset
}

func (c *Chip) completeLocked(h heard) {
	f, l := h.f, h.l
	if !c.wouldDeliverLocked(h) {
		c.stats.RxMissed++
		return
	}
	p := c.paramsLocked()
	start := c.rxWrite
	for _, b := range f.Data {
		c.fifo[c.rxWrite] = b
		c.rxWrite++
	}
	c.reg[regFifoRxCurrent] = start
	c.reg[regRxNbBytes] = byte(len(f.Data))
	c.reg[regFifoRxByte] = c.rxWrite - 1
	c.reg[regPktSnr] = byte(int8(math.Max(-128, math.Min(127, math.Round(l.SNR*4)))))
	raw := l.RSSI - rssiOffset(p.FrequencyHz)
	if l.SNR < 0 {
		raw -= float64(int8(c.reg[regPktSnr])) / 4
	}
	c.reg[regPktRssi] = clampByte(raw)
	c.reg[regHopChannel] &^= 0x40
	if !f.NoCRC {
		c.reg[regHopChannel] |= 0x40
	}
	c.reg[regModemStat] = c.reg[regModemStat]&0x1f | byte(f.Params.CodingRate-4)<<5
	c.incr16Locked(regRxHeaderCnt)
	c.incr16Locked(regRxPacketCnt)
	bits := byte(irqRxDone | irqValidHeader)
	corrupt := l.Corrupt || (!c.external && c.collidedLocked(h)) || p.LowDataRateOptimize() != f.Params.LowDataRateOptimize()
	if corrupt && !f.NoCRC {
		bits |= irqCRCError
		c.stats.RxCRCErrors++
	}
	c.stats.RxFrames++
	if c.mode() == modeRxSng {
		c.reg[regOpMode] = c.reg[regOpMode]&^modeMask | modeStandby
		c.gen++
	}
	c.hold = true
	c.raiseLocked(bits)
}

// incr16Locked increments the 16-bit counter at msb, msb+1.
func (c *Chip) incr16Locked(msb byte) {
	v := uint16(c.reg[msb])<<8 | uint16(c.reg[msb+1]) + 1
	c.reg[msb], c.reg[msb+1] = byte(v>>8), byte(v)
}

// transfer runs one SPI transaction (CS asserted for its whole length).
func (c *Chip) transfer(w, r []byte) error {
	if len(w) == 0 {
		return errors.New("sx127xtest: empty SPI transfer")
	}
	if r != nil && len(r) != len(w) {
		return fmt.Errorf("sx127xtest: SPI transfer with len(w)=%d != len(r)=%d", len(w), len(r))
	}
	if len(w) > MaxTxSize {
		return fmt.Errorf("sx127xtest: SPI transfer of %d bytes exceeds %d", len(w), MaxTxSize)
	}
	c.mu.Lock()
	c.catchUpLocked()
	c.stats.SPITransactions++
	c.stats.SPIBytes += uint64(2 * len(w))
	if c.inReset || c.absent {
		v := byte(0)
		if c.absent {
			v = c.absentVal
		}
		for i := range r {
			r[i] = v
		}
		c.mu.Unlock()
		return nil
	}
	addr := w[0] & 0x7f
	write := w[0]&0x80 != 0
	if r != nil {
		r[0] = 0
	}
	var tx []*Frame
	for i := 1; i < len(w); i++ {
		if write {
			if f := c.writeLocked(addr, w[i]); f != nil {
				tx = append(tx, f)
			}
		} else if r != nil {
			r[i] = c.readLocked(addr)
		} else {
			c.readLocked(addr)
		}
		if addr != regFifo {
			addr = (addr + 1) & 0x7f
		}
	}
	c.mu.Unlock()
	for _, f := range tx {
		if c.transmit != nil {
			c.transmit(*f)
		}
		if c.air != nil {
			c.air.Transmit(c, *f)
		}
	}
	return nil
}

// port is the emulated SPI port of one chip.
type port struct {
	c         *Chip
	mu        sync.Mutex
	connected bool
}

func (p *port) String() string { return p.c.name + ".SPI" }

func (p *port) Close() error { return nil }

func (p *port) LimitSpeed(physic.Frequency) error { return nil }

// Connect checks the chip's SPI requirements: mode 0, 8 bits, ≤ 10 MHz.
func (p *port) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.connected {
		return nil, errors.New("sx127xtest: Connect called twice")
	}
	if mode&spi.Mode3 != spi.Mode0 || mode&(spi.HalfDuplex|spi.LSBFirst) != 0 {
		return nil, fmt.Errorf("sx127xtest: SX127x needs SPI mode 0, MSB first, full duplex; got %v", mode)
	}
	if bits != 8 {
		return nil, fmt.Errorf("sx127xtest: SX127x needs 8-bit words; got %d", bits)
	}
	if f > 10*physic.MegaHertz {
		return nil, fmt.Errorf("sx127xtest: SCK %v above the SX127x's 10 MHz", f)
	}
	p.connected = true
	return &spiConn{c: p.c}, nil
}

type spiConn struct{ c *Chip }

func (s *spiConn) String() string { return s.c.name + ".SPI" }

func (s *spiConn) Duplex() conn.Duplex { return conn.Full }

func (s *spiConn) MaxTxSize() int { return MaxTxSize }

func (s *spiConn) Tx(w, r []byte) error { return s.c.transfer(w, r) }

// TxPackets joins packets with KeepCS into one transaction.
func (s *spiConn) TxPackets(pkts []spi.Packet) error {
	var w, r []byte
	var dst [][]byte
	for i, p := range pkts {
		if p.R != nil && len(p.R) != len(p.W) {
			return fmt.Errorf("sx127xtest: packet %d: len(W)=%d != len(R)=%d", i, len(p.W), len(p.R))
		}
		w = append(w, p.W...)
		r = append(r, make([]byte, len(p.W))...)
		dst = append(dst, p.R)
		if p.KeepCS && i < len(pkts)-1 {
			continue
		}
		if err := s.c.transfer(w, r); err != nil {
			return err
		}
		off := 0
		for j, d := range dst {
			n := len(pkts[i-len(dst)+1+j].W)
			copy(d, r[off:off+n])
			off += n
		}
		w, r, dst = w[:0], r[:0], dst[:0]
	}
	return nil
}

var (
	_ spi.Conn    = (*spiConn)(nil)
	_ conn.Limits = (*spiConn)(nil)
	_ Station     = (*Chip)(nil)
)
