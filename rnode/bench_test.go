package rnode

import (
	"context"
	"testing"
	"time"

	"go.bug.st/serial"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/rnode/rnodetest"
)

// benchPacket is a 200-byte packet: one LoRa frame, the size meshlogd's
// sync prefers.
func benchPacket() []byte {
	p := make([]byte, 200)
	for i := range p {
		p[i] = byte(i*37 + 11)
	}
	return p
}

// inflight bounds how far the producer runs ahead of the consumer (the
// emulator's output queue must not overflow).
const inflight = 32

// BenchmarkKISSReceive measures received frames per second through the
// whole KISS path: the emulated RNode turns a frame heard on air into
// STAT_RSSI, STAT_SNR and DATA frames on a pty; the driver reads them with
// go.bug.st/serial, deframes, and Receive returns the packet. The baseline,
// in the same run, pushes the same bytes through the same pty and reads
// them raw with go.bug.st/serial. Reported: packets/s of both and their
// ratio (kiss/raw; 1.0 would mean the driver costs nothing).
func BenchmarkKISSReceive(b *testing.B) {
	pkt := benchPacket()
	frame := append([]byte{0x40}, pkt...)
	wire := AppendFrame(nil, CmdStatRSSI, []byte{0x3c})
	wire = AppendFrame(wire, CmdStatSNR, []byte{0xea})
	wire = AppendFrame(wire, CmdData, pkt)

	// The emulated device writes the three frames separately; so does the
	// baseline.
	raw := rawPTYRate(b, [][]byte{wire[:4], wire[4:8], wire[8:]})

	dev := rnodetest.New(rnodetest.Config{})
	pty, err := rnodetest.NewPTY(dev, b.TempDir(), "ttyRNODE")
	if err != nil {
		b.Fatal(err)
	}
	defer pty.Close()
	o := &Opts{OpenDelay: -1, DetectTimeout: 10 * time.Second, ConfigTimeout: 10 * time.Second, NoTxWait: true, RxQueue: 2 * inflight}
	m, err := Open(context.Background(), Serial(pty.Path()), o)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if err := m.Configure(hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 9, CodingRate: 5, TxPowerDBm: 17}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	sem := make(chan struct{}, inflight)
	b.SetBytes(int64(len(wire)))
	b.ResetTimer()
	start := time.Now()
	go func() {
		for i := 0; i < b.N; i++ {
			sem <- struct{}{}
			dev.Receive(frame, -97, -5.5)
		}
	}()
	for i := 0; i < b.N; i++ {
		p, err := m.Receive(ctx)
		if err != nil || len(p.Data) != len(pkt) {
			b.Fatalf("receive: %d bytes, %v", len(p.Data), err)
		}
		<-sem
	}
	elapsed := time.Since(start)
	b.StopTimer()
	kiss := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(kiss, "kiss-pkt/s")
	b.ReportMetric(raw, "raw-pkt/s")
	b.ReportMetric(kiss/raw, "kiss/raw")
}

// BenchmarkKISSSend measures packets per second from Send to the emulated
// RNode's transmitter (driver framing, pty, firmware parser), against raw
// writes of the same KISS bytes to the same kind of pty in the same run.
func BenchmarkKISSSend(b *testing.B) {
	pkt := benchPacket()
	wire := AppendFrame(nil, CmdData, pkt)
	raw := rawPTYWriteRate(b, wire)

	sent := make(chan struct{}, 1<<16)
	dev := rnodetest.New(rnodetest.Config{QueuePackets: 1 << 16, QueueBytes: 1 << 30,
		Air: rnodetest.AirFunc(func([]byte, hal.Params) { sent <- struct{}{} })})
	pty, err := rnodetest.NewPTY(dev, b.TempDir(), "ttyRNODE")
	if err != nil {
		b.Fatal(err)
	}
	defer pty.Close()
	o := &Opts{OpenDelay: -1, DetectTimeout: 10 * time.Second, ConfigTimeout: 10 * time.Second, NoTxWait: true}
	m, err := Open(context.Background(), Serial(pty.Path()), o)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if err := m.Configure(hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 9, CodingRate: 5, TxPowerDBm: 17}); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(wire)))
	b.ResetTimer()
	start := time.Now()
	done := make(chan struct{})
	go func() {
		for i := 0; i < b.N; i++ {
			<-sent
		}
		close(done)
	}()
	for i := 0; i < b.N; i++ {
		if err := m.Send(ctx, pkt); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	kiss := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(kiss, "kiss-pkt/s")
	b.ReportMetric(raw, "raw-pkt/s")
	b.ReportMetric(kiss/raw, "kiss/raw")
}

// rawPTYRate pushes b.N copies of the chunks (one write each) from the
// emulator's side of a pty to a go.bug.st/serial reader and returns copies
// per second.
func rawPTYRate(b *testing.B, chunks [][]byte) float64 {
	var wire []byte
	for _, c := range chunks {
		wire = append(wire, c...)
	}
	dev := rnodetest.New(rnodetest.Config{})
	dev.SetFaults(rnodetest.Faults{Mute: true})
	pty, err := rnodetest.NewPTY(dev, b.TempDir(), "ttyRAW")
	if err != nil {
		b.Fatal(err)
	}
	defer pty.Close()
	port, err := serial.Open(pty.Path(), &SerialMode)
	if err != nil {
		b.Fatal(err)
	}
	defer port.Close()
	n := b.N
	sem := make(chan struct{}, inflight)
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			sem <- struct{}{}
			for _, c := range chunks {
				dev.InjectHost(c)
			}
		}
	}()
	buf := make([]byte, 1024)
	total, got := n*len(wire), 0
	for got < total {
		k, err := port.Read(buf)
		if err != nil {
			b.Fatal(err)
		}
		before := got / len(wire)
		got += k
		for j := before; j < got/len(wire); j++ {
			<-sem
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

// rawPTYWriteRate writes n copies of wire with go.bug.st/serial into a pty
// whose emulated device ignores them, and returns copies per second once
// the device side has read them all.
func rawPTYWriteRate(b *testing.B, wire []byte) float64 {
	counted := make(chan int, 1<<16)
	dev := rnodetest.New(rnodetest.Config{})
	pty, err := rnodetest.NewPTY(dev, b.TempDir(), "ttyRAW")
	if err != nil {
		b.Fatal(err)
	}
	defer pty.Close()
	port, err := serial.Open(pty.Path(), &SerialMode)
	if err != nil {
		b.Fatal(err)
	}
	defer port.Close()
	// The muted device ignores the bytes; the tap counts them.
	dev.SetFaults(rnodetest.Faults{Mute: true})
	dev.SetHostTap(func(p []byte) { counted <- len(p) })
	defer dev.SetHostTap(nil)
	n := b.N
	start := time.Now()
	go func() {
		for i := 0; i < n; i++ {
			if _, err := port.Write(wire); err != nil {
				return
			}
		}
	}()
	total, got := n*len(wire), 0
	for got < total {
		got += <-counted
	}
	return float64(n) / time.Since(start).Seconds()
}
