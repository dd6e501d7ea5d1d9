package rnode

import (
	"errors"
	"fmt"
	"strings"

	"github.com/meshlogd/meshlogd/hal"
)

// Sentinel errors; the typed errors below wrap them for errors.Is.
var (
	// ErrNotDetected: nothing answered the detect request with 08 46
	// (not an RNode, wrong port, or a device still booting).
	ErrNotDetected = errors.New("rnode: no RNode answered the detect request")
	// ErrFirmwareTooOld: the firmware is older than 1.52, the oldest the
	// reference host accepts.
	ErrFirmwareTooOld = errors.New("rnode: firmware too old")
	// ErrConfigMismatch: the device did not confirm the requested radio
	// parameters (see *ConfigError for which).
	ErrConfigMismatch = errors.New("rnode: device did not confirm the radio parameters")
	// ErrOffline: the modem is not connected and configured right now
	// (device unplugged, rebooted, or reconfiguration in progress); the
	// driver keeps reconnecting in the background.
	ErrOffline = errors.New("rnode: modem offline")
	// ErrDevice: the firmware reported an error (see *DeviceError).
	ErrDevice = errors.New("rnode: device reported an error")
	// ErrNotReady: with flow control on, the device did not say its queue
	// has room in time.
	ErrNotReady = errors.New("rnode: device queue not ready")
)

// ParamError is a host configuration the reference host refuses before
// touching the port (RNODE.md §4 step 1).
type ParamError struct {
	Param string // "frequency", "bandwidth", ...
	Value any
	Range string // the accepted range, e.g. "137 MHz..3 GHz"
}

// Error describes the parameter and its accepted range.
func (e *ParamError) Error() string {
	return fmt.Sprintf("rnode: %s %v outside %s", e.Param, e.Value, e.Range)
}

// Unwrap returns hal.ErrInvalidParams.
func (e *ParamError) Unwrap() error { return hal.ErrInvalidParams }

// FirmwareError reports a firmware version the driver refuses.
type FirmwareError struct {
	Major, Minor int
}

// Error names the device's and the required firmware versions.
func (e *FirmwareError) Error() string {
	return fmt.Sprintf("rnode: firmware %d.%02d is older than the required %d.%02d (update it with rnodeconf)",
		e.Major, e.Minor, minFirmwareMajor, minFirmwareMinor)
}

// Unwrap returns ErrFirmwareTooOld.
func (e *FirmwareError) Unwrap() error { return ErrFirmwareTooOld }

// Mismatch is one radio parameter the device did not confirm.
type Mismatch struct {
	Param   string // "frequency", "bandwidth", "tx power", "spreading factor", "coding rate", "radio state", "short-term airtime lock", "long-term airtime lock"
	Want    int64  // what was configured
	Got     int64  // what the device reported (meaningless if Missing)
	Missing bool   // the device never answered for this parameter
	Unit    string // "Hz", "dBm", "" ...
}

// String describes the mismatch, e.g. "tx power: device reports 17 dBm,
// configured 20 dBm".
func (m Mismatch) String() string {
	if m.Missing {
		return fmt.Sprintf("%s: no answer from the device (configured %d%s)", m.Param, m.Want, m.Unit)
	}
	return fmt.Sprintf("%s: device reports %d%s, configured %d%s", m.Param, m.Got, m.Unit, m.Want, m.Unit)
}

// ConfigError lists the parameters the device did not confirm after
// configuration. The radio is switched off again when this happens.
type ConfigError struct {
	Mismatches []Mismatch
}

// Error lists every parameter the device did not confirm.
func (e *ConfigError) Error() string {
	parts := make([]string, len(e.Mismatches))
	for i, m := range e.Mismatches {
		parts[i] = m.String()
	}
	return "rnode: radio configuration rejected: " + strings.Join(parts, "; ") +
		" (does the hardware support these parameters? is the RNode in TNC mode?)"
}

// Unwrap returns ErrConfigMismatch.
func (e *ConfigError) Unwrap() error { return ErrConfigMismatch }

// DeviceError is an ERROR frame from the firmware.
type DeviceError struct {
	Code byte
}

var deviceErrorText = map[byte]string{
	ErrCodeInitRadio:    "radio initialisation failed",
	ErrCodeTxFailed:     "transmit failed",
	ErrCodeEEPROMLocked: "EEPROM locked",
	ErrCodeQueueFull:    "queue full",
	ErrCodeMemoryLow:    "memory low",
	ErrCodeModemTimeout: "modem communication timed out",
}

// Error gives the code and the firmware's meaning of it.
func (e *DeviceError) Error() string {
	t, ok := deviceErrorText[e.Code]
	if !ok {
		t = "unknown error"
	}
	return fmt.Sprintf("rnode: device error 0x%02x: %s", e.Code, t)
}

// Unwrap returns ErrDevice.
func (e *DeviceError) Unwrap() error { return ErrDevice }

// Fatal reports whether the reference host takes the interface down on
// this code (everything but memory low and modem timeout); the driver
// reconfigures the device instead.
func (e *DeviceError) Fatal() bool {
	return e.Code != ErrCodeMemoryLow && e.Code != ErrCodeModemTimeout
}
