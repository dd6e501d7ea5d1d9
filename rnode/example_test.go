package rnode_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/rnode"
	"github.com/meshlogd/meshlogd/rnode/rnodetest"
)

// KISS frames: escaping on the way out, a streaming decoder on the way in.
func ExampleDecoder() {
	wire := rnode.AppendFrame(nil, rnode.CmdData, []byte{0x01, 0xc0, 0xdb})
	wire = rnode.AppendFrame(wire, rnode.CmdTxPower, []byte{17})
	fmt.Printf("% x\n", wire)

	d := rnode.NewDecoder(0)
	for len(wire) > 0 {
		n, f, ok := d.Decode(wire)
		wire = wire[n:]
		if ok {
			fmt.Printf("%v % x\n", f.Cmd, f.Body)
		}
	}
	// Output:
	// c0 00 01 db dc db dd c0 c0 03 11 c0
	// DATA 01 c0 db
	// TXPOWER 11
}

// A modem on an emulated RNode behind a pseudo-terminal: open, configure
// and send, exactly as with /dev/ttyUSB0.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "rnode")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dev := rnodetest.New(rnodetest.Config{Air: rnodetest.AirFunc(func(frame []byte, p hal.Params) {
		fmt.Printf("on air: %d bytes at %s\n", len(frame), p)
	})})
	pty, err := rnodetest.NewPTY(dev, dir, "ttyUSB0")
	if err != nil {
		log.Fatal(err)
	}
	defer pty.Close()

	ctx := context.Background()
	m, err := rnode.Open(ctx, rnode.Serial(pty.Path()), &rnode.Opts{OpenDelay: -1, DetectTimeout: 10 * time.Second,
		ConfigTimeout: 10 * time.Second, NoTxWait: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Info())
	p := hal.Params{FrequencyHz: 868_100_000, BandwidthHz: 125_000, SpreadingFactor: 9, CodingRate: 5, TxPowerDBm: 17}
	if err := m.Configure(p); err != nil {
		log.Fatal(err)
	}
	if err := m.Send(ctx, make([]byte, 300)); err != nil {
		log.Fatal(err)
	}
	if err := m.Close(); err != nil { // the device has the packet before it reads the radio-off command
		log.Fatal(err)
	}
	for i := 0; i < 10000 && dev.Stats().TxPackets == 0; i++ {
		time.Sleep(time.Millisecond)
	}
	// Output:
	// RNode firmware 1.86, platform ESP32, MCU 0x81
	// on air: 255 bytes at 868.099MHz/125kHz/SF9/CR4-5/17dBm
	// on air: 47 bytes at 868.099MHz/125kHz/SF9/CR4-5/17dBm
}
