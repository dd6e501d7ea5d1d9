package sx127xtest

import (
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/hal"
)

// Frame is one LoRa frame on the air.
type Frame struct {
	// From names the sending station (Station.String of the sender).
	From string
	// Params are the sender's modem settings with every default resolved
	// (hal.Params.Effective): frequency, bandwidth, SF, CR, power,
	// preamble N, sync word and LDRO.
	Params hal.Params
	// Data are the bytes on air: for RNode framing, header byte + body.
	Data []byte
	// NoCRC is set when the frame's LoRa header announces no payload CRC.
	NoCRC bool
	// Start is when the preamble started and Airtime how long the frame
	// lasts (hal.Airtime of Params and len(Data)).
	Start   time.Time
	Airtime time.Duration
}

// End returns when the frame's last symbol leaves the air.
func (f Frame) End() time.Time { return f.Start.Add(f.Airtime) }

// Link describes how one receiver hears one frame.
type Link struct {
	RSSI float64 // packet RSSI at the receiver, dBm
	SNR  float64 // signal-to-noise ratio at the receiver, dB
	// Corrupt makes the receiver see a payload CRC error. The Air also sets
	// it at CarrierEnd when another frame heard by the receiver overlapped
	// this one on the same channel (a collision).
	Corrupt bool
}

// Station is a radio attached to an Air: an emulated Chip, or any other
// emulator (such as an emulated RNode) that wants to share the air.
// Stations must not call Air.Transmit from inside these callbacks while
// holding a lock that their own Transmit path takes.
type Station interface {
	// String names the station (used in Frame.From).
	String() string
	// CarrierStart is called when a frame from another station starts
	// being heard (its preamble begins).
	CarrierStart(f Frame, l Link)
	// CarrierEnd is called when that frame has been fully received; the
	// station decides whether it was listening with matching settings.
	CarrierEnd(f Frame, l Link)
}

// LinkFunc decides whether station to hears frame f sent by from (nil for
// frames put on the air without a sender), and with which RSSI, SNR and
// corruption. It is called with the Air's lock held: it must not call Air
// methods.
type LinkFunc func(from, to Station, f Frame) (Link, bool)

// DefaultLink is the LinkFunc of a new Air: every station hears every
// other at −60 dBm with 9 dB SNR, without corruption.
func DefaultLink(from, to Station, f Frame) (Link, bool) {
	return Link{RSSI: -60, SNR: 9}, true
}

// Air is a shared radio medium: frames sent by one station reach the
// others after their airtime, on the Air's Clock. Overlapping frames on
// the same channel collide. Safe for concurrent use.
type Air struct {
	clock Clock

	mu       sync.Mutex
	link     LinkFunc
	stations []Station
	recent   []Frame // frames that may still overlap a frame on air
	log      []Frame
	keepLog  bool
}

// NewAir returns an empty Air on clock c that keeps a log of every frame
// (see Log).
func NewAir(c Clock) *Air {
	return &Air{clock: c, link: DefaultLink, keepLog: true}
}

// Clock returns the Air's clock.
func (a *Air) Clock() Clock { return a.clock }

// SetLink replaces the LinkFunc (nil restores DefaultLink).
func (a *Air) SetLink(f LinkFunc) {
	if f == nil {
		f = DefaultLink
	}
	a.mu.Lock()
	a.link = f
	a.mu.Unlock()
}

// Attach adds a station; it hears frames that start afterwards.
func (a *Air) Attach(s Station) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, x := range a.stations {
		if x == s {
			return
		}
	}
	a.stations = append(a.stations, s)
}

// Detach removes a station.
func (a *Air) Detach(s Station) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, x := range a.stations {
		if x == s {
			a.stations = append(a.stations[:i], a.stations[i+1:]...)
			return
		}
	}
}

// Log returns a copy of every frame transmitted so far, in order.
func (a *Air) Log() []Frame {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Frame(nil), a.log...)
}

// Transmit puts f on the air from station from. A zero f.Start is set to
// the clock's now and a zero f.Airtime to hal.Airtime(f.Params, len(f.Data)).
// Every other attached station that the LinkFunc lets hear it gets
// CarrierStart now and CarrierEnd after the airtime. Call it without
// holding locks that a Station callback takes.
func (a *Air) Transmit(from Station, f Frame) {
	now := a.clock.Now()
	if f.Start.IsZero() {
		f.Start = now
	}
	if f.Airtime == 0 {
		f.Airtime = hal.Airtime(f.Params, len(f.Data))
	}
	f.Data = append([]byte(nil), f.Data...)
	if f.From == "" && from != nil {
		f.From = from.String()
	}
	type rx struct {
		s Station
		l Link
	}
	a.mu.Lock()
	a.prune(now)
	a.recent = append(a.recent, f)
	if a.keepLog {
		a.log = append(a.log, f)
	}
	var rxs []rx
	for _, s := range a.stations {
		if s == from {
			continue
		}
		if l, ok := a.link(from, s, f); ok {
			rxs = append(rxs, rx{s, l})
		}
	}
	a.mu.Unlock()
	for _, r := range rxs {
		r.s.CarrierStart(f, r.l)
		r := r
		a.clock.AfterFunc(f.End().Sub(now), func() {
			l := r.l
			if a.collided(f, r.s) {
				l.Corrupt = true
			}
			r.s.CarrierEnd(f, l)
		})
	}
}

// collided reports whether another frame that station to hears overlapped
// f in time on an overlapping channel.
func (a *Air) collided(f Frame, to Station) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.recent {
		if g.From == f.From && g.Start.Equal(f.Start) {
			continue
		}
		if g.From == to.String() || !g.Start.Before(f.End()) || !g.End().After(f.Start) {
			continue
		}
		if !channelsOverlap(f.Params, g.Params) {
			continue
		}
		if _, ok := a.link(stationByName(a.stations, g.From), to, g); ok {
			return true
		}
	}
	return false
}

func stationByName(ss []Station, name string) Station {
	for _, s := range ss {
		if s.String() == name {
			return s
		}
	}
	return nil
}

func channelsOverlap(p, q hal.Params) bool {
	d := int64(p.FrequencyHz) - int64(q.FrequencyHz)
	if d < 0 {
		d = -d
	}
	return d < int64(p.BandwidthHz+q.BandwidthHz)/2
}

// prune drops frames that ended more than a minute ago (no frame lasts
// that long at 125 kHz and above); called with a.mu held.
func (a *Air) prune(now time.Time) {
	i := 0
	for ; i < len(a.recent); i++ {
		if a.recent[i].End().After(now.Add(-time.Minute)) {
			break
		}
	}
	a.recent = a.recent[i:]
}
