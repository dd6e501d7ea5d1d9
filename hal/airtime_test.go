package hal

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

type airtimeVariant struct {
	PreambleRegister int   `json:"preamble_register"`
	LDRO             bool  `json:"ldro"`
	PayloadSymbols   int   `json:"payload_symbols"`
	TotalUS          int64 `json:"total_us"`
}

type airtimeCase struct {
	SF                   int            `json:"sf"`
	BW                   uint32         `json:"bw_hz"`
	CR                   string         `json:"cr"`
	PayloadLen           int            `json:"payload_len"`
	TSymUS               int64          `json:"t_sym_us"`
	LDROSemtech          bool           `json:"ldro_semtech_rule"`
	LDRORNode            bool           `json:"ldro_rnode_rule"`
	RNodePreambleSymbols int            `json:"rnode_preamble_symbols"`
	Preamble8            airtimeVariant `json:"preamble8_semtech_ldro"`
	RNodeSemtech         airtimeVariant `json:"rnode_preamble_semtech_ldro"`
	RNodeOnAir           airtimeVariant `json:"rnode_sx127x_on_air"`
}

type airtimeFile struct {
	Cases      []airtimeCase `json:"cases"`
	Crosscheck struct {
		Published struct {
			Values []struct {
				PayloadLen       int     `json:"payload_len"`
				SF               int     `json:"sf"`
				BW               uint32  `json:"bw_hz"`
				CR               string  `json:"cr"`
				PreambleRegister int     `json:"preamble_register"`
				LDRO             bool    `json:"ldro"`
				ExpectedMS       float64 `json:"expected_ms"`
				ComputedUS       int64   `json:"computed_us"`
			} `json:"values"`
		} `json:"published_expectations"`
	} `json:"crosscheck"`
}

func loadAirtime(tb testing.TB) airtimeFile {
	tb.Helper()
	b, err := os.ReadFile("testdata/airtime.json")
	if err != nil {
		tb.Fatal(err)
	}
	var f airtimeFile
	if err := json.Unmarshal(b, &f); err != nil {
		tb.Fatal(err)
	}
	if len(f.Cases) != 360 {
		tb.Fatalf("%d cases, want 360", len(f.Cases))
	}
	return f
}

func parseCR(tb testing.TB, s string) int {
	tb.Helper()
	d, ok := strings.CutPrefix(s, "4/")
	n, err := strconv.Atoi(d)
	if !ok || err != nil {
		tb.Fatalf("bad coding rate %q", s)
	}
	return n
}

func ldroMode(on bool) LDROMode {
	if on {
		return LDROOn
	}
	return LDROOff
}

func TestAirtimeVectors(t *testing.T) {
	f := loadAirtime(t)
	for _, c := range f.Cases {
		base := Params{FrequencyHz: 868_100_000, BandwidthHz: c.BW, SpreadingFactor: c.SF, CodingRate: parseCR(t, c.CR)}
		name := base.String() + "/" + strconv.Itoa(c.PayloadLen)
		if got := SymbolTime(base); got != time.Duration(c.TSymUS)*time.Microsecond {
			t.Errorf("%s: SymbolTime %v, want %dus", name, got, c.TSymUS)
		}
		if got := RNodeLDRO(base); got != c.LDRORNode {
			t.Errorf("%s: RNodeLDRO %v, want %v", name, got, c.LDRORNode)
		}
		if got := RNodePreamble(base); got != c.RNodePreambleSymbols {
			t.Errorf("%s: RNodePreamble %d, want %d", name, got, c.RNodePreambleSymbols)
		}
		variants := []struct {
			label string
			p     Params
			want  airtimeVariant
		}{
			{"preamble8", withPreamble(base, c.Preamble8.PreambleRegister+4, ldroMode(c.Preamble8.LDRO)), c.Preamble8},
			{"rnode-semtech", withPreamble(base, c.RNodeSemtech.PreambleRegister+4, ldroMode(c.RNodeSemtech.LDRO)), c.RNodeSemtech},
			// The zero-value defaults must give what an RNode puts on air.
			{"rnode-on-air", base, c.RNodeOnAir},
		}
		for _, v := range variants {
			if got := PayloadSymbols(v.p, c.PayloadLen); got != v.want.PayloadSymbols {
				t.Errorf("%s %s: PayloadSymbols %d, want %d", name, v.label, got, v.want.PayloadSymbols)
			}
			if got := Airtime(v.p, c.PayloadLen); got != time.Duration(v.want.TotalUS)*time.Microsecond {
				t.Errorf("%s %s: Airtime %v, want %dus", name, v.label, got, v.want.TotalUS)
			}
		}
		if eff := base.Effective(); eff.PreambleSymbols-4 != c.RNodeOnAir.PreambleRegister || eff.LowDataRateOptimize() != c.RNodeOnAir.LDRO {
			t.Errorf("%s: Effective() preamble %d ldro %v, want register %d ldro %v", name,
				eff.PreambleSymbols, eff.LowDataRateOptimize(), c.RNodeOnAir.PreambleRegister, c.RNodeOnAir.LDRO)
		}
	}
}

func withPreamble(p Params, n int, m LDROMode) Params {
	p.PreambleSymbols = n
	p.LDRO = m
	return p
}

func TestAirtimePublishedExpectations(t *testing.T) {
	f := loadAirtime(t)
	if len(f.Crosscheck.Published.Values) == 0 {
		t.Fatal("no published expectations")
	}
	for _, v := range f.Crosscheck.Published.Values {
		p := Params{BandwidthHz: v.BW, SpreadingFactor: v.SF, CodingRate: parseCR(t, v.CR),
			PreambleSymbols: v.PreambleRegister + 4, LDRO: ldroMode(v.LDRO)}
		got := Airtime(p, v.PayloadLen)
		if got != time.Duration(v.ComputedUS)*time.Microsecond {
			t.Errorf("%+v: %v, want %dus", v, got, v.ComputedUS)
		}
		if ms := float64(got) / 1e6; ms != v.ExpectedMS {
			t.Errorf("%+v: %v ms, want %v ms", v, ms, v.ExpectedMS)
		}
	}
}

func TestLDRORuleDiffersFromSymbolTimeRule(t *testing.T) {
	// RNODE.md §7.1: exactly at T_sym = 16.384 ms the RNode leaves LDRO off.
	for _, c := range []struct {
		sf   int
		bw   uint32
		want bool
	}{
		{12, 125000, true}, {11, 125000, false}, {11, 62500, true}, {12, 250000, false},
		{10, 62500, false}, {9, 31250, false}, {10, 31250, true}, {12, 500000, false},
	} {
		if got := RNodeLDRO(Params{SpreadingFactor: c.sf, BandwidthHz: c.bw}); got != c.want {
			t.Errorf("SF%d/%d: %v, want %v", c.sf, c.bw, got, c.want)
		}
	}
}

func TestRNodePreambleTable(t *testing.T) {
	// SX127X.md §9 table (N at CR 4/5).
	want := map[uint32][6]int{
		62500:  {18, 18, 18, 18, 18, 18},
		125000: {24, 18, 18, 18, 18, 18},
		250000: {47, 24, 18, 18, 18, 18},
		500000: {94, 47, 24, 18, 18, 18},
	}
	for bw, ns := range want {
		for i, n := range ns {
			for cr := 5; cr <= 8; cr++ {
				p := Params{BandwidthHz: bw, SpreadingFactor: 7 + i, CodingRate: cr}
				if got := RNodePreamble(p); got != n {
					t.Errorf("%v: N=%d, want %d", p, got, n)
				}
			}
		}
	}
}

func TestCSMATiming(t *testing.T) {
	// RNODE.md §9.2 table (CR 4/5).
	for _, c := range []struct {
		bw       uint32
		sf       int
		slot, di int
	}{
		{125000, 7, 24, 48}, {125000, 8, 24, 48}, {125000, 9, 49, 98}, {125000, 10, 98, 196},
		{125000, 11, 100, 200}, {125000, 12, 100, 200}, {250000, 10, 49, 98}, {500000, 9, 24, 48},
	} {
		slot, difs := CSMATiming(Params{BandwidthHz: c.bw, SpreadingFactor: c.sf, CodingRate: 5})
		if slot != time.Duration(c.slot)*time.Millisecond || difs != time.Duration(c.di)*time.Millisecond {
			t.Errorf("%d/SF%d: slot %v difs %v, want %d/%d ms", c.bw, c.sf, slot, difs, c.slot, c.di)
		}
	}
}

func TestAirtimeOutOfDomain(t *testing.T) {
	for _, p := range []Params{{}, {BandwidthHz: 125000}, {BandwidthHz: 125000, SpreadingFactor: 13, CodingRate: 5}, {BandwidthHz: 125000, SpreadingFactor: 7, CodingRate: 4}} {
		if got := Airtime(p, 10); got != 0 {
			t.Errorf("%+v: %v, want 0", p, got)
		}
	}
	if got := Airtime(DefaultParams(), -1); got != 0 {
		t.Errorf("negative length: %v", got)
	}
	if PacketAirtime(DefaultParams(), 0) != 0 || PacketAirtime(DefaultParams(), MaxPacketLen+1) != 0 {
		t.Error("PacketAirtime accepts out-of-range sizes")
	}
}

// floatAirtime is the textbook floating-point formula, the baseline the
// integer implementation is timed against (and which is not exact).
func floatAirtime(p Params, n int) time.Duration {
	tsym := math.Pow(2, float64(p.SpreadingFactor)) / float64(p.BandwidthHz)
	de := 0.0
	if p.LowDataRateOptimize() {
		de = 1
	}
	pre := float64(RNodePreamble(p)) + 0.25
	payload := 8 + math.Max(math.Ceil((8*float64(n)-4*float64(p.SpreadingFactor)+28+16)/(4*(float64(p.SpreadingFactor)-2*de)))*float64(p.CodingRate), 0)
	return time.Duration((pre + payload) * tsym * 1e9)
}

// BenchmarkAirtime times Airtime over every vector and reports the share
// of vectors it matches exactly, its speed relative to the float baseline
// in the same run, and the float baseline's own exactness.
func BenchmarkAirtime(b *testing.B) {
	f := loadAirtime(b)
	ps := make([]Params, len(f.Cases))
	for i, c := range f.Cases {
		ps[i] = Params{BandwidthHz: c.BW, SpreadingFactor: c.SF, CodingRate: parseCR(b, c.CR)}
	}
	var sink time.Duration
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		k := i % len(ps)
		sink += Airtime(ps[k], f.Cases[k].PayloadLen)
	}
	ours := time.Since(start)
	b.StopTimer()
	start = time.Now()
	for i := 0; i < b.N; i++ {
		k := i % len(ps)
		sink += floatAirtime(ps[k], f.Cases[k].PayloadLen)
	}
	base := time.Since(start)
	exact, floatExact := 0, 0
	for i, c := range f.Cases {
		want := time.Duration(c.RNodeOnAir.TotalUS) * time.Microsecond
		if Airtime(ps[i], c.PayloadLen) == want {
			exact++
		}
		if floatAirtime(ps[i], c.PayloadLen) == want {
			floatExact++
		}
	}
	b.ReportMetric(float64(exact)/float64(len(f.Cases)), "exact-fraction")
	b.ReportMetric(float64(floatExact)/float64(len(f.Cases)), "float-exact-fraction")
	b.ReportMetric(float64(ours)/float64(base), "x-float-time")
	_ = sink
}
