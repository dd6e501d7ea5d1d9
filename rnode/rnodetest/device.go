package rnodetest

import (
	"encoding/binary"
	"io"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/hal"
)

// Firmware constants this model implements (RNode_Firmware Framing.h,
// Boards.h, Config.h). They are repeated here rather than imported from
// package rnode so that the emulator is an independent implementation of
// the protocol: a shared bug cannot cancel itself out in the tests.
const (
	fend  = 0xC0
	fesc  = 0xDB
	tfend = 0xDC
	tfesc = 0xDD

	cmdData       = 0x00
	cmdFrequency  = 0x01
	cmdBandwidth  = 0x02
	cmdTxPower    = 0x03
	cmdSF         = 0x04
	cmdCR         = 0x05
	cmdRadioState = 0x06
	cmdRadioLock  = 0x07
	cmdDetect     = 0x08
	cmdLeave      = 0x0A
	cmdSTALock    = 0x0B
	cmdLTALock    = 0x0C
	cmdReady      = 0x0F
	cmdStatRSSI   = 0x23
	cmdStatSNR    = 0x24
	cmdStatCHTM   = 0x25
	cmdStatPHYPRM = 0x26
	cmdRandom     = 0x40
	cmdFBExt      = 0x41
	cmdPlatform   = 0x48
	cmdMCU        = 0x49
	cmdFWVersion  = 0x50
	cmdReset      = 0x55
	cmdError      = 0x90

	detectReq  = 0x73
	detectResp = 0x46
	resetByte  = 0xF8

	errInitRadio = 0x01
	errTxFailed  = 0x02

	cmdBufLen   = 64  // Config.h CMD_L
	mtu         = 508 // Config.h MTU
	rssiOffset  = 157 // Config.h rssi_offset
	singleMTU   = 255 // Config.h SINGLE_MTU
	splitFlag   = 0x01
	platformAVR = 0x90
)

// Platform and MCU bytes (Boards.h).
const (
	PlatformAVR   byte = 0x90
	PlatformESP32 byte = 0x80
	PlatformNRF52 byte = 0x70
	MCU1284P      byte = 0x91
	MCUESP32      byte = 0x81
	MCUNRF52      byte = 0x71
)

// Air is the emulated modem's antenna: Transmit is called with every LoRa
// frame the device puts on air (RNode header byte included) and the modem
// settings it uses (hal.Params with the firmware's preamble, sync word and
// LDRO resolved), in order, from the goroutine that fed the host bytes
// that caused it, with the device's lock held: it must not call back into
// the Device.
type Air interface {
	Transmit(frame []byte, p hal.Params)
}

// AirFunc adapts a function to Air.
type AirFunc func(frame []byte, p hal.Params)

// Transmit calls f(frame, p).
func (f AirFunc) Transmit(frame []byte, p hal.Params) { f(frame, p) }

// Config describes the emulated device. The zero value is an ESP32 RNode
// with an SX1276 (TX power capped at 17 dBm) running firmware 1.86, whose
// frames go nowhere.
type Config struct {
	// Platform and MCU are reported to the host; 0 selects ESP32.
	// ESP32 and nRF52 devices send STAT_PHYPRM frames, answer FB_EXT and
	// announce every boot with RESET f8; AVR devices do none of that.
	Platform, MCU byte
	// FirmwareMajor and FirmwareMinor are reported by FW_VERSION; both zero
	// selects 1.86.
	FirmwareMajor, FirmwareMinor byte
	// MaxTxPowerDBm caps the TX power as the firmware does for its modem;
	// 0 selects 17 (SX1276/78).
	MaxTxPowerDBm int
	// QueuePackets and QueueBytes bound the transmit queue; 0 selects the
	// ESP32 values 200 and 6144.
	QueuePackets, QueueBytes int
	// Air receives transmitted frames; nil discards them.
	Air Air
	// Rand draws the header byte's sequence nibble; nil uses a PRNG seeded
	// with Seed.
	Rand func() byte
	// Seed seeds the default Rand.
	Seed uint64
	// Now is the clock for airtime accounting (airtime locks); nil uses
	// time.Now.
	Now func() time.Time
}

// Faults make the device misbehave; the zero value is a healthy device.
type Faults struct {
	// WrongEcho replaces the body of the device's answer to the keyed
	// command byte (e.g. 0x02 for BANDWIDTH) with the given bytes.
	WrongEcho map[byte][]byte
	// Mute makes the device ignore every byte from the host (a hung MCU,
	// a wrong baud rate, or not an RNode at all).
	Mute bool
	// FailRadioInit makes starting the radio fail with ERROR 01.
	FailRadioInit bool
}

// Stats counts what the emulated device did.
type Stats struct {
	HostFrames    uint64 // KISS frames received from the host
	Queued        uint64 // DATA packets accepted into the queue
	QueueDropped  uint64 // DATA packets dropped: queue full or bad length
	TxPackets     uint64 // packets transmitted
	TxFrames      uint64 // LoRa frames transmitted
	TxFailed      uint64 // packets refused with ERROR 02 (radio off)
	RxFrames      uint64 // LoRa frames received from the air
	RxPackets     uint64 // packets delivered to the host
	AirtimeLocked uint64 // flush attempts held back by an airtime lock
}

// State is the device's radio configuration as the firmware holds it.
type State struct {
	FrequencyHz, BandwidthHz uint32
	TxPowerDBm, SF, CR       int
	RadioOn                  bool
	STALock, LTALock         uint16 // percent × 100, 0 = off
}

// Device is the firmware side of an RNode: it parses the host's KISS bytes
// (HostWrite), answers them on its host link (Attach), queues DATA packets
// and puts them on air with the RNode header byte and split framing, and
// turns frames received from the air (Receive) into STAT_RSSI, STAT_SNR and
// DATA frames for the host. It is safe for concurrent use.
type Device struct {
	cfg Config

	mu     sync.Mutex
	out    func([]byte) // host link; nil while detached
	tap    func([]byte) // observer of host bytes
	faults Faults
	stats  Stats

	// serial parser (RNode_Firmware.ino serial_callback)
	inFrame bool
	escape  bool
	command int
	cmdBuf  []byte
	dataBuf []byte

	// radio state
	freq, bw       uint32
	txp, sf, cr    int // -1 = unset
	radioOn        bool
	stLock, ltLock uint16
	queue          [][]byte
	queueBytes     int
	reasm          *hal.Reassembler
	airlog         []airUse // own transmissions within the last hour
	rng            *rand.Rand
}

type airUse struct {
	at time.Time
	d  time.Duration
}

// New returns a device that has just booted (radio off, parameters unset).
func New(cfg Config) *Device {
	if cfg.Platform == 0 {
		cfg.Platform, cfg.MCU = PlatformESP32, MCUESP32
	}
	if cfg.MCU == 0 {
		cfg.MCU = MCUESP32
	}
	if cfg.FirmwareMajor == 0 && cfg.FirmwareMinor == 0 {
		cfg.FirmwareMajor, cfg.FirmwareMinor = 1, 86
	}
	if cfg.MaxTxPowerDBm == 0 {
		cfg.MaxTxPowerDBm = 17
	}
	if cfg.QueuePackets == 0 {
		cfg.QueuePackets = 200
	}
	if cfg.QueueBytes == 0 {
		cfg.QueueBytes = 6144
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	d := &Device{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x524e6f6465))}
	d.boot()
	return d
}

func (d *Device) modern() bool {
	return d.cfg.Platform != platformAVR
}

// boot resets the firmware state as a power cycle does.
func (d *Device) boot() {
	d.inFrame, d.escape, d.command = false, false, -1
	d.cmdBuf = d.cmdBuf[:0]
	d.dataBuf = d.dataBuf[:0]
	d.freq, d.bw = 0, 0
	d.txp, d.sf, d.cr = -1, -1, 5
	d.radioOn = false
	d.stLock, d.ltLock = 0, 0
	d.queue, d.queueBytes = nil, 0
	d.reasm = hal.NewReassembler(0) // the firmware has no partial timeout
	d.airlog = nil
}

// Attach connects the host link: every byte the device sends goes to
// out, called with d's lock held (out must not call back into d). nil
// detaches. Attach does not reboot the device; see Reboot.
func (d *Device) Attach(out func([]byte)) {
	d.mu.Lock()
	d.out = out
	d.mu.Unlock()
}

// Reboot power-cycles the device: all state is lost and ESP32/nRF52
// devices announce the boot with RESET f8 on the host link.
func (d *Device) Reboot() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.boot()
	if d.modern() {
		d.send(cmdReset, []byte{resetByte})
	}
}

// SetHostTap installs f to observe every chunk of bytes from the host
// before the firmware parses it (also while Mute); nil removes it. f runs
// with the device's lock held and must not keep p.
func (d *Device) SetHostTap(f func(p []byte)) {
	d.mu.Lock()
	d.tap = f
	d.mu.Unlock()
}

// SetFaults replaces the device's misbehaviour settings.
func (d *Device) SetFaults(f Faults) {
	d.mu.Lock()
	d.faults = f
	d.mu.Unlock()
}

// InjectHost writes raw bytes to the host, outside the KISS protocol
// (garbage on the line, or a hand-made frame).
func (d *Device) InjectHost(b []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.out != nil {
		d.out(append([]byte(nil), b...))
	}
}

// SendError sends an ERROR frame with code to the host.
func (d *Device) SendError(code byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.send(cmdError, []byte{code})
}

// SendChannelStats sends a STAT_CHTM frame: own airtime and channel load
// (fractions × 10000, short and long term), current RSSI and noise floor
// in dBm, and the interference level in dBm (nil = none).
func (d *Device) SendChannelStats(airShort, airLong, loadShort, loadLong uint16, rssi, noise int, interference *int) {
	b := make([]byte, 0, 11)
	b = binary.BigEndian.AppendUint16(b, airShort)
	b = binary.BigEndian.AppendUint16(b, airLong)
	b = binary.BigEndian.AppendUint16(b, loadShort)
	b = binary.BigEndian.AppendUint16(b, loadLong)
	itf := byte(0xff)
	if interference != nil {
		itf = rssiByte(float64(*interference))
	}
	b = append(b, rssiByte(float64(rssi)), rssiByte(float64(noise)), itf)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.send(cmdStatCHTM, b)
}

// Stats returns the device's counters.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// State returns the radio configuration the firmware holds.
func (d *Device) State() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	return State{FrequencyHz: d.freq, BandwidthHz: d.bw, TxPowerDBm: d.txp, SF: d.sf, CR: d.cr,
		RadioOn: d.radioOn, STALock: d.stLock, LTALock: d.ltLock}
}

// Write feeds bytes from the host into the firmware's serial parser. It
// always consumes all of p and never fails, like a UART.
func (d *Device) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tap != nil {
		d.tap(p)
	}
	if d.faults.Mute {
		return len(p), nil
	}
	for _, b := range p {
		d.serialByte(b)
	}
	d.flush()
	return len(p), nil
}

// Poll retries transmitting queued packets (an airtime lock may have run
// out since the last attempt). The PTY calls it periodically.
func (d *Device) Poll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flush()
}

// Receive delivers one LoRa frame heard on air (RNode header byte
// included, CRC already checked) with its RSSI in dBm and SNR in dB. The
// device reassembles split packets with the firmware's state machine and
// passes complete packets to the host. Frames are ignored while the radio
// is off.
func (d *Device) Receive(frame []byte, rssiDBm, snrDB float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.radioOn {
		return
	}
	d.stats.RxFrames++
	pkt, err := d.reasm.Push(frame, d.cfg.Now())
	if err != nil || pkt == nil {
		return
	}
	d.stats.RxPackets++
	d.send(cmdStatRSSI, []byte{rssiByte(rssiDBm)})
	d.send(cmdStatSNR, []byte{byte(int8(clamp(math.Round(snrDB*4), -128, 127)))})
	d.send(cmdData, pkt)
}

func rssiByte(dbm float64) byte {
	return byte(clamp(math.Round(dbm)+rssiOffset, 0, 255))
}

func clamp(v, lo, hi float64) float64 {
	return math.Max(lo, math.Min(hi, v))
}

// send writes one frame to the host with an escaped body, as the
// firmware's kiss_indicate_* functions do (single bytes that are never
// FEND/FESC come out the same escaped or not).
func (d *Device) send(cmd byte, body []byte) {
	if d.out == nil {
		return
	}
	b := make([]byte, 0, len(body)+8)
	b = append(b, fend, cmd)
	for _, c := range body {
		switch c {
		case fend:
			b = append(b, fesc, tfend)
		case fesc:
			b = append(b, fesc, tfesc)
		default:
			b = append(b, c)
		}
	}
	d.out(append(b, fend))
}

// answer sends a parameter answer, unless a fault replaces it.
func (d *Device) answer(cmd byte, body []byte) {
	if w, ok := d.faults.WrongEcho[cmd]; ok {
		body = w
	}
	d.send(cmd, body)
}

// serialByte is the firmware's serial_callback, one byte at a time:
// DATA bodies are queued when their closing FEND arrives, every other
// command acts when its body is complete.
func (d *Device) serialByte(b byte) {
	if d.inFrame && b == fend && d.command == cmdData {
		d.inFrame = false
		d.stats.HostFrames++
		d.enqueue()
		d.flush() // the model transmits at once (no CSMA delay)
		return
	}
	if b == fend {
		if d.inFrame && d.command >= 0 {
			d.stats.HostFrames++
		}
		d.inFrame, d.escape, d.command = true, false, -1
		d.cmdBuf = d.cmdBuf[:0]
		d.dataBuf = d.dataBuf[:0]
		return
	}
	if !d.inFrame {
		return
	}
	if d.command < 0 {
		d.command = int(b)
		return
	}
	// Un-escape (the firmware only does it for multi-byte commands; the
	// single-byte values never need it).
	if b == fesc {
		d.escape = true
		return
	}
	if d.escape {
		switch b {
		case tfend:
			b = fend
		case tfesc:
			b = fesc
		}
		d.escape = false
	}
	if d.command == cmdData {
		if len(d.dataBuf) < mtu+1 { // longer packets are dropped at transmit time anyway
			d.dataBuf = append(d.dataBuf, b)
		}
		return
	}
	if len(d.cmdBuf) < cmdBufLen {
		d.cmdBuf = append(d.cmdBuf, b)
	}
	d.command1(byte(d.command), d.cmdBuf)
}

// command1 runs a command whose body so far is body (called per byte).
func (d *Device) command1(cmd byte, body []byte) {
	switch cmd {
	case cmdFrequency, cmdBandwidth:
		if len(body) != 4 {
			return
		}
		v := binary.BigEndian.Uint32(body)
		if cmd == cmdFrequency {
			if v != 0 {
				d.freq = v
				if d.radioOn {
					d.freq = quantiseFrequency(v)
				}
			}
			d.answer(cmd, binary.BigEndian.AppendUint32(nil, d.freq))
			return
		}
		if v != 0 {
			d.bw = v
			if d.radioOn {
				d.bw = chipBandwidth(v)
				d.phyStats()
			}
		}
		d.answer(cmd, binary.BigEndian.AppendUint32(nil, d.bw))
	case cmdSTALock, cmdLTALock:
		if len(body) != 2 {
			return
		}
		v := binary.BigEndian.Uint16(body)
		if v >= 10000 {
			v = 0
		}
		if cmd == cmdSTALock {
			d.stLock = v
		} else {
			d.ltLock = v
		}
		d.answer(cmd, binary.BigEndian.AppendUint16(nil, v))
	}
	if len(body) != 1 {
		return
	}
	b := body[0]
	switch cmd {
	case cmdTxPower:
		if b != 0xff {
			d.txp = min(int(b), d.cfg.MaxTxPowerDBm)
		}
		d.answer(cmd, []byte{byte(d.txp)})
	case cmdSF:
		if b != 0xff {
			d.sf = min(max(int(b), 6), 12) // SX127x driver range
			if d.radioOn {
				d.phyStats()
			}
		}
		d.answer(cmd, []byte{byte(d.sf)})
	case cmdCR:
		if b != 0xff {
			d.cr = min(max(int(b), 5), 8)
			if d.radioOn {
				d.phyStats()
			}
		}
		d.answer(cmd, []byte{byte(d.cr)})
	case cmdRadioState:
		switch b {
		case 0x00:
			d.radioOn = false
			d.reasm.Reset()
		case 0x01:
			d.startRadio()
		}
		d.answer(cmdRadioState, []byte{boolByte(d.radioOn)})
	case cmdRadioLock:
		d.send(cmdRadioLock, []byte{boolByte(d.locked())})
	case cmdDetect:
		if b == detectReq {
			d.send(cmdDetect, []byte{detectResp})
		}
	case cmdFWVersion:
		d.send(cmdFWVersion, []byte{d.cfg.FirmwareMajor, d.cfg.FirmwareMinor})
	case cmdPlatform:
		d.send(cmdPlatform, []byte{d.cfg.Platform})
	case cmdMCU:
		d.send(cmdMCU, []byte{d.cfg.MCU})
	case cmdReady:
		d.send(cmdReady, []byte{boolByte(!d.queueFull())})
	case cmdRandom:
		d.send(cmdRandom, []byte{byte(d.rng.Uint32())})
	case cmdFBExt:
		if d.modern() && b != 0xff {
			d.send(cmdFBExt, []byte{b})
		}
	case cmdReset:
		if b == resetByte {
			d.boot()
			if d.modern() {
				d.send(cmdReset, []byte{resetByte})
			}
		}
	case cmdLeave:
	}
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// locked is the firmware's radio lock: a parameter is still unset.
func (d *Device) locked() bool {
	return d.freq == 0 || d.bw == 0 || d.txp < 0 || d.sf < 0
}

// startRadio follows RNode_Firmware.ino startRadio: refuse while locked,
// fail on a radio init fault, else apply the parameters (three STAT_PHYPRM
// frames on ESP32/nRF52) and announce the state once itself.
func (d *Device) startRadio() {
	if d.radioOn {
		d.answer(cmdRadioState, []byte{1})
		return
	}
	if d.locked() {
		d.answer(cmdRadioState, []byte{0})
		return
	}
	if d.faults.FailRadioInit {
		d.send(cmdError, []byte{errInitRadio})
		return
	}
	d.radioOn = true
	d.bw = chipBandwidth(d.bw)
	d.phyStats() // setBandwidth
	d.phyStats() // setSpreadingFactor
	d.phyStats() // setCodingRate
	d.freq = quantiseFrequency(d.freq)
	d.answer(cmdRadioState, []byte{1})
}

// params returns the modem settings as the firmware programs the chip:
// ESP32/nRF52 builds use the RNode preamble rule, AVR builds keep the
// chip's default preamble register 8 (N = 12).
func (d *Device) params() hal.Params {
	p := hal.Params{FrequencyHz: d.freq, BandwidthHz: d.bw, SpreadingFactor: d.sf,
		CodingRate: d.cr, TxPowerDBm: d.txp}
	if !d.modern() {
		p.PreambleSymbols = 12
	}
	return p.Effective()
}

// Params returns the modem settings the device transmits with, and
// whether its radio is on.
func (d *Device) Params() (hal.Params, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.params(), d.radioOn
}

// phyStats sends STAT_PHYPRM as Utilities.h kiss_indicate_phy_stats does
// (ESP32/nRF52 only).
func (d *Device) phyStats() {
	if !d.modern() || d.bw == 0 || d.sf < 0 {
		return
	}
	p := d.params()
	sym := hal.SymbolTime(p)
	n := hal.RNodePreamble(p)
	slot, difs := hal.CSMATiming(p)
	preMs := (time.Duration(n)*sym + time.Millisecond - 1) / time.Millisecond
	var b []byte
	for _, v := range []uint64{uint64(sym / time.Microsecond), uint64(d.bw) >> d.sf, uint64(n),
		uint64(preMs), uint64(slot / time.Millisecond), uint64(difs / time.Millisecond)} {
		b = binary.BigEndian.AppendUint16(b, uint16(v))
	}
	d.send(cmdStatPHYPRM, b)
}

// quantiseFrequency returns the frequency an SX127x actually tunes to:
// Frf = floor(f × 2^19 / 32 MHz), reported back as floor(Frf × 32 MHz / 2^19).
func quantiseFrequency(f uint32) uint32 {
	frf := uint64(f) << 19 / 32_000_000
	return uint32(frf * 32_000_000 >> 19)
}

// chipBandwidth rounds bw up to the next SX127x bandwidth
// (sx127x.cpp setSignalBandwidth/getSignalBandwidth).
func chipBandwidth(bw uint32) uint32 {
	for _, b := range hal.Bandwidths {
		if bw <= b {
			return b
		}
	}
	return hal.Bandwidths[len(hal.Bandwidths)-1]
}

func (d *Device) queueFull() bool {
	return len(d.queue) >= d.cfg.QueuePackets || d.queueBytes >= d.cfg.QueueBytes
}

func (d *Device) enqueue() {
	n := len(d.dataBuf)
	if n < 1 || n > mtu || d.queueFull() || d.queueBytes+n > d.cfg.QueueBytes {
		d.stats.QueueDropped++
		return
	}
	d.queue = append(d.queue, append([]byte(nil), d.dataBuf...))
	d.queueBytes += n
	d.stats.Queued++
}

// airtimeLocked applies the short-term (15 s) and long-term (1 h) airtime
// limits to the device's own transmissions.
func (d *Device) airtimeLocked(now time.Time) bool {
	if d.stLock == 0 && d.ltLock == 0 {
		return false
	}
	cut := 0
	var short, long time.Duration
	for i, u := range d.airlog {
		age := now.Sub(u.at)
		if age > time.Hour {
			cut = i + 1
			continue
		}
		long += u.d
		if age <= 15*time.Second {
			short += u.d
		}
	}
	d.airlog = d.airlog[cut:]
	if d.stLock != 0 && short*10000 >= 15*time.Second*time.Duration(d.stLock) {
		return true
	}
	return d.ltLock != 0 && long*10000 >= time.Hour*time.Duration(d.ltLock)
}

// flush transmits the queue (RNode_Firmware.ino flush_queue/transmit) when
// the radio is on and no airtime lock holds; with the radio off every
// queued packet fails with ERROR 02, as transmit() does.
func (d *Device) flush() {
	if len(d.queue) == 0 {
		return
	}
	now := d.cfg.Now()
	if d.radioOn && d.airtimeLocked(now) {
		d.stats.AirtimeLocked++
		return
	}
	q := d.queue
	d.queue, d.queueBytes = nil, 0
	for _, pkt := range q {
		if !d.radioOn {
			d.stats.TxFailed++
			d.send(cmdError, []byte{errTxFailed})
			continue
		}
		d.transmit(pkt, now)
	}
}

// transmit puts one packet on air with a fresh sequence nibble. Packets
// up to 507 bytes use hal.EncodeFrames (the firmware's split); the
// firmware's 508-byte quirk (255 + 255 + a header-only third frame) is
// reproduced by hand.
func (d *Device) transmit(pkt []byte, now time.Time) {
	var seq byte
	if d.cfg.Rand != nil {
		seq = d.cfg.Rand() & 0xf0
	} else {
		seq = byte(d.rng.Uint32()) & 0xf0
	}
	var frames [][]byte
	if len(pkt) == mtu {
		h := seq | splitFlag
		frames = [][]byte{
			append([]byte{h}, pkt[:singleMTU-1]...),
			append([]byte{h}, pkt[singleMTU-1:]...),
			{h},
		}
	} else {
		var err error
		if frames, err = hal.EncodeFrames(seq, pkt); err != nil {
			d.stats.QueueDropped++
			return
		}
	}
	p := d.params()
	for len(d.airlog) > 0 && now.Sub(d.airlog[0].at) > time.Hour {
		d.airlog = d.airlog[1:]
	}
	for _, f := range frames {
		d.stats.TxFrames++
		d.airlog = append(d.airlog, airUse{at: now, d: hal.Airtime(p, len(f))})
		if d.cfg.Air != nil {
			d.cfg.Air.Transmit(f, p)
		}
	}
	d.stats.TxPackets++
}

// Serve runs the device on a byte stream until reading rw fails: host
// bytes read from rw go to Write, device bytes are written to rw. It is
// the transport-independent core of the PTY (and works on an io.Pipe or
// net.Pipe end).
func (d *Device) Serve(rw io.ReadWriter) error {
	d.Attach(func(b []byte) { _, _ = rw.Write(b) })
	defer d.Attach(nil)
	buf := make([]byte, 1024)
	for {
		n, err := rw.Read(buf)
		if n > 0 {
			_, _ = d.Write(buf[:n])
		}
		if err != nil {
			return err
		}
	}
}
