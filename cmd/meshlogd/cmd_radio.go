package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/meshlogd/meshlogd/board"
	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/sx127x"
)

func init() {
	register(command{Name: "radio boards", Summary: "list the SX127x board profiles and their pins", Run: runRadioBoards})
	register(command{Name: "radio probe", Summary: "open a radio, print its version register and noise floor", Run: runRadioProbe})
	register(command{Name: "radio listen", Summary: "print received packets (time, RSSI, SNR, hex)", Run: runRadioListen})
	register(command{Name: "radio send", Summary: "send one packet given in hex", Run: runRadioSend})
}

// openRNodeRadio opens an RNode on a serial port with the given settings.
// It is set from cmd_radio_rnode.go; nil means this build has no RNode
// support.
var openRNodeRadio func(port string, p hal.Params) (hal.Radio, error)

// openBoardRadio opens an SX127x through a board profile; tests replace it.
var openBoardRadio = func(p board.Profile, params hal.Params, region hal.Region) (hal.Radio, error) {
	r, err := board.Open(p, &sx127x.Opts{Params: params, Region: region})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// radioFlags are the flags every radio command shares.
type radioFlags struct {
	board, custom, rnode string
	freq, bw, cr, region string
	sf, txp, preamble    int
}

func addRadioFlags(fs *flag.FlagSet) *radioFlags {
	f := &radioFlags{}
	d := hal.DefaultParams()
	fs.StringVar(&f.board, "board", "", "SX127x board profile `NAME` (see 'meshlogd radio boards'), or \"custom\" with --custom")
	fs.StringVar(&f.custom, "custom", "", "custom wiring `SPEC`, e.g. spi=SPI0.0,cs=none,reset=GPIO22,dio0=GPIO25,dio1=none")
	fs.StringVar(&f.rnode, "rnode", "", "use the RNode on serial `PORT` (e.g. /dev/ttyUSB0) instead of an SX127x")
	fs.StringVar(&f.freq, "freq", "867.2", "carrier frequency: MHz (867.2) or Hz (867200000)")
	fs.StringVar(&f.bw, "bw", "125", "bandwidth: kHz (125, 62.5) or Hz (125000)")
	fs.IntVar(&f.sf, "sf", d.SpreadingFactor, "spreading factor 7..12")
	fs.StringVar(&f.cr, "cr", "4/5", "coding rate 4/5..4/8 (or 5..8)")
	fs.IntVar(&f.txp, "txp", d.TxPowerDBm, "transmit power, dBm at the module pin")
	fs.IntVar(&f.preamble, "preamble", 0, "preamble symbols N (0 = RNode rule)")
	fs.StringVar(&f.region, "region", "none", "regulatory limits to enforce: none, EU868, US915")
	return f
}

// usageError marks errors in flags (exit code 2).
type usageError struct{ error }

func (f *radioFlags) params() (hal.Params, hal.Region, error) {
	var p hal.Params
	mhz, err := parseScaled(f.freq, "mhz", 1e6, 10_000)
	if err != nil || mhz <= 0 || mhz > math.MaxUint32 {
		return p, 0, usageError{fmt.Errorf("bad --freq %q", f.freq)}
	}
	bw, err := parseScaled(f.bw, "khz", 1e3, 1_000)
	if err != nil || bw <= 0 || bw > math.MaxUint32 {
		return p, 0, usageError{fmt.Errorf("bad --bw %q", f.bw)}
	}
	cr, err := strconv.Atoi(strings.TrimPrefix(f.cr, "4/"))
	if err != nil {
		return p, 0, usageError{fmt.Errorf("bad --cr %q", f.cr)}
	}
	region, err := hal.ParseRegion(f.region)
	if err != nil {
		return p, 0, usageError{err}
	}
	p = hal.Params{FrequencyHz: uint32(mhz), BandwidthHz: uint32(bw), SpreadingFactor: f.sf, CodingRate: cr,
		TxPowerDBm: f.txp, PreambleSymbols: f.preamble}
	// 7.8, 10.4, 15.6, 20.8 and 41.7 kHz are rounded values.
	for _, b := range hal.Bandwidths {
		if d := int64(b) - int64(p.BandwidthHz); d > -100 && d < 100 {
			p.BandwidthHz = b
		}
	}
	if err := p.Validate(region); err != nil {
		return p, 0, usageError{err}
	}
	return p, region, nil
}

// parseScaled reads "867.2", "867.2MHz" or "867200000": values below
// threshold (or with the unit suffix) are multiplied by scale.
func parseScaled(s, unit string, scale, threshold float64) (float64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	suffixed := false
	for _, u := range []string{unit, unit[:1]} {
		if strings.HasSuffix(t, u) {
			t, suffixed = strings.TrimSuffix(t, u), true
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	if suffixed || v < threshold {
		v *= scale
	}
	return math.Round(v), nil
}

// openRadio opens the radio the flags select: an RNode (--rnode) or an
// SX127x through a board profile (--board, --custom).
func openRadio(f *radioFlags) (hal.Radio, hal.Params, error) {
	p, region, err := f.params()
	if err != nil {
		return nil, p, err
	}
	if f.rnode != "" {
		if f.board != "" || f.custom != "" {
			return nil, p, usageError{errors.New("--rnode and --board/--custom are mutually exclusive")}
		}
		if openRNodeRadio == nil {
			return nil, p, errors.New("this build has no RNode support")
		}
		r, err := openRNodeRadio(f.rnode, p)
		return r, p, err
	}
	var prof board.Profile
	switch {
	case f.custom != "":
		if f.board != "" && f.board != "custom" {
			return nil, p, usageError{errors.New("--custom needs --board custom or no --board")}
		}
		prof, err = board.ParseCustom(f.custom)
	case f.board == "":
		return nil, p, usageError{errors.New("choose a radio: --board NAME, --custom SPEC or --rnode PORT")}
	case f.board == "custom":
		return nil, p, usageError{errors.New("--board custom needs --custom SPEC")}
	default:
		prof, err = board.Lookup(f.board)
	}
	if err != nil {
		return nil, p, usageError{err}
	}
	r, err := openBoardRadio(prof, p, region)
	return r, p, err
}

// parseRadioFlags parses args and checks the number of positional
// arguments; it returns the exit code to stop with (≥ 0) or −1.
func parseRadioFlags(name string, fs *flag.FlagSet, args []string, nargs int, stderr io.Writer) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() != nargs {
		fmt.Fprintf(stderr, "meshlogd %s: want %d argument(s) after the flags, got %d\n", name, nargs, fs.NArg())
		return exitUsage
	}
	return -1
}

// openRadioCmd opens the radio for a command; it returns the exit code to
// stop with (≥ 0) or −1 to continue.
func openRadioCmd(name string, f *radioFlags, stderr io.Writer) (hal.Radio, hal.Params, int) {
	r, p, err := openRadio(f)
	if err != nil {
		fmt.Fprintf(stderr, "meshlogd %s: %v\n", name, err)
		var ue usageError
		if errors.As(err, &ue) {
			return nil, p, exitUsage
		}
		return nil, p, exitFailure
	}
	return r, p, -1
}

func newRadioFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("meshlogd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// signalContext is cancelled by SIGINT/SIGTERM; tests replace it.
var signalContext = func() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func runRadioBoards(args []string, stdout, stderr io.Writer) int {
	fs := newRadioFlags("radio boards", stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSPI\tCS\tRESET\tDIO0\tDIO1\tBOARD")
	for _, p := range board.Profiles() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.SPI, p.CSName(), dash(p.Reset), p.DIO0, dash(p.DIO1), p.Description)
	}
	tw.Flush()
	fmt.Fprintln(stdout, "\ncustom: --board custom --custom spi=SPI0.0,cs=none,reset=GPIO22,dio0=GPIO25,dio1=none")
	for _, p := range board.Profiles() {
		if p.Notes != "" {
			fmt.Fprintf(stdout, "%s: %s\n", p.Name, p.Notes)
		}
	}
	return exitOK
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runRadioProbe(args []string, stdout, stderr io.Writer) int {
	fs := newRadioFlags("radio probe", stderr)
	f := addRadioFlags(fs)
	samples := fs.Int("samples", 32, "RSSI samples for the noise floor (10 ms apart)")
	if code := parseRadioFlags("radio probe", fs, args, 0, stderr); code >= 0 {
		return code
	}
	r, p, code := openRadioCmd("radio probe", f, stderr)
	if code >= 0 {
		return code
	}
	defer r.Close()
	fmt.Fprintf(stdout, "radio:      %v\n", r)
	if v, ok := r.(interface{ Version() byte }); ok {
		fmt.Fprintf(stdout, "version:    0x%02x (RegVersion)\n", v.Version())
	}
	fmt.Fprintf(stdout, "settings:   %s\n", p)
	if rs, ok := r.(interface{ RSSI() (float64, error) }); ok {
		lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
		n := max(*samples, 1)
		for i := 0; i < n; i++ {
			v, err := rs.RSSI()
			if err != nil {
				fmt.Fprintln(stderr, "meshlogd radio probe:", err)
				return exitFailure
			}
			lo, hi, sum = math.Min(lo, v), math.Max(hi, v), sum+v
			time.Sleep(10 * time.Millisecond)
		}
		fmt.Fprintf(stdout, "noise:      %.1f dBm average, %.0f..%.0f dBm over %d samples\n", sum/float64(n), lo, hi, n)
	}
	busy, err := r.ChannelBusy()
	if err != nil {
		fmt.Fprintln(stderr, "meshlogd radio probe:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "channel:    busy=%v\n", busy)
	fmt.Fprintf(stdout, "airtime:    %v for 200 bytes, %v for 500 bytes\n", r.Airtime(200), r.Airtime(500))
	return exitOK
}

func runRadioListen(args []string, stdout, stderr io.Writer) int {
	fs := newRadioFlags("radio listen", stderr)
	f := addRadioFlags(fs)
	count := fs.Int("count", 0, "stop after `N` packets (0 = until interrupted)")
	dur := fs.Duration("duration", 0, "stop after this long (0 = until interrupted)")
	if code := parseRadioFlags("radio listen", fs, args, 0, stderr); code >= 0 {
		return code
	}
	r, _, code := openRadioCmd("radio listen", f, stderr)
	if code >= 0 {
		return code
	}
	defer r.Close()
	ctx, cancel := signalContext()
	defer cancel()
	if *dur > 0 {
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, *dur)
		defer c2()
	}
	fmt.Fprintf(stderr, "listening on %v (Ctrl-C to stop)\n", r)
	for n := 0; *count == 0 || n < *count; n++ {
		pkt, err := r.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintln(stderr, "meshlogd radio listen:", err)
			return exitFailure
		}
		fmt.Fprintf(stdout, "%s rssi=%.1f snr=%.2f len=%d %s\n", pkt.At.UTC().Format(time.RFC3339Nano), pkt.RSSI, pkt.SNR, len(pkt.Data), hex.EncodeToString(pkt.Data))
	}
	s := r.Stats()
	fmt.Fprintf(stderr, "received %d packets (%d frames), %d CRC errors, %d dropped\n", s.RxPackets, s.RxFrames, s.RxCRCErrors, s.RxDropped)
	return exitOK
}

func runRadioSend(args []string, stdout, stderr io.Writer) int {
	fs := newRadioFlags("radio send", stderr)
	f := addRadioFlags(fs)
	timeout := fs.Duration("timeout", time.Minute, "give up after this long (channel access included)")
	if code := parseRadioFlags("radio send", fs, args, 1, stderr); code >= 0 {
		return code
	}
	data, err := hex.DecodeString(strings.ReplaceAll(fs.Arg(0), ":", ""))
	if err != nil {
		fmt.Fprintf(stderr, "meshlogd radio send: packet is not hex: %v\n", err)
		return exitUsage
	}
	if len(data) < 1 || len(data) > hal.MaxPacketLen {
		fmt.Fprintf(stderr, "meshlogd radio send: packet of %d bytes, want 1..%d\n", len(data), hal.MaxPacketLen)
		return exitUsage
	}
	r, _, code := openRadioCmd("radio send", f, stderr)
	if code >= 0 {
		return code
	}
	defer r.Close()
	ctx, cancel := signalContext()
	defer cancel()
	ctx, c2 := context.WithTimeout(ctx, *timeout)
	defer c2()
	start := time.Now()
	if err := r.Send(ctx, data); err != nil {
		fmt.Fprintln(stderr, "meshlogd radio send:", err)
		return exitFailure
	}
	fmt.Fprintf(stdout, "sent %d bytes in %d frame(s), airtime %v, took %v\n", len(data), hal.FrameCount(len(data)), r.Airtime(len(data)), time.Since(start).Round(time.Millisecond))
	return exitOK
}
