package hal

import (
	"errors"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	ok := DefaultParams()
	if err := ok.Validate(RegionEU868); err != nil {
		t.Fatalf("default params: %v", err)
	}
	bad := []struct {
		name  string
		edit  func(*Params)
		field string
	}{
		{"low freq", func(p *Params) { p.FrequencyHz = 100_000_000 }, "FrequencyHz"},
		{"high freq", func(p *Params) { p.FrequencyHz = 2_400_000_000 }, "FrequencyHz"},
		{"odd bw", func(p *Params) { p.BandwidthHz = 200_000 }, "BandwidthHz"},
		{"sf4", func(p *Params) { p.SpreadingFactor = 4 }, "SpreadingFactor"},
		{"sf13", func(p *Params) { p.SpreadingFactor = 13 }, "SpreadingFactor"},
		{"cr4", func(p *Params) { p.CodingRate = 4 }, "CodingRate"},
		{"cr9", func(p *Params) { p.CodingRate = 9 }, "CodingRate"},
		{"power", func(p *Params) { p.TxPowerDBm = 38 }, "TxPowerDBm"},
		{"negative power", func(p *Params) { p.TxPowerDBm = -1 }, "TxPowerDBm"},
		{"preamble", func(p *Params) { p.PreambleSymbols = 5 }, "PreambleSymbols"},
		{"ldro", func(p *Params) { p.LDRO = 7 }, "LDRO"},
	}
	for _, c := range bad {
		p := ok
		c.edit(&p)
		err := p.Validate(RegionNone)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != c.field || !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

func TestRegionEU868(t *testing.T) {
	cases := []struct {
		freq   uint32
		bw     uint32
		power  int
		band   string
		permil int
		ok     bool
	}{
		{867_200_000, 125_000, 7, "EU868-L", 10, true},
		{868_100_000, 125_000, 14, "EU868-M", 10, true},
		{868_100_000, 125_000, 15, "EU868-M", 10, false}, // over 25 mW
		{868_550_000, 125_000, 10, "", 0, false},         // spills over 868.6
		{869_525_000, 125_000, 27, "EU868-P", 100, true}, // 500 mW band
		{869_525_000, 250_000, 20, "EU868-P", 100, true}, // fits 869.4-869.65
		{869_525_000, 500_000, 14, "", 0, false},         // 500 kHz does not fit
		{864_000_000, 125_000, 14, "EU868-K", 1, true},   // 0.1 %
		{869_000_000, 125_000, 14, "EU868-N", 1, true},   // 0.1 %
		{869_850_000, 125_000, 14, "EU868-Q", 10, true},  // 1 %
		{915_000_000, 125_000, 14, "", 0, false},         // not EU
	}
	for _, c := range cases {
		p := DefaultParams()
		p.FrequencyHz, p.BandwidthHz, p.TxPowerDBm = c.freq, c.bw, c.power
		b, err := RegionEU868.Band(p)
		if (err == nil) != c.ok {
			t.Errorf("%v: err %v, want ok=%v", p, err, c.ok)
		}
		if err != nil && (!errors.Is(err, ErrRegion) || !errors.Is(err, ErrInvalidParams)) {
			t.Errorf("%v: %v does not unwrap to ErrRegion and ErrInvalidParams", p, err)
		}
		if b.Name != c.band || b.DutyCyclePermille != c.permil {
			t.Errorf("%v: band %q %d‰, want %q %d‰", p, b.Name, b.DutyCyclePermille, c.band, c.permil)
		}
		if verr := p.Validate(RegionEU868); (verr == nil) != c.ok {
			t.Errorf("%v: Validate %v", p, verr)
		}
	}
	if got := (Band{DutyCyclePermille: 10}).AirtimePerHour(); got != 36*time.Second {
		t.Errorf("1%% per hour = %v", got)
	}
	if got := (Band{DutyCyclePermille: 1}).AirtimePerHour(); got != 3600*time.Millisecond {
		t.Errorf("0.1%% per hour = %v", got)
	}
}

func TestRegionUS915(t *testing.T) {
	p := Params{FrequencyHz: 915_000_000, BandwidthHz: 125_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 20}
	b, err := RegionUS915.Band(p)
	if err != nil || b.MaxDwell != 400*time.Millisecond || b.MaxPowerDBm != 30 {
		t.Fatalf("%+v %v", b, err)
	}
	// BOARDS.md §6.2: the largest frame within 400 ms at SF7/125 kHz is 246 bytes.
	if Airtime(p, 246) > b.MaxDwell || Airtime(p, 247) <= b.MaxDwell {
		t.Errorf("dwell boundary: 246 → %v, 247 → %v", Airtime(p, 246), Airtime(p, 247))
	}
	p.BandwidthHz = 500_000
	if b, _ := RegionUS915.Band(p); b.MaxDwell != 0 {
		t.Errorf("500 kHz dwell %v", b.MaxDwell)
	}
	p.FrequencyHz = 902_100_000
	if err := p.Validate(RegionUS915); !errors.Is(err, ErrRegion) {
		t.Errorf("edge channel: %v", err)
	}
	p.FrequencyHz = 868_100_000
	if err := p.Validate(RegionUS915); !errors.Is(err, ErrRegion) {
		t.Errorf("EU frequency in US915: %v", err)
	}
}

func TestParseRegion(t *testing.T) {
	for s, want := range map[string]Region{"": RegionNone, "none": RegionNone, "EU868": RegionEU868, "eu": RegionEU868, "US915": RegionUS915, "us": RegionUS915} {
		if got, err := ParseRegion(s); err != nil || got != want {
			t.Errorf("%q: %v %v", s, got, err)
		}
	}
	if _, err := ParseRegion("AS923"); !errors.Is(err, ErrRegion) {
		t.Errorf("AS923: %v", err)
	}
	for _, r := range []Region{RegionNone, RegionEU868, RegionUS915} {
		if back, err := ParseRegion(r.String()); err != nil || back != r {
			t.Errorf("%v does not round-trip", r)
		}
	}
}

func TestParamsEffectiveAndString(t *testing.T) {
	p := DefaultParams().Effective()
	if p.PreambleSymbols != 18 || p.SyncWord != DefaultSyncWord || p.LDRO != LDROOff {
		t.Fatalf("%+v", p)
	}
	if got := DefaultParams().String(); got != "867.200MHz/125kHz/SF8/CR4-5/7dBm" {
		t.Errorf("String %q", got)
	}
	q := Params{FrequencyHz: 868_100_000, BandwidthHz: 62_500, SpreadingFactor: 12, CodingRate: 8}
	if got := q.String(); got != "868.100MHz/62.5kHz/SF12/CR4-8/0dBm" {
		t.Errorf("String %q", got)
	}
	if !q.Effective().LowDataRateOptimize() {
		t.Error("SF12/62.5 kHz must use LDRO")
	}
}
