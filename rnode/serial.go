package rnode

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.bug.st/serial"
)

// SerialMode is the port setting of the reference host (RNODE.md §1):
// 115200 baud, 8N1, modem control lines left alone.
var SerialMode = serial.Mode{BaudRate: 115200, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}

// ErrNoDevice reports a serial device path that does not exist.
var ErrNoDevice = errors.New("rnode: serial device not found")

// Serial returns a Dialer that opens the serial device at path (e.g.
// /dev/ttyUSB0, or a /dev/serial/by-id link) with go.bug.st/serial in
// SerialMode. A missing device gives an error wrapping ErrNoDevice.
func Serial(path string) Dialer {
	return func(ctx context.Context) (Port, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if _, err := os.Stat(path); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%w: %s", ErrNoDevice, path)
			}
			return nil, fmt.Errorf("rnode: %w", err)
		}
		mode := SerialMode
		p, err := serial.Open(path, &mode)
		if err != nil {
			var pe *serial.PortError
			if errors.As(err, &pe) && pe.Code() == serial.PortNotFound {
				return nil, fmt.Errorf("%w: %s", ErrNoDevice, path)
			}
			return nil, fmt.Errorf("rnode: open %s: %w", path, err)
		}
		return p, nil
	}
}
