package hal_test

import (
	"fmt"
	"time"

	"github.com/meshlogd/meshlogd/hal"
)

// A 400-byte packet needs two frames; both carry the same header byte.
func ExampleEncodeFrames() {
	pkt := make([]byte, 400)
	frames, err := hal.EncodeFrames(0x50, pkt)
	if err != nil {
		panic(err)
	}
	for _, f := range frames {
		fmt.Printf("header %02x, %d bytes\n", f[0], len(f))
	}
	r := hal.NewReassembler(2 * time.Second)
	now := time.Now()
	r.Push(frames[0], now)
	got, _ := r.Push(frames[1], now.Add(800*time.Millisecond))
	fmt.Println("reassembled", len(got), "bytes")
	// Output:
	// header 51, 255 bytes
	// header 51, 147 bytes
	// reassembled 400 bytes
}

// Reticulum's example profile: 867.2 MHz, 125 kHz, SF8, CR 4/5.
func ExamplePacketAirtime() {
	p := hal.DefaultParams()
	fmt.Println(hal.PacketAirtime(p, 200), hal.PacketAirtime(p, 500))
	b, _ := hal.RegionEU868.Band(p)
	fmt.Println(b.Name, b.AirtimePerHour(), "per hour")
	// Output:
	// 576ms 1.41824s
	// EU868-L 36s per hour
}
