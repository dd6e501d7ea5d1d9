package rnodetest

import (
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

// Station puts a Device on an sx127xtest.Air, next to emulated SX127x
// chips: the device's frames go on that air one after the other (the
// second frame of a split packet starts when the first ends, as the
// firmware starts it on TxDone), and frames heard on it reach the device
// when they match its settings (frequency within a quarter of the
// bandwidth, same bandwidth, spreading factor, sync word and
// LowDataRateOptimize) and arrived intact. Create it with JoinAir.
type Station struct {
	dev  *Device
	air  *sx127xtest.Air
	name string

	mu       sync.Mutex
	nextFree time.Time
}

// JoinAir attaches dev to air as the station name and returns the
// station. It replaces dev's Config.Air.
func JoinAir(dev *Device, air *sx127xtest.Air, name string) *Station {
	s := &Station{dev: dev, air: air, name: name}
	dev.mu.Lock()
	dev.cfg.Air = AirFunc(s.transmit)
	dev.mu.Unlock()
	air.Attach(s)
	return s
}

// String implements sx127xtest.Station.
func (s *Station) String() string { return s.name }

// transmit is the device's Air: it runs with the device's lock held,
// which the Air's callbacks to this station never need synchronously
// (CarrierEnd runs from the clock's timers).
func (s *Station) transmit(frame []byte, p hal.Params) {
	now := s.air.Clock().Now()
	air := hal.Airtime(p, len(frame))
	s.mu.Lock()
	start := now
	if s.nextFree.After(start) {
		start = s.nextFree
	}
	s.nextFree = start.Add(air)
	s.mu.Unlock()
	s.air.Transmit(s, sx127xtest.Frame{From: s.name, Params: p, Data: frame, Start: start, Airtime: air})
}

// CarrierStart implements sx127xtest.Station (the emulated RNode does no
// carrier sense).
func (s *Station) CarrierStart(sx127xtest.Frame, sx127xtest.Link) {}

// CarrierEnd implements sx127xtest.Station: a complete frame was heard.
func (s *Station) CarrierEnd(f sx127xtest.Frame, l sx127xtest.Link) {
	if l.Corrupt || f.NoCRC {
		return
	}
	rx, on := s.dev.Params()
	if !on || !hearable(rx, f.Params) {
		return
	}
	s.dev.Receive(f.Data, l.RSSI, l.SNR)
}

// hearable reports whether a receiver set to rx decodes a frame sent
// with tx (both resolved with hal.Params.Effective).
func hearable(rx, tx hal.Params) bool {
	d := int64(rx.FrequencyHz) - int64(tx.FrequencyHz)
	if d < 0 {
		d = -d
	}
	return rx.BandwidthHz == tx.BandwidthHz && rx.SpreadingFactor == tx.SpreadingFactor &&
		rx.SyncWord == tx.SyncWord && rx.LDRO == tx.LDRO && d <= int64(rx.BandwidthHz)/4
}
