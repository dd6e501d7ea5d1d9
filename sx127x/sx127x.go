package sx127x

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

// Errors returned by the driver. Errors from SPI or GPIO are wrapped with
// the register or pin involved.
var (
	// ErrNoChip means the version register read 0x00 or 0xff: nothing
	// answers on the SPI device (wiring, chip select, board profile).
	ErrNoChip = errors.New("sx127x: no SX127x found")
	// ErrUnknownChip means the version register holds a value other than
	// 0x12 (for example 0x22, an SX1272).
	ErrUnknownChip = errors.New("sx127x: unknown chip version")
	// ErrModeStuck means the chip did not enter LoRa sleep mode.
	ErrModeStuck = errors.New("sx127x: chip does not enter LoRa mode")
	// ErrNoDIO0 is returned by New when no DIO0 pin is given.
	ErrNoDIO0 = errors.New("sx127x: a DIO0 pin is required")
	// ErrTxQueueFull is returned by Submit when Opts.TxQueue packets
	// already wait for the radio.
	ErrTxQueueFull = errors.New("sx127x: transmit queue full")
)

// DetectError reports a failed chip detection on a named SPI device. It
// unwraps to ErrNoChip or ErrUnknownChip.
type DetectError struct {
	Device  string // e.g. "SPI0.1"
	Version byte   // what RegVersion (0x42) returned
}

// Error implements error.
func (e *DetectError) Error() string {
	if e.Version == 0x00 || e.Version == 0xff {
		return fmt.Sprintf("no SX127x found on %s (version register reads 0x%02x) — check wiring/board profile", e.Device, e.Version)
	}
	return fmt.Sprintf("sx127x: unknown chip on %s: version register 0x%02x, want 0x12 (SX1276/77/78/79)", e.Device, e.Version)
}

// Unwrap returns ErrNoChip or ErrUnknownChip.
func (e *DetectError) Unwrap() error {
	if e.Version == 0x00 || e.Version == 0xff {
		return ErrNoChip
	}
	return ErrUnknownChip
}

// Opts configure a Dev. The zero value (or a nil *Opts) gives the defaults
// documented on each field.
type Opts struct {
	// Params are the LoRa settings applied by New; the zero value means
	// hal.DefaultParams() (867.2 MHz, 125 kHz, SF8, CR 4/5, 7 dBm).
	Params hal.Params
	// Region, if set, is checked by every Configure (hal.Params.Validate).
	Region hal.Region
	// Device names the SPI device in String and errors, e.g. "SPI0.1";
	// default the port's String.
	Device string
	// SPIFrequency is the SCK rate; default 8 MHz (RNode's), at most 10 MHz.
	SPIFrequency physic.Frequency
	// DIO1 is optional; it is configured as an input but the driver
	// decides everything from RegIrqFlags, so boards without DIO1 lose
	// nothing.
	DIO1 gpio.PinIn
	// RFO selects the RFO output (0..14 dBm) instead of PA_BOOST
	// (2..20 dBm). RFM95/96/98 modules only wire PA_BOOST, so leave it
	// false for them.
	RFO bool
	// DisableCSMA transmits without carrier sense (tests, or a channel
	// known to be private). By default Send waits like an RNode: the
	// channel must stay free (RegModemStat bits 0/1 clear) for DIFS plus a
	// random number of slots, the count frozen while it is busy; the range
	// is 0..14 slots and moves up (15..28, 30..43, 45..58) as this radio's
	// own airtime over the last 15 s exceeds 7, 38 and 77 %.
	DisableCSMA bool
	// InterferenceAvoidance also treats an RSSI more than 11 dB above the
	// learned noise floor as busy (RNode with --ia-enable). The floor is
	// the running mean of up to 128 RSSI samples taken without a carrier
	// and below floor + 11 dB, sampled on every idle loop turn (one extra
	// SPI transaction per PollInterval) and while a send waits.
	InterferenceAvoidance bool
	// CAD runs a channel-activity detection right before each transmission
	// and backs off when it detects a preamble.
	CAD bool
	// MaxChannelWait bounds how long Send waits for a free channel before
	// returning hal.ErrChannelBusy; default 30 s.
	MaxChannelWait time.Duration
	// PollInterval is how long the receive loop waits on DIO0 per turn
	// when idle; it bounds the latency before a Send starts. Default 25 ms.
	PollInterval time.Duration
	// SensePeriod is the carrier-sense sampling period while a Send waits
	// for the channel; default 5 ms (RNode: 3 ms).
	SensePeriod time.Duration
	// RxQueue is how many received packets wait for Receive before new
	// ones are dropped (counted in Stats().RxOverflow); default 16.
	RxQueue int
	// TxQueue is how many packets handed over by Send or Submit wait for
	// the DIO0 goroutine; default 16. When it is full, Send blocks and
	// Submit returns ErrTxQueueFull.
	TxQueue int
	// Rand returns random numbers for sequence nibbles and backoff; it
	// must be safe for concurrent use. Default math/rand/v2's Uint64.
	Rand func() uint64
	// Now is the driver's clock for timestamps and channel-access timing;
	// default time.Now. Tests pass the emulated chip's clock.
	Now func() time.Time
	// Sleep waits during the reset pulse and chip detection; default
	// time.Sleep.
	Sleep func(time.Duration)
}

// DefaultOpts is what a nil *Opts means.
var DefaultOpts = Opts{}

func (o *Opts) withDefaults() Opts {
	r := Opts{}
	if o != nil {
		r = *o
	}
	if r.Params == (hal.Params{}) {
		r.Params = hal.DefaultParams()
	}
	if r.SPIFrequency == 0 {
		r.SPIFrequency = 8 * physic.MegaHertz
	}
	if r.MaxChannelWait <= 0 {
		r.MaxChannelWait = 30 * time.Second
	}
	if r.PollInterval <= 0 {
		r.PollInterval = 25 * time.Millisecond
	}
	if r.SensePeriod <= 0 {
		r.SensePeriod = 5 * time.Millisecond
	}
	if r.RxQueue <= 0 {
		r.RxQueue = 16
	}
	if r.TxQueue <= 0 {
		r.TxQueue = 16
	}
	if r.Rand == nil {
		r.Rand = rand.Uint64
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.Sleep == nil {
		r.Sleep = time.Sleep
	}
	return r
}

// Dev is an SX1276/77/78/79 in LoRa mode carrying RNode-framed packets.
// It implements hal.Radio and conn.Resource. A background goroutine owns
// DIO0: it receives frames, and it performs every transmission handed to
// it by Send. All methods are safe for concurrent use.
type Dev struct {
	device string
	conn   spi.Conn
	rst    gpio.PinOut // nil without a reset line
	dio0   gpio.PinIn
	dio1   gpio.PinIn
	o      Opts

	mu         sync.Mutex // serialises SPI access and guards the fields below
	p          hal.Params // effective settings in the chip
	version    byte
	wbuf, rbuf [1 + 256]byte
	floor      float64 // learned noise floor, dBm
	floorN     int

	statsMu sync.Mutex
	stats   hal.Stats
	reasm   hal.ReassemblyStats

	txMu      sync.Mutex // orders Submit against Close (see txClosed)
	txClosed  bool       // Close began: Submit refuses, queued requests get ErrClosed
	txq       chan *txReq
	cfgq      chan *cfgReq
	rxq       chan hal.Packet
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error

	txActive bool // the chip is not listening (TX, CAD); guarded by mu

	airLog []airRec // own frames of the last 15 s; loop goroutine only
}

type txReq struct {
	ctx    context.Context
	frames [][]byte
	done   chan error
}

type cfgReq struct {
	p    hal.Params
	done chan error
}

// New resets the chip (if rst is not nil or gpio.INVALID), checks the
// version register, puts the chip into a known LoRa state even without a
// reset line, applies o.Params as an RNode would, and starts receiving.
// dio0 is required; it is configured as a rising-edge input.
func New(port spi.Port, rst gpio.PinOut, dio0 gpio.PinIn, o *Opts) (*Dev, error) {
	opts := o.withDefaults()
	if dio0 == nil || dio0 == gpio.PinIn(gpio.INVALID) {
		return nil, ErrNoDIO0
	}
	if rst == gpio.PinOut(gpio.INVALID) {
		rst = nil
	}
	if opts.DIO1 == gpio.PinIn(gpio.INVALID) {
		opts.DIO1 = nil
	}
	device := opts.Device
	if device == "" {
		device = port.String()
	}
	conn, err := port.Connect(opts.SPIFrequency, spi.Mode0, 8)
	if err != nil {
		return nil, fmt.Errorf("sx127x: connect %s: %w", device, err)
	}
	d := &Dev{device: device, conn: conn, rst: rst, dio0: dio0, dio1: opts.DIO1, o: opts,
		txq: make(chan *txReq, opts.TxQueue), cfgq: make(chan *cfgReq), rxq: make(chan hal.Packet, opts.RxQueue),
		quit: make(chan struct{}), done: make(chan struct{})}
	if err := d.checkParams(opts.Params); err != nil {
		return nil, err
	}
	d.mu.Lock()
	err = d.bringUpLocked(opts.Params)
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := dio0.In(gpio.PullDown, gpio.RisingEdge); err != nil {
		return nil, fmt.Errorf("sx127x: DIO0 %s: %w", dio0, err)
	}
	if d.dio1 != nil {
		if err := d.dio1.In(gpio.PullDown, gpio.NoEdge); err != nil {
			return nil, fmt.Errorf("sx127x: DIO1 %s: %w", d.dio1, err)
		}
	}
	go d.run(hal.NewReassembler(hal.PartialTimeout(d.p)))
	return d, nil
}

// String returns e.g. "SX1276{SPI0.0}".
func (d *Dev) String() string { return "SX1276{" + d.device + "}" }

// Version returns the version register read at detection (0x12).
func (d *Dev) Version() byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.version
}

// Params returns the effective settings in the chip.
func (d *Dev) Params() hal.Params {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.p
}

// bringUpLocked resets (if possible), detects and configures the chip.
func (d *Dev) bringUpLocked(p hal.Params) error {
	if d.rst != nil {
		if err := d.rst.Out(gpio.Low); err != nil {
			return fmt.Errorf("sx127x: reset %s: %w", d.rst, err)
		}
		d.o.Sleep(10 * time.Millisecond)
		if err := d.rst.Out(gpio.High); err != nil {
			return fmt.Errorf("sx127x: reset %s: %w", d.rst, err)
		}
		d.o.Sleep(10 * time.Millisecond)
	}
	if err := d.detectLocked(); err != nil {
		return err
	}
	if err := d.knownStateLocked(); err != nil {
		return err
	}
	return d.configureLocked(p)
}

// detectLocked reads RegVersion until it is 0x12, for up to ~500 ms when
// it reads 0x00/0xff (a chip still coming out of reset), like the RNode.
func (d *Dev) detectLocked() error {
	var v byte
	var err error
	for i := 0; i < 10; i++ {
		if v, err = d.read1Locked(regVersion); err != nil {
			return err
		}
		if v == chipVersion {
			d.version = v
			return nil
		}
		if v != 0x00 && v != 0xff {
			break
		}
		d.o.Sleep(50 * time.Millisecond)
	}
	return &DetectError{Device: d.device, Version: v}
}

// knownStateLocked brings the chip to LoRa sleep with IRQs, DIO mapping,
// IQ and FIFO settings at known values: boards without a reset line start
// with whatever the previous program left.
func (d *Dev) knownStateLocked() error {
	// LongRangeMode only changes in SLEEP: first sleep (whatever the
	// modulation), then LoRa sleep.
	if err := d.writeLocked(regOpMode, modeSleep); err != nil {
		return err
	}
	if err := d.writeLocked(regOpMode, longRangeMode|modeSleep); err != nil {
		return err
	}
	m, err := d.read1Locked(regOpMode)
	if err != nil {
		return err
	}
	if m != longRangeMode|modeSleep {
		return fmt.Errorf("%w: RegOpMode reads 0x%02x after writing 0x80", ErrModeStuck, m)
	}
	for _, w := range [][]byte{
		{regIrqFlagsMask, 0x00, 0xff},  // unmask all, clear all flags
		{regDioMapping1, 0x00, 0x00},   // DIO0 = RxDone
		{regInvertIQ, 0x27},            // normal IQ
		{regInvertIQ2, 0x1d},           //
		{regMaxPayloadLen, 0xff, 0x00}, // max payload, no FHSS
	} {
		if err := d.writeLocked(w[0], w[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// checkParams validates p for this chip: the hal ranges and region, plus
// SF 7..12 (SF6 is implicit-header only) and the power range of the
// selected PA output.
func (d *Dev) checkParams(p hal.Params) error {
	if err := p.Validate(d.o.Region); err != nil {
		return err
	}
	if p.SpreadingFactor < 7 {
		return &hal.ParamError{Field: "SpreadingFactor", Value: int64(p.SpreadingFactor), Reason: "SX127x with explicit header needs SF7..12"}
	}
	if d.o.RFO && p.TxPowerDBm > 14 {
		return &hal.ParamError{Field: "TxPowerDBm", Value: int64(p.TxPowerDBm), Reason: "RFO output supports 0..14 dBm"}
	}
	if !d.o.RFO && (p.TxPowerDBm < 2 || p.TxPowerDBm > 20) {
		return &hal.ParamError{Field: "TxPowerDBm", Value: int64(p.TxPowerDBm), Reason: "PA_BOOST supports 2..20 dBm"}
	}
	if e := p.Effective(); e.PreambleSymbols-4 < 2 {
		return &hal.ParamError{Field: "PreambleSymbols", Value: int64(e.PreambleSymbols), Reason: "SX127x needs at least 6"}
	}
	return nil
}

// configureLocked applies p in the RNode firmware's order (SX127X.md §8.2)
// and enters RX continuous.
func (d *Dev) configureLocked(p hal.Params) error {
	e := p.Effective()
	frf := uint32(uint64(e.FrequencyHz) << 19 / 32_000_000)
	pa, dac, ocp := paSettings(e.TxPowerDBm, d.o.RFO)
	ldro := byte(0)
	if e.LowDataRateOptimize() {
		ldro = 0x08
	}
	pre := e.PreambleSymbols - 4
	hbw1, hbw2 := byte(0x03), byte(0)
	if e.BandwidthHz == 500_000 {
		hbw1, hbw2 = 0x02, 0x64
		if e.FrequencyHz < 525_000_000 {
			hbw2 = 0x7f
		}
	}
	steps := [][]byte{
		{regOpMode, longRangeMode | modeStandby},
		{regFrfMsb, byte(frf >> 16), byte(frf >> 8), byte(frf)},
		{regFifoAddrPtr, 0x00, 0x00, 0x00}, // pointer, TX base, RX base
		{regLna, 0x23},                     // max gain, LNA boost
		{regSyncWord, e.SyncWord},
		{regPaDac, dac},
		{regOcp, ocp},
		{regPaConfig, pa},
		{regModemConfig1, byte(hal.BandwidthCode(e.BandwidthHz))<<4 | byte(e.CodingRate-4)<<1},
		{regModemConfig2, byte(e.SpreadingFactor)<<4 | 0x04}, // payload CRC on
		{regModemConfig3, 0x04 | ldro},                       // AGC on
		{regPreambleMsb, byte(pre >> 8), byte(pre)},
		{regDetectOpt, 0xc3},
		{regDetectThresh, 0x0a},
		{regHighBwOpt1, hbw1},
	}
	if hbw2 != 0 {
		steps = append(steps, []byte{regHighBwOpt2, hbw2})
	}
	steps = append(steps, []byte{regDioMapping1, dioRxDone}, []byte{regOpMode, longRangeMode | modeRxCont})
	for _, s := range steps {
		if err := d.writeLocked(s[0], s[1:]...); err != nil {
			return err
		}
	}
	d.p = e
	return nil
}

// paSettings returns RegPaConfig, RegPaDac and RegOcp for power dBm
// (SX127X.md §5): RFO 0x70|P; PA_BOOST 0x80|(P−2) with PaDac 0x84 up to
// 17 dBm, 0x8f|... with PaDac 0x87 and OCP 140 mA for 18..20 dBm.
func paSettings(dbm int, rfo bool) (pa, dac, ocp byte) {
	const ocp100, ocp140 = 0x20 | 0x0b, 0x20 | 0x11
	switch {
	case rfo:
		return 0x70 | byte(dbm), 0x84, ocp100
	case dbm > 17:
		return 0x80 | byte(dbm-5), 0x87, ocp140
	default:
		return 0x80 | byte(dbm-2), 0x84, ocp100
	}
}

// writeLocked writes vals to consecutive registers from addr (or into the
// FIFO) in one SPI transaction.
func (d *Dev) writeLocked(addr byte, vals ...byte) error {
	n := 1 + len(vals)
	d.wbuf[0] = addr | writeBit
	copy(d.wbuf[1:], vals)
	if err := d.conn.Tx(d.wbuf[:n], d.rbuf[:n]); err != nil {
		return fmt.Errorf("sx127x: write %s: %w", regName(addr), err)
	}
	return nil
}

// readLocked reads n consecutive registers from addr (or n FIFO bytes) in
// one SPI transaction. The result aliases an internal buffer that the next
// SPI access overwrites.
func (d *Dev) readLocked(addr byte, n int) ([]byte, error) {
	d.wbuf[0] = addr &^ writeBit
	clear(d.wbuf[1 : n+1])
	if err := d.conn.Tx(d.wbuf[:n+1], d.rbuf[:n+1]); err != nil {
		return nil, fmt.Errorf("sx127x: read %s: %w", regName(addr), err)
	}
	return d.rbuf[1 : n+1], nil
}

func (d *Dev) read1Locked(addr byte) (byte, error) {
	b, err := d.readLocked(addr, 1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

var regNames = map[byte]string{
	regFifo: "RegFifo", regOpMode: "RegOpMode", regFrfMsb: "RegFrf", regPaConfig: "RegPaConfig",
	regOcp: "RegOcp", regLna: "RegLna", regFifoAddrPtr: "RegFifoAddrPtr", regFifoTxBase: "RegFifoTxBaseAddr",
	regFifoRxBase: "RegFifoRxBaseAddr", regFifoRxCurrent: "RegFifoRxCurrentAddr", regIrqFlagsMask: "RegIrqFlagsMask",
	regIrqFlags: "RegIrqFlags", regRxNbBytes: "RegRxNbBytes", regModemStat: "RegModemStat", regPktSnr: "RegPktSnrValue",
	regPktRssi: "RegPktRssiValue", regRssi: "RegRssiValue", regHopChannel: "RegHopChannel",
	regModemConfig1: "RegModemConfig1", regModemConfig2: "RegModemConfig2", regPreambleMsb: "RegPreamble",
	regPayloadLength: "RegPayloadLength", regMaxPayloadLen: "RegMaxPayloadLength", regModemConfig3: "RegModemConfig3",
	regDetectOpt: "RegDetectOptimize", regInvertIQ: "RegInvertIQ", regHighBwOpt1: "RegHighBwOptimize1",
	regDetectThresh: "RegDetectionThreshold", regSyncWord: "RegSyncWord", regHighBwOpt2: "RegHighBwOptimize2",
	regInvertIQ2: "RegInvertIQ2", regDioMapping1: "RegDioMapping1", regDioMapping2: "RegDioMapping2",
	regVersion: "RegVersion", regPaDac: "RegPaDac",
}

func regName(a byte) string {
	if n, ok := regNames[a]; ok {
		return n
	}
	return fmt.Sprintf("register 0x%02x", a)
}
