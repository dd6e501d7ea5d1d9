package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/rnode"
)

// The --rnode half of the radio commands: "meshlogd radio probe|listen|send
// --rnode /dev/ttyUSB0" drive an RNode modem through package rnode.
func init() {
	openRNodeRadio = openRNode
}

// rnodeOpts returns the driver options of the radio commands: the
// reference host's timing, warnings (reconnections, device errors) on
// stderr. Tests replace it to skip the 2 s boot delay.
var rnodeOpts = func(port string) *rnode.Opts {
	return &rnode.Opts{
		Name:   port,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
}

// rnodeOpenTimeout bounds detection and configuration of the RNode.
const rnodeOpenTimeout = 30 * time.Second

// openRNode opens the RNode on serial port port, detects it and
// configures p, verifying the device's echoes.
func openRNode(port string, p hal.Params) (hal.Radio, error) {
	if p.PreambleSymbols != 0 {
		return nil, usageError{errors.New("--preamble applies to SX127x boards; an RNode chooses its preamble itself")}
	}
	ctx, cancel := context.WithTimeout(context.Background(), rnodeOpenTimeout)
	defer cancel()
	m, err := rnode.Open(ctx, rnode.Serial(port), rnodeOpts(port))
	if err != nil {
		return nil, err
	}
	if err := m.Configure(p); err != nil {
		m.Close()
		return nil, err
	}
	return cliRNode{m}, nil
}

// cliRNode lets a packet the command just sent leave the device's queue
// before Close switches the radio off.
type cliRNode struct{ *rnode.Modem }

// Close drains (bounded) and closes the modem.
func (r cliRNode) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = r.Drain(ctx)
	return r.Modem.Close()
}
