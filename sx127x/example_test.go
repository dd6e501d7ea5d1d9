package sx127x_test

import (
	"context"
	"fmt"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

// Two SX127x drivers on emulated chips sharing one air. On a Pi, the port
// and pins come from package board (board.Open) instead.
func Example() {
	clk := sx127xtest.NewScaledClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 10)
	air := sx127xtest.NewAir(clk)
	p := hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 250_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 14}
	open := func(name string) *sx127x.Dev {
		chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Name: name, Clock: clk, Air: air})
		d, err := sx127x.New(chip.Port(), chip.ResetPin(), chip.DIO0(),
			&sx127x.Opts{Params: p, Region: hal.RegionEU868, Now: clk.Now, Sleep: func(time.Duration) {}})
		if err != nil {
			panic(err)
		}
		return d
	}
	a, b := open("a"), open("b")
	defer a.Close()
	defer b.Close()

	ctx := context.Background()
	if err := a.Send(ctx, []byte("hello over LoRa")); err != nil {
		panic(err)
	}
	pkt, err := b.Receive(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %q rssi=%.0f dBm snr=%.0f dB\n", b, pkt.Data, pkt.RSSI, pkt.SNR)
	fmt.Println("frames on air:", len(air.Log()), "airtime:", a.Airtime(len(pkt.Data)))
	// Output:
	// SX1276{b.SPI}: "hello over LoRa" rssi=-60 dBm snr=9 dB
	// frames on air: 1 airtime: 43.648ms
}
