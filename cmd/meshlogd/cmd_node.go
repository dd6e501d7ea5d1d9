package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/meshlogd/meshlogd/board"
	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/node"
	"github.com/meshlogd/meshlogd/node/config"
	"github.com/meshlogd/meshlogd/node/control"
	"github.com/meshlogd/meshlogd/node/qr"
)

func init() {
	for _, c := range []command{
		{"init", "prepare a data directory: a new identity and a commented meshlogd.conf", runInit},
		{"run", "run the node: interfaces, sync, control socket (the daemon)", runRun},
		{"dataset create", "found a new dataset (this node becomes its admin)", runDatasetCreate},
		{"dataset join", "join a dataset with an invite from an admin", runDatasetJoin},
		{"invite", "admit a new member's public key and print an invite for them", runInvite},
		{"member add", "admit a member by public key (admins only)", runMemberAdd},
		{"member remove", "remove a member (admins only); their earlier events stay", runMemberRemove},
		{"record create", "create a record: record create ID TYPE", runRecordCreate},
		{"set", "set a field: set ID FIELD VALUE (typed: numbers, true/false, null, text)", runSet},
		{"note", "append a note to a record: note ID TEXT", runNote},
		{"view", "show the records (all, or one ID)", runView},
		{"log", "list the events this node holds", runLog},
		{"export", "export the view as csv, jsonl or geojson", runExport},
		{"status", "identity, dataset, members, frontier, peers, airtime, storage, clock", runStatus},
	} {
		register(c)
	}
}

// nodeFlags are the flags every node command takes.
type nodeFlags struct {
	data string
	json bool
}

func newNodeFlags(name string, stderr io.Writer, withJSON bool) (*flag.FlagSet, *nodeFlags) {
	fs := newFlags(name, stderr)
	nf := &nodeFlags{}
	fs.StringVar(&nf.data, "data", "", "data `DIR` (default $MESHLOGD_DATA, else /var/lib/meshlogd as root or ~/.local/share/meshlogd)")
	if withJSON {
		fs.BoolVar(&nf.json, "json", false, "print JSON for scripts")
	}
	return fs, nf
}

// parseArgs parses flags anywhere among the arguments (flags may follow the
// positional ones; "--" ends flags; a negative number is an argument) and
// checks the number of positional arguments is within [min, max] (max < 0:
// no limit). It returns the positional arguments, or an exit code ≥ 0.
func parseArgs(fs *flag.FlagSet, args []string, min, max int) ([]string, int) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitOK
			}
			return nil, exitUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if rest[0] == "--" && len(args) > 0 && args[len(args)-len(rest)] == "--" {
			pos = append(pos, rest[1:]...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
		// A negative number ("-5", "-3.2") is a value, not a flag.
		for len(args) > 0 && isNumber(args[0]) {
			pos = append(pos, args[0])
			args = args[1:]
		}
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		want := fmt.Sprint(min)
		if max != min {
			want = fmt.Sprintf("%d to %d", min, max)
			if max < 0 {
				want = fmt.Sprintf("at least %d", min)
			}
		}
		fmt.Fprintf(fs.Output(), "%s: want %s argument(s), got %d (see --help)\n", fs.Name(), want, len(pos))
		return nil, exitUsage
	}
	return pos, -1
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && strings.HasPrefix(s, "-")
}

func (nf *nodeFlags) dir() (string, error) {
	if nf.data != "" {
		return nf.data, nil
	}
	return node.DefaultDataDir()
}

func fail(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "meshlogd %s: %v\n", name, err)
	return exitFailure
}

// withNode runs a control request against the running daemon of the data
// directory, or, when none runs, against the directory opened directly.
func withNode(nf *nodeFlags, req control.Request, out any) error {
	dir, err := nf.dir()
	if err != nil {
		return err
	}
	cfg, err := node.LoadConfig(dir)
	if err != nil {
		return err
	}
	sock := cfg.Control.Socket
	if !filepath.IsAbs(sock) {
		sock = filepath.Join(dir, sock)
	}
	if cl, err := control.Dial(sock); err == nil {
		defer cl.Close()
		return cl.Do(req, out)
	}
	n, err := node.Open(node.Options{DataDir: dir, Config: cfg})
	if err != nil {
		return err
	}
	res, err := n.Do(req)
	if cerr := n.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return control.DecodeResult(b, out)
}

func runInit(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("init", stderr, true)
	if _, code := parseArgs(fs, args, 0, 0); code >= 0 {
		return code
	}
	dir, err := nf.dir()
	if err != nil {
		return fail(stderr, "init", err)
	}
	id, created, err := node.Init(dir, rand.Reader)
	if err != nil {
		return fail(stderr, "init", err)
	}
	if nf.json {
		printJSON(stdout, map[string]any{"data": dir, "identity": id.Hash().String(),
			"public_key": fmt.Sprintf("%x", id.PublicKey()), "created": created})
		return exitOK
	}
	if created {
		fmt.Fprintf(stdout, "initialised %s\n", dir)
	} else {
		fmt.Fprintf(stdout, "%s was already initialised\n", dir)
	}
	fmt.Fprintf(stdout, "identity   %s\npublic key %x\nconfig     %s\n", id.Hash(), id.PublicKey(), filepath.Join(dir, node.ConfigFile))
	fmt.Fprintln(stdout, "next: 'meshlogd dataset create NAME', or give the public key to an admin for an invite")
	return exitOK
}

func runDatasetCreate(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("dataset create", stderr, true)
	pos, code := parseArgs(fs, args, 1, 1)
	if code >= 0 {
		return code
	}
	dir, err := nf.dir()
	if err != nil {
		return fail(stderr, "dataset create", err)
	}
	g, err := node.CreateDataset(dir, pos[0], time.Now(), rand.Reader)
	if err != nil {
		return fail(stderr, "dataset create", err)
	}
	if nf.json {
		printJSON(stdout, map[string]string{"dataset": g.ID().String(), "name": pos[0], "founder": g.Author.String()})
	} else {
		fmt.Fprintf(stdout, "dataset %q created: %s\nyou are its founder and admin; invite members with 'meshlogd invite PUBLIC_KEY'\n", pos[0], g.ID())
	}
	return exitOK
}

func runDatasetJoin(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("dataset join", stderr, true)
	pos, code := parseArgs(fs, args, 1, -1)
	if code >= 0 {
		return code
	}
	dir, err := nf.dir()
	if err != nil {
		return fail(stderr, "dataset join", err)
	}
	inv, err := node.ParseInvite(strings.Join(pos, ""))
	if err != nil {
		return fail(stderr, "dataset join", err)
	}
	if err := node.JoinDataset(dir, inv); err != nil {
		return fail(stderr, "dataset join", err)
	}
	if nf.json {
		printJSON(stdout, map[string]string{"dataset": inv.Genesis.ID().String()})
	} else {
		fmt.Fprintf(stdout, "joined dataset %s; you can write once your admission has synced from an admin's node ('meshlogd status' shows member: yes)\n", inv.Genesis.ID())
	}
	return exitOK
}

func runInvite(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("invite", stderr, true)
	admin := fs.Bool("admin", false, "make the new member an admin (founder only)")
	showQR := fs.Bool("qr", false, "also print the invite as a QR code (default: when stdout is a terminal; --qr=false: never)")
	lightBg := fs.Bool("qr-light-bg", false, "the terminal shows dark text on a light background: draw the QR code's dark modules as blocks (default: its light modules, for light text on a dark background)")
	pos, code := parseArgs(fs, args, 1, 1)
	if code >= 0 {
		return code
	}
	op := "invite"
	if *admin {
		op = "invite-admin"
	}
	var res map[string]string
	if err := withNode(nf, control.Request{Op: op, ID: pos[0]}, &res); err != nil {
		return fail(stderr, "invite", err)
	}
	if nf.json {
		printJSON(stdout, res)
		return exitOK
	}
	fmt.Fprintln(stdout, res["invite"])
	// The QR code: on request, or by default when a person is looking.
	qrSet, tty := false, false
	fs.Visit(func(f *flag.Flag) { qrSet = qrSet || f.Name == "qr" })
	if f, ok := stdout.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	if *showQR || (!qrSet && tty) {
		// Level M, or L when M would not fit 80 columns (a typical invite
		// of ~780 characters needs version 19 at M, 16 at L).
		opt := qr.TerminalOptions{Invert: !*lightBg}
		sym, err := qr.Encode(res["invite"], qr.M)
		if err != nil || sym.Width(opt) > 80 {
			if l, errL := qr.Encode(res["invite"], qr.L); errL == nil {
				sym, err = l, nil
			}
		}
		if err == nil {
			fmt.Fprintln(stdout)
			err = sym.WriteTerminal(stdout, opt)
		}
		if err != nil {
			fmt.Fprintf(stderr, "meshlogd invite: no QR code: %v\n", err)
			if *showQR {
				return exitFailure
			}
		}
	}
	fmt.Fprintln(stderr, "give this invite to the new member: meshlogd dataset join INVITE")
	return exitOK
}

func runMemberAdd(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("member add", stderr, true)
	admin := fs.Bool("admin", false, "make the member an admin (founder only)")
	pos, code := parseArgs(fs, args, 1, 1)
	if code >= 0 {
		return code
	}
	op := "member-add"
	if *admin {
		op = "admin-add"
	}
	return writeCmd("member add", nf, control.Request{Op: op, ID: pos[0]}, stdout, stderr)
}

func runMemberRemove(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("member remove", stderr, true)
	pos, code := parseArgs(fs, args, 1, 1)
	if code >= 0 {
		return code
	}
	return writeCmd("member remove", nf, control.Request{Op: "member-remove", ID: pos[0]}, stdout, stderr)
}

func writeCmd(name string, nf *nodeFlags, req control.Request, stdout, stderr io.Writer) int {
	var res node.WriteResult
	if err := withNode(nf, req, &res); err != nil {
		return fail(stderr, name, err)
	}
	if nf.json {
		printJSON(stdout, res)
	} else {
		fmt.Fprintf(stdout, "OK %s seq %d (%s)\n", shortHex(res.Author), res.Seq, shortHex(res.ID))
	}
	return exitOK
}

func shortHex(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

func runRecordCreate(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("record create", stderr, true)
	pos, code := parseArgs(fs, args, 2, 2)
	if code >= 0 {
		return code
	}
	return writeCmd("record create", nf, control.Request{Op: "create", Record: pos[0], Type: pos[1]}, stdout, stderr)
}

func runSet(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("set", stderr, true)
	typ := fs.String("type", "", "force the value's `TYPE`: string, int, float, bool, null, bytes (base64)")
	pos, code := parseArgs(fs, args, 3, 3)
	if code >= 0 {
		return code
	}
	v, err := node.ParseValue(pos[2], *typ)
	if err != nil {
		fmt.Fprintf(stderr, "meshlogd set: %v\n", err)
		return exitUsage
	}
	raw, err := json.Marshal(node.ValueJSON(v))
	if err != nil {
		return fail(stderr, "set", err)
	}
	return writeCmd("set", nf, control.Request{Op: "set", Record: pos[0], Field: pos[1], Value: raw}, stdout, stderr)
}

func runNote(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("note", stderr, true)
	pos, code := parseArgs(fs, args, 2, -1)
	if code >= 0 {
		return code
	}
	return writeCmd("note", nf, control.Request{Op: "note", Record: pos[0], Text: strings.Join(pos[1:], " ")}, stdout, stderr)
}

func runView(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("view", stderr, true)
	pos, code := parseArgs(fs, args, 0, 1)
	if code >= 0 {
		return code
	}
	req := control.Request{Op: "view"}
	if len(pos) == 1 {
		req.Record = pos[0]
	}
	var recs []node.RecordJSON
	if err := withNode(nf, req, &recs); err != nil {
		return fail(stderr, "view", err)
	}
	if nf.json {
		for _, r := range recs {
			printJSON(stdout, r)
		}
		return exitOK
	}
	if len(recs) == 0 {
		fmt.Fprintln(stdout, "no records")
	}
	for _, r := range recs {
		fmt.Fprintf(stdout, "%s  (%s)\n", r.ID, r.Type)
		names := make([]string, 0, len(r.Fields))
		for k := range r.Fields {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			b, _ := json.Marshal(r.Fields[k])
			fmt.Fprintf(stdout, "  %-20s %s\n", k, b)
		}
		for _, nt := range r.Notes {
			fmt.Fprintf(stdout, "  note %s %s: %s\n", nt.HLC, shortHex(nt.Author), nt.Text)
		}
	}
	return exitOK
}

func runLog(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("log", stderr, true)
	author := fs.String("author", "", "only events of the author whose identity hash starts with `HEX`")
	if _, code := parseArgs(fs, args, 0, 0); code >= 0 {
		return code
	}
	var evs []node.LogEntry
	if err := withNode(nf, control.Request{Op: "log", Author: *author}, &evs); err != nil {
		return fail(stderr, "log", err)
	}
	if nf.json {
		for _, e := range evs {
			printJSON(stdout, e)
		}
		return exitOK
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AUTHOR\tSEQ\tHLC\tKIND\tSUMMARY")
	for _, e := range evs {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", shortHex(e.Author), e.Seq, e.HLC, e.Kind, e.Summary)
	}
	tw.Flush()
	return exitOK
}

func runExport(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("export", stderr, false)
	format := fs.String("format", "csv", "`FORMAT`: csv, jsonl or geojson")
	out := fs.String("out", "", "write to `FILE` instead of standard output")
	if _, code := parseArgs(fs, args, 0, 0); code >= 0 {
		return code
	}
	switch *format {
	case node.FormatCSV, node.FormatJSONL, node.FormatGeoJSON:
	default:
		fmt.Fprintf(stderr, "meshlogd export: unknown --format %q (csv, jsonl or geojson)\n", *format)
		return exitUsage
	}
	var recs []node.RecordJSON
	if err := withNode(nf, control.Request{Op: "view"}, &recs); err != nil {
		return fail(stderr, "export", err)
	}
	w := stdout
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			return fail(stderr, "export", err)
		}
		defer f.Close()
		w = f
	}
	if err := node.ExportJSON(w, recs, *format); err != nil {
		return fail(stderr, "export", err)
	}
	return exitOK
}

func runStatus(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("status", stderr, true)
	if _, code := parseArgs(fs, args, 0, 0); code >= 0 {
		return code
	}
	var st node.Status
	if err := withNode(nf, control.Request{Op: "status"}, &st); err != nil {
		return fail(stderr, "status", err)
	}
	if nf.json {
		printJSON(stdout, st)
		return exitOK
	}
	printStatus(stdout, st)
	return exitOK
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printStatus(w io.Writer, st node.Status) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	state := "stopped (read from disk)"
	if st.Running {
		state = "running"
	}
	fmt.Fprintf(tw, "node\t%s %s\n", st.Identity, st.Name)
	fmt.Fprintf(tw, "daemon\t%s\n", state)
	fmt.Fprintf(tw, "dataset\t%q %s (founder %s)\n", st.Dataset.Name, shortHex(st.Dataset.ID), shortHex(st.Dataset.Founder))
	fmt.Fprintf(tw, "member\t%s (admin: %s)\n", yesNo(st.Member), yesNo(st.Admin))
	fmt.Fprintf(tw, "events\t%d accepted, %d waiting for gaps; %d records; view %s\n", st.Events, st.Pending, st.Records, shortHex(st.ViewDigest))
	fmt.Fprintf(tw, "forks\t%d\n", len(st.Forks))
	for _, f := range st.Forks {
		fmt.Fprintf(tw, "\tauthor %s forked at seq %d (feed frozen there)\n", f.Author, f.Seq)
	}
	fmt.Fprintf(tw, "members\t%d\n", len(st.Members))
	for _, m := range st.Members {
		role := "member"
		switch {
		case m.Founder:
			role = "founder"
		case m.Admin:
			role = "admin"
		}
		if m.Removed {
			role += ", removed"
		}
		fmt.Fprintf(tw, "\t%s %s, frontier %d\n", m.ID, role, st.Frontier[m.ID])
	}
	fmt.Fprintf(tw, "clock\t%s (%s, offset %.0fs), newest event %s\n", st.Clock.Now.Format(time.RFC3339), st.Clock.Source, st.Clock.OffsetSeconds, st.Clock.HLCMax)
	fmt.Fprintf(tw, "storage\t%s, %d segments\n", st.Storage.Dir, st.Storage.Segments)
	fmt.Fprintf(tw, "interfaces\t%d up\n", len(st.Interfaces))
	for _, i := range st.Interfaces {
		line := fmt.Sprintf("\t%s (%s): %d messages sent", i.Name, i.Type, i.SentMessages)
		if i.AirtimeBudgetS > 0 {
			line += fmt.Sprintf(", airtime %.1f of %.1f s this hour (duty %.1f%%), queue %d, tx %d rx %d", i.AirtimeUsedS, i.AirtimeBudgetS, 100*i.DutyCycle, i.Queue, i.TxPackets, i.RxPackets)
		}
		if i.LastRSSI != nil {
			line += fmt.Sprintf(", last heard %s RSSI %.0f dBm SNR %.1f dB", i.LastHeard.Format(time.TimeOnly), *i.LastRSSI, *i.LastSNR)
		}
		fmt.Fprintln(tw, line)
	}
	fmt.Fprintf(tw, "peers\t%d heard\n", len(st.Peers))
	for _, p := range st.Peers {
		line := fmt.Sprintf("\t%s %s", shortHex(p.Identity), p.Name)
		if p.Interface != "" {
			line += fmt.Sprintf(" via %s, %d hop(s)", p.Interface, p.Hops)
		}
		if !p.LastSeen.IsZero() {
			line += ", last seen " + p.LastSeen.Format(time.RFC3339)
		}
		if p.RSSI != nil {
			line += fmt.Sprintf(", RSSI %.0f dBm SNR %.1f dB", *p.RSSI, *p.SNR)
		}
		if p.Link != "" {
			line += ", link " + p.Link
			if p.LinkRTTMs > 0 {
				line += fmt.Sprintf(" (RTT %.0f ms, %d sent, %d received)", p.LinkRTTMs, p.LinkSent, p.LinkReceived)
			}
			if p.LinkError != "" {
				line += ": " + p.LinkError
			}
		}
		fmt.Fprintln(tw, line)
	}
	for _, r := range st.Reports {
		fmt.Fprintf(tw, "report\t%s\n", r)
	}
	tw.Flush()
}

func runRun(args []string, stdout, stderr io.Writer) int {
	fs, nf := newNodeFlags("run", stderr, false)
	cfgPath := fs.String("config", "", "configuration `FILE` (default DIR/meshlogd.conf)")
	level := fs.String("log-level", "", "override [node] log_level: debug, info, warn, error")
	if _, code := parseArgs(fs, args, 0, 0); code >= 0 {
		return code
	}
	dir, err := nf.dir()
	if err != nil {
		return fail(stderr, "run", err)
	}
	var cfg *config.Config
	if *cfgPath != "" {
		cfg, err = config.Load(*cfgPath)
	} else {
		cfg, err = node.LoadConfig(dir)
	}
	if err != nil {
		return fail(stderr, "run", err)
	}
	lvl := cfg.Node.LogLevel
	if *level != "" {
		lvl = *level
	}
	var sl slog.Level
	if err := sl.UnmarshalText([]byte(lvl)); err != nil {
		fmt.Fprintf(stderr, "meshlogd run: bad log level %q\n", lvl)
		return exitUsage
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: sl}))
	n, err := node.Open(node.Options{DataDir: dir, Config: cfg, Logger: logger, OpenRadio: openConfiguredRadio})
	if err != nil {
		return fail(stderr, "run", err)
	}
	ctx, stop := signalContext()
	defer stop()
	runErr := n.Run(ctx)
	closeErr := n.Close()
	if runErr != nil {
		return fail(stderr, "run", runErr)
	}
	if closeErr != nil {
		return fail(stderr, "run", closeErr)
	}
	logger.Info("stopped cleanly")
	return exitOK
}

// openConfiguredRadio opens the radio of an [interface] section.
func openConfiguredRadio(ifc config.Interface) (hal.Radio, error) {
	p := hal.Params{FrequencyHz: ifc.FrequencyHz, BandwidthHz: ifc.BandwidthHz, SpreadingFactor: ifc.SpreadingFactor,
		CodingRate: ifc.CodingRate, TxPowerDBm: ifc.TxPowerDBm}
	region, err := hal.ParseRegion(ifc.Region)
	if err != nil {
		return nil, err
	}
	if err := p.Validate(region); err != nil {
		return nil, err
	}
	switch ifc.Type {
	case config.TypeRNode:
		if openRNodeRadio == nil {
			return nil, errors.New("this build has no RNode support")
		}
		return openRNodeRadio(ifc.Port, p)
	case config.TypeSX127x:
		var prof board.Profile
		if ifc.Board == "custom" {
			spec := fmt.Sprintf("spi=%s,cs=%s,reset=%s,dio0=%s,dio1=%s", ifc.SPI, orNone(ifc.CS), orNone(ifc.Reset), ifc.DIO0, orNone(ifc.DIO1))
			prof, err = board.ParseCustom(spec)
		} else {
			prof, err = board.Lookup(ifc.Board)
		}
		if err != nil {
			return nil, err
		}
		return openBoardRadio(prof, p, region)
	}
	return nil, fmt.Errorf("interface type %q is not a radio", ifc.Type)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
