package rnode

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/rnode/rnodetest"
)

// tee records every byte the driver writes.
type tee struct {
	Port
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (t tee) Write(p []byte) (int, error) {
	t.mu.Lock()
	t.buf.Write(p)
	t.mu.Unlock()
	return t.Port.Write(p)
}

type rig struct {
	dev   *rnodetest.Device
	pty   *rnodetest.PTY
	dial  Dialer
	mu    sync.Mutex
	wrote bytes.Buffer
	air   [][]byte
}

func (r *rig) written() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.wrote.Bytes()...)
}

func (r *rig) frames() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.air...)
}

// newRig starts an emulated RNode on a pty; its transmitted frames are
// recorded, and the driver's writes too.
func newRig(t *testing.T, cfg rnodetest.Config) *rig {
	t.Helper()
	r := &rig{}
	if cfg.Air == nil {
		cfg.Air = rnodetest.AirFunc(func(f []byte, _ hal.Params) {
			r.mu.Lock()
			r.air = append(r.air, append([]byte(nil), f...))
			r.mu.Unlock()
		})
	}
	r.dev = rnodetest.New(cfg)
	p, err := rnodetest.NewPTY(r.dev, t.TempDir(), "ttyRNODE")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	r.pty = p
	serialDial := Serial(p.Path())
	r.dial = func(ctx context.Context) (Port, error) {
		port, err := serialDial(ctx)
		if err != nil {
			return nil, err
		}
		return tee{port, &r.mu, &r.wrote}, nil
	}
	return r
}

// testOpts: no boot delay, generous deadlines (they only bound failures;
// a healthy exchange finishes as soon as the answers are in).
func testOpts() *Opts {
	return &Opts{OpenDelay: -1, DetectTimeout: 10 * time.Second, ConfigTimeout: 10 * time.Second,
		ReconnectInterval: 20 * time.Millisecond, NoTxWait: true}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func params868() hal.Params {
	return hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 9, CodingRate: 5, TxPowerDBm: 17}
}

// TestReferenceScenarios runs the driver against an emulated device for
// every kiss.json scenario and checks that it writes exactly the
// reference host's bytes and reaches the reference host's verdict.
func TestReferenceScenarios(t *testing.T) {
	v := loadVectors(t)
	for _, s := range v.Scenarios {
		t.Run(s.Name, func(t *testing.T) {
			plat := unhex(t, strings.TrimPrefix(s.DeviceModel.Platform, "0x"))[0]
			mcu := unhex(t, strings.TrimPrefix(s.DeviceModel.MCU, "0x"))[0]
			r := newRig(t, rnodetest.Config{Platform: plat, MCU: mcu})
			o := testOpts()
			if s.HostConfig.STALock != nil {
				o.STALockPercent = *s.HostConfig.STALock
			}
			if s.HostConfig.LTALock != nil {
				o.LTALockPercent = *s.HostConfig.LTALock
			}
			m, err := Open(ctxT(t), r.dial, o)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if got, want := m.String(), "RNode{RNode, firmware 1.86, "; !strings.HasPrefix(got, want) {
				t.Fatalf("String() = %q", got)
			}
			if info := m.Info(); info.Platform != plat || info.MCU != mcu || info.FirmwareMajor != 1 || info.FirmwareMinor != 86 {
				t.Fatalf("info %+v", info)
			}
			hc := s.HostConfig
			err = m.Configure(hal.Params{FrequencyHz: hc.Frequency, BandwidthHz: hc.Bandwidth,
				SpreadingFactor: hc.SF, CodingRate: hc.CR, TxPowerDBm: hc.TxPower})
			var want []byte
			for _, e := range s.Exchange {
				if e.Direction == "host_to_device" {
					want = append(want, unhex(t, e.Hex)...)
				}
			}
			got := r.written()
			if !s.HostResult.Online {
				// The driver switches the radio off after a rejected
				// configuration; the reference host closes the port.
				want = append(want, 0xc0, 0x06, 0x00, 0xc0)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("driver wrote\n%x\nreference host wrote\n%x", got, want)
			}
			if s.HostResult.Online {
				if err != nil || !m.Online() {
					t.Fatalf("configure: %v", err)
				}
				st := r.dev.State()
				if d := int64(st.FrequencyHz) - int64(hc.Frequency); !st.RadioOn || d < -100 || d > 100 {
					t.Fatalf("device state %+v", st)
				}
				if ps := m.PhyStats(); info(m).HasDisplay() && ps.PreambleSymbols != 18 {
					t.Fatalf("phy stats %+v", ps)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || !errors.Is(err, ErrConfigMismatch) || len(ce.Mismatches) != 1 ||
				ce.Mismatches[0].Param != "tx power" || ce.Mismatches[0].Got != 17 || ce.Mismatches[0].Want != 20 {
				t.Fatalf("err = %v", err)
			}
			if !strings.Contains(err.Error(), "tx power: device reports 17 dBm, configured 20 dBm") {
				t.Fatalf("message %q", err)
			}
			// The radio-off command travels through the pty.
			deadline := time.Now().Add(10 * time.Second)
			for r.dev.State().RadioOn && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if r.dev.State().RadioOn || m.Online() {
				t.Fatal("radio left on after a rejected configuration")
			}
		})
	}
}

func info(m *Modem) Info { return m.Info() }

func openConfigured(t *testing.T, r *rig, o *Opts) *Modem {
	t.Helper()
	m, err := Open(ctxT(t), r.dial, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if err := m.Configure(params868()); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestDataBothWays(t *testing.T) {
	v := loadVectors(t)
	r := newRig(t, rnodetest.Config{})
	m := openConfigured(t, r, testOpts())
	ctx := ctxT(t)
	for _, ex := range v.OnAir.Examples {
		pkt := unhex(t, ex.PacketHex)
		before := len(r.frames())
		if err := m.Send(ctx, pkt); err != nil {
			t.Fatal(err)
		}
		// The device queues and transmits as the host's bytes arrive.
		deadline := time.Now().Add(10 * time.Second)
		for len(r.frames()) < before+len(ex.LoRaFrames) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		fs := r.frames()[before:]
		if len(fs) != len(ex.LoRaFrames) {
			t.Fatalf("%d bytes: %d frames on air, want %d", len(pkt), len(fs), len(ex.LoRaFrames))
		}
		var body []byte
		for i, f := range fs {
			want := unhex(t, ex.LoRaFrames[i].Hex)
			if len(f) != len(want) || !bytes.Equal(f[1:], want[1:]) || f[0]&0x0f != want[0]&0x0f {
				t.Fatalf("frame %d differs from the vector (besides the random nibble)", i)
			}
			body = append(body, f[1:]...)
		}
		if !bytes.Equal(body, pkt) {
			t.Fatal("frames do not carry the packet")
		}
		// And back: the frames heard by the device reach the host.
		for _, f := range fs {
			r.dev.Receive(f, -97, -5.5)
		}
		got, err := m.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, pkt) || got.RSSI != -97 || got.SNR != -5.5 {
			t.Fatalf("received %d bytes rssi %v snr %v", len(got.Data), got.RSSI, got.SNR)
		}
	}
	st := m.Stats()
	if st.TxPackets != uint64(len(v.OnAir.Examples)) || st.RxPackets != st.TxPackets || st.TxFrames != 8 {
		t.Fatalf("stats %+v", st)
	}
	if m.Airtime(200) != hal.PacketAirtime(params868(), 200) || m.Airtime(200) != 1029120*time.Microsecond {
		t.Fatalf("airtime %v", m.Airtime(200))
	}
	if err := m.Send(ctx, nil); !errors.Is(err, hal.ErrPacketSize) {
		t.Fatalf("empty send: %v", err)
	}
	if err := m.Send(ctx, make([]byte, 508)); !errors.Is(err, hal.ErrPacketSize) {
		t.Fatalf("508-byte send: %v", err)
	}
}

// TestSerialLineGarbage injects junk, truncated and oversize frames
// between real ones: the good packets arrive, the rest is counted.
func TestSerialLineGarbage(t *testing.T) {
	r := newRig(t, rnodetest.Config{})
	o := testOpts()
	o.FrameTimeout = 30 * time.Millisecond
	m := openConfigured(t, r, o)
	ctx := ctxT(t)
	r.dev.InjectHost([]byte("Device unprovisioned, no device configuration found in EEPROM\r\n"))
	r.dev.Receive([]byte{0x10, 'o', 'n', 'e'}, -80, 6)
	// Truncated DATA frame: the line goes quiet mid-frame.
	r.dev.InjectHost([]byte{FEND, 0x00, 0xde, 0xad})
	time.Sleep(4 * o.FrameTimeout) // the line must stay idle longer than the frame timeout
	// Oversize DATA frame, a bad escape, a frame with an unknown command.
	r.dev.InjectHost(AppendFrame(nil, CmdData, bytes.Repeat([]byte{7}, MaxPacket+10)))
	r.dev.InjectHost([]byte{FEND, 0x00, 1, FESC, 0x41, 2, FEND})
	r.dev.InjectHost(AppendFrame(nil, Command(0x7e), []byte{1, 2}))
	r.dev.InjectHost(AppendFrame(nil, CmdFrequency, []byte{1})) // wrong length
	r.dev.Receive([]byte{0x20, 't', 'w', 'o'}, -81, 7)
	for _, want := range []string{"one", "two"} {
		p, err := m.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(p.Data) != want {
			t.Fatalf("received %q, want %q", p.Data, want)
		}
	}
	st := m.ModemStats()
	if st.KISS.Truncated != 1 || st.KISS.Oversize != 1 || st.KISS.BadEscape != 1 || st.UnknownFrames < 1 || st.MalformedFrame != 1 {
		t.Fatalf("stats %+v", st)
	}
	if !m.Online() {
		t.Fatal("garbage took the modem offline")
	}
	if hs := m.Stats(); hs.RxDropped != 3 || hs.RxPackets != 2 {
		t.Fatalf("hal stats %+v", hs)
	}
}

func TestDetectFailures(t *testing.T) {
	ctx := ctxT(t)
	// A device that never answers: ErrNotDetected after DetectTimeout.
	r := newRig(t, rnodetest.Config{})
	r.dev.SetFaults(rnodetest.Faults{Mute: true})
	o := testOpts()
	o.DetectTimeout = 50 * time.Millisecond
	if _, err := Open(ctx, r.dial, o); !errors.Is(err, ErrNotDetected) {
		t.Fatalf("mute device: %v", err)
	}
	// Old firmware.
	r = newRig(t, rnodetest.Config{FirmwareMajor: 1, FirmwareMinor: 40})
	var fe *FirmwareError
	if _, err := Open(ctx, r.dial, testOpts()); !errors.As(err, &fe) || fe.Minor != 40 || !errors.Is(err, ErrFirmwareTooOld) {
		t.Fatalf("old firmware: %v", err)
	}
	// No device at all.
	if _, err := Open(ctx, Serial(t.TempDir()+"/ttyUSB9"), testOpts()); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("missing device: %v", err)
	}
}

func TestConfigureFailures(t *testing.T) {
	ctx := ctxT(t)
	r := newRig(t, rnodetest.Config{})
	m, err := Open(ctx, r.dial, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Invalid parameters never reach the device.
	bad := params868()
	bad.SpreadingFactor = 13
	var pe *ParamError
	if err := m.Configure(bad); !errors.As(err, &pe) || pe.Param != "spreading factor" || !errors.Is(err, hal.ErrInvalidParams) {
		t.Fatalf("SF13: %v", err)
	}
	// Wrong echoes, each named.
	for _, tc := range []struct {
		cmd   byte
		body  []byte
		param string
	}{
		{0x02, []byte{0, 3, 0xd0, 0x90}, "bandwidth"},
		{0x01, []byte{0x33, 0xbe, 0x28, 0xa0}, "frequency"},
		{0x04, []byte{7}, "spreading factor"},
		{0x05, []byte{8}, "coding rate"},
		{0x06, []byte{0}, "radio state"},
	} {
		r.dev.SetFaults(rnodetest.Faults{WrongEcho: map[byte][]byte{tc.cmd: tc.body}})
		err := m.Configure(params868())
		var ce *ConfigError
		if !errors.As(err, &ce) || len(ce.Mismatches) != 1 || ce.Mismatches[0].Param != tc.param {
			t.Fatalf("%s: %v", tc.param, err)
		}
		if !strings.Contains(err.Error(), tc.param+": device reports") {
			t.Fatalf("%s: message %q", tc.param, err)
		}
	}
	// Frequency echo within ±100 Hz is accepted (a running radio reports
	// the chip's quantised frequency).
	r.dev.SetFaults(rnodetest.Faults{WrongEcho: map[byte][]byte{0x01: {0x33, 0xbe, 0x27, 0xa0 - 99}}})
	if err := m.Configure(params868()); err != nil {
		t.Fatalf("quantised frequency refused: %v", err)
	}
	// Missing echo: the device stays silent after detection.
	r.dev.SetFaults(rnodetest.Faults{Mute: true})
	m.o.ConfigTimeout = 50 * time.Millisecond
	var ce *ConfigError
	if err := m.Configure(params868()); !errors.As(err, &ce) || !ce.Mismatches[0].Missing || !strings.Contains(err.Error(), "no answer") {
		t.Fatalf("silent device: %v", err)
	}
	// Radio init failure surfaces the firmware's error.
	m.o.ConfigTimeout = 10 * time.Second
	r.dev.SetFaults(rnodetest.Faults{FailRadioInit: true})
	r.dev.Reboot() // radio off, so that it has to be started
	var de *DeviceError
	if err := m.Configure(params868()); !errors.As(err, &de) || de.Code != ErrCodeInitRadio || !strings.Contains(err.Error(), "radio initialisation failed") {
		t.Fatalf("init failure: %v", err)
	}
}

// TestDisappearReappear unplugs the emulated device and plugs it back in:
// the driver notices, fails sends meanwhile, reconnects and reconfigures.
func TestDisappearReappear(t *testing.T) {
	r := newRig(t, rnodetest.Config{})
	m := openConfigured(t, r, testOpts())
	ctx := ctxT(t)
	r.pty.Unplug()
	for m.Online() {
		time.Sleep(time.Millisecond)
	}
	if err := m.Send(ctx, []byte("x")); !errors.Is(err, ErrOffline) {
		t.Fatalf("send while unplugged: %v", err)
	}
	time.Sleep(50 * time.Millisecond) // a few failed reconnection attempts
	if err := r.pty.Replug(); err != nil {
		t.Fatal(err)
	}
	if err := m.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	if st := r.dev.State(); !st.RadioOn || st.SF != 9 {
		t.Fatalf("device not reconfigured: %+v", st)
	}
	if err := m.Send(ctx, []byte("back")); err != nil {
		t.Fatal(err)
	}
	r.dev.Receive([]byte{0x30, 'h', 'i'}, -90, 0)
	if p, err := m.Receive(ctx); err != nil || string(p.Data) != "hi" {
		t.Fatalf("receive after replug: %q %v", p.Data, err)
	}
	if m.ModemStats().Reconnects < 1 {
		t.Fatal("reconnect not counted")
	}
}

// TestDeviceResetAndErrors: a reboot announcement, a TX failure and the
// radio switched off by the device all lead to reconfiguration.
func TestDeviceResetAndErrors(t *testing.T) {
	r := newRig(t, rnodetest.Config{})
	m := openConfigured(t, r, testOpts())
	ctx := ctxT(t)
	r.dev.Reboot()
	deadline := time.Now().Add(10 * time.Second)
	for m.ModemStats().Reconnects < 1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := m.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.dev.State().RadioOn || m.ModemStats().Resets != 1 {
		t.Fatalf("after reboot: %+v %+v", r.dev.State(), m.ModemStats())
	}
	// A non-fatal error is only counted.
	r.dev.SendError(ErrCodeMemoryLow)
	r.dev.SendError(ErrCodeTxFailed)
	for m.ModemStats().Reconnects < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := m.WaitOnline(ctx); err != nil {
		t.Fatal(err)
	}
	if st := m.ModemStats(); st.DeviceErrors != 2 || st.LastDeviceErr != ErrCodeTxFailed || st.Reconnects != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestFlowControlAndLocks(t *testing.T) {
	now := time.Unix(5000, 0)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	r := newRig(t, rnodetest.Config{Now: clock, QueuePackets: 2})
	o := testOpts()
	o.FlowControl = true
	o.STALockPercent = 1 // 150 ms per 15 s: one 254-byte frame (1.27 s) locks the device
	m := openConfigured(t, r, o)
	if r.dev.State().STALock != 100 {
		t.Fatalf("ST lock %d", r.dev.State().STALock)
	}
	ctx := ctxT(t)
	big := make([]byte, 254)
	for i := 0; i < 3; i++ { // one goes on air, two fill the queue
		if err := m.Send(ctx, big); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := m.Send(short, big); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send into a full queue: %v", err)
	}
	if m.Stats().Busy == 0 {
		t.Fatal("READY 00 not counted")
	}
	mu.Lock()
	now = now.Add(20 * time.Second) // the lock window passes
	mu.Unlock()
	if err := m.Send(ctx, big); err != nil {
		t.Fatal(err)
	}
	if len(r.frames()) < 3 {
		t.Fatalf("%d frames on air", len(r.frames()))
	}
}

func TestChannelStats(t *testing.T) {
	v := loadVectors(t)
	r := newRig(t, rnodetest.Config{})
	m := openConfigured(t, r, testOpts())
	r.dev.InjectHost(unhex(t, v.DeviceChannelStats.FrameHex))
	deadline := time.Now().Add(10 * time.Second)
	for m.ChannelStats().At.IsZero() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cs, want := m.ChannelStats(), v.DeviceChannelStats.HostParsed
	if cs.AirtimeShort != want.AirtimeShort || cs.AirtimeLong != want.AirtimeLong || cs.LoadShort != want.LoadShort ||
		cs.LoadLong != want.LoadLong || cs.RSSI != want.CurrentRSSI || cs.NoiseFloor != want.NoiseFloor || cs.Interference != nil {
		t.Fatalf("channel stats %+v, want %+v", cs, want)
	}
	if busy, err := m.ChannelBusy(); err != nil || busy {
		t.Fatalf("busy %v %v", busy, err)
	}
	itf := -90
	r.dev.SendChannelStats(0, 0, 0, 0, -100, -118, &itf)
	for m.ChannelStats().Interference == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if busy, _ := m.ChannelBusy(); !busy {
		t.Fatal("interference not reported as busy")
	}
}

func TestDrain(t *testing.T) {
	r := newRig(t, rnodetest.Config{})
	m, err := Open(ctxT(t), r.dial, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	p := hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 500_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 14}
	if err := m.Configure(p); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := m.Send(ctxT(t), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := m.Drain(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	slot, difs := hal.CSMATiming(p)
	if min := hal.PacketAirtime(p, 1) + difs + 15*slot; time.Since(start) < min {
		t.Fatalf("Drain returned after %v, before %v", time.Since(start), min)
	}
}

func TestCloseDetaches(t *testing.T) {
	r := newRig(t, rnodetest.Config{})
	m := openConfigured(t, r, testOpts())
	n := len(r.written())
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := r.written()[n:]; !bytes.Equal(got, unhex(t, "c04100c0c00600c0c00affc0")) {
		t.Fatalf("detach wrote %x", got)
	}
	if _, err := m.Receive(context.Background()); !errors.Is(err, hal.ErrClosed) {
		t.Fatalf("receive after close: %v", err)
	}
	if err := m.Send(context.Background(), []byte{1}); !errors.Is(err, hal.ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestUnplugDuringConfigure: the device vanishes while the driver waits
// for its echoes; Configure returns at once instead of waiting out its
// timeout, and the driver brings the device back when it reappears.
func TestUnplugDuringConfigure(t *testing.T) {
	r := newRig(t, rnodetest.Config{})
	o := testOpts()
	o.ConfigTimeout = time.Minute
	m, err := Open(ctxT(t), r.dial, o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	r.dev.SetFaults(rnodetest.Faults{Mute: true}) // never answers the configuration
	done := make(chan error, 1)
	go func() { done <- m.Configure(params868()) }()
	for len(r.written()) < len(detectRequest)+20 { // the configuration went out
		time.Sleep(time.Millisecond)
	}
	r.pty.Unplug()
	select {
	case err := <-done:
		if !errors.Is(err, ErrOffline) {
			t.Fatalf("configure: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Configure hung after the device vanished")
	}
	r.dev.SetFaults(rnodetest.Faults{})
	if err := r.pty.Replug(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for m.ModemStats().Reconnects == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := m.Configure(params868()); err != nil {
		t.Fatalf("configure after replug: %v", err)
	}
	if !m.Online() || !r.dev.State().RadioOn {
		t.Fatal("not online after replug")
	}
}

// TestSendWaitsForAirtime: without NoTxWait, Send returns when the
// packet's estimated airtime has passed, queued behind the previous one,
// and a transmit failure reported meanwhile fails it.
func TestSendWaitsForAirtime(t *testing.T) {
	r := newRig(t, rnodetest.Config{})
	o := testOpts()
	o.NoTxWait = false
	m, err := Open(ctxT(t), r.dial, o)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	fast := hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 500_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 14}
	if err := m.Configure(fast); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := 0; i < 2; i++ {
		if err := m.Send(ctxT(t), make([]byte, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if min := 2 * hal.PacketAirtime(fast, 100); time.Since(start) < min {
		t.Fatalf("two sends took %v, less than their airtime %v", time.Since(start), min)
	}
	// A long packet at SF9 (2.5 s estimated); the device reports a
	// transmit failure while Send waits.
	if err := m.Configure(params868()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Send(ctxT(t), make([]byte, 500)) }()
	for r.dev.Stats().TxPackets < 3 {
		time.Sleep(time.Millisecond)
	}
	r.dev.SendError(ErrCodeTxFailed)
	var de *DeviceError
	if err := <-done; !errors.As(err, &de) || de.Code != ErrCodeTxFailed {
		t.Fatalf("send: %v", err)
	}
	if m.Stats().TxErrors != 1 {
		t.Fatalf("stats %+v", m.Stats())
	}
}
