package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/rns/transport"
)

func init() {
	register(command{
		Name:    "rns listen",
		Summary: "connect to a Reticulum TCP interface and print every announce heard (JSON lines)",
		Run:     runRNSListen,
	})
	register(command{
		Name:    "rns announce",
		Summary: "announce a SINGLE destination; with --serve accept links and echo their packets",
		Run:     runRNSAnnounce,
	})
	register(command{
		Name:    "rns link",
		Summary: "open a link to a destination, send text, print the reply, close",
		Run:     runRNSLink,
	})
}

// rnsNet holds the interface flags shared by the rns tools.
type rnsNet struct {
	tcp, listen             *string
	networkName, passphrase *string
	ifacSize                *int
}

func addNetFlags(fs *flag.FlagSet) *rnsNet {
	return &rnsNet{
		tcp:         fs.String("tcp", "", "connect to a Reticulum TCP server interface at `HOST:PORT` (e.g. rnsd's TCPServerInterface); reconnects with backoff"),
		listen:      fs.String("listen", "", "also accept Reticulum TCP clients on `HOST:PORT` (TCPServerInterface-compatible)"),
		networkName: fs.String("network-name", "", "IFAC network `NAME` of the interface(s) (as network_name in the reference's config)"),
		passphrase:  fs.String("passphrase", "", "IFAC `PASSPHRASE` of the interface(s) (as passphrase in the reference's config)"),
		ifacSize:    fs.Int("ifac-size", rns.IFACSizeTCP, "IFAC size in `BYTES` (the reference's ifac_size is in bits: 128 bits = 16 bytes)"),
	}
}

// ports builds the configured interfaces; client is the TCP client, if any.
func (n *rnsNet) ports(stderr io.Writer) (ports []transport.Port, client *transport.TCPClient, server *transport.TCPServer, err error) {
	if *n.tcp == "" && *n.listen == "" {
		return nil, nil, nil, errors.New("one of --tcp or --listen is required")
	}
	var ifac *rns.IFAC
	if *n.networkName != "" || *n.passphrase != "" {
		if ifac, err = rns.NewIFAC(*n.networkName, *n.passphrase, *n.ifacSize); err != nil {
			return nil, nil, nil, err
		}
	}
	extra := rns.IFACSizeTCP
	if ifac != nil {
		extra = ifac.Size()
	}
	if *n.tcp != "" {
		addr := *n.tcp
		client = transport.NewTCPClient(transport.TCPClientConfig{Addr: addr, IFACSize: extra,
			OnDialError: func(err error, retryIn time.Duration) {
				fmt.Fprintf(stderr, "meshlogd rns: %v; retrying in %v\n", err, retryIn.Round(time.Millisecond))
			}})
		ports = append(ports, transport.WithIFAC(client, ifac))
	}
	if *n.listen != "" {
		if server, err = transport.ListenTCP(transport.TCPServerConfig{Addr: *n.listen, IFACSize: extra}); err != nil {
			return nil, nil, nil, err
		}
		ports = append(ports, transport.WithIFAC(server, ifac))
	}
	return ports, client, server, nil
}

// rnsLockedWriter serialises writes from the tool's goroutines.
type rnsLockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *rnsLockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// rnsSession is a running stack for one tool invocation.
type rnsSession struct {
	stack  *transport.Stack
	client *transport.TCPClient
	server *transport.TCPServer
	ctx    context.Context
	cancel context.CancelFunc
	done   chan error
	out    io.Writer
	ports  []transport.Port
}

// startStack runs a stack on the configured ports until the returned
// session is stopped or SIGINT/SIGTERM arrives.
func startStack(n *rnsNet, stdout, stderr io.Writer, setup func(*transport.Router) error) (*rnsSession, error) {
	ports, client, server, err := n.ports(stderr)
	if err != nil {
		return nil, err
	}
	st := transport.NewStack(transport.StackConfig{})
	if setup != nil {
		if err := st.Do(func(r *transport.Router, _ time.Time) error { return setup(r) }); err != nil {
			if server != nil {
				server.Close()
			}
			return nil, err
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	s := &rnsSession{stack: st, client: client, server: server, ctx: ctx, cancel: cancel, done: make(chan error, 1), out: stdout, ports: ports}
	go func() { s.done <- st.Run(ctx, ports...) }()
	return s, nil
}

// stop shuts the stack down after giving queued packets time to leave.
func (s *rnsSession) stop() error {
	if s.client != nil {
		s.client.Flush(s.ctx, 2*time.Second)
	}
	if s.server != nil {
		s.server.Flush(s.ctx, 2*time.Second)
	}
	s.cancel()
	err := <-s.done
	for range s.stack.Events() {
	}
	return err
}

// printStats prints one line with the router's counters and the packets
// dropped for a wrong or missing interface access code.
func (s *rnsSession) printStats() {
	var st transport.Stats
	s.stack.Do(func(r *transport.Router, _ time.Time) error { st = r.Stats(); return nil })
	var rejected int64
	for _, p := range s.ports {
		rejected += transport.IFACRejected(p)
	}
	printJSON(s.out, map[string]any{
		"event": "stats", "received": st.Received, "sent": st.Sent, "malformed": st.Malformed,
		"duplicates": st.Duplicates, "filtered": st.Filtered, "announces_valid": st.AnnouncesValid,
		"announces_invalid": st.AnnouncesInvalid, "ifac_rejected": rejected,
	})
}

// wait returns the next event, or false when the context ends or the
// deadline passes (zero deadline: none).
func (s *rnsSession) wait(deadline time.Time) (transport.Event, bool) {
	var timeout <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case e, ok := <-s.stack.Events():
		return e, ok
	case <-s.ctx.Done():
		return nil, false
	case <-timeout:
		return nil, false
	}
}

func rnsHex(b []byte) string { return hex.EncodeToString(b) }

// announceJSON is the line printed for an announce.
func announceJSON(e transport.AnnounceEvent) map[string]any {
	m := map[string]any{
		"event":             "announce",
		"destination":       e.Destination.String(),
		"aspects_name_hash": hex.EncodeToString(e.NameHash[:]),
		"app_data":          rnsHex(e.AppData),
		"hops":              e.Hops,
		"valid":             e.Valid,
		"path_updated":      e.PathUpdated,
		"path_response":     e.PathResponse,
		"interface":         e.Interface,
		"identity":          "", // unknown when the announce is too short to carry a key
	}
	if len(e.PublicKey) == rns.KeySize {
		m["identity"] = rns.TruncatedHash(e.PublicKey).String()
		m["public_key"] = hex.EncodeToString(e.PublicKey)
	}
	if e.TransportID != (rns.Hash{}) {
		m["transport_id"] = e.TransportID.String()
	}
	if e.Err != nil {
		m["error"] = e.Err.Error()
	}
	if rnsPrintable(e.AppData) {
		m["app_data_text"] = string(e.AppData)
	}
	return m
}

func rnsPrintable(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, r := range string(b) {
		if r == 0xFFFD || (r < 0x20 && r != '\t') {
			return false
		}
	}
	return true
}

func linkJSON(event string, li transport.LinkInfo) map[string]any {
	m := map[string]any{
		"event":       event,
		"link_id":     li.ID.String(),
		"destination": li.Destination.String(),
		"initiator":   li.Initiator,
		"status":      li.Status.String(),
		"rtt_ms":      float64(li.RTT.Microseconds()) / 1000,
		"mdu":         li.MDU,
		"interface":   li.Interface,
	}
	return m
}

func interfaceJSON(e transport.InterfaceEvent) map[string]any {
	return map[string]any{"event": "interface", "interface": e.Interface, "up": e.Up}
}

func runRNSListen(args []string, stdout, stderr io.Writer) int {
	stdout, stderr = &rnsLockedWriter{w: stdout}, &rnsLockedWriter{w: stderr}
	fs := newFlags("rns listen", stderr)
	n := addNetFlags(fs)
	count := fs.Int("count", 0, "exit after `N` announces (0: run until interrupted)")
	duration := fs.Duration("duration", 0, "exit after `D` (0: run until interrupted)")
	if code := rnsParseFlags(fs, args); code >= 0 {
		return code
	}
	s, err := startStack(n, stdout, stderr, nil)
	if err != nil {
		fmt.Fprintln(stderr, "meshlogd rns listen:", err)
		return exitUsage
	}
	var deadline time.Time
	if *duration > 0 {
		deadline = time.Now().Add(*duration)
	}
	seen := 0
	for *count == 0 || seen < *count {
		e, ok := s.wait(deadline)
		if !ok {
			break
		}
		switch e := e.(type) {
		case transport.AnnounceEvent:
			printJSON(stdout, announceJSON(e))
			seen++
		case transport.InterfaceEvent:
			printJSON(stdout, interfaceJSON(e))
		}
	}
	s.printStats()
	if err := s.stop(); err != nil {
		fmt.Fprintln(stderr, "meshlogd rns listen:", err)
		return exitFailure
	}
	return exitOK
}

// loadDestination loads the identity file and builds the inbound SINGLE
// destination app.aspects.
func loadDestination(file, app, aspects string) (*rns.Destination, error) {
	if file == "" {
		return nil, errors.New("--identity is required")
	}
	if app == "" {
		return nil, errors.New("--app is required")
	}
	id, err := rns.LoadIdentityFile(file)
	if err != nil {
		return nil, err
	}
	return rns.NewDestination(id, rns.In, rns.Single, app, rnsSplitAspects(aspects)...)
}

func runRNSAnnounce(args []string, stdout, stderr io.Writer) int {
	stdout, stderr = &rnsLockedWriter{w: stdout}, &rnsLockedWriter{w: stderr}
	fs := newFlags("rns announce", stderr)
	n := addNetFlags(fs)
	idFile := fs.String("identity", "", "identity file `F` (64-byte private key)")
	app := fs.String("app", "", "application `NAME` of the destination")
	aspects := fs.String("aspects", "", "comma-separated `A,B` aspects of the destination")
	appData := fs.String("app-data", "", "app data `TEXT` carried by the announce")
	serve := fs.Bool("serve", false, "stay up, accept links and echo every link data packet back")
	interval := fs.Duration("interval", 0, "with --serve, re-announce every `D` (0: announce once; transport nodes throttle destinations announcing more often than hourly)")
	if code := rnsParseFlags(fs, args); code >= 0 {
		return code
	}
	dest, err := loadDestination(*idFile, *app, *aspects)
	if err != nil {
		fmt.Fprintln(stderr, "meshlogd rns announce:", err)
		return exitUsage
	}
	s, err := startStack(n, stdout, stderr, func(r *transport.Router) error {
		return r.Register(dest, transport.LocalOptions{AcceptLinks: *serve})
	})
	if err != nil {
		fmt.Fprintln(stderr, "meshlogd rns announce:", err)
		return exitUsage
	}
	var data []byte
	if *appData != "" {
		data = []byte(*appData)
	}
	announce := func() error {
		return s.stack.Do(func(r *transport.Router, now time.Time) error { return r.Announce(dest.Hash(), data, now) })
	}
	// A reference TCPClientInterface that connects to a server drops the
	// connection if a packet arrives before Reticulum finished configuring
	// it (docs/interop.md), so on server sub-interfaces the first announce
	// waits a moment.
	settle := time.Duration(0)
	if *n.listen != "" {
		settle = time.Second
	}
	var announceAt, giveUpAt time.Time
	if !*serve {
		giveUpAt = time.Now().Add(30 * time.Second)
	}
	announced := false
	code := exitOK
	for {
		deadline := announceAt
		if deadline.IsZero() || (!giveUpAt.IsZero() && giveUpAt.Before(deadline)) {
			deadline = giveUpAt
		}
		e, ok := s.wait(deadline)
		if s.ctx.Err() != nil {
			break
		}
		now := time.Now()
		if !announceAt.IsZero() && !now.Before(announceAt) {
			if err := announce(); err != nil {
				fmt.Fprintln(stderr, "meshlogd rns announce:", err)
				code = exitFailure
				break
			}
			announced = true
			printJSON(stdout, map[string]any{
				"event":       "announced",
				"destination": dest.Hash().String(),
				"identity":    dest.Identity().Hash().String(),
				"name":        dest.Name(),
				"app_data":    hex.EncodeToString(data),
			})
			if !*serve {
				break
			}
			announceAt = time.Time{}
			if *interval > 0 {
				announceAt = now.Add(*interval)
			}
		}
		if !announced && announceAt.IsZero() && !giveUpAt.IsZero() && !now.Before(giveUpAt) {
			fmt.Fprintln(stderr, "meshlogd rns announce: no interface came up within 30s")
			code = exitFailure
			break
		}
		if !ok {
			continue
		}
		switch e := e.(type) {
		case transport.InterfaceEvent:
			printJSON(stdout, interfaceJSON(e))
			if e.Up && !announced && announceAt.IsZero() {
				announceAt = now.Add(settle)
			}
		case transport.LinkEstablishedEvent:
			printJSON(stdout, linkJSON("link_established", e.Link))
		case transport.LinkClosedEvent:
			m := linkJSON("link_closed", e.Link)
			m["reason"] = e.Reason.String()
			printJSON(stdout, m)
		case transport.LinkIdentifiedEvent:
			printJSON(stdout, map[string]any{"event": "link_identified", "link_id": e.LinkID.String(), "identity": e.Identity.Hash().String()})
		case transport.LinkDataEvent:
			err := s.stack.Do(func(r *transport.Router, now time.Time) error {
				_, err := r.LinkSend(e.LinkID, e.Data, now)
				return err
			})
			m := map[string]any{"event": "link_data", "link_id": e.LinkID.String(), "data": hex.EncodeToString(e.Data), "echoed": err == nil}
			if rnsPrintable(e.Data) {
				m["text"] = string(e.Data)
			}
			if err != nil {
				m["error"] = err.Error()
			}
			printJSON(stdout, m)
		case transport.AnnounceEvent:
			if *serve && e.Valid && e.PathUpdated {
				printJSON(stdout, announceJSON(e))
			}
		}
	}
	if err := s.stop(); err != nil {
		fmt.Fprintln(stderr, "meshlogd rns announce:", err)
		return exitFailure
	}
	return code
}

func runRNSLink(args []string, stdout, stderr io.Writer) int {
	stdout, stderr = &rnsLockedWriter{w: stdout}, &rnsLockedWriter{w: stderr}
	fs := newFlags("rns link", stderr)
	n := addNetFlags(fs)
	idFile := fs.String("identity", "", "identity file `F`; with --identify it is revealed to the destination over the link")
	identify := fs.Bool("identify", false, "reveal --identity to the destination (LINKIDENTIFY) once the link is up")
	destHex := fs.String("dest", "", "destination hash `HEX` (32 hex digits)")
	text := fs.String("send", "", "`TEXT` to send over the link")
	timeout := fs.Duration("timeout", 30*time.Second, "give up after `D` (counted from the start, hold included)")
	hold := fs.Duration("hold", 0, "keep the established link idle for `D` before sending (keepalives flow meanwhile)")
	if code := rnsParseFlags(fs, args); code >= 0 {
		return code
	}
	raw, err := hex.DecodeString(strings.TrimSpace(*destHex))
	if err != nil || len(raw) != rns.TruncatedHashLength {
		fmt.Fprintln(stderr, "meshlogd rns link: --dest must be 32 hex digits")
		return exitUsage
	}
	dest := rns.Hash(raw)
	var me *rns.Identity
	if *idFile != "" {
		if me, err = rns.LoadIdentityFile(*idFile); err != nil {
			fmt.Fprintln(stderr, "meshlogd rns link:", err)
			return exitUsage
		}
	} else if *identify {
		fmt.Fprintln(stderr, "meshlogd rns link: --identify needs --identity")
		return exitUsage
	}
	s, err := startStack(n, stdout, stderr, nil)
	if err != nil {
		fmt.Fprintln(stderr, "meshlogd rns link:", err)
		return exitUsage
	}
	code := linkSession(s, dest, []byte(*text), me, *identify, *hold, time.Now().Add(*timeout), stdout, stderr)
	if code != exitOK {
		s.printStats()
	}
	if err := s.stop(); err != nil && code == exitOK {
		fmt.Fprintln(stderr, "meshlogd rns link:", err)
		code = exitFailure
	}
	return code
}

// linkSession waits for a path (requesting it), opens the link, sends
// payload, prints the reply and closes the link.
func linkSession(s *rnsSession, dest rns.Hash, payload []byte, me *rns.Identity, identify bool, hold time.Duration, deadline time.Time, stdout, stderr io.Writer) int {
	const (
		waitPath = iota
		waitLink
		waitHold
		waitReply
	)
	state := waitPath
	var linkID rns.Hash
	var sendAt time.Time
	send := func() error {
		var info transport.LinkInfo
		err := s.stack.Do(func(r *transport.Router, now time.Time) error {
			info, _ = r.LinkInfo(linkID)
			_, err := r.LinkSend(linkID, payload, now)
			return err
		})
		if err != nil {
			return err
		}
		if hold > 0 {
			m := linkJSON("held", info)
			m["tx_packets"], m["rx_packets"], m["keepalive_s"] = info.TxPackets, info.RxPackets, info.Keepalive.Seconds()
			printJSON(stdout, m)
		}
		printJSON(stdout, map[string]any{"event": "sent", "link_id": linkID.String(), "data": hex.EncodeToString(payload)})
		state = waitReply
		return nil
	}
	var lastRequest time.Time
	ifUp := false
	fail := func(msg string) int {
		printJSON(stdout, map[string]any{"event": "error", "destination": dest.String(), "error": msg})
		return exitFailure
	}
	haveIdentity := func() bool {
		ok := false
		s.stack.Do(func(r *transport.Router, now time.Time) error {
			_, _, ok = r.Recall(dest)
			if ok {
				_, ok = r.Path(dest, now)
			}
			return nil
		})
		return ok
	}
	open := func() error {
		return s.stack.Do(func(r *transport.Router, now time.Time) error {
			id, err := r.OpenLink(dest, now)
			linkID = id
			return err
		})
	}
	// poll opens the link once the destination's identity and path are
	// known, and otherwise (re-)requests the path every 5 s.
	poll := func() error {
		if state != waitPath || !ifUp || time.Since(lastRequest) < 5*time.Second {
			return nil
		}
		if haveIdentity() {
			if err := open(); err != nil {
				return err
			}
			state = waitLink
			printJSON(stdout, map[string]any{"event": "link_request", "link_id": linkID.String(), "destination": dest.String()})
			return nil
		}
		lastRequest = time.Now()
		s.stack.Do(func(r *transport.Router, now time.Time) error { return r.RequestPath(dest, now) })
		printJSON(stdout, map[string]any{"event": "path_request", "destination": dest.String()})
		return nil
	}
	for {
		// Re-request the path every 5 s while waiting for it.
		tick := time.Now().Add(time.Second)
		if tick.After(deadline) {
			tick = deadline
		}
		e, ok := s.wait(tick)
		if s.ctx.Err() != nil {
			return fail("interrupted")
		}
		if !ok && !time.Now().Before(deadline) {
			switch state {
			case waitPath:
				return fail("no path to destination (no announce heard)")
			case waitLink:
				return fail("link not established")
			case waitHold:
				return fail("timeout while holding the link")
			default:
				return fail("no reply")
			}
		}
		if err := poll(); err != nil {
			return fail(err.Error())
		}
		if state == waitHold && !time.Now().Before(sendAt) {
			if err := send(); err != nil {
				return fail(err.Error())
			}
		}
		if !ok {
			continue
		}
		switch e := e.(type) {
		case transport.InterfaceEvent:
			printJSON(stdout, interfaceJSON(e))
			ifUp = e.Up
			if e.Up {
				lastRequest = time.Time{} // ask at once on a new connection
				if err := poll(); err != nil {
					return fail(err.Error())
				}
			}
		case transport.AnnounceEvent:
			if e.Destination != dest {
				continue
			}
			printJSON(stdout, announceJSON(e))
			if state == waitPath && e.Valid {
				if err := open(); err != nil {
					return fail(err.Error())
				}
				state = waitLink
				printJSON(stdout, map[string]any{"event": "link_request", "link_id": linkID.String(), "destination": dest.String()})
			}
		case transport.LinkEstablishedEvent:
			if e.Link.ID != linkID {
				continue
			}
			printJSON(stdout, linkJSON("link_established", e.Link))
			if identify {
				if err := s.stack.Do(func(r *transport.Router, now time.Time) error { return r.IdentifyLink(linkID, me, now) }); err != nil {
					return fail(err.Error())
				}
			}
			if hold > 0 {
				state, sendAt = waitHold, time.Now().Add(hold)
				continue
			}
			if err := send(); err != nil {
				return fail(err.Error())
			}
		case transport.LinkDataEvent:
			if e.LinkID != linkID {
				continue
			}
			m := map[string]any{"event": "reply", "link_id": linkID.String(), "data": hex.EncodeToString(e.Data)}
			if rnsPrintable(e.Data) {
				m["text"] = string(e.Data)
			}
			printJSON(stdout, m)
			s.stack.Do(func(r *transport.Router, now time.Time) error { return r.CloseLink(linkID, now) })
			printJSON(stdout, map[string]any{"event": "link_closed", "link_id": linkID.String(), "reason": transport.ReasonInitiatorClosed.String()})
			return exitOK
		case transport.LinkClosedEvent:
			if e.Link.ID != linkID {
				continue
			}
			return fail("link closed: " + e.Reason.String())
		}
	}
}
