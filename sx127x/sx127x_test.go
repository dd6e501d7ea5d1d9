package sx127x

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// scale is how much faster than real time the emulated chips run; lower
// under qemu so that the 2×airtime+100 ms TX timeout keeps a wide margin.
func scale() float64 {
	if runtime.GOARCH == "arm" {
		return 4
	}
	return 10
}

func seededRand(seed uint64) func() uint64 {
	var mu sync.Mutex
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	return func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return r.Uint64()
	}
}

// fastParams: EU868 sub-band P; SF7/250 kHz keeps airtimes short (a 255-byte frame is 200 ms).
func fastParams() hal.Params {
	return hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 250_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 14}
}

type rig struct {
	clk  sx127xtest.Clock
	air  *sx127xtest.Air
	chip *sx127xtest.Chip
	dev  *Dev
}

func newRig(t testing.TB, clk sx127xtest.Clock, air *sx127xtest.Air, name string, o Opts) *rig {
	t.Helper()
	chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Name: name, Clock: clk, Air: air})
	if o.Params == (hal.Params{}) {
		o.Params = fastParams()
	}
	o.Now = clk.Now
	o.Sleep = func(time.Duration) {}
	if o.Rand == nil {
		o.Rand = seededRand(uint64(len(name)))
	}
	o.Device = "SPI0.0"
	d, err := New(chip.Port(), chip.ResetPin(), chip.DIO0(), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return &rig{clk: clk, air: air, chip: chip, dev: d}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRegisterImageLikeRNode(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	p := hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 9, CodingRate: 5, TxPowerDBm: 17}
	r := newRig(t, clk, nil, "a", Opts{Params: p})
	// SX127X.md §8.2 register image for 868.1 MHz / 125 kHz / SF9 / 4/5 / 17 dBm.
	want := map[byte]byte{0x01: 0x85, 0x06: 0xd9, 0x07: 0x06, 0x08: 0x66, 0x09: 0x8f, 0x0c: 0x23, 0x0e: 0x00,
		0x0f: 0x00, 0x1d: 0x72, 0x1e: 0x94, 0x20: 0x00, 0x21: 0x0e, 0x26: 0x04, 0x31: 0xc3, 0x36: 0x03,
		0x37: 0x0a, 0x39: 0x12, 0x40: 0x00, 0x4d: 0x84, 0x0b: 0x2b}
	for a, v := range want {
		if got := r.chip.Register(a); got != v {
			t.Errorf("reg %02x = %02x, want %02x", a, got, v)
		}
	}
	if r.dev.Version() != 0x12 || r.dev.String() != "SX1276{SPI0.0}" {
		t.Errorf("version %02x, %s", r.dev.Version(), r.dev)
	}
	if got := r.chip.Params(); got != onAir(p) {
		t.Errorf("chip decodes %+v, want %+v", got, p.Effective())
	}
}

func TestLDROPreamblePowerErrataRegisters(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	r := newRig(t, clk, nil, "a", Opts{})
	cases := []struct {
		p                  hal.Params
		reg26, reg21       byte
		pa, dac, ocp       byte
		hbw1, hbw2, onlyIf byte
	}{
		// SF11/125 kHz: LDRO off on an RNode (integer rule); SF12/125 on.
		{hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 11, CodingRate: 5, TxPowerDBm: 2}, 0x04, 14, 0x80, 0x84, 0x2b, 0x03, 0, 0},
		{hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 12, CodingRate: 8, TxPowerDBm: 20}, 0x0c, 14, 0x8f, 0x87, 0x31, 0x03, 0, 0},
		{hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 62_500, SpreadingFactor: 11, CodingRate: 5, TxPowerDBm: 18}, 0x0c, 14, 0x8d, 0x87, 0x31, 0x03, 0, 0},
		{hal.Params{FrequencyHz: 915_000_000, BandwidthHz: 500_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 10}, 0x04, 90, 0x88, 0x84, 0x2b, 0x02, 0x64, 1},
		{hal.Params{FrequencyHz: 433_775_000, BandwidthHz: 500_000, SpreadingFactor: 8, CodingRate: 5, TxPowerDBm: 10}, 0x04, 43, 0x88, 0x84, 0x2b, 0x02, 0x7f, 1},
		{hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 250_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 10}, 0x04, 43, 0x88, 0x84, 0x2b, 0x03, 0, 0},
	}
	for _, c := range cases {
		if err := r.dev.Configure(c.p); err != nil {
			t.Fatal(err)
		}
		got := []byte{r.chip.Register(0x26), r.chip.Register(0x21), r.chip.Register(0x09), r.chip.Register(0x4d), r.chip.Register(0x0b), r.chip.Register(0x36)}
		want := []byte{c.reg26, c.reg21, c.pa, c.dac, c.ocp, c.hbw1}
		if !bytes.Equal(got, want) {
			t.Errorf("%v: 26,21,09,4d,0b,36 = % x, want % x", c.p, got, want)
		}
		if c.onlyIf == 1 && r.chip.Register(0x3a) != c.hbw2 {
			t.Errorf("%v: 3a = %02x, want %02x", c.p, r.chip.Register(0x3a), c.hbw2)
		}
		if r.chip.Register(0x01) != 0x85 {
			t.Errorf("%v: not receiving after Configure", c.p)
		}
	}
}

func TestConfigureRejects(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	r := newRig(t, clk, nil, "a", Opts{Region: hal.RegionEU868})
	bad := []hal.Params{
		{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 6, CodingRate: 5, TxPowerDBm: 10},
		{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 1},
		{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 21},
		{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 17}, // over EU 14 dBm
		{FrequencyHz: 915_000_000, BandwidthHz: 125_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 10}, // not EU
	}
	before := r.chip.Params()
	for _, p := range bad {
		if err := r.dev.Configure(p); !errors.Is(err, hal.ErrInvalidParams) {
			t.Errorf("%v: %v", p, err)
		}
	}
	if r.chip.Params() != before {
		t.Error("a rejected Configure touched the chip")
	}
}

func TestDetectErrors(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	for _, c := range []struct {
		absent  bool
		val     byte
		version byte
		want    error
		msg     string
	}{
		{true, 0x00, 0, ErrNoChip, "no SX127x found on SPI0.1 (version register reads 0x00) — check wiring/board profile"},
		{true, 0xff, 0, ErrNoChip, "no SX127x found on SPI0.1 (version register reads 0xff) — check wiring/board profile"},
		{false, 0, 0x22, ErrUnknownChip, "version register 0x22"},
	} {
		chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Clock: clk, Version: c.version})
		chip.SetAbsent(c.absent, c.val)
		_, err := New(chip.Port(), chip.ResetPin(), chip.DIO0(), &Opts{Device: "SPI0.1", Sleep: func(time.Duration) {}, Now: clk.Now})
		var de *DetectError
		if !errors.Is(err, c.want) || !errors.As(err, &de) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%+v: %v", c, err)
		}
	}
	chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Clock: clk})
	if _, err := New(chip.Port(), nil, nil, nil); !errors.Is(err, ErrNoDIO0) {
		t.Errorf("no DIO0: %v", err)
	}
}

// A board without a reset line: the chip starts in whatever state the last
// program left; New must bring it to a known state by register writes.
func TestNoResetLineKnownState(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Name: "warm", Clock: clk, Air: air})
	conn, err := chip.Port().Connect(1_000_000_000, 0, 8)
	if err != nil {
		t.Fatal(err)
	}
	// Leave it in LoRa RX with DIO0 = TxDone, all IRQs masked, inverted IQ.
	for _, w := range [][]byte{{0x81, 0x00}, {0x81, 0x80}, {0x81, 0x85}, {0xc0, 0x40}, {0x91, 0xff}, {0xb3, 0x67}} {
		if err := conn.Tx(w, nil); err != nil {
			t.Fatal(err)
		}
	}
	o := Opts{Params: fastParams(), Now: clk.Now, Sleep: func(time.Duration) {}, DisableCSMA: true}
	d, err := New(chip.Port(), nil, chip.DIO0(), &o)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if chip.Register(0x11) != 0 || chip.Register(0x33) != 0x27 || chip.Register(0x40) != 0 || chip.Register(0x01) != 0x85 {
		t.Fatalf("not in a known state: 11=%02x 33=%02x 40=%02x 01=%02x", chip.Register(0x11), chip.Register(0x33), chip.Register(0x40), chip.Register(0x01))
	}
	if chip.Stats().Resets != 0 {
		t.Fatal("reset pulsed without a reset line")
	}
	peer := newRig(t, clk, air, "peer", Opts{DisableCSMA: true})
	if err := peer.dev.Send(ctxT(t), []byte("warm start")); err != nil {
		t.Fatal(err)
	}
	pkt, err := d.Receive(ctxT(t))
	if err != nil || string(pkt.Data) != "warm start" {
		t.Fatalf("%q %v", pkt.Data, err)
	}
}

// onAir is p as the chip holds it: effective, frequency read back from Frf.
func onAir(p hal.Params) hal.Params {
	e := p.Effective()
	frf := uint64(e.FrequencyHz) << 19 / 32_000_000
	e.FrequencyHz = uint32(frf * 32_000_000 >> 19)
	return e
}

func packet(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)*7 + seed
	}
	return b
}

func TestSendReceiveBothWays(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	a := newRig(t, clk, air, "a", Opts{})
	b := newRig(t, clk, air, "b", Opts{})
	ctx := ctxT(t)
	sizes := []int{1, 100, 254, 255, 400, 507}
	for i, n := range sizes {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		want := packet(n, byte(i))
		errc := make(chan error, 1)
		go func() { errc <- from.dev.Send(ctx, want) }()
		got, err := to.dev.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, want) {
			t.Fatalf("%d bytes: received %d bytes that differ", n, len(got.Data))
		}
		if got.RSSI != -60 || got.SNR != 9 || got.At.IsZero() {
			t.Errorf("rssi %v snr %v at %v", got.RSSI, got.SNR, got.At)
		}
	}
	// Bytes on air: one header per frame, same nibble in both halves,
	// split flag exactly on two-frame packets, no third frame.
	log := air.Log()
	if len(log) != 9 {
		t.Fatalf("%d frames on air, want 9", len(log))
	}
	i := 0
	for _, n := range sizes {
		fs := log[i : i+hal.FrameCount(n)]
		i += len(fs)
		var body []byte
		for _, f := range fs {
			if f.Data[0]&0x0e != 0 || f.Data[0]&hal.FlagSplit != 0 != (len(fs) == 2) || f.Data[0] != fs[0].Data[0] {
				t.Errorf("%d: header %02x", n, f.Data[0])
			}
			body = append(body, f.Data[1:]...)
			if f.Params != onAir(fastParams()) || f.NoCRC {
				t.Errorf("%d: on-air params %+v", n, f.Params)
			}
		}
		if len(fs) == 2 && len(fs[0].Data) != 255 {
			t.Errorf("%d: first frame %d bytes", n, len(fs[0].Data))
		}
		if !bytes.Equal(body, packet(n, body[0]-0)) && len(body) != n {
			t.Errorf("%d: body length %d", n, len(body))
		}
	}
	sa, sb := a.dev.Stats(), b.dev.Stats()
	if sa.TxPackets != 3 || sb.TxPackets != 3 || sa.RxPackets != 3 || sb.RxPackets != 3 || sa.TxFrames+sb.TxFrames != 9 {
		t.Errorf("stats a %+v b %+v", sa, sb)
	}
	if want := hal.PacketAirtime(fastParams(), 507); a.dev.Airtime(507) != want || want != hal.Airtime(fastParams(), 255)+hal.Airtime(fastParams(), 254) {
		t.Errorf("Airtime(507) = %v", a.dev.Airtime(507))
	}
}

type onAirVector struct {
	PacketHex string `json:"rns_packet_hex"`
	Nibble    uint64 `json:"sequence_nibble"`
	Frames    []struct {
		Hex string `json:"hex"`
	} `json:"lora_frames"`
}

// The bytes the driver puts on air equal the RNode firmware's framing
// vectors (vectors/rnode/kiss.json, on_air).
func TestOnAirBytesMatchRNodeVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/kiss.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		OnAir struct {
			Examples []onAirVector `json:"examples"`
		} `json:"on_air"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	clk := sx127xtest.NewScaledClock(epoch, scale())
	var nibble uint64
	var mu sync.Mutex
	r := newRig(t, clk, nil, "a", Opts{DisableCSMA: true, Rand: func() uint64 {
		mu.Lock()
		defer mu.Unlock()
		return nibble << 4
	}})
	for _, ex := range v.OnAir.Examples {
		pkt, _ := hex.DecodeString(ex.PacketHex)
		mu.Lock()
		nibble = ex.Nibble
		mu.Unlock()
		before := len(r.chip.TxLog())
		if err := r.dev.Send(ctxT(t), pkt); err != nil {
			t.Fatal(err)
		}
		log := r.chip.TxLog()[before:]
		if len(log) != len(ex.Frames) {
			t.Fatalf("%d bytes: %d frames, want %d", len(pkt), len(log), len(ex.Frames))
		}
		for i, f := range ex.Frames {
			want, _ := hex.DecodeString(f.Hex)
			if !bytes.Equal(log[i].Data, want) {
				t.Errorf("%d bytes: frame %d differs from the vector", len(pkt), i)
			}
		}
	}
}

func TestCRCErrorsAndNoCRCFramesDropped(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	a := newRig(t, clk, air, "a", Opts{DisableCSMA: true})
	b := newRig(t, clk, air, "b", Opts{})
	var corrupt sync.Mutex
	bad := true
	air.SetLink(func(from, to sx127xtest.Station, f sx127xtest.Frame) (sx127xtest.Link, bool) {
		corrupt.Lock()
		defer corrupt.Unlock()
		return sx127xtest.Link{RSSI: -90, SNR: -4, Corrupt: bad}, true
	})
	ctx := ctxT(t)
	if err := a.dev.Send(ctx, []byte("broken")); err != nil {
		t.Fatal(err)
	}
	// A frame whose header says "no CRC" (not an RNode's) is dropped too.
	air.Transmit(nil, sx127xtest.Frame{From: "foreign", Params: fastParams().Effective(), Data: []byte{0x00, 1, 2}, NoCRC: true})
	corrupt.Lock()
	bad = false
	corrupt.Unlock()
	time.Sleep(time.Duration(float64(50*time.Millisecond) / scale()))
	if err := a.dev.Send(ctx, []byte("fine")); err != nil {
		t.Fatal(err)
	}
	pkt, err := b.dev.Receive(ctx)
	if err != nil || string(pkt.Data) != "fine" {
		t.Fatalf("%q %v", pkt.Data, err)
	}
	// SNR < 0: RSSI = −157 + PktRssi + SNR.
	if pkt.SNR != -4 || pkt.RSSI != -90 {
		t.Errorf("rssi %v snr %v", pkt.RSSI, pkt.SNR)
	}
	s := b.dev.Stats()
	if s.RxCRCErrors != 1 || s.RxNoCRC != 1 || s.RxPackets != 1 || s.RxFrames != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestLoneSecondHalfAndPartialTimeout(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	b := newRig(t, clk, air, "b", Opts{})
	p := fastParams().Effective()
	send := func(data []byte) {
		air.Transmit(nil, sx127xtest.Frame{From: "x", Params: p, Data: data})
		time.Sleep(time.Duration(float64(hal.Airtime(p, len(data))+20*time.Millisecond) / scale()))
	}
	// A lone second half is dropped and counted.
	send([]byte{0x31, 1, 2, 3})
	// A first half without its second half expires after PartialTimeout.
	first := append([]byte{0x41}, packet(254, 1)...)
	send(first)
	deadline := time.Now().Add(10 * time.Second)
	for b.dev.ReassemblyStats().TimedOut == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("partial never timed out: %+v", b.dev.ReassemblyStats())
		}
		time.Sleep(time.Millisecond)
	}
	// The receiver still works, and the late second half is a lone one.
	send([]byte{0x41, 9})
	send([]byte{0x50, 'o', 'k'})
	pkt, err := b.dev.Receive(ctxT(t))
	if err != nil || string(pkt.Data) != "ok" {
		t.Fatalf("%q %v", pkt.Data, err)
	}
	rs := b.dev.ReassemblyStats()
	if rs.Lone != 2 || rs.TimedOut != 1 || rs.Packets != 1 {
		t.Errorf("reassembly %+v", rs)
	}
	if s := b.dev.Stats(); s.RxDropped != 3 {
		t.Errorf("RxDropped %d", s.RxDropped)
	}
}

func TestTxTimeoutWhenDIO0NeverRises(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	r := newRig(t, clk, nil, "a", Opts{DisableCSMA: true})
	r.chip.BreakDIO0(true)
	start := clk.Now()
	err := r.dev.Send(ctxT(t), []byte("nobody hears DIO0"))
	if !errors.Is(err, hal.ErrTxTimeout) {
		t.Fatalf("Send: %v", err)
	}
	want := hal.TxTimeout(fastParams(), 18)
	if took := clk.Now().Sub(start); took < want {
		t.Errorf("gave up after %v, timeout is %v", took, want)
	}
	s := r.dev.Stats()
	if s.TxTimeout != 1 || s.TxErrors != 1 || s.TxPackets != 0 {
		t.Errorf("stats %+v", s)
	}
	if r.chip.Stats().Resets != 2 { // New, then recovery
		t.Errorf("resets %d", r.chip.Stats().Resets)
	}
	r.chip.BreakDIO0(false)
	if err := r.dev.Send(ctxT(t), []byte("again")); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
	if r.chip.Register(0x01) != 0x85 {
		t.Error("not receiving after recovery")
	}
}

func TestCarrierSenseDefersSend(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	a := newRig(t, clk, air, "a", Opts{})
	p := fastParams().Effective()
	long := append([]byte{0x20}, packet(250, 3)...)
	air.Transmit(nil, sx127xtest.Frame{From: "x", Params: p, Data: long})
	busy, err := a.dev.ChannelBusy()
	if err != nil || !busy {
		t.Fatalf("ChannelBusy during a frame: %v %v", busy, err)
	}
	if err := a.dev.Send(ctxT(t), []byte("after you")); err != nil {
		t.Fatal(err)
	}
	log := air.Log()
	if len(log) != 2 {
		t.Fatalf("%d frames", len(log))
	}
	_, difs := hal.CSMATiming(p)
	if gap := log[1].Start.Sub(log[0].End()); gap < difs {
		t.Errorf("sent %v after the other frame ended, DIFS is %v", gap, difs)
	}
	if a.dev.Stats().Busy == 0 {
		t.Error("busy channel not counted")
	}
	if busy, _ := a.dev.ChannelBusy(); busy {
		t.Error("channel still busy")
	}
	if _, err := a.dev.Receive(ctxT(t)); err != nil {
		t.Fatal(err) // the long frame was received while waiting
	}
}

func TestCADBeforeSend(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	a := newRig(t, clk, air, "a", Opts{CAD: true})
	b := newRig(t, clk, air, "b", Opts{})
	if err := a.dev.Send(ctxT(t), []byte("cad")); err != nil {
		t.Fatal(err)
	}
	if pkt, err := b.dev.Receive(ctxT(t)); err != nil || string(pkt.Data) != "cad" {
		t.Fatalf("%q %v", pkt.Data, err)
	}
	if a.chip.Stats().CADs == 0 {
		t.Error("no CAD run")
	}
}

func TestCloseUnblocksAndRejects(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	r := newRig(t, clk, nil, "a", Opts{})
	errc := make(chan error, 1)
	go func() {
		_, err := r.dev.Receive(context.Background())
		errc <- err
	}()
	if err := r.dev.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, hal.ErrClosed) {
		t.Fatalf("Receive after Close: %v", err)
	}
	if err := r.dev.Send(context.Background(), []byte{1}); !errors.Is(err, hal.ErrClosed) {
		t.Fatalf("Send after Close: %v", err)
	}
	if _, err := r.dev.ChannelBusy(); !errors.Is(err, hal.ErrClosed) {
		t.Fatal(err)
	}
	if err := r.dev.Configure(fastParams()); !errors.Is(err, hal.ErrClosed) {
		t.Fatal(err)
	}
	if r.chip.Register(0x01) != 0x80 {
		t.Errorf("chip not asleep: %02x", r.chip.Register(0x01))
	}
	if err := r.dev.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if err := r.dev.Send(context.Background(), nil); !errors.Is(err, hal.ErrPacketSize) {
		t.Fatalf("empty packet: %v", err)
	}
}

func TestSendCancelledWhileChannelBusy(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	a := newRig(t, clk, air, "a", Opts{MaxChannelWait: time.Hour})
	p := fastParams().Effective()
	air.Transmit(nil, sx127xtest.Frame{From: "x", Params: p, Data: packet(255, 1)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.dev.Send(ctx, []byte{1}); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	_ = gpio.Low
}

func TestInterferenceAvoidance(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	air := sx127xtest.NewAir(clk)
	a := newRig(t, clk, air, "a", Opts{InterferenceAvoidance: true, MaxChannelWait: 300 * time.Millisecond})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if f, ok := a.dev.NoiseFloor(); ok {
			if f < -111 || f > -109 {
				t.Fatalf("noise floor %v, chip's is -110", f)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("noise floor never learned")
		}
		time.Sleep(time.Millisecond)
	}
	// A strong signal with another spreading factor: no LoRa carrier for
	// this modem, but 50 dB over the floor.
	p := fastParams().Effective()
	p.SpreadingFactor = 12
	air.Transmit(nil, sx127xtest.Frame{From: "jammer", Params: p, Data: packet(200, 1)})
	busy, err := a.dev.ChannelBusy()
	if err != nil || !busy {
		t.Fatalf("interference not detected: %v %v", busy, err)
	}
	if err := a.dev.Send(ctxT(t), []byte("x")); !errors.Is(err, hal.ErrChannelBusy) {
		t.Fatalf("Send under interference: %v", err)
	}
	if a.dev.Stats().TxErrors != 1 {
		t.Errorf("stats %+v", a.dev.Stats())
	}
}

// recPort records the bytes the driver writes in every SPI transaction.
type recPort struct {
	spi.PortCloser
	mu  sync.Mutex
	txs [][]byte
}

func (p *recPort) Connect(f physic.Frequency, m spi.Mode, bits int) (spi.Conn, error) {
	c, err := p.PortCloser.Connect(f, m, bits)
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: c, p: p}, nil
}

type recConn struct {
	spi.Conn
	p *recPort
}

func (c *recConn) Tx(w, r []byte) error {
	c.p.mu.Lock()
	c.p.txs = append(c.p.txs, append([]byte(nil), w...))
	c.p.mu.Unlock()
	return c.Conn.Tx(w, r)
}

func (p *recPort) take() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.txs
	p.txs = nil
	return t
}

// TestTxTranscript pins the exact SPI transactions of one transmitted
// packet (SX127X.md §8.3, with DIO0 mapped to TxDone).
func TestTxTranscript(t *testing.T) {
	clk := sx127xtest.NewScaledClock(epoch, scale())
	chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Clock: clk})
	port := &recPort{PortCloser: chip.Port()}
	d, err := New(port, chip.ResetPin(), chip.DIO0(), &Opts{Params: fastParams(), Now: clk.Now,
		Sleep: func(time.Duration) {}, DisableCSMA: true, Rand: func() uint64 { return 0xa0 }})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	port.take()
	if err := d.Send(ctxT(t), []byte{0xca, 0xfe}); err != nil {
		t.Fatal(err)
	}
	got := port.take()
	want := [][]byte{
		{0x81, 0x81},             // STANDBY
		{0xc0, 0x40},             // DIO0 = TxDone
		{0x91, 0x00, 0xff},       // unmask, clear all IRQs
		{0x8d, 0x00, 0x00},       // FIFO pointer and TX base = 0
		{0x80, 0xa0, 0xca, 0xfe}, // header + packet in one burst
		{0xa2, 0x03},             // RegPayloadLength
		{0x81, 0x83},             // TX
		{0x12, 0x00},             // read RegIrqFlags after the DIO0 edge
		{0x92, 0x08},             // clear TxDone
		{0xc0, 0x00},             // DIO0 = RxDone
		{0x81, 0x85},             // RX continuous
	}
	if len(got) != len(want) {
		t.Fatalf("%d transactions, want %d: % x", len(got), len(want), got)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("transaction %d: % x, want % x", i, got[i], want[i])
		}
	}
}

func TestContentionWindowBands(t *testing.T) {
	d := &Dev{}
	now := epoch
	if lo, hi := d.contentionWindow(now); lo != 0 || hi != 15 {
		t.Fatalf("idle: %d..%d", lo, hi)
	}
	for _, c := range []struct {
		air    time.Duration
		lo, hi uint64
	}{
		{time.Second, 0, 15},       // 6 %
		{2 * time.Second, 15, 29},  // 13 %
		{6 * time.Second, 30, 44},  // 40 %
		{12 * time.Second, 45, 59}, // 80 %
	} {
		d.airLog = []airRec{{now.Add(-time.Second), c.air}}
		if lo, hi := d.contentionWindow(now); lo != c.lo || hi != c.hi {
			t.Errorf("%v in 15 s: %d..%d, want %d..%d", c.air, lo, hi, c.lo, c.hi)
		}
	}
	// Older than 15 s no longer counts.
	d.airLog = []airRec{{now.Add(-16 * time.Second), 12 * time.Second}}
	if lo, _ := d.contentionWindow(now); lo != 0 || len(d.airLog) != 0 {
		t.Errorf("stale airtime still counted")
	}
}
