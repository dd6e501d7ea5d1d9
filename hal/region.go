package hal

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Region selects a regulatory band plan for Params.Validate.
type Region uint8

// Supported regions. The limits are summaries, not legal advice: check the
// current national table before deploying (BOARDS.md §6).
const (
	// RegionNone applies no regulatory limits (lab use, amateur radio).
	RegionNone Region = iota
	// RegionEU868 is Europe 863–870 MHz (EU 2017/1483, ERC/REC 70-03,
	// ETSI EN 300 220-2): per sub-band power and duty-cycle limits.
	RegionEU868
	// RegionUS915 is the United States 902–928 MHz (47 CFR 15.247): up to
	// 30 dBm conducted; 400 ms dwell time below 500 kHz bandwidth.
	RegionUS915
)

// String returns "none", "EU868" or "US915".
func (r Region) String() string {
	switch r {
	case RegionNone:
		return "none"
	case RegionEU868:
		return "EU868"
	case RegionUS915:
		return "US915"
	}
	return fmt.Sprintf("Region(%d)", uint8(r))
}

// ParseRegion parses a region name as used in flags and config files:
// "" or "none", "EU868" (also "eu", "eu868"), "US915" (also "us", "us915").
func ParseRegion(s string) (Region, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none":
		return RegionNone, nil
	case "eu868", "eu", "eu863-870":
		return RegionEU868, nil
	case "us915", "us", "us902-928":
		return RegionUS915, nil
	}
	return RegionNone, fmt.Errorf("%w: unknown region %q (want none, EU868 or US915)", ErrRegion, s)
}

// Band is one regulatory sub-band and its limits.
type Band struct {
	// Name identifies the sub-band, e.g. "EU868-L" (EN 300 220-2 letter).
	Name string
	// LowHz and HighHz bound the sub-band; the whole occupied channel
	// (FrequencyHz ± BandwidthHz/2) must lie inside.
	LowHz, HighHz uint32
	// MaxPowerDBm is the power limit. In the EU it is ERP: Validate compares
	// it with the conducted TxPowerDBm, which is right for an antenna of
	// 0 dBd (2.15 dBi); reduce the power by any higher antenna gain.
	MaxPowerDBm int
	// DutyCyclePermille is the transmit duty-cycle limit in 1/1000 over one
	// hour (10 = 1 %); 0 means no duty-cycle limit.
	DutyCyclePermille int
	// MaxDwell is the longest single transmission allowed, 0 for none.
	MaxDwell time.Duration
}

// AirtimePerHour returns the transmit time the duty-cycle limit allows per
// hour, or 0 when the band has no duty-cycle limit.
func (b Band) AirtimePerHour() time.Duration {
	return time.Hour * time.Duration(b.DutyCyclePermille) / 1000
}

// euBands are the EU 863–870 MHz SRD sub-bands without LBT+AFA (BOARDS.md
// §6.1). L and Q's 5 mW variant are single-source there.
var euBands = []Band{
	{Name: "EU868-K", LowHz: 863_000_000, HighHz: 865_000_000, MaxPowerDBm: 14, DutyCyclePermille: 1},
	{Name: "EU868-L", LowHz: 865_000_000, HighHz: 868_000_000, MaxPowerDBm: 14, DutyCyclePermille: 10},
	{Name: "EU868-M", LowHz: 868_000_000, HighHz: 868_600_000, MaxPowerDBm: 14, DutyCyclePermille: 10},
	{Name: "EU868-N", LowHz: 868_700_000, HighHz: 869_200_000, MaxPowerDBm: 14, DutyCyclePermille: 1},
	{Name: "EU868-P", LowHz: 869_400_000, HighHz: 869_650_000, MaxPowerDBm: 27, DutyCyclePermille: 100},
	{Name: "EU868-Q", LowHz: 869_700_000, HighHz: 870_000_000, MaxPowerDBm: 14, DutyCyclePermille: 10},
}

// ErrRegion is the sentinel wrapped by every *RegionError.
var ErrRegion = errors.New("hal: parameters outside the region's band plan")

// RegionError reports why Params do not fit a region's band plan. It
// unwraps to both ErrRegion and ErrInvalidParams.
type RegionError struct {
	Region Region
	Reason string
}

// Error implements error.
func (e *RegionError) Error() string {
	return fmt.Sprintf("hal: %s: %s", e.Region, e.Reason)
}

// Unwrap returns ErrRegion and ErrInvalidParams.
func (e *RegionError) Unwrap() []error { return []error{ErrRegion, ErrInvalidParams} }

// EUBands returns a copy of the EU868 sub-band table.
func EUBands() []Band { return append([]Band(nil), euBands...) }

// Band returns the sub-band p transmits in and checks that the whole
// occupied channel lies inside it and that the power is within its limit.
// For RegionNone it returns a Band without limits.
func (r Region) Band(p Params) (Band, error) {
	lo := int64(p.FrequencyHz) - int64(p.BandwidthHz)/2
	hi := int64(p.FrequencyHz) + int64(p.BandwidthHz)/2
	switch r {
	case RegionNone:
		return Band{Name: "none", LowHz: MinFrequencyHz, HighHz: MaxFrequencyHz, MaxPowerDBm: MaxTxPowerDBm}, nil
	case RegionEU868:
		for _, b := range euBands {
			if lo >= int64(b.LowHz) && hi <= int64(b.HighHz) {
				if p.TxPowerDBm > b.MaxPowerDBm {
					return b, &RegionError{r, fmt.Sprintf("%d dBm exceeds %d dBm ERP in sub-band %s", p.TxPowerDBm, b.MaxPowerDBm, b.Name)}
				}
				return b, nil
			}
		}
		return Band{}, &RegionError{r, fmt.Sprintf("channel %d Hz ± %d Hz does not fit inside one sub-band (863.0–865.0, 865.0–868.0, 868.0–868.6, 868.7–869.2, 869.4–869.65, 869.7–870.0 MHz)", p.FrequencyHz, p.BandwidthHz/2)}
	case RegionUS915:
		b := Band{Name: "US902-928", LowHz: 902_000_000, HighHz: 928_000_000, MaxPowerDBm: 30}
		if p.BandwidthHz < 500_000 {
			b.MaxDwell = 400 * time.Millisecond
		}
		if lo < int64(b.LowHz) || hi > int64(b.HighHz) {
			return Band{}, &RegionError{r, fmt.Sprintf("channel %d Hz ± %d Hz outside 902–928 MHz", p.FrequencyHz, p.BandwidthHz/2)}
		}
		if p.TxPowerDBm > b.MaxPowerDBm {
			return b, &RegionError{r, fmt.Sprintf("%d dBm exceeds %d dBm", p.TxPowerDBm, b.MaxPowerDBm)}
		}
		return b, nil
	}
	return Band{}, &RegionError{r, "unknown region"}
}
