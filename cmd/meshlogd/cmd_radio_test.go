package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/board"
	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

func runCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRadioBoardsListsProfiles(t *testing.T) {
	code, out, _ := runCmd("radio", "boards")
	if code != exitOK {
		t.Fatalf("exit %d", code)
	}
	for _, p := range board.Profiles() {
		if !strings.Contains(out, p.Name) {
			t.Errorf("%s missing", p.Name)
		}
	}
	if !strings.Contains(out, "GPIO25 (software)") || !strings.Contains(out, "custom") {
		t.Errorf("output:\n%s", out)
	}
}

// This machine has no SPI: every SX127x command fails with a clear error
// and a non-zero exit.
func TestRadioCommandsFailWithoutSPI(t *testing.T) {
	if m, _ := filepath.Glob("/dev/spidev*"); len(m) > 0 {
		t.Skip("host has SPI devices")
	}
	for _, args := range [][]string{
		{"radio", "probe", "--board", "generic"},
		{"radio", "listen", "--board", "adafruit-rfm9x-bonnet", "--count", "1"},
		{"radio", "send", "--board", "uputronics-zero-ce0", "--freq", "868.1", "--sf", "9", "68656c6c6f"},
		{"radio", "probe", "--custom", "spi=SPI0.1,dio0=GPIO25"},
	} {
		code, _, errs := runCmd(args...)
		if code != exitFailure || !strings.Contains(errs, "SPI is disabled") || !strings.Contains(errs, "dtparam=spi=on") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}

func TestRadioUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"radio", "probe"},                            // no radio chosen
		{"radio", "probe", "--board", "nope"},         // unknown board
		{"radio", "probe", "--board", "custom"},       // custom without spec
		{"radio", "probe", "--custom", "spi=SPI0.0"},  // no dio0
		{"radio", "send", "--board", "generic", "zz"}, // not hex
		{"radio", "send", "--board", "generic"},       // no packet
		{"radio", "send", "--board", "generic", strings.Repeat("00", 508)},
		{"radio", "probe", "--board", "generic", "--sf", "13"},
		{"radio", "probe", "--board", "generic", "--freq", "abc"},
		{"radio", "probe", "--board", "generic", "--region", "EU868", "--freq", "915"},
		{"radio", "probe", "--board", "generic", "--rnode", "/dev/ttyUSB0"},
		{"radio", "listen", "--board", "generic", "extra"},
	} {
		if code, _, errs := runCmd(args...); code != exitUsage || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
	if code, _, _ := runCmd("radio", "probe", "--help"); code != exitOK {
		t.Errorf("--help: exit %d", code)
	}
}

func TestRadioParamFlags(t *testing.T) {
	f := &radioFlags{freq: "868.1MHz", bw: "62.5", cr: "4/8", sf: 11, txp: 14, region: "eu"}
	p, region, err := f.params()
	if err != nil {
		t.Fatal(err)
	}
	want := hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 62_500, SpreadingFactor: 11, CodingRate: 8, TxPowerDBm: 14}
	if p != want || region != hal.RegionEU868 {
		t.Fatalf("%+v %v", p, region)
	}
	f = &radioFlags{freq: "915000000", bw: "500000", cr: "5", sf: 7, txp: 20, region: "US915"}
	if p, _, err := f.params(); err != nil || p.FrequencyHz != 915_000_000 || p.BandwidthHz != 500_000 || p.CodingRate != 5 {
		t.Fatalf("%+v %v", p, err)
	}
	f = &radioFlags{freq: "433.775", bw: "10.4k", cr: "4/5", sf: 7, txp: 10, region: "none"}
	if p, _, err := f.params(); err != nil || p.BandwidthHz != 10_400 || p.FrequencyHz != 433_775_000 {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestRadioRNodeWithoutSupport(t *testing.T) {
	saved := openRNodeRadio
	openRNodeRadio = nil
	defer func() { openRNodeRadio = saved }()
	code, _, errs := runCmd("radio", "probe", "--rnode", "/dev/ttyUSB0")
	if code != exitFailure || !strings.Contains(errs, "no RNode support") {
		t.Errorf("exit %d, %q", code, errs)
	}
}

// emulatedBoards replaces openBoardRadio with SX127x drivers on emulated
// chips sharing one air with a peer driver.
func emulatedBoards(t *testing.T) *sx127x.Dev {
	t.Helper()
	clk := sx127xtest.NewScaledClock(time.Unix(1_700_000_000, 0), 10)
	air := sx127xtest.NewAir(clk)
	newDev := func(name string, p hal.Params) (*sx127x.Dev, error) {
		chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Name: name, Clock: clk, Air: air})
		return sx127x.New(chip.Port(), chip.ResetPin(), chip.DIO0(), &sx127x.Opts{Params: p, Now: clk.Now, Sleep: func(time.Duration) {}})
	}
	saved := openBoardRadio
	openBoardRadio = func(prof board.Profile, p hal.Params, region hal.Region) (hal.Radio, error) {
		return newDev(prof.Name, p)
	}
	t.Cleanup(func() { openBoardRadio = saved })
	p := hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 250_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 10}
	peer, err := newDev("peer", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	return peer
}

var fastFlags = []string{"--freq", "869.525", "--bw", "250", "--sf", "7", "--txp", "10", "--region", "EU868"}

func TestRadioSendProbeListenOnEmulatedChips(t *testing.T) {
	peer := emulatedBoards(t)
	args := append(append([]string{"radio", "send", "--board", "generic"}, fastFlags...), "68656c6c6f")
	code, out, errs := runCmd(args...)
	if code != exitOK || !strings.Contains(out, "sent 5 bytes in 1 frame(s)") {
		t.Fatalf("send: exit %d %q %q", code, out, errs)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	pkt, err := peer.Receive(ctx)
	if err != nil || string(pkt.Data) != "hello" {
		t.Fatalf("peer got %q %v", pkt.Data, err)
	}

	code, out, errs = runCmd(append([]string{"radio", "probe", "--board", "loraspi", "--samples", "2"}, fastFlags...)...)
	if code != exitOK || !strings.Contains(out, "version:    0x12") || !strings.Contains(out, "noise:      -110.0 dBm") {
		t.Fatalf("probe: exit %d %q %q", code, out, errs)
	}

	done := make(chan struct{})
	var lcode int
	var lout, lerr string
	go func() {
		defer close(done)
		lcode, lout, lerr = runCmd(append([]string{"radio", "listen", "--board", "generic", "--count", "1", "--duration", "20s"}, fastFlags...)...)
	}()
	// Keep sending until the listener (which opens asynchronously) hears one.
	for i := 0; ; i++ {
		select {
		case <-done:
			if lcode != exitOK || !strings.Contains(lout, "rssi=-60.0 snr=9.00 len=3 626f6f") {
				t.Fatalf("listen: exit %d %q %q", lcode, lout, lerr)
			}
			return
		default:
		}
		if err := peer.Send(ctx, []byte("boo")); err != nil {
			t.Fatal(err)
		}
		if i > 200 {
			t.Fatal("listener never received")
		}
	}
}
