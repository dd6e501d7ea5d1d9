package compat

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"runtime"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/rnode"
	"github.com/meshlogd/meshlogd/rnode/rnodetest"
	"github.com/meshlogd/meshlogd/sx127x"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// scale is how much faster than real time the emulated air runs; lower
// under qemu so that the sx127x driver's TX timeout (2 × airtime + 100 ms
// of clock time) keeps a wide wall-clock margin.
func scale() float64 {
	switch {
	case raceEnabled:
		return 2
	case runtime.GOARCH == "arm":
		return 4
	}
	return 10
}

// params: EU868 sub-band P (869.525 MHz), SF7/250 kHz, CR 4/5, 14 dBm: a
// 255-byte frame takes about 200 ms.
func params() hal.Params {
	return hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 250_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 14}
}

type onAirVectors struct {
	OnAir struct {
		Examples []struct {
			PacketHex  string `json:"rns_packet_hex"`
			Nibble     byte   `json:"sequence_nibble"`
			LoRaFrames []struct {
				Hex string `json:"hex"`
			} `json:"lora_frames"`
		} `json:"examples"`
	} `json:"on_air"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// world is one simulated air with an SX127x node and an RNode node.
type world struct {
	air *sx127xtest.Air
	// sx127x side
	chip   *sx127xtest.Chip
	sx     *sx127x.Dev
	sxSeed atomic.Uint64 // next value of the sx127x driver's Rand
	// RNode side
	dev      *rnodetest.Device
	rnSeed   atomic.Uint32 // next sequence nibble of the emulated RNode
	modem    *rnode.Modem
	stranger *stranger
}

// stranger is a third station that puts hand-made frames on the air.
type stranger struct{ name string }

func (s *stranger) String() string                                 { return s.name }
func (s *stranger) CarrierStart(sx127xtest.Frame, sx127xtest.Link) {}
func (s *stranger) CarrierEnd(sx127xtest.Frame, sx127xtest.Link)   {}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{}
	clk := sx127xtest.NewScaledClock(epoch, scale())
	w.air = sx127xtest.NewAir(clk)

	w.chip = sx127xtest.NewChip(sx127xtest.ChipOpts{Name: "sx127x", Clock: clk, Air: w.air})
	var err error
	w.sx, err = sx127x.New(w.chip.Port(), w.chip.ResetPin(), w.chip.DIO0(), &sx127x.Opts{
		Params: params(), Device: "SPI0.0", Now: clk.Now, Sleep: func(time.Duration) {},
		Rand: func() uint64 { return w.sxSeed.Add(0x9e3779b97f4a7c15) }, RxQueue: 64,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.sx.Close() })

	w.dev = rnodetest.New(rnodetest.Config{Now: clk.Now, Rand: func() byte { return byte(w.rnSeed.Add(0x50)) }})
	rnodetest.JoinAir(w.dev, w.air, "rnode")
	pty, err := rnodetest.NewPTY(w.dev, t.TempDir(), "ttyUSB0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pty.Close() })
	// NoTxWait: the driver's airtime wait runs on the wall clock, the
	// emulated air on a faster one; the test waits for delivery instead.
	w.modem, err = rnode.Open(ctx(t), rnode.Serial(pty.Path()), &rnode.Opts{
		OpenDelay: -1, DetectTimeout: 10 * time.Second, ConfigTimeout: 10 * time.Second, NoTxWait: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.modem.Close() })
	if err := w.modem.Configure(params()); err != nil {
		t.Fatal(err)
	}
	w.stranger = &stranger{name: "stranger"}
	w.air.Attach(w.stranger)
	return w
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// setNibbles makes the next packet of either side use sequence nibble n.
func (w *world) setNibbles(n byte) {
	w.rnSeed.Store(uint32(n<<4) - 0x50)
	w.sxSeed.Store(uint64(n<<4) - 0x9e3779b97f4a7c15)
}

// rnodeToSX sends pkt from the RNode node and returns what the SX127x node
// received and the frames that went on air for it.
//
// The RNode sends the two frames of a split packet back to back, as the
// firmware does; the SX127x host must read the first frame out of the
// chip's FIFO before the second one lands on top of it (the whole airtime
// of a short second frame: 33 ms at SF7/250 kHz, 3 ms of wall time on
// this test's 10× air). On a loaded test machine the driver's goroutine
// sometimes is not scheduled in time; the driver then drops the second
// frame as a lone second half and counts it. That is an overrun of the
// receiving host, not an on-air incompatibility, so the test logs it and
// sends the packet again (each attempt's frames are checked).
func (w *world) rnodeToSX(t *testing.T, pkt []byte) (hal.Packet, []sx127xtest.Frame) {
	t.Helper()
	const attempts = 5
	for i := 1; ; i++ {
		before := len(w.air.Log())
		lone := w.sx.ReassemblyStats().Lone
		if err := w.modem.Send(ctx(t), pkt); err != nil {
			t.Fatalf("rnode send %d bytes: %v", len(pkt), err)
		}
		wait := time.Duration(float64(4*hal.PacketAirtime(params(), len(pkt)))/scale()) + 3*time.Second
		c, cancel := context.WithTimeout(ctx(t), wait)
		got, err := w.sx.Receive(c)
		cancel()
		if err == nil {
			return got, w.air.Log()[before:]
		}
		if i < attempts && w.sx.ReassemblyStats().Lone > lone {
			t.Logf("%d bytes: the SX127x host missed the first frame (FIFO overrun under load); sending again", len(pkt))
			continue
		}
		t.Fatalf("sx127x receive of %d bytes: %v (driver %+v, reassembly %+v, chip %+v)", len(pkt), err,
			w.sx.Stats(), w.sx.ReassemblyStats(), w.chip.Stats())
	}
}

// sxToRNode sends pkt from the SX127x node and returns what the RNode node
// received and the frames that went on air.
func (w *world) sxToRNode(t *testing.T, pkt []byte) (hal.Packet, []sx127xtest.Frame) {
	t.Helper()
	before := len(w.air.Log())
	if err := w.sx.Send(ctx(t), pkt); err != nil {
		t.Fatalf("sx127x send %d bytes: %v", len(pkt), err)
	}
	got, err := w.modem.Receive(ctx(t))
	if err != nil {
		t.Fatalf("rnode receive of %d bytes: %v (driver %+v, emulated RNode %+v)", len(pkt), err,
			w.modem.ModemStats(), w.dev.Stats())
	}
	return got, w.air.Log()[before:]
}

// TestFramingVectorsBothWays sends the RNode framing vectors' packets
// (200, 400, 254, 255 and 500 bytes) each way with the vector's sequence
// nibble: the frames on air must be the vector's frames, byte for byte,
// whichever driver sent them, and the other side must deliver the packet.
func TestFramingVectorsBothWays(t *testing.T) {
	b, err := os.ReadFile("testdata/kiss.json")
	if err != nil {
		t.Fatal(err)
	}
	var v onAirVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	for _, ex := range v.OnAir.Examples {
		pkt := unhex(t, ex.PacketHex)
		for _, dir := range []string{"rnode->sx127x", "sx127x->rnode"} {
			w.setNibbles(ex.Nibble)
			var got hal.Packet
			var frames []sx127xtest.Frame
			if dir == "rnode->sx127x" {
				got, frames = w.rnodeToSX(t, pkt)
			} else {
				got, frames = w.sxToRNode(t, pkt)
			}
			if !bytes.Equal(got.Data, pkt) {
				t.Fatalf("%s %d bytes: delivered %d bytes that differ", dir, len(pkt), len(got.Data))
			}
			if len(frames) != len(ex.LoRaFrames) {
				t.Fatalf("%s %d bytes: %d frames on air, want %d", dir, len(pkt), len(frames), len(ex.LoRaFrames))
			}
			for i, f := range frames {
				if want := unhex(t, ex.LoRaFrames[i].Hex); !bytes.Equal(f.Data, want) {
					t.Fatalf("%s %d bytes: frame %d on air\n%x\nwant (vector)\n%x", dir, len(pkt), i, f.Data, want)
				}
				if i > 0 && f.Start.Before(frames[i-1].End()) {
					t.Fatalf("%s: frame %d overlaps frame %d", dir, i, i-1)
				}
			}
		}
	}
}

// sizes returns packet sizes from 1 to 507: every size around the split
// boundary and the ends, plus a stride through the rest. Every size takes
// about a minute of wall time on amd64; MESHLOGD_COMPAT_ALL=1 asks for it.
func sizes() []int {
	stride := 11
	switch {
	case os.Getenv("MESHLOGD_COMPAT_ALL") != "":
		stride = 1
	case runtime.GOARCH == "arm" || testing.Short():
		stride = 37
	}
	set := map[int]bool{}
	for _, n := range []int{1, 2, 3, 64, 127, 128, 175, 200, 251, 252, 253, 254, 255, 256, 257, 258, 300, 383, 431, 464, 498, 499, 500, 501, 506, 507} {
		set[n] = true
	}
	for n := 1; n <= hal.MaxPacketLen; n += stride {
		set[n] = true
	}
	out := make([]int, 0, len(set))
	for n := range set {
		out = append(out, n)
	}
	sort.Ints(out)
	return out
}

// checkFrames verifies the RNode framing of one packet's frames: one frame
// of n+1 bytes up to 254 bytes, else 255 + n-253 bytes, a header with bits
// 3..1 clear, the split flag on both frames of a split packet only, and
// the same sequence nibble in both.
func checkFrames(t *testing.T, what string, pkt []byte, frames []sx127xtest.Frame) {
	t.Helper()
	n := len(pkt)
	var body []byte
	for i, f := range frames {
		h := f.Data[0]
		if h&0x0e != 0 || (h&hal.FlagSplit != 0) != (n > hal.MaxFramePayload) || h&0xf0 != frames[0].Data[0]&0xf0 {
			t.Fatalf("%s %d bytes: frame %d header %02x", what, n, i, h)
		}
		body = append(body, f.Data[1:]...)
	}
	want := 1
	if n > hal.MaxFramePayload {
		want = 2
		if len(frames) == 2 && (len(frames[0].Data) != hal.MaxFrameLen || len(frames[1].Data) != n-253) {
			t.Fatalf("%s %d bytes: frames of %d and %d bytes", what, n, len(frames[0].Data), len(frames[1].Data))
		}
	}
	if len(frames) != want || !bytes.Equal(body, pkt) {
		t.Fatalf("%s %d bytes: %d frames carrying %d bytes", what, n, len(frames), len(body))
	}
}

// TestExchangeAllSizes exchanges packets of 1..507 bytes both ways, one
// size after the other, and checks delivery, framing on air, and the
// RSSI/SNR each side reports (the air's default link: −60 dBm, 9 dB).
func TestExchangeAllSizes(t *testing.T) {
	w := newWorld(t)
	r := rand.New(rand.NewPCG(7, 11))
	for _, n := range sizes() {
		pkt := make([]byte, n)
		for i := range pkt {
			pkt[i] = byte(r.Uint32())
		}
		got, frames := w.rnodeToSX(t, pkt)
		if !bytes.Equal(got.Data, pkt) {
			t.Fatalf("rnode->sx127x %d bytes: delivered %d bytes that differ", n, len(got.Data))
		}
		checkFrames(t, "rnode->sx127x", pkt, frames)
		if got.RSSI > -55 || got.RSSI < -65 || got.SNR < 8 || got.SNR > 10 {
			t.Fatalf("sx127x reports RSSI %v SNR %v", got.RSSI, got.SNR)
		}
		got, frames = w.sxToRNode(t, pkt)
		if !bytes.Equal(got.Data, pkt) {
			t.Fatalf("sx127x->rnode %d bytes: delivered %d bytes that differ", n, len(got.Data))
		}
		checkFrames(t, "sx127x->rnode", pkt, frames)
		if got.RSSI != -60 || got.SNR != 9 {
			t.Fatalf("rnode reports RSSI %v SNR %v", got.RSSI, got.SNR)
		}
	}
	if st := w.sx.Stats(); st.RxCRCErrors != 0 {
		t.Fatalf("sx127x CRC errors: %+v", st)
	}
}

// TestLoneSecondHalf puts the second half of a split packet on the air
// without its first half (and the firmware's header-only third frame of a
// 508-byte packet): both receivers drop it, and the next packets arrive.
func TestLoneSecondHalf(t *testing.T) {
	w := newWorld(t)
	p := params().Effective()
	clk := w.air.Clock()
	lone := sx127xtest.Frame{Params: p, Data: append([]byte{0x61}, bytes.Repeat([]byte{0xee}, 40)...), Start: clk.Now()}
	lone.Airtime = hal.Airtime(p, len(lone.Data))
	third := sx127xtest.Frame{Params: p, Data: []byte{0x91}, Start: lone.End()}
	third.Airtime = hal.Airtime(p, 1)
	w.air.Transmit(w.stranger, lone)
	w.air.Transmit(w.stranger, third)
	// Neither emulated node senses the channel before this test's sends:
	// wait (on the air's clock) until the stray frames are over.
	quiet := make(chan struct{})
	clk.AfterFunc(third.End().Sub(clk.Now())+10*time.Millisecond, func() { close(quiet) })
	select {
	case <-quiet:
	case <-ctx(t).Done():
		t.Fatal("air clock stuck")
	}
	pkt := []byte("after the stray frames")
	if got, _ := w.rnodeToSX(t, pkt); !bytes.Equal(got.Data, pkt) {
		t.Fatalf("sx127x delivered %q", got.Data)
	}
	if got, _ := w.sxToRNode(t, pkt); !bytes.Equal(got.Data, pkt) {
		t.Fatalf("rnode delivered %q", got.Data)
	}
	if st := w.sx.ReassemblyStats(); st.Lone < 1 {
		t.Fatalf("sx127x reassembly %+v", st)
	}
	if w.dev.Stats().RxPackets != 1 {
		t.Fatalf("emulated RNode delivered %d packets", w.dev.Stats().RxPackets)
	}
}
