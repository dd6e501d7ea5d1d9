package sx127xtest

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type host struct {
	t    *testing.T
	conn spi.Conn
}

func connect(t *testing.T, c *Chip) *host {
	t.Helper()
	conn, err := c.Port().Connect(8*physic.MegaHertz, spi.Mode0, 8)
	if err != nil {
		t.Fatal(err)
	}
	return &host{t, conn}
}

func (h *host) w(addr byte, vals ...byte) {
	h.t.Helper()
	if err := h.conn.Tx(append([]byte{addr | 0x80}, vals...), nil); err != nil {
		h.t.Fatal(err)
	}
}

func (h *host) r(addr byte, n int) []byte {
	h.t.Helper()
	w := make([]byte, n+1)
	w[0] = addr
	r := make([]byte, n+1)
	if err := h.conn.Tx(w, r); err != nil {
		h.t.Fatal(err)
	}
	return r[1:]
}

func (h *host) r1(addr byte) byte { return h.r(addr, 1)[0] }

// setup programs 868.1 MHz / 125 kHz / SF7 / 4/5, CRC on, LoRa standby.
func (h *host) setup() {
	h.w(regOpMode, 0x00)
	h.w(regOpMode, 0x80)
	h.w(regFrfMsb, 0xd9, 0x06, 0x66)
	h.w(regFifoTxBase, 0, 0)
	h.w(regModemConfig1, 0x72)
	h.w(regModemConfig2, 0x74)
	h.w(regPreambleMsb, 0, 20)
	h.w(regModemConfig3, 0x04)
	h.w(regOpMode, 0x81)
}

func TestSPIFramingAndReset(t *testing.T) {
	clk := NewManualClock(epoch)
	c := NewChip(ChipOpts{Clock: clk})
	h := connect(t, c)
	if v := h.r1(regVersion); v != 0x12 {
		t.Fatalf("version %02x", v)
	}
	if v := h.r(regFrfMsb, 3); !bytes.Equal(v, []byte{0x6c, 0x80, 0x00}) {
		t.Fatalf("reset Frf % x", v)
	}
	// LongRangeMode cannot change outside SLEEP: 0x09 is FSK standby.
	h.w(regOpMode, 0x81)
	if v := h.r1(regOpMode); v != 0x01 {
		t.Fatalf("opmode after LoRa write in standby: %02x", v)
	}
	h.setup()
	if v := h.r1(regOpMode); v != 0x81 {
		t.Fatalf("opmode %02x", v)
	}
	// Burst FIFO write and read back through the auto-incrementing pointer.
	h.w(regFifoAddrPtr, 0x10)
	h.w(regFifo, 1, 2, 3, 4, 5)
	if p := h.r1(regFifoAddrPtr); p != 0x15 {
		t.Fatalf("FIFO pointer %02x", p)
	}
	h.w(regFifoAddrPtr, 0x10)
	if got := h.r(regFifo, 5); !bytes.Equal(got, []byte{1, 2, 3, 4, 5}) {
		t.Fatalf("FIFO % x", got)
	}
	// The version register is read-only.
	h.w(regVersion, 0x22)
	if v := h.r1(regVersion); v != 0x12 {
		t.Fatal("version writable")
	}
	// NRESET low: reads 0; released: reset values.
	c.ResetPin().Out(gpio.Low)
	if v := h.r1(regVersion); v != 0 {
		t.Fatalf("in reset: %02x", v)
	}
	c.ResetPin().Out(gpio.High)
	if v := h.r1(regOpMode); v != 0x09 {
		t.Fatalf("after reset opmode %02x", v)
	}
	c.SetAbsent(true, 0xff)
	if v := h.r1(regVersion); v != 0xff {
		t.Fatal("absent chip answered")
	}
	if s := c.Stats(); s.Resets != 1 || s.SPITransactions < 10 {
		t.Fatalf("stats %+v", s)
	}
	if _, err := c.Port().Connect(8*physic.MegaHertz, spi.Mode1, 8); err == nil {
		t.Fatal("mode 1 accepted")
	}
	if _, err := c.Port().Connect(20*physic.MegaHertz, spi.Mode0, 8); err == nil {
		t.Fatal("20 MHz accepted")
	}
}

func TestTxTimingAndDIO0(t *testing.T) {
	clk := NewManualClock(epoch)
	c := NewChip(ChipOpts{Clock: clk})
	h := connect(t, c)
	h.setup()
	if err := c.DIO0().In(gpio.PullDown, gpio.RisingEdge); err != nil {
		t.Fatal(err)
	}
	frame := bytes.Repeat([]byte{0xab}, 20)
	h.w(regFifoAddrPtr, 0)
	h.w(regFifo, frame...)
	h.w(regPayloadLength, byte(len(frame)))
	h.w(regDioMapping1, 0x40)
	h.w(regOpMode, 0x83)
	p := c.Params()
	want := hal.Airtime(p, len(frame))
	// SF7/125 kHz/CR 4/5, preamble register 20, 20 bytes: 68.864 ms (airtime.json).
	if want != 68864*time.Microsecond || p.FrequencyHz != 868_099_975 || p.SyncWord != 0x12 {
		t.Fatalf("params decoded as %+v", p)
	}
	clk.Advance(want - time.Nanosecond)
	if h.r1(regIrqFlags)&irqTxDone != 0 || c.DIO0().Read() {
		t.Fatal("TxDone before the airtime")
	}
	if c.DIO0().WaitForEdge(-1) {
		t.Fatal("WaitForEdge(-1) must return false at once (host v3.8.x)")
	}
	clk.Advance(time.Nanosecond)
	if h.r1(regIrqFlags)&irqTxDone == 0 || !c.DIO0().Read() {
		t.Fatal("no TxDone after the airtime")
	}
	if h.r1(regOpMode) != 0x81 {
		t.Fatal("not back in standby")
	}
	if !c.DIO0().WaitForEdge(time.Millisecond) {
		t.Fatal("edge not queued")
	}
	h.w(regIrqFlags, 0x08)
	if c.DIO0().Read() {
		t.Fatal("DIO0 still high after clearing")
	}
	log := c.TxLog()
	if len(log) != 1 || !bytes.Equal(log[0].Data, frame) || log[0].Airtime != want {
		t.Fatalf("tx log %+v", log)
	}
	// Broken DIO0: the flag rises, the pin does not.
	c.BreakDIO0(true)
	h.w(regOpMode, 0x83)
	clk.Advance(want)
	if h.r1(regIrqFlags)&irqTxDone == 0 || c.DIO0().Read() {
		t.Fatal("broken DIO0 rose")
	}
}

func TestAirReceiveCollisionAndCAD(t *testing.T) {
	clk := NewManualClock(epoch)
	air := NewAir(clk)
	a := NewChip(ChipOpts{Name: "a", Clock: clk, Air: air})
	b := NewChip(ChipOpts{Name: "b", Clock: clk, Air: air})
	x := NewChip(ChipOpts{Name: "x", Clock: clk, Air: air})
	ha, hb, hx := connect(t, a), connect(t, b), connect(t, x)
	for _, h := range []*host{ha, hb, hx} {
		h.setup()
	}
	air.SetLink(func(from, to Station, f Frame) (Link, bool) {
		return Link{RSSI: -80, SNR: -3.25}, true
	})
	b.DIO0().In(gpio.PullDown, gpio.RisingEdge)
	hb.w(regOpMode, 0x85)
	send := func(h *host, data []byte) time.Duration {
		h.w(regFifoAddrPtr, 0)
		h.w(regFifo, data...)
		h.w(regPayloadLength, byte(len(data)))
		h.w(regOpMode, 0x83)
		return hal.Airtime(a.Params(), len(data))
	}
	d := send(ha, []byte("hello"))
	if hb.r1(regModemStat)&0x01 == 0 {
		t.Fatal("no carrier detected while a frame is on air")
	}
	if rssi := float64(hb.r1(regRssi)) - 157; rssi != -80 {
		t.Fatalf("current RSSI %v", rssi)
	}
	clk.Advance(d)
	flags := hb.r1(regIrqFlags)
	if flags&irqRxDone == 0 || flags&irqCRCError != 0 || !b.DIO0().WaitForEdge(time.Millisecond) {
		t.Fatalf("flags %02x", flags)
	}
	hb.w(regIrqFlags, flags)
	n := hb.r1(regRxNbBytes)
	cur := hb.r1(regFifoRxCurrent)
	hb.w(regFifoAddrPtr, cur)
	if got := hb.r(regFifo, int(n)); string(got) != "hello" {
		t.Fatalf("received %q", got)
	}
	snr := float64(int8(hb.r1(regPktSnr))) / 4
	rssi := -157 + float64(hb.r1(regPktRssi)) + snr
	if snr != -3.25 || rssi != -80.25 || hb.r1(regHopChannel)&0x40 == 0 {
		t.Fatalf("snr %v rssi %v", snr, rssi)
	}
	// The second frame lands after the first in the FIFO (once the host
	// looks at DIO0 again: until then the chip holds it back).
	d = send(ha, []byte("again"))
	clk.Advance(d)
	b.DIO0().Read()
	if cur2 := hb.r1(regFifoRxCurrent); cur2 != cur+5 {
		t.Fatalf("second frame at %d", cur2)
	}
	hb.w(regIrqFlags, 0xff)
	// Collision: a and x overlap, b sees a CRC error for both.
	d1 := send(ha, []byte("one"))
	clk.Advance(d1 / 2)
	d2 := send(hx, []byte("two"))
	clk.Advance(d1 + d2)
	for i := 0; i < 2; i++ {
		b.DIO0().Read()
		hb.w(regIrqFlags, 0xff)
	}
	if s := b.Stats(); s.RxCRCErrors != 2 || s.RxFrames != 4 {
		t.Fatalf("collision stats %+v", s)
	}
	// CAD: detects a preamble on air.
	hb.w(regIrqFlags, 0xff)
	hb.w(regOpMode, 0x81)
	hb.w(regDioMapping1, 0xa0)
	d = send(ha, bytes.Repeat([]byte{1}, 100))
	clk.Advance(time.Millisecond)
	hb.w(regOpMode, 0x87)
	clk.Advance(2 * hal.SymbolTime(b.Params()))
	if f := hb.r1(regIrqFlags); f&(irqCadDone|irqCadDetected) != irqCadDone|irqCadDetected || hb.r1(regOpMode) != 0x81 {
		t.Fatalf("CAD flags %02x", f)
	}
	clk.Advance(d)
	hb.w(regIrqFlags, 0xff)
	hb.w(regOpMode, 0x87)
	clk.Advance(2 * hal.SymbolTime(b.Params()))
	if f := hb.r1(regIrqFlags); f != irqCadDone {
		t.Fatalf("CAD on a quiet channel: %02x", f)
	}
	// A receiver with another spreading factor hears nothing.
	hb.w(regModemConfig2, 0x94)
	hb.w(regOpMode, 0x85)
	before := b.Stats().RxFrames
	clk.Advance(send(ha, []byte("sf7")))
	if b.Stats().RxFrames != before {
		t.Fatal("SF9 receiver decoded an SF7 frame")
	}
	if len(air.Log()) != 6 {
		t.Fatalf("air log %d frames", len(air.Log()))
	}
}

func TestInjectLDROMismatch(t *testing.T) {
	clk := NewManualClock(epoch)
	c := NewChip(ChipOpts{Clock: clk})
	h := connect(t, c)
	h.setup()
	h.w(regOpMode, 0x85)
	f := c.Inject([]byte{1, 2, 3}, Link{RSSI: -50, SNR: 10})
	clk.Advance(f.Airtime)
	if fl := h.r1(regIrqFlags); fl&irqRxDone == 0 || fl&irqCRCError != 0 {
		t.Fatalf("flags %02x", fl)
	}
	h.w(regIrqFlags, 0xff)
	if rssi := -157 + float64(h.r1(regPktRssi)); rssi != -50 {
		t.Fatalf("rssi %v", rssi)
	}
	// LDRO differs from the sender's: the payload fails its CRC.
	h.w(regModemConfig3, 0x0c)
	p := c.Params()
	p.LDRO = hal.LDROOff
	fr := Frame{From: "other", Params: p, Data: []byte{9}, Start: clk.Now(), Airtime: time.Millisecond}
	c.CarrierStart(fr, Link{})
	clk.Advance(time.Millisecond)
	c.CarrierEnd(fr, Link{})
	c.DIO0().Read()
	if fl := h.r1(regIrqFlags); fl&irqCRCError == 0 {
		t.Fatalf("LDRO mismatch not detected: %02x", fl)
	}
}

func TestFrameHeldWhileHostServices(t *testing.T) {
	clk := NewManualClock(epoch)
	c := NewChip(ChipOpts{Clock: clk})
	h := connect(t, c)
	h.setup()
	h.w(regOpMode, 0x85)
	f1 := c.Inject([]byte("first"), Link{RSSI: -50, SNR: 10})
	clk.Advance(f1.Airtime)
	c.Inject([]byte("second!"), Link{RSSI: -50, SNR: 10})
	clk.Advance(time.Second)
	// The host has not looked at DIO0 since RxDone: "second!" waits.
	if n := h.r1(regRxNbBytes); n != 5 {
		t.Fatalf("RxNbBytes %d while the first frame is serviced", n)
	}
	h.w(regIrqFlags, 0xff)
	if n := h.r1(regRxNbBytes); n != 5 {
		t.Fatalf("RxNbBytes %d before the host waits again", n)
	}
	c.DIO0().Read()
	if n := h.r1(regRxNbBytes); n != 7 || h.r1(regIrqFlags)&irqRxDone == 0 {
		t.Fatalf("second frame not released: %d", n)
	}
}

// With ExternalVerdict the chip ignores overlaps: the Link passed to
// CarrierEnd decides, and a frame completes only after its CarrierEnd.
func TestExternalVerdictAndTransmitHook(t *testing.T) {
	clk := NewManualClock(epoch)
	var sent []Frame
	c := NewChip(ChipOpts{Name: "rx", Clock: clk, ExternalVerdict: true, Transmit: func(f Frame) { sent = append(sent, f) }})
	h := connect(t, c)
	h.setup()
	c.DIO0().In(gpio.PullDown, gpio.RisingEdge)
	h.w(regOpMode, 0x85)
	p := c.Params()
	strong := Frame{From: "strong", Params: p, Data: []byte("strong"), Start: clk.Now()}
	strong.Airtime = hal.Airtime(p, len(strong.Data))
	weak := Frame{From: "weak", Params: p, Data: []byte("weak"), Start: clk.Now().Add(time.Millisecond)}
	weak.Airtime = hal.Airtime(p, len(weak.Data))
	c.CarrierStart(strong, Link{RSSI: -60, SNR: 9})
	clk.Advance(time.Millisecond)
	c.CarrierStart(weak, Link{RSSI: -75, SNR: 2})
	clk.AdvanceTo(strong.End().Add(time.Millisecond))
	// The end is due but the medium has not given its verdict yet.
	if c.DIO0().Read() != gpio.Low || c.DIO0().Pending() != 0 || c.Stats().RxFrames != 0 {
		t.Fatal("frame completed before CarrierEnd")
	}
	c.CarrierEnd(strong, Link{})
	if c.DIO0().Pending() != 1 {
		t.Fatalf("%d edges pending after RxDone", c.DIO0().Pending())
	}
	if !c.DIO0().WaitForEdge(0) || c.DIO0().Pending() != 0 {
		t.Fatal("queued edge not consumed")
	}
	if fl := h.r1(regIrqFlags); fl&irqRxDone == 0 || fl&irqCRCError != 0 {
		t.Fatalf("overlapped strong frame: flags %02x (the chip must not decide collisions itself)", fl)
	}
	h.w(regIrqFlags, 0xff)
	clk.AdvanceTo(weak.End())
	c.CarrierEnd(weak, Link{Corrupt: true})
	c.DIO0().Read()
	if fl := h.r1(regIrqFlags); fl&(irqRxDone|irqCRCError) != irqRxDone|irqCRCError {
		t.Fatalf("weak frame judged corrupt by the medium: flags %02x", fl)
	}
	h.w(regIrqFlags, 0xff)
	if s := c.Stats(); s.RxFrames != 2 || s.RxCRCErrors != 1 {
		t.Fatalf("stats %+v", s)
	}
	// Transmit hook: every started frame, no Air needed.
	h.w(regOpMode, 0x81)
	h.w(regFifoAddrPtr, 0)
	h.w(regFifo, 1, 2, 3)
	h.w(regPayloadLength, 3)
	h.w(regOpMode, 0x83)
	if len(sent) != 1 || !bytes.Equal(sent[0].Data, []byte{1, 2, 3}) || sent[0].From != "rx" || sent[0].Airtime != hal.Airtime(p, 3) {
		t.Fatalf("transmit hook got %+v", sent)
	}
}
