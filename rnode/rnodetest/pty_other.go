//go:build !linux

package rnodetest

import (
	"errors"
	"time"
)

// PTY exposes a Device on a pseudo-terminal; only implemented on Linux.
type PTY struct{}

// PollInterval is how often a PTY lets its device retry a queue held back
// by an airtime lock.
const PollInterval = 20 * time.Millisecond

// ErrNoPTY is returned by NewPTY on systems other than Linux.
var ErrNoPTY = errors.New("rnodetest: pseudo-terminals are only supported on Linux")

// NewPTY returns ErrNoPTY outside Linux.
func NewPTY(dev *Device, dir, name string) (*PTY, error) { return nil, ErrNoPTY }

// Path returns "".
func (p *PTY) Path() string { return "" }

// Unplug does nothing.
func (p *PTY) Unplug() {}

// Replug returns ErrNoPTY.
func (p *PTY) Replug() error { return ErrNoPTY }

// Dropped returns 0.
func (p *PTY) Dropped() int { return 0 }

// Close does nothing.
func (p *PTY) Close() error { return nil }
