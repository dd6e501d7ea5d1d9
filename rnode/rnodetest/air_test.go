package rnodetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

// configureTo sends the host commands for p and radio on.
func configureTo(d *Device, p hal.Params) {
	var b []byte
	frame := func(cmd byte, body ...byte) { b = append(append(append(b, fend, cmd), body...), fend) }
	frame(cmdFrequency, byte(p.FrequencyHz>>24), byte(p.FrequencyHz>>16), byte(p.FrequencyHz>>8), byte(p.FrequencyHz))
	frame(cmdBandwidth, byte(p.BandwidthHz>>24), byte(p.BandwidthHz>>16), byte(p.BandwidthHz>>8), byte(p.BandwidthHz))
	frame(cmdTxPower, byte(p.TxPowerDBm))
	frame(cmdSF, byte(p.SpreadingFactor))
	frame(cmdCR, byte(p.CodingRate))
	frame(cmdRadioState, 1)
	_, _ = d.Write(b)
}

func TestStationsShareAir(t *testing.T) {
	clk := sx127xtest.NewManualClock(time.Unix(0, 0))
	air := sx127xtest.NewAir(clk)
	p := hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 250_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 14}
	a, b, c := New(Config{Seed: 1}), New(Config{Seed: 2}), New(Config{Seed: 3})
	JoinAir(a, air, "a")
	JoinAir(b, air, "b")
	JoinAir(c, air, "c")
	configureTo(a, p)
	configureTo(b, p)
	other := p
	other.SpreadingFactor = 8
	configureTo(c, other) // listens with another SF: hears nothing
	outB, outC := collect(b), collect(c)

	pkt := bytes.Repeat([]byte{0x5a}, 300)
	_, _ = a.Write(append(append([]byte{fend, cmdData}, pkt...), fend))
	// b queues a packet while a's frames are on air: it waits for them and
	// DIFS.
	_, _ = b.Write([]byte{fend, cmdData, 1, 2, 3, fend})
	log := air.Log()
	if len(log) != 3 {
		t.Fatalf("%d frames on air", len(log))
	}
	if !log[1].Start.Equal(log[0].End()) {
		t.Fatal("second half not back to back")
	}
	_, difs := hal.CSMATiming(p)
	if log[2].From != "b" || log[2].Start.Before(log[1].End().Add(difs)) {
		t.Fatalf("b started at %v, a's packet ends at %v", log[2].Start, log[1].End())
	}
	clk.Advance(10 * time.Second)
	want := append([]byte{fend, cmdStatRSSI, 97, fend, fend, cmdStatSNR, 36, fend, fend, cmdData}, pkt...)
	want = append(want, fend)
	if !bytes.Equal(outB.Bytes(), want) {
		t.Fatalf("b delivered %x", outB.Bytes())
	}
	if outC.Len() != 0 || c.Stats().RxFrames != 0 {
		t.Fatalf("c (SF8) heard SF7 frames: %x", outC.Bytes())
	}
	if a.Stats().RxPackets != 1 {
		t.Fatalf("a received %d packets", a.Stats().RxPackets)
	}
	// A corrupted frame is dropped.
	air.SetLink(func(from, to sx127xtest.Station, f sx127xtest.Frame) (sx127xtest.Link, bool) {
		return sx127xtest.Link{RSSI: -60, SNR: 9, Corrupt: true}, true
	})
	outB.Reset()
	_, _ = a.Write([]byte{fend, cmdData, 9, fend})
	clk.Advance(10 * time.Second)
	if outB.Len() != 0 {
		t.Fatalf("corrupt frame delivered: %x", outB.Bytes())
	}
}
