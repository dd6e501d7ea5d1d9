package qr

import (
	"io"
	"math/rand"
	"strings"
	"testing"
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
// 16). Its baseline is the same work with the mask forced, which skips the
// eight-fold mask evaluation: "mask-search-x" is how many times longer the
// full Encode takes.
func BenchmarkEncodeInvite(b *testing.B) {
	text := benchInvite()
	forced := testing.Benchmark(func(b *testing.B) {
		for b.Loop() {
			if _, err := encode(text, M, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(text, M); err != nil {
			b.Fatal(err)
		}
	}
	if forced.N > 0 && forced.NsPerOp() > 0 {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(forced.NsPerOp()), "mask-search-x")
	}
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
