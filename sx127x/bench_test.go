package sx127x

import (
	"context"
	"fmt"
	"testing"

	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

// byteWiseTxOps models a driver that, like the RNode firmware and
// arduino-LoRa, writes the FIFO one register access per byte: standby,
// FIFO pointer, n FIFO writes, payload length, TX, then poll/clear IRQs.
func byteWiseTxOps(n int) float64 { return float64(6 + n) }

// byteWiseRxOps: read flags, clear, length, current address, pointer, n
// FIFO reads, SNR, RSSI (RNode handleDio0Rise + packetRssi/packetSnr).
func byteWiseRxOps(n int) float64 { return float64(7 + n) }

// BenchmarkTxFrameSPI measures SPI transactions per transmitted frame on
// the emulated chip (CSMA off), against the byte-wise baseline model.
func BenchmarkTxFrameSPI(b *testing.B) {
	for _, n := range []int{20, 200} {
		b.Run(sizeName(n), func(b *testing.B) {
			clk := sx127xtest.NewScaledClock(epoch, 2000)
			r := newRig(b, clk, nil, "tx", Opts{DisableCSMA: true})
			pkt := packet(n, 1)
			ctx := context.Background()
			before := r.chip.Stats()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := r.dev.Send(ctx, pkt); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			after := r.chip.Stats()
			frames := float64(after.TxFrames - before.TxFrames)
			ops := float64(after.SPITransactions-before.SPITransactions) / frames
			b.ReportMetric(ops, "spi-tx/frame")
			b.ReportMetric(float64(after.SPIBytes-before.SPIBytes)/frames, "spi-bytes/frame")
			b.ReportMetric(ops/byteWiseTxOps(n+1), "x-bytewise")
		})
	}
}

// BenchmarkRxFrameSPI measures SPI transactions per received frame.
func BenchmarkRxFrameSPI(b *testing.B) {
	for _, n := range []int{20, 200} {
		b.Run(sizeName(n), func(b *testing.B) {
			clk := sx127xtest.NewScaledClock(epoch, 2000)
			air := sx127xtest.NewAir(clk)
			tx := newRig(b, clk, air, "tx", Opts{DisableCSMA: true})
			rx := newRig(b, clk, air, "rx", Opts{DisableCSMA: true})
			pkt := packet(n, 1)
			ctx := context.Background()
			before := rx.chip.Stats()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := tx.dev.Send(ctx, pkt); err != nil {
					b.Fatal(err)
				}
				if _, err := rx.dev.Receive(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			after := rx.chip.Stats()
			frames := float64(rx.dev.Stats().RxFrames)
			ops := float64(after.SPITransactions-before.SPITransactions) / frames
			b.ReportMetric(ops, "spi-tx/frame")
			b.ReportMetric(ops/byteWiseRxOps(n+1), "x-bytewise")
		})
	}
}

func sizeName(n int) string { return fmt.Sprintf("bytes=%d", n) }
