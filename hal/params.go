package hal

import (
	"errors"
	"fmt"
	"time"
)

// DefaultSyncWord is the LoRa sync word every RNode uses on an SX127x
// (RegSyncWord 0x39 = 0x12, the "private network" value).
const DefaultSyncWord byte = 0x12

// LDROMode selects how LowDataRateOptimize is chosen.
type LDROMode uint8

// LowDataRateOptimize modes. The zero value follows the RNode firmware,
// which is what on-air compatibility with RNodes requires.
const (
	// LDROAuto applies the RNode firmware's integer rule (see LDRO).
	LDROAuto LDROMode = iota
	// LDROOn forces LowDataRateOptimize on.
	LDROOn
	// LDROOff forces LowDataRateOptimize off.
	LDROOff
)

// String returns "auto", "on" or "off".
func (m LDROMode) String() string {
	switch m {
	case LDROAuto:
		return "auto"
	case LDROOn:
		return "on"
	case LDROOff:
		return "off"
	}
	return fmt.Sprintf("LDROMode(%d)", uint8(m))
}

// Params are the LoRa modem settings of one radio. Both ends of a link must
// agree on FrequencyHz, BandwidthHz, SpreadingFactor, CodingRate, SyncWord
// and the effective LDRO; the preamble length only needs to be long enough
// for the receiver.
//
// Zero values of PreambleSymbols, SyncWord and LDRO mean "as an RNode
// does it" (see Effective).
type Params struct {
	// FrequencyHz is the carrier frequency in Hz.
	FrequencyHz uint32
	// BandwidthHz is the LoRa signal bandwidth in Hz: one of 7800, 10400,
	// 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000 on an
	// SX127x (RNodes round other values up to the next of these).
	BandwidthHz uint32
	// SpreadingFactor is 7..12 for RNode interoperability (5 and 6 are
	// accepted by Validate for SX126x-based radios; an SX127x cannot receive
	// explicit-header SF6).
	SpreadingFactor int
	// CodingRate is the denominator of the code rate: 5..8 for 4/5..4/8.
	CodingRate int
	// TxPowerDBm is the conducted output power at the module pin, in dBm.
	TxPowerDBm int
	// PreambleSymbols is N of the RNode preamble rule: an SX127x programs
	// RegPreamble = N-4 and puts N+0.25 symbols on air. 0 selects the
	// RNode rule (RNodePreamble). Valid explicit values are 6..65539.
	PreambleSymbols int
	// SyncWord is the LoRa sync word; 0 selects DefaultSyncWord (0x12).
	SyncWord byte
	// LDRO selects LowDataRateOptimize; the zero value follows the RNode
	// integer rule, which both ends must share.
	LDRO LDROMode
}

// DefaultParams returns Reticulum's documented RNodeInterface example
// (867.2 MHz, 125 kHz, SF8, CR 4/5, 7 dBm), meshlogd's default radio
// profile in the EU (sub-band L, 1 % duty cycle).
func DefaultParams() Params {
	return Params{
		FrequencyHz:     867_200_000,
		BandwidthHz:     125_000,
		SpreadingFactor: 8,
		CodingRate:      5,
		TxPowerDBm:      7,
	}
}

// Effective returns p with the zero-value defaults resolved: the RNode
// preamble length, the RNode sync word and the LDRO mode made explicit
// (LDROOn or LDROOff by the RNode rule). It does not validate p.
func (p Params) Effective() Params {
	if p.PreambleSymbols == 0 {
		p.PreambleSymbols = RNodePreamble(p)
	}
	if p.SyncWord == 0 {
		p.SyncWord = DefaultSyncWord
	}
	if p.LDRO == LDROAuto {
		if RNodeLDRO(p) {
			p.LDRO = LDROOn
		} else {
			p.LDRO = LDROOff
		}
	}
	return p
}

// LowDataRateOptimize reports whether LowDataRateOptimize is on for p.
func (p Params) LowDataRateOptimize() bool {
	switch p.LDRO {
	case LDROOn:
		return true
	case LDROOff:
		return false
	}
	return RNodeLDRO(p)
}

// String formats p compactly, e.g. "867.200MHz/125kHz/SF8/CR4-5/7dBm".
func (p Params) String() string {
	return fmt.Sprintf("%d.%03dMHz/%s/SF%d/CR4-%d/%ddBm",
		p.FrequencyHz/1_000_000, p.FrequencyHz%1_000_000/1000,
		bandwidthString(p.BandwidthHz), p.SpreadingFactor, p.CodingRate, p.TxPowerDBm)
}

func bandwidthString(bw uint32) string {
	if bw%1000 == 0 {
		return fmt.Sprintf("%dkHz", bw/1000)
	}
	return fmt.Sprintf("%d.%dkHz", bw/1000, bw%1000/100)
}

// Bandwidths lists the LoRa bandwidths an SX127x supports, in Hz, in
// register order (RegModemConfig1 bits 7..4 = index).
var Bandwidths = [...]uint32{7800, 10400, 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000}

// Limits of the parameter ranges accepted by Validate (the union of what
// SX127x and SX126x RNodes accept; drivers narrow them to their chip).
const (
	MinFrequencyHz       = 137_000_000
	MaxFrequencyHz       = 1_020_000_000
	MinSpreadingFactor   = 5
	MaxSpreadingFactor   = 12
	MinCodingRate        = 5
	MaxCodingRate        = 8
	MinTxPowerDBm        = 0
	MaxTxPowerDBm        = 37
	MinPreambleSymbols   = 6
	MaxPreambleSymbols   = 65535 + 4
	maxRNodeBandwidthKHz = 500
)

// ErrInvalidParams is the sentinel wrapped by every *ParamError.
var ErrInvalidParams = errors.New("hal: invalid LoRa parameters")

// ParamError reports which parameter Validate rejected and why.
type ParamError struct {
	Field  string // e.g. "FrequencyHz"
	Value  int64  // the rejected value
	Reason string // human-readable constraint
}

// Error implements error.
func (e *ParamError) Error() string {
	return fmt.Sprintf("hal: invalid %s %d: %s", e.Field, e.Value, e.Reason)
}

// Unwrap returns ErrInvalidParams.
func (e *ParamError) Unwrap() error { return ErrInvalidParams }

// Validate checks p against the LoRa modem ranges and, unless region is
// RegionNone, against the region's band plan (see Region.Band). It returns a
// *ParamError (or *RegionError) that unwraps to ErrInvalidParams (or
// ErrRegion).
func (p Params) Validate(region Region) error {
	if p.FrequencyHz < MinFrequencyHz || p.FrequencyHz > MaxFrequencyHz {
		return &ParamError{"FrequencyHz", int64(p.FrequencyHz), "outside 137..1020 MHz"}
	}
	if bandwidthIndex(p.BandwidthHz) < 0 {
		return &ParamError{"BandwidthHz", int64(p.BandwidthHz), "not a LoRa bandwidth (7800, 10400, 15600, 20800, 31250, 41700, 62500, 125000, 250000, 500000)"}
	}
	if p.SpreadingFactor < MinSpreadingFactor || p.SpreadingFactor > MaxSpreadingFactor {
		return &ParamError{"SpreadingFactor", int64(p.SpreadingFactor), "outside 5..12"}
	}
	if p.CodingRate < MinCodingRate || p.CodingRate > MaxCodingRate {
		return &ParamError{"CodingRate", int64(p.CodingRate), "outside 5..8 (4/5..4/8)"}
	}
	if p.TxPowerDBm < MinTxPowerDBm || p.TxPowerDBm > MaxTxPowerDBm {
		return &ParamError{"TxPowerDBm", int64(p.TxPowerDBm), "outside 0..37 dBm"}
	}
	if p.PreambleSymbols != 0 && (p.PreambleSymbols < MinPreambleSymbols || p.PreambleSymbols > MaxPreambleSymbols) {
		return &ParamError{"PreambleSymbols", int64(p.PreambleSymbols), "outside 6..65539 (0 = RNode rule)"}
	}
	if p.LDRO > LDROOff {
		return &ParamError{"LDRO", int64(p.LDRO), "unknown mode"}
	}
	if region == RegionNone {
		return nil
	}
	_, err := region.Band(p)
	return err
}

// bandwidthIndex returns the SX127x register code of bw, or -1.
func bandwidthIndex(bw uint32) int {
	for i, b := range Bandwidths {
		if b == bw {
			return i
		}
	}
	return -1
}

// BandwidthCode returns the SX127x RegModemConfig1 bandwidth code (0..9) of
// bw, or -1 if bw is not an SX127x bandwidth.
func BandwidthCode(bw uint32) int { return bandwidthIndex(bw) }

// SymbolTime returns the duration of one LoRa symbol, 2^SF / BW, rounded
// to the nanosecond (exact at 62.5, 125, 250 and 500 kHz).
func SymbolTime(p Params) time.Duration {
	if p.BandwidthHz == 0 || p.SpreadingFactor < 0 || p.SpreadingFactor > 30 {
		return 0
	}
	return time.Duration((uint64(1)<<p.SpreadingFactor*1e9 + uint64(p.BandwidthHz)/2) / uint64(p.BandwidthHz))
}

// RNodeLDRO reports LowDataRateOptimize as the RNode firmware computes it:
// on when floor(2^SF / floor(BW_Hz/1000)) > 16 (sx127x.cpp
// handleLowDataRate). It differs from the usual "symbol time > 16 ms" rule
// where the symbol time is exactly 16.384 ms (SF11/125 kHz, SF12/250 kHz,
// SF10/62.5 kHz, SF9/31.25 kHz: off on an RNode).
func RNodeLDRO(p Params) bool {
	bwk := p.BandwidthHz / 1000
	if bwk == 0 || p.SpreadingFactor < 0 || p.SpreadingFactor > 30 {
		return false
	}
	return (uint32(1)<<p.SpreadingFactor)/bwk > 16
}

// NominalBitrate returns the RNode firmware's nominal bitrate in bit/s:
// SF × (4/CR) / (2^SF / BW_kHz) × 1000, truncated (Utilities.h
// updateBitrate).
func NominalBitrate(p Params) uint32 {
	if p.CodingRate <= 0 || p.SpreadingFactor < 0 || p.SpreadingFactor > 30 {
		return 0
	}
	num := uint64(p.SpreadingFactor) * 4 * uint64(p.BandwidthHz)
	den := uint64(p.CodingRate) << p.SpreadingFactor
	return uint32(num / den)
}

// RNodePreamble returns N of the RNode firmware's preamble rule (ESP32 and
// nRF52 builds, Utilities.h updateBitrate): the target is 24 ms, or 6 ms
// when the nominal bitrate exceeds 30 kbit/s; N = 18 if target/T_sym < 18,
// else ceil(target/T_sym). An SX127x writes N-4 into RegPreamble.
func RNodePreamble(p Params) int {
	if p.BandwidthHz == 0 || p.SpreadingFactor < 0 || p.SpreadingFactor > 30 {
		return 18
	}
	targetMs := uint64(24)
	if NominalBitrate(p) > 30_000 {
		targetMs = 6
	}
	// target / T_sym = targetMs × BW_Hz / (1000 × 2^SF), exactly.
	num := targetMs * uint64(p.BandwidthHz)
	den := uint64(1000) << p.SpreadingFactor
	if num < 18*den {
		return 18
	}
	return int((num + den - 1) / den)
}

// CSMATiming returns the RNode firmware's carrier-sense slot time and DIFS
// for p (RNODE.md §9.2): slot = floor(12 × T_sym) ms capped at 100 ms and
// raised to 24 ms (6 ms above 30 kbit/s) when shorter; DIFS = 2 × slot.
func CSMATiming(p Params) (slot, difs time.Duration) {
	minSlot := 24 * time.Millisecond
	if NominalBitrate(p) > 30_000 {
		minSlot = 6 * time.Millisecond
	}
	slot = (12 * SymbolTime(p)).Truncate(time.Millisecond)
	if slot > 100*time.Millisecond {
		slot = 100 * time.Millisecond
	}
	if slot < minSlot {
		slot = minSlot
	}
	return slot, 2 * slot
}
