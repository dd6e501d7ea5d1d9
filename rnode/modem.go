package rnode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/hal"
)

// Oldest firmware the reference host accepts (RNodeInterface.py
// REQUIRED_FW_VER_MAJ/MIN).
const (
	minFirmwareMajor = 1
	minFirmwareMinor = 52
)

// Port is what the driver needs of a serial port. go.bug.st/serial's Port
// satisfies it, as does one end of a pipe.
type Port interface {
	io.ReadWriteCloser
}

// Dialer opens the device. The driver calls it once in Open and again for
// every reconnection after the device disappeared.
type Dialer func(ctx context.Context) (Port, error)

// Opts tunes the driver. The zero value (or nil) gives the reference host
// driver's timing.
type Opts struct {
	// OpenDelay is how long to wait after opening the port before the
	// detect request (many boards reset when the port opens). Default 2 s
	// (RNodeInterface.configure_device); negative means none.
	OpenDelay time.Duration
	// DetectTimeout bounds the wait for the answers to the detect request
	// (detect, firmware version, platform, MCU). Default 200 ms, the
	// reference host's fixed sleep.
	DetectTimeout time.Duration
	// ConfigTimeout bounds the wait for the echoes of the configuration.
	// Default 250 ms, the reference host's fixed sleep before it validates.
	ConfigTimeout time.Duration
	// ReconnectInterval is the pause between reconnection attempts after
	// the device disappeared or rebooted. Default 5 s (reconnect_port).
	ReconnectInterval time.Duration
	// FrameTimeout drops a KISS frame left incomplete for longer than
	// this. Default 100 ms (readLoop's timeout).
	FrameTimeout time.Duration
	// STALockPercent and LTALockPercent set the device's short-term
	// (15 s) and long-term (1 h) airtime limits in percent (0..100, two
	// decimals); 0 leaves them unset, as the reference host does when
	// airtime_limit_short/long are not configured.
	STALockPercent, LTALockPercent float64
	// FlowControl makes Send ask the device whether its queue has room
	// (READY, 0f) before every packet, waiting while it is full. Firmware
	// 1.86 only answers READY on request, so this polls (RNODE.md §6.3).
	FlowControl bool
	// ReadyTimeout bounds each READY poll with FlowControl. Default 1 s.
	ReadyTimeout time.Duration
	// NoTxWait makes Send return as soon as the packet is written to the
	// device instead of when its estimated airtime has passed.
	NoTxWait bool
	// RxQueue is how many received packets wait for Receive before
	// further ones are dropped (counted as RxOverflow). Default 64.
	RxQueue int
	// Logger receives diagnostics; nil discards them.
	Logger *slog.Logger
	// Name names the modem in String, e.g. the serial device path;
	// default "RNode".
	Name string
}

func (o *Opts) withDefaults() Opts {
	var r Opts
	if o != nil {
		r = *o
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		} else if *d < 0 {
			*d = 0
		}
	}
	def(&r.OpenDelay, 2*time.Second)
	def(&r.DetectTimeout, 200*time.Millisecond)
	def(&r.ConfigTimeout, 250*time.Millisecond)
	def(&r.ReconnectInterval, 5*time.Second)
	def(&r.FrameTimeout, 100*time.Millisecond)
	def(&r.ReadyTimeout, time.Second)
	if r.RxQueue <= 0 {
		r.RxQueue = 64
	}
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Name == "" {
		r.Name = "RNode"
	}
	return r
}

// Info is what the device said about itself when detected.
type Info struct {
	FirmwareMajor, FirmwareMinor int
	Platform                     byte // PlatformESP32, PlatformNRF52, PlatformAVR, ...
	MCU                          byte
}

// HasDisplay reports whether the reference host treats the device as one
// with a display (ESP32 and nRF52 platforms).
func (i Info) HasDisplay() bool {
	return i.Platform == PlatformESP32 || i.Platform == PlatformNRF52
}

// PlatformName returns "ESP32", "nRF52", "AVR" or the byte in hex.
func (i Info) PlatformName() string {
	switch i.Platform {
	case PlatformESP32:
		return "ESP32"
	case PlatformNRF52:
		return "nRF52"
	case PlatformAVR:
		return "AVR"
	}
	return fmt.Sprintf("0x%02x", i.Platform)
}

// String describes the device, e.g. "RNode firmware 1.86, platform ESP32,
// MCU 0x81".
func (i Info) String() string {
	return fmt.Sprintf("RNode firmware %d.%02d, platform %s, MCU 0x%02x",
		i.FirmwareMajor, i.FirmwareMinor, i.PlatformName(), i.MCU)
}

// ChannelStats is the device's last STAT_CHTM report (ESP32/nRF52, about
// once a second while the radio is on).
type ChannelStats struct {
	AirtimeShort, AirtimeLong float64 // own airtime, percent, 15 s and 1 h
	LoadShort, LoadLong       float64 // channel load, percent, 15 s and 1 h
	RSSI                      int     // current RSSI, dBm
	NoiseFloor                int     // dBm
	Interference              *int    // dBm, nil when none
	At                        time.Time
}

// PhyStats is the device's last STAT_PHYPRM report.
type PhyStats struct {
	SymbolTime      time.Duration
	SymbolRate      int // baud
	PreambleSymbols int
	PreambleTime    time.Duration
	CSMASlot, DIFS  time.Duration
}

// ModemStats extends hal.Stats with what the serial link and the device
// reported.
type ModemStats struct {
	hal.Stats
	KISS           DecoderStats // framing drops on the serial line
	UnknownFrames  uint64       // frames with a command the driver does not handle
	MalformedFrame uint64       // known command, wrong body length
	DeviceErrors   uint64       // ERROR frames
	LastDeviceErr  byte         // code of the last ERROR frame (0 = none)
	Resets         uint64       // RESET f8 announcements seen while online
	Reconnects     uint64       // successful reconnections/reconfigurations
}

// reported holds what the device answered on the current connection.
type reported struct {
	detected              bool
	hasFW, hasPlat, hasMC bool
	fwMajor, fwMinor      int
	platform, mcu         byte
	freq, bw              int64 // -1 = no answer
	txp, sf, cr, state    int64
	stLock, ltLock        int64
	ready                 int64
	rssi, snr             float64
	hasRSSI, hasSNR       bool
	// n counts handled answer frames; stateAt and paramAt are the values
	// of n when RADIO_STATE and the last other parameter answer arrived.
	// The device answers in order, so a RADIO_STATE answer newer than
	// every parameter answer belongs to this configuration, not to an
	// earlier radio-state command.
	n, stateAt, paramAt uint64
}

func (r *reported) clearParams() {
	r.freq, r.bw, r.txp, r.sf, r.cr, r.state, r.stLock, r.ltLock, r.ready = -1, -1, -1, -1, -1, -1, -1, -1, -1
}

// Modem is a host driver for an RNode on a serial port. It implements
// hal.Radio. Open detects the device; Configure sets and verifies the radio
// parameters; afterwards a background goroutine reads the port, and a
// supervisor reconnects and reconfigures when the device disappears,
// reboots or reports that its radio failed. Send and Receive are safe for
// concurrent use (one sender, one receiver; more are serialised).
type Modem struct {
	dial Dialer
	o    Opts
	log  *slog.Logger

	mu         sync.Mutex
	port       Port
	gen        uint64 // connection generation; bumped per connection
	info       Info
	rep        reported
	changed    chan struct{} // closed and replaced whenever rep changes
	params     hal.Params
	configured bool
	online     bool
	inConfig   bool
	closed     bool
	busyUntil  time.Time
	chtm       ChannelStats
	phy        PhyStats
	stats      ModemStats
	kissBase   DecoderStats      // decoder counts of earlier connections
	devErr     chan *DeviceError // fatal device errors, for a waiting Send

	ctx     context.Context // cancelled by Close; bounds reconnection
	cancel  context.CancelFunc
	cfgMu   sync.Mutex // serialises detect/configure sequences
	wmu     sync.Mutex // serialises writes to the port
	rx      chan hal.Packet
	trouble chan struct{}
	closeCh chan struct{}
	wg      sync.WaitGroup
}

var _ hal.Radio = (*Modem)(nil)

// Open connects to the device with dial, waits Opts.OpenDelay and detects
// it (DETECT, FW_VERSION, PLATFORM, MCU in one write, as the reference
// host does). It fails with ErrNotDetected, a *FirmwareError, or the
// dialer's error. The radio stays off until Configure.
func Open(ctx context.Context, dial Dialer, o *Opts) (*Modem, error) {
	m := &Modem{dial: dial, o: o.withDefaults(), changed: make(chan struct{}),
		trouble: make(chan struct{}, 1), closeCh: make(chan struct{}), devErr: make(chan *DeviceError, 1)}
	m.log = m.o.Logger
	m.rx = make(chan hal.Packet, m.o.RxQueue)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	if err := m.connect(ctx); err != nil {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.cancel()
		close(m.closeCh)
		m.wg.Wait()
		return nil, err
	}
	m.wg.Add(1)
	go m.supervise()
	return m, nil
}

// Info returns what the device reported when it was last detected.
func (m *Modem) Info() Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.info
}

// String describes the modem, e.g. "RNode{/dev/ttyUSB0, firmware 1.86,
// ESP32, MCU 0x81}".
func (m *Modem) String() string {
	i := m.Info()
	return fmt.Sprintf("RNode{%s, firmware %d.%02d, %s, MCU 0x%02x}", m.o.Name, i.FirmwareMajor, i.FirmwareMinor, i.PlatformName(), i.MCU)
}

// connect dials, starts the reader and detects the device. On failure
// the port is closed.
func (m *Modem) connect(ctx context.Context) error {
	port, err := m.dial(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		port.Close()
		return hal.ErrClosed
	}
	m.gen++
	gen := m.gen
	m.kissBase = m.stats.KISS // a new decoder counts from zero
	m.port = port
	m.rep = reported{}
	m.rep.clearParams()
	m.notifyLocked()
	m.mu.Unlock()
	m.wg.Add(1)
	go m.reader(port, gen)

	if err := sleepCtx(ctx, m.closeCh, m.o.OpenDelay); err != nil {
		m.dropPort(gen)
		return err
	}
	if err := m.detect(ctx, gen); err != nil {
		m.dropPort(gen)
		return err
	}
	return nil
}

// dropPort closes the port of connection gen, if it is still current.
func (m *Modem) dropPort(gen uint64) {
	m.mu.Lock()
	var p Port
	if m.gen == gen && m.port != nil {
		p = m.port
		m.port = nil
		m.online = false
		m.notifyLocked()
	}
	m.mu.Unlock()
	if p != nil {
		p.Close()
	}
}

func sleepCtx(ctx context.Context, stop <-chan struct{}, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-stop:
		return hal.ErrClosed
	}
}

// write sends raw bytes to the current port of connection gen.
func (m *Modem) write(gen uint64, b []byte) error {
	m.mu.Lock()
	p := m.port
	if m.closed {
		m.mu.Unlock()
		return hal.ErrClosed
	}
	if p == nil || m.gen != gen {
		m.mu.Unlock()
		return ErrOffline
	}
	m.mu.Unlock()
	m.wmu.Lock()
	defer m.wmu.Unlock()
	n, err := p.Write(b)
	if err == nil && n != len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		m.lost(gen, err)
		return fmt.Errorf("rnode: write: %w", err)
	}
	return nil
}

func (m *Modem) notifyLocked() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// waitFor waits until cond (called with m.mu held) is true, the deadline
// passes, the connection changes, ctx is done or the modem closes. It
// returns whether cond held.
func (m *Modem) waitFor(ctx context.Context, gen uint64, timeout time.Duration, cond func(*reported) bool) (bool, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		m.mu.Lock()
		if cond(&m.rep) {
			m.mu.Unlock()
			return true, nil
		}
		if m.closed {
			m.mu.Unlock()
			return false, hal.ErrClosed
		}
		if m.gen != gen || m.port == nil {
			m.mu.Unlock()
			return false, ErrOffline
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-t.C:
			return false, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-m.closeCh:
			return false, hal.ErrClosed
		}
	}
}

// detectRequest is RNodeInterface.detect(): four frames in one write.
var detectRequest = []byte{FEND, byte(CmdDetect), DetectRequest, FEND, byte(CmdFWVersion), 0x00,
	FEND, byte(CmdPlatform), 0x00, FEND, byte(CmdMCU), 0x00, FEND}

func (m *Modem) detect(ctx context.Context, gen uint64) error {
	if err := m.write(gen, detectRequest); err != nil {
		return err
	}
	ok, err := m.waitFor(ctx, gen, m.o.DetectTimeout, func(r *reported) bool {
		return r.detected && r.hasFW && r.hasPlat && r.hasMC
	})
	if err != nil {
		return err
	}
	m.mu.Lock()
	r := m.rep
	m.mu.Unlock()
	if !r.detected {
		return fmt.Errorf("%w within %v", ErrNotDetected, m.o.DetectTimeout)
	}
	if !ok {
		return fmt.Errorf("%w: it answered the detect request but not the firmware version, platform or MCU query within %v",
			ErrNotDetected, m.o.DetectTimeout)
	}
	if r.fwMajor < minFirmwareMajor || (r.fwMajor == minFirmwareMajor && r.fwMinor < minFirmwareMinor) {
		return &FirmwareError{Major: r.fwMajor, Minor: r.fwMinor}
	}
	info := Info{FirmwareMajor: r.fwMajor, FirmwareMinor: r.fwMinor, Platform: r.platform, MCU: r.mcu}
	m.mu.Lock()
	m.info = info
	m.mu.Unlock()
	m.log.Debug("rnode detected", "info", info.String())
	return nil
}

// CheckParams applies the reference host's configuration checks
// (RNODE.md §4 step 1) plus the driver's own: the 1..255 byte fields must
// fit their KISS bodies.
func CheckParams(p hal.Params, stLock, ltLock float64) error {
	switch {
	case p.FrequencyHz < 137_000_000 || p.FrequencyHz > 3_000_000_000:
		return &ParamError{"frequency", p.FrequencyHz, "137000000..3000000000 Hz"}
	case p.BandwidthHz < 7800 || p.BandwidthHz > 1_625_000:
		return &ParamError{"bandwidth", p.BandwidthHz, "7800..1625000 Hz"}
	case p.TxPowerDBm < 0 || p.TxPowerDBm > 37:
		return &ParamError{"tx power", p.TxPowerDBm, "0..37 dBm"}
	case p.SpreadingFactor < 5 || p.SpreadingFactor > 12:
		return &ParamError{"spreading factor", p.SpreadingFactor, "5..12"}
	case p.CodingRate < 5 || p.CodingRate > 8:
		return &ParamError{"coding rate", p.CodingRate, "5..8 (4/5..4/8)"}
	case !(stLock >= 0 && stLock <= 100):
		return &ParamError{"short-term airtime limit", stLock, "0..100 %"}
	case !(ltLock >= 0 && ltLock <= 100):
		return &ParamError{"long-term airtime limit", ltLock, "0..100 %"}
	}
	return nil
}

// lockValue converts a percentage to the firmware's u16 (percent × 100).
func lockValue(pct float64) uint16 {
	return uint16(pct*100 + 0.5)
}

// Configure sends the radio parameters the way RNodeInterface.initRadio
// does (FREQUENCY, BANDWIDTH, TXPOWER, SF, CR, then ST_ALOCK and LT_ALOCK
// when set, then RADIO_STATE on, without waiting in between) and then
// verifies every echo, within Opts.ConfigTimeout: frequency within
// ±100 Hz, bandwidth, TX power, spreading factor, coding rate, the airtime
// locks and radio state "on" exactly. A parameter the device answers
// differently (or not at all) fails with a *ConfigError naming it, and
// the radio is switched off again. PreambleSymbols, SyncWord and LDRO are
// the firmware's own and cannot be set over KISS.
func (m *Modem) Configure(p hal.Params) error {
	if err := CheckParams(p, m.o.STALockPercent, m.o.LTALockPercent); err != nil {
		return err
	}
	m.cfgMu.Lock()
	defer m.cfgMu.Unlock()
	m.mu.Lock()
	gen, closed := m.gen, m.closed
	connected := m.port != nil
	m.mu.Unlock()
	if closed {
		return hal.ErrClosed
	}
	if !connected {
		return ErrOffline
	}
	err := m.configure(context.Background(), gen, p)
	m.mu.Lock()
	if err == nil {
		m.params, m.configured, m.online = p, true, true
	} else if errors.Is(err, ErrConfigMismatch) {
		m.online = false
	}
	m.mu.Unlock()
	return err
}

func (m *Modem) configure(ctx context.Context, gen uint64, p hal.Params) error {
	m.mu.Lock()
	m.rep.clearParams()
	m.inConfig = true
	m.online = false
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.inConfig = false
		m.mu.Unlock()
	}()
	// Drain a stale device error from before this configuration.
	select {
	case <-m.devErr:
	default:
	}

	st, lt := m.o.STALockPercent > 0, m.o.LTALockPercent > 0
	var b []byte
	b = AppendFrame(b, CmdFrequency, binary.BigEndian.AppendUint32(nil, p.FrequencyHz))
	b = AppendFrame(b, CmdBandwidth, binary.BigEndian.AppendUint32(nil, p.BandwidthHz))
	b = AppendFrame(b, CmdTxPower, []byte{byte(p.TxPowerDBm)})
	b = AppendFrame(b, CmdSF, []byte{byte(p.SpreadingFactor)})
	b = AppendFrame(b, CmdCR, []byte{byte(p.CodingRate)})
	if st {
		b = AppendFrame(b, CmdSTALock, binary.BigEndian.AppendUint16(nil, lockValue(m.o.STALockPercent)))
	}
	if lt {
		b = AppendFrame(b, CmdLTALock, binary.BigEndian.AppendUint16(nil, lockValue(m.o.LTALockPercent)))
	}
	b = AppendFrame(b, CmdRadioState, []byte{1})
	if err := m.write(gen, b); err != nil {
		return err
	}
	var initErr *DeviceError
	_, err := m.waitFor(ctx, gen, m.o.ConfigTimeout, func(r *reported) bool {
		return r.freq >= 0 && r.bw >= 0 && r.txp >= 0 && r.sf >= 0 && r.cr >= 0 &&
			(!st || r.stLock >= 0) && (!lt || r.ltLock >= 0) && r.state >= 0 && r.stateAt > r.paramAt
	})
	if err != nil {
		return err
	}
	select {
	case initErr = <-m.devErr:
	default:
	}
	m.mu.Lock()
	r := m.rep
	m.mu.Unlock()

	var mm []Mismatch
	check := func(param string, want, got int64, ok bool, unit string) {
		switch {
		case got < 0:
			mm = append(mm, Mismatch{Param: param, Want: want, Missing: true, Unit: unit})
		case !ok:
			mm = append(mm, Mismatch{Param: param, Want: want, Got: got, Unit: unit})
		}
	}
	f := int64(p.FrequencyHz)
	check("frequency", f, r.freq, r.freq-f <= 100 && f-r.freq <= 100, " Hz")
	check("bandwidth", int64(p.BandwidthHz), r.bw, r.bw == int64(p.BandwidthHz), " Hz")
	check("tx power", int64(p.TxPowerDBm), r.txp, r.txp == int64(p.TxPowerDBm), " dBm")
	check("spreading factor", int64(p.SpreadingFactor), r.sf, r.sf == int64(p.SpreadingFactor), "")
	check("coding rate", int64(p.CodingRate), r.cr, r.cr == int64(p.CodingRate), "")
	if st {
		v := int64(lockValue(m.o.STALockPercent))
		check("short-term airtime lock", v, r.stLock, r.stLock == v, "/10000")
	}
	if lt {
		v := int64(lockValue(m.o.LTALockPercent))
		check("long-term airtime lock", v, r.ltLock, r.ltLock == v, "/10000")
	}
	if r.stateAt <= r.paramAt {
		r.state = -1 // only a stale answer from before the parameters
	}
	check("radio state", 1, r.state, r.state == 1, "")
	if initErr != nil && initErr.Code == ErrCodeInitRadio {
		return fmt.Errorf("rnode: starting the radio: %w", initErr)
	}
	if len(mm) > 0 {
		// Leave the radio off rather than on air with parameters nobody
		// asked for.
		// Wait for its echo so that it cannot be mistaken for an answer
		// to a later configuration.
		m.mu.Lock()
		mark := m.rep.n
		m.mu.Unlock()
		if m.write(gen, AppendFrame(nil, CmdRadioState, []byte{0})) == nil {
			_, _ = m.waitFor(ctx, gen, m.o.ConfigTimeout, func(r *reported) bool { return r.stateAt > mark && r.state == 0 })
		}
		err := &ConfigError{Mismatches: mm}
		m.log.Warn("rnode configuration rejected", "err", err)
		return err
	}
	return nil
}

// reader reads connection gen until its port fails or is closed.
func (m *Modem) reader(port Port, gen uint64) {
	defer m.wg.Done()
	dec := NewDecoder(MaxPacket)
	buf := make([]byte, 1024)
	var last time.Time
	idle := 0
	for {
		n, err := port.Read(buf)
		now := time.Now()
		if n == 0 && err == nil {
			// A serial port returns (0, nil) only on a read timeout; a
			// stream that keeps doing it is broken.
			if idle++; idle > 1000 {
				err = io.ErrNoProgress
			}
		} else {
			idle = 0
		}
		if n > 0 {
			if dec.InFrame() && now.Sub(last) > m.o.FrameTimeout {
				dec.Abort()
			}
			last = now
			p := buf[:n]
			for len(p) > 0 {
				k, f, ok := dec.Decode(p)
				p = p[k:]
				if ok {
					m.handle(gen, f, now, dec.Stats())
				}
			}
			m.mu.Lock()
			if m.gen == gen {
				m.stats.KISS = m.kissBase.plus(dec.Stats())
			}
			m.mu.Unlock()
		}
		if err != nil {
			m.lost(gen, err)
			return
		}
	}
}

// lost handles a failed port: the device disappeared.
func (m *Modem) lost(gen uint64, err error) {
	m.mu.Lock()
	if m.gen != gen || m.port == nil || m.closed {
		m.mu.Unlock()
		return
	}
	p := m.port
	m.port = nil
	m.online = false
	m.notifyLocked()
	m.mu.Unlock()
	p.Close()
	m.log.Warn("rnode port lost", "err", err)
	m.kick()
}

// kick wakes the supervisor.
func (m *Modem) kick() {
	select {
	case m.trouble <- struct{}{}:
	default:
	}
}

// handle acts on one frame from connection gen; kiss is the decoder's
// counters up to this frame.
func (m *Modem) handle(gen uint64, f Frame, now time.Time, kiss DecoderStats) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.gen != gen {
		return
	}
	m.stats.KISS = m.kissBase.plus(kiss)
	r := &m.rep
	r.n++
	body := f.Body
	one := func() (byte, bool) {
		if len(body) != 1 {
			m.stats.MalformedFrame++
			return 0, false
		}
		return body[0], true
	}
	u32 := func() (int64, bool) {
		if len(body) != 4 {
			m.stats.MalformedFrame++
			return 0, false
		}
		return int64(binary.BigEndian.Uint32(body)), true
	}
	u16 := func() (int64, bool) {
		if len(body) != 2 {
			m.stats.MalformedFrame++
			return 0, false
		}
		return int64(binary.BigEndian.Uint16(body)), true
	}
	switch f.Cmd {
	case CmdData:
		if len(body) == 0 {
			m.stats.MalformedFrame++
			return
		}
		pkt := hal.Packet{Data: append([]byte(nil), body...), RSSI: r.rssi, SNR: r.snr, At: now}
		r.rssi, r.snr, r.hasRSSI, r.hasSNR = 0, 0, false, false
		select {
		case m.rx <- pkt:
			m.stats.RxPackets++
			m.stats.RxBytes += uint64(len(body))
		default:
			m.stats.RxOverflow++
		}
		return
	case CmdStatRSSI:
		if b, ok := one(); ok {
			r.rssi, r.hasRSSI = float64(int(b)-157), true
		}
		return
	case CmdStatSNR:
		if b, ok := one(); ok {
			r.snr, r.hasSNR = float64(int8(b))*0.25, true
		}
		return
	case CmdFrequency:
		if v, ok := u32(); ok {
			r.freq, r.paramAt = v, r.n
		}
	case CmdBandwidth:
		if v, ok := u32(); ok {
			r.bw, r.paramAt = v, r.n
		}
	case CmdTxPower:
		if b, ok := one(); ok {
			r.txp, r.paramAt = int64(int8(b)), r.n // SX126x boards may report negative powers
		}
	case CmdSF:
		if b, ok := one(); ok {
			r.sf, r.paramAt = int64(b), r.n
		}
	case CmdCR:
		if b, ok := one(); ok {
			r.cr, r.paramAt = int64(b), r.n
		}
	case CmdSTALock:
		if v, ok := u16(); ok {
			r.stLock, r.paramAt = v, r.n
		}
	case CmdLTALock:
		if v, ok := u16(); ok {
			r.ltLock, r.paramAt = v, r.n
		}
	case CmdRadioState:
		b, ok := one()
		if !ok {
			return
		}
		r.state, r.stateAt = int64(b), r.n
		if b == 0 && m.online && !m.inConfig {
			m.log.Warn("rnode radio switched off by the device; reconfiguring")
			m.online = false
			m.kickLocked()
		}
	case CmdReady:
		if b, ok := one(); ok {
			r.ready = int64(b)
		}
	case CmdDetect:
		if b, ok := one(); ok {
			r.detected = b == DetectResponse
		}
	case CmdFWVersion:
		if len(body) != 2 {
			m.stats.MalformedFrame++
			return
		}
		r.fwMajor, r.fwMinor, r.hasFW = int(body[0]), int(body[1]), true
	case CmdPlatform:
		if b, ok := one(); ok {
			r.platform, r.hasPlat = b, true
		}
	case CmdMCU:
		if b, ok := one(); ok {
			r.mcu, r.hasMC = b, true
		}
	case CmdError:
		b, ok := one()
		if !ok {
			return
		}
		e := &DeviceError{Code: b}
		m.stats.DeviceErrors++
		m.stats.LastDeviceErr = b
		m.log.Warn("rnode device error", "err", e)
		if e.Fatal() {
			select {
			case m.devErr <- e:
			default:
			}
			if m.online && !m.inConfig {
				m.online = false
				m.kickLocked()
			}
		}
	case CmdReset:
		if b, ok := one(); ok && b == ResetByte && m.online && !m.inConfig {
			m.log.Warn("rnode device reset while online; reconfiguring")
			m.stats.Resets++
			m.online = false
			m.kickLocked()
		}
	case CmdStatCHTM:
		if len(body) != 11 {
			m.stats.MalformedFrame++
			return
		}
		cs := ChannelStats{
			AirtimeShort: float64(binary.BigEndian.Uint16(body[0:])) / 100,
			AirtimeLong:  float64(binary.BigEndian.Uint16(body[2:])) / 100,
			LoadShort:    float64(binary.BigEndian.Uint16(body[4:])) / 100,
			LoadLong:     float64(binary.BigEndian.Uint16(body[6:])) / 100,
			RSSI:         int(body[8]) - 157,
			NoiseFloor:   int(body[9]) - 157,
			At:           now,
		}
		if body[10] != 0xff {
			v := int(body[10]) - 157
			cs.Interference = &v
		}
		m.chtm = cs
	case CmdStatPHYPRM:
		if len(body) != 12 {
			m.stats.MalformedFrame++
			return
		}
		u := func(i int) int { return int(binary.BigEndian.Uint16(body[2*i:])) }
		m.phy = PhyStats{
			SymbolTime: time.Duration(u(0)) * time.Microsecond, SymbolRate: u(1),
			PreambleSymbols: u(2), PreambleTime: time.Duration(u(3)) * time.Millisecond,
			CSMASlot: time.Duration(u(4)) * time.Millisecond, DIFS: time.Duration(u(5)) * time.Millisecond,
		}
	case CmdStatCSMA, CmdStatBat, CmdStatTemp, CmdRandom, CmdFBExt, CmdRadioLock, CmdStatRX, CmdStatTX:
		// Reported, not needed.
	default:
		m.stats.UnknownFrames++
		return
	}
	m.notifyLocked()
}

func (m *Modem) kickLocked() {
	select {
	case m.trouble <- struct{}{}:
	default:
	}
}

// supervise reconnects and reconfigures after trouble until Close.
func (m *Modem) supervise() {
	defer m.wg.Done()
	for {
		select {
		case <-m.closeCh:
			return
		case <-m.trouble:
		}
		for attempt := 0; ; attempt++ {
			m.mu.Lock()
			closed, online := m.closed, m.online
			m.mu.Unlock()
			if closed {
				return
			}
			if online {
				break
			}
			if err := m.recover(); err == nil {
				break
			} else if errors.Is(err, hal.ErrClosed) {
				return
			} else {
				m.log.Warn("rnode reconnect failed", "attempt", attempt+1, "err", err)
			}
			if sleepCtx(context.Background(), m.closeCh, m.o.ReconnectInterval) != nil {
				return
			}
		}
	}
}

// recover brings the modem back online: on the current port if it is
// still open (the device rebooted or its radio failed), else on a new
// connection.
func (m *Modem) recover() error {
	m.cfgMu.Lock()
	defer m.cfgMu.Unlock()
	ctx := m.ctx
	m.mu.Lock()
	gen, connected, p, configured := m.gen, m.port != nil, m.params, m.configured
	m.mu.Unlock()
	if connected {
		// Re-detect on the same port: a rebooted device needs it.
		if err := m.detect(ctx, gen); err != nil {
			m.dropPort(gen)
			return err
		}
	} else {
		if err := m.connect(ctx); err != nil {
			return err
		}
		m.mu.Lock()
		gen = m.gen
		m.mu.Unlock()
	}
	if !configured {
		m.mu.Lock()
		m.stats.Reconnects++
		m.mu.Unlock()
		return nil
	}
	if err := m.configure(ctx, gen, p); err != nil {
		if !errors.Is(err, hal.ErrClosed) {
			m.dropPort(gen)
		}
		return err
	}
	m.mu.Lock()
	m.online = true
	m.stats.Reconnects++
	m.notifyLocked()
	m.mu.Unlock()
	m.log.Info("rnode back online")
	return nil
}

// Online reports whether the modem is connected and configured.
func (m *Modem) Online() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.online
}

// WaitOnline blocks until the modem is online, ctx is done or it closes.
func (m *Modem) WaitOnline(ctx context.Context) error {
	for {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			return hal.ErrClosed
		}
		if m.online {
			m.mu.Unlock()
			return nil
		}
		ch := m.changed
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-m.closeCh:
			return hal.ErrClosed
		}
	}
}

// Send writes pkt (1..hal.MaxPacketLen bytes) to the device as a DATA
// frame. With Opts.FlowControl it first polls READY until the device's
// queue has room. Unless Opts.NoTxWait, it then returns when the packet's
// estimated airtime has passed (the device reports no TX completion; the
// estimate queues behind earlier sends, and the device's CSMA delay is not
// included), or earlier with a *DeviceError if the device reports a
// transmit failure meanwhile. While the device is away Send fails with
// ErrOffline at once.
func (m *Modem) Send(ctx context.Context, pkt []byte) error {
	n := len(pkt)
	if n < 1 || n > hal.MaxPacketLen {
		return fmt.Errorf("%w: %d", hal.ErrPacketSize, n)
	}
	m.mu.Lock()
	gen, online, closed, p := m.gen, m.online, m.closed, m.params
	m.mu.Unlock()
	if closed {
		return hal.ErrClosed
	}
	if !online {
		return ErrOffline
	}
	if m.o.FlowControl {
		if err := m.waitReady(ctx, gen, p); err != nil {
			m.countTxError()
			return err
		}
	}
	frame := AppendFrame(make([]byte, 0, 2*n+4), CmdData, pkt)
	if err := m.write(gen, frame); err != nil {
		m.countTxError()
		return err
	}
	air := hal.PacketAirtime(p, n)
	now := time.Now()
	m.mu.Lock()
	start := now
	if m.busyUntil.After(start) {
		start = m.busyUntil
	}
	m.busyUntil = start.Add(air)
	until := m.busyUntil
	m.stats.TxPackets++
	frames := hal.FrameCount(n)
	m.stats.TxFrames += uint64(frames)
	m.stats.TxBytes += uint64(n + frames*hal.HeaderLen)
	m.stats.TxAirtime += air
	m.mu.Unlock()
	if m.o.NoTxWait {
		return nil
	}
	t := time.NewTimer(until.Sub(now))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case e := <-m.devErr:
		m.countTxError()
		return fmt.Errorf("rnode: send: %w", e)
	case <-ctx.Done():
		return ctx.Err()
	case <-m.closeCh:
		return hal.ErrClosed
	}
}

// Drain waits until the packets handed to the device have had time to go
// on air: the estimated end of the last Send plus the device's DIFS and a
// full contention window (15 slots), the worst case of its channel access
// on a free channel (RNODE.md §9.2). Call it before Close when the last
// packets matter: switching the radio off drops whatever is still queued.
func (m *Modem) Drain(ctx context.Context) error {
	m.mu.Lock()
	until, p, ok := m.busyUntil, m.params, m.configured
	m.mu.Unlock()
	if !ok || until.IsZero() {
		return nil
	}
	slot, difs := hal.CSMATiming(p)
	d := time.Until(until.Add(difs + 15*slot))
	return sleepCtx(ctx, m.closeCh, d)
}

func (m *Modem) countTxError() {
	m.mu.Lock()
	m.stats.TxErrors++
	m.mu.Unlock()
}

// waitReady polls READY until the device's queue has room.
func (m *Modem) waitReady(ctx context.Context, gen uint64, p hal.Params) error {
	for {
		m.mu.Lock()
		m.rep.ready = -1
		m.mu.Unlock()
		if err := m.write(gen, AppendFrame(nil, CmdReady, []byte{0})); err != nil {
			return err
		}
		ok, err := m.waitFor(ctx, gen, m.o.ReadyTimeout, func(r *reported) bool { return r.ready >= 0 })
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: no READY answer within %v", ErrNotReady, m.o.ReadyTimeout)
		}
		m.mu.Lock()
		ready := m.rep.ready == 1
		m.mu.Unlock()
		if ready {
			return nil
		}
		// Full: ask again after a quarter of a full frame's airtime
		// (10..250 ms); a READY poll costs 4 bytes each way.
		m.mu.Lock()
		m.stats.Busy++
		m.mu.Unlock()
		poll := min(max(hal.Airtime(p, hal.MaxFrameLen)/4, 10*time.Millisecond), 250*time.Millisecond)
		if err := sleepCtx(ctx, m.closeCh, poll); err != nil {
			return err
		}
	}
}

// Receive returns the next packet the device received, with the RSSI and
// SNR it reported just before it. It blocks until a packet arrives, ctx is
// done, or the modem is closed (hal.ErrClosed); reconnections in between
// are invisible to it.
func (m *Modem) Receive(ctx context.Context) (hal.Packet, error) {
	select {
	case p := <-m.rx:
		return p, nil
	default:
	}
	select {
	case p := <-m.rx:
		return p, nil
	case <-ctx.Done():
		return hal.Packet{}, ctx.Err()
	case <-m.closeCh:
		return hal.Packet{}, hal.ErrClosed
	}
}

// ChannelBusy reports the device's last channel statistics (STAT_CHTM,
// sent by ESP32/nRF52 RNodes about once a second): busy when it saw
// interference, or the current RSSI is more than 11 dB over the noise
// floor (the firmware's interference threshold). Without a report from
// the last 3 seconds it returns false: the RNode does its own carrier
// sense before every transmission anyway.
func (m *Modem) ChannelBusy() (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false, hal.ErrClosed
	}
	cs := m.chtm
	if cs.At.IsZero() || time.Since(cs.At) > 3*time.Second {
		return false, nil
	}
	return cs.Interference != nil || cs.RSSI > cs.NoiseFloor+11, nil
}

// ChannelStats returns the device's last STAT_CHTM report (zero At if
// none).
func (m *Modem) ChannelStats() ChannelStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.chtm
}

// PhyStats returns the device's last STAT_PHYPRM report.
func (m *Modem) PhyStats() PhyStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.phy
}

// Airtime returns the time on air of an n-byte packet with the configured
// parameters (hal.PacketAirtime; 0 before Configure).
func (m *Modem) Airtime(n int) time.Duration {
	m.mu.Lock()
	p, ok := m.params, m.configured
	m.mu.Unlock()
	if !ok {
		return 0
	}
	return hal.PacketAirtime(p, n)
}

// Stats returns the hal counters. RxDropped counts frames dropped on the
// serial line (oversize, bad escape, truncated); RxFrames, RxCRCErrors and
// RxNoCRC stay zero, since the modem does not report them.
func (m *Modem) Stats() hal.Stats {
	ms := m.ModemStats()
	s := ms.Stats
	s.RxDropped += ms.KISS.Oversize + ms.KISS.BadEscape + ms.KISS.Truncated
	return s
}

// ModemStats returns all counters.
func (m *Modem) ModemStats() ModemStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

// Close switches the radio off the way RNodeInterface.detach does
// (FB_EXT 00 on display devices, RADIO_STATE 00, LEAVE), closes the port
// and stops the driver's goroutines. Pending calls return hal.ErrClosed.
func (m *Modem) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	gen, p, info := m.gen, m.port, m.info
	m.online = false // the radio-off echo below is not trouble
	m.mu.Unlock()
	var err error
	if p != nil {
		var b []byte
		if info.HasDisplay() {
			b = AppendFrame(b, CmdFBExt, []byte{0})
		}
		b = AppendFrame(b, CmdRadioState, []byte{0})
		b = AppendFrame(b, CmdLeave, []byte{0xff})
		err = m.write(gen, b)
	}
	m.mu.Lock()
	m.closed = true
	m.online = false
	p = m.port
	m.port = nil
	m.notifyLocked()
	m.mu.Unlock()
	m.cancel()
	close(m.closeCh)
	if p != nil {
		if cerr := p.Close(); err == nil {
			err = cerr
		}
	}
	m.wg.Wait()
	if errors.Is(err, ErrOffline) {
		err = nil
	}
	return err
}
