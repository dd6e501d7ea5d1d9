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
// firmware starts it on TxDone), a packet waits while the station hears
// another frame and for DIFS after it (the firmware's carrier sense,
// without its random contention window), and frames heard on it reach the device
// when they match its settings (frequency within a quarter of the
// bandwidth, same bandwidth, spreading factor, sync word and
// LowDataRateOptimize) and arrived intact. Create it with JoinAir.
type Station struct {
	dev  *Device
	air  *sx127xtest.Air
	name string

	mu       sync.Mutex
	nextFree time.Time // end of this station's last frame
	heardEnd time.Time // end of the last frame heard from others
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
	_, difs := hal.CSMATiming(p)
	s.mu.Lock()
	start := now
	if s.nextFree.After(start) {
		start = s.nextFree // next frame of the same packet or queue
	} else if s.heardEnd.Add(difs).After(start) {
		start = s.heardEnd.Add(difs) // medium busy: wait until free for DIFS
	}
	s.nextFree = start.Add(air)
	s.mu.Unlock()
	s.air.Transmit(s, sx127xtest.Frame{From: s.name, Params: p, Data: frame, Start: start, Airtime: air})
}

// CarrierStart implements sx127xtest.Station: the station's carrier sense
// notes until when the medium is busy.
func (s *Station) CarrierStart(f sx127xtest.Frame, _ sx127xtest.Link) {
	s.mu.Lock()
	if f.End().After(s.heardEnd) {
		s.heardEnd = f.End()
	}
	s.mu.Unlock()
}

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
