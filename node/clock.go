package node

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"sync"
	"time"
)

// ClockState is what must survive a reboot so that time never goes
// backwards on a board without a real-time clock: the highest hybrid logical
// clock value ever issued or observed, and the last Reticulum announce
// timestamp (peers ignore an announce that is not newer than the one they
// hold, RETICULUM.md §6).
//
// To spare the SD card, the runtime does not write the file on every event.
// It persists a ceiling — the current value plus a lease (a minute by
// default) — and writes again only when time approaches the ceiling. After
// a crash the node resumes from the ceiling, which is always ahead of every
// value it issued before the crash.
type ClockState struct {
	// HLCFloor is a packed HLC timestamp (48-bit ms, 16-bit logical) that
	// every timestamp issued after a restart must exceed.
	HLCFloor uint64
	// AnnounceFloor is a Unix time in seconds that the next announce
	// timestamp must exceed.
	AnnounceFloor uint64
	// Source tells how wall time was last learned: "free-running",
	// "peers" or "gps".
	Source string
}

const clockMagic = "MLCK"

// ErrClockFile is returned for a clock file that is damaged.
var ErrClockFile = errors.New("node: clock file damaged")

// LoadClockState reads the clock file. A missing file yields the zero state.
func LoadClockState(path string) (ClockState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ClockState{Source: "free-running"}, nil
	}
	if err != nil {
		return ClockState{}, err
	}
	return decodeClockState(b)
}

func decodeClockState(b []byte) (ClockState, error) {
	// magic(4) hlc(8) announce(8) srclen(1) src crc32c(4)
	if len(b) < 4+8+8+1+4 || string(b[:4]) != clockMagic {
		return ClockState{}, fmt.Errorf("%w: bad header", ErrClockFile)
	}
	n := int(b[20])
	if len(b) != 21+n+4 {
		return ClockState{}, fmt.Errorf("%w: bad length", ErrClockFile)
	}
	if crc32.Checksum(b[:21+n], crcTable) != binary.BigEndian.Uint32(b[21+n:]) {
		return ClockState{}, fmt.Errorf("%w: checksum mismatch", ErrClockFile)
	}
	return ClockState{
		HLCFloor:      binary.BigEndian.Uint64(b[4:]),
		AnnounceFloor: binary.BigEndian.Uint64(b[12:]),
		Source:        string(b[21 : 21+n]),
	}, nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func (s ClockState) encode() []byte {
	src := s.Source
	if len(src) > 255 {
		src = src[:255]
	}
	b := make([]byte, 0, 25+len(src))
	b = append(b, clockMagic...)
	b = binary.BigEndian.AppendUint64(b, s.HLCFloor)
	b = binary.BigEndian.AppendUint64(b, s.AnnounceFloor)
	b = append(b, byte(len(src)))
	b = append(b, src...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// SaveClockState writes the clock file durably (temp file, fsync, rename).
func SaveClockState(path string, s ClockState) error {
	return writeFileDurable(path, s.encode(), 0o600)
}

// ClockLease is how far ahead of the current clock the persisted floor is
// placed, so the file is rewritten about once per lease, not per event.
const ClockLease = time.Minute

// PackHLC packs milliseconds and a logical counter like the HLC does.
func PackHLC(ms int64, logical uint16) uint64 {
	return uint64(ms)<<16 | uint64(logical)
}

// HLCMillis returns the physical milliseconds of a packed HLC value.
func HLCMillis(v uint64) int64 { return int64(v >> 16) }

// clockKeeper is the node's wall clock: the system clock, shifted forward
// when it reads earlier than the persisted floor (a Pi Zero without RTC
// boots in the past), and never going backwards while the process runs.
type clockKeeper struct {
	mu      sync.Mutex
	path    string
	wall    func() time.Time
	offset  time.Duration
	hold    time.Time // now() never reads earlier than this
	last    time.Time
	ceiling time.Time // the floor currently persisted
	source  string
}

func (c *clockKeeper) load(path string, wall func() time.Time) error {
	c.path, c.wall = path, wall
	s, err := LoadClockState(path)
	if errors.Is(err, ErrClockFile) {
		// A damaged clock file must not keep the node from starting: the
		// event log still bounds the HLC from below. Keep the evidence.
		_ = os.Rename(path, path+".damaged")
		s, err = ClockState{Source: "free-running"}, nil
	}
	if err != nil {
		return err
	}
	c.source = s.Source
	if c.source == "" {
		c.source = "free-running"
	}
	floor := time.UnixMilli(HLCMillis(s.HLCFloor))
	if a := time.Unix(int64(s.AnnounceFloor), 0); a.After(floor) {
		floor = a
	}
	switch now := wall(); {
	case now.Before(floor.Add(-ClockLease)):
		// Behind by more than a lease can explain: no RTC, or a stale
		// fake-hwclock. Run shifted forward from the floor.
		c.offset = floor.Sub(now)
		c.source = "restored-floor"
	case now.Before(floor):
		// Within the lease of the last run (typically a crash): hold the
		// clock at the floor until the system clock passes it, instead
		// of shifting it for good (repeated crashes would add up).
		c.hold = floor
	case now.Before(minSaneTime):
		c.source = "unset"
	}
	c.ceiling = floor
	return nil
}

func (c *clockKeeper) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *clockKeeper) nowLocked() time.Time {
	t := c.wall().Add(c.offset)
	if t.Before(c.hold) {
		t = c.hold
	}
	if t.Before(c.last) {
		t = c.last
	}
	c.last = t
	return t
}

// maybeSave persists a new ceiling when the clock gets within half a lease
// of the persisted one.
func (c *clockKeeper) maybeSave() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	// The lease runs from the unheld clock: while the clock holds at the
	// floor, everything it issues is already covered by the ceiling, and
	// basing the lease on the held value would ratchet the floor forward by
	// a lease at every crash.
	base := c.wall().Add(c.offset)
	if base.Add(ClockLease / 2).Before(c.ceiling) {
		return nil
	}
	return c.saveLocked(base.Add(ClockLease))
}

// save persists the clock; final saves the current time (clean shutdown)
// rather than a lease ahead.
func (c *clockKeeper) save(final bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	at := c.nowLocked()
	if !final {
		at = c.wall().Add(c.offset).Add(ClockLease)
		if at.Before(c.ceiling) {
			at = c.ceiling
		}
	}
	// On a clean shutdown nothing later than now was issued, so the floor
	// may come down from the lease to now: the next start then needs no
	// offset unless the system clock really is behind.
	return c.saveLocked(at)
}

func (c *clockKeeper) saveLocked(at time.Time) error {
	if c.path == "" {
		return nil
	}
	s := ClockState{HLCFloor: PackHLC(at.UnixMilli(), 0), AnnounceFloor: uint64(at.Unix()), Source: c.source}
	if err := SaveClockState(c.path, s); err != nil {
		return err
	}
	c.ceiling = at
	return nil
}

// minSaneTime: a system clock earlier than this has never been set (a Pi
// without RTC or network time boots in 1970).
var minSaneTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// learn adopts a peer's time when the local clock is known to be
// untrustworthy (never set, or only restored from the persisted floor):
// ms is the physical part of the newest timestamp accepted from the
// dataset (signed by members). A clock from the system, GPS or already
// learned is left alone; there the HLC's drift bound protects it.
func (c *clockKeeper) learn(ms int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.source != "unset" && c.source != "restored-floor" {
		return false
	}
	now := c.nowLocked()
	ahead := time.UnixMilli(ms).Sub(now)
	if ahead <= 0 {
		return false
	}
	c.offset += ahead
	c.source = "peers"
	return true
}

// status describes the clock for `meshlogd status`.
func (c *clockKeeper) status() (now time.Time, offset time.Duration, source string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked(), c.offset, c.source
}
