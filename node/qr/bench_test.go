package qr

import (
	"io"
	"math/rand"
	"strings"
	"testing"
	"time"
)

func benchInvite() string {
	const b32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	r := rand.New(rand.NewSource(1))
	var b strings.Builder
	b.WriteString("MESHLOGD1-")
	for b.Len() < 600 {
		b.WriteByte(b32[r.Intn(len(b32))])
	}
	return b.String()
}

// BenchmarkEncodeInvite encodes a 600-character invite at level M (version
// 16). The baseline is the same encoding with the mask forced, which skips
// the evaluation of all eight masks; it runs interleaved with the measured
// Encode (outside the benchmark timer) so that both see the same machine
// load, and "x-forced-mask" is how many times longer the full Encode takes.
func BenchmarkEncodeInvite(b *testing.B) {
	text := benchInvite()
	var full, base time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		if _, err := Encode(text, M); err != nil {
			b.Fatal(err)
		}
		full += time.Since(t0)
		b.StopTimer()
		t0 = time.Now()
		if _, err := encode(text, M, 0); err != nil {
			b.Fatal(err)
		}
		base += time.Since(t0)
		b.StartTimer()
	}
	b.ReportMetric(float64(full)/float64(base), "x-forced-mask")
}

// BenchmarkWriteTerminal renders the 600-character invite's symbol.
func BenchmarkWriteTerminal(b *testing.B) {
	c, err := Encode(benchInvite(), M)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteTerminal(io.Discard, TerminalOptions{Invert: true}); err != nil {
			b.Fatal(err)
		}
	}
}
