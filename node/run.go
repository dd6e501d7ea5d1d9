package node

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/node/airtime"
	"github.com/meshlogd/meshlogd/node/config"
	"github.com/meshlogd/meshlogd/node/control"
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/groupwire"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/rns/transport"
)

// AnnounceInterval is how often the node re-announces its SINGLE
// destination. Reticulum transport nodes throttle destinations that
// announce more often than hourly; frontier changes travel in sync
// traffic, not in announces.
const AnnounceInterval = 6 * time.Hour

// runtimeState is what exists only while Run is active.
type runtimeState struct {
	group  *groupwire.Wire
	single *rns.Destination
	stack  *transport.Stack
	links  *linkManager
	wake   chan struct{}
	sent   chan sentNote // messages that went on air (gossip AwaitSent)

	mu     sync.Mutex
	ifaces map[transport.Interface]*ifaceInfo // up interfaces
	radios []*radioPort
	peers  map[rns.Hash]*PeerStatus
	signal map[rns.Hash]signal // last radio signal of an announce, by destination
}

type ifaceInfo struct {
	name    string
	typ     string
	sync    string     // config.SyncGroup, SyncLinks or SyncBoth
	radio   *radioPort // nil for TCP
	since   time.Time
	sent    uint64
	sendErr uint64
}

type signal struct {
	rssi, snr float64
	iface     string
}

// Run starts the node's interfaces, the control socket and the engine's
// timers, and serves until ctx is cancelled (SIGTERM/SIGINT in the
// daemon). It returns after everything it started has stopped; the caller
// then calls Close. An interface that cannot be opened (a missing radio, a
// port already in use) is an error at start.
func (n *Node) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rt := &runtimeState{
		wake:   make(chan struct{}, 1),
		sent:   make(chan sentNote, 1024),
		ifaces: map[transport.Interface]*ifaceInfo{},
		peers:  map[rns.Hash]*PeerStatus{},
		signal: map[rns.Hash]signal{},
	}
	rt.links = newLinkManager(n, rt)
	founder, err := n.founderIdentity()
	if err != nil {
		return err
	}
	if rt.group, err = groupwire.New(founder, n.ds.GroupKey, n.opts.Rand); err != nil {
		return err
	}
	if rt.single, err = rns.NewDestination(n.id, rns.In, rns.Single, "meshlogd", "node"); err != nil {
		return err
	}
	ports, err := n.openPorts(rt)
	if err != nil {
		return err
	}
	rt.stack = transport.NewStack(transport.StackConfig{Router: transport.Config{Rand: n.opts.Rand}, Now: n.clock.now})
	if err := rt.stack.Do(func(r *transport.Router, now time.Time) error {
		return r.Register(rt.single, transport.LocalOptions{AcceptLinks: true})
	}); err != nil {
		return err
	}
	sock := n.cfg.Control.Socket
	if !filepath.IsAbs(sock) {
		sock = filepath.Join(n.dir, sock)
	}
	srv, err := control.Listen(sock, control.HandlerFunc(n.handleControl))
	if err != nil {
		for _, p := range rt.radios {
			p.radio.Close()
		}
		return err
	}

	n.mu.Lock()
	n.runtime = rt
	n.outbox = rt.dispatch
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.runtime, n.outbox = nil, nil
		n.mu.Unlock()
	}()

	var wg sync.WaitGroup
	stackErr := make(chan error, 1)
	wg.Add(5)
	go func() { defer wg.Done(); rt.links.run(ctx) }()
	go func() { defer wg.Done(); stackErr <- rt.stack.Run(ctx, ports...) }()
	go func() { defer wg.Done(); _ = srv.Serve(ctx) }()
	go func() { defer wg.Done(); n.watchEvents(ctx, rt) }()
	go func() { defer wg.Done(); n.announceLoop(ctx, rt) }()
	n.log.Info("node running", "identity", n.id.Hash().String(), "dataset", n.eng.Log().Name(), "interfaces", len(ports))

	n.tickLoop(ctx, rt)
	srv.Close()
	cancel()
	wg.Wait()
	err = <-stackErr
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	n.mu.Lock()
	fatal := n.fatal
	n.mu.Unlock()
	if fatal != nil {
		return fatal
	}
	return err
}

func (n *Node) founderIdentity() (*rns.Identity, error) {
	id, ok := n.eng.Log().Identity(n.eng.Log().Founder())
	if !ok {
		return nil, errors.New("node: founder identity unknown")
	}
	return id, nil
}

// openPorts turns the configured interfaces into transport ports, each
// wrapped so that the dataset's GROUP traffic reaches the engine.
func (n *Node) openPorts(rt *runtimeState) ([]transport.Port, error) {
	var ports []transport.Port
	closeAll := func() {
		for _, p := range rt.radios {
			p.radio.Close()
		}
	}
	for _, ifc := range n.cfg.Interfaces {
		if !ifc.Enabled {
			continue
		}
		var ifac *rns.IFAC
		if ifc.NetworkName != "" || ifc.Passphrase != "" {
			size := ifc.IFACSize
			if size == 0 {
				size = 16
				if ifc.IsRadio() {
					size = 8
				}
			}
			var err error
			if ifac, err = rns.NewIFAC(ifc.NetworkName, ifc.Passphrase, size); err != nil {
				closeAll()
				return nil, fmt.Errorf("interface %s: %w", ifc.Name, err)
			}
		}
		var p transport.Port
		switch ifc.Type {
		case config.TypeSX127x, config.TypeRNode:
			if n.opts.OpenRadio == nil {
				closeAll()
				return nil, fmt.Errorf("interface %s: no radio support in this build", ifc.Name)
			}
			radio, err := n.opts.OpenRadio(ifc)
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("interface %s: %w", ifc.Name, err)
			}
			rp, err := newRadioPort(n, ifc, radio, ifac)
			if err != nil {
				radio.Close()
				closeAll()
				return nil, fmt.Errorf("interface %s: %w", ifc.Name, err)
			}
			rt.radios = append(rt.radios, rp)
			p = rp
		case config.TypeTCPClient:
			p = transport.WithIFAC(transport.NewTCPClient(transport.TCPClientConfig{Addr: ifc.Target, Name: ifc.Name}), ifac)
		case config.TypeTCPServer:
			srv, err := transport.ListenTCP(transport.TCPServerConfig{Addr: ifc.Listen, Name: ifc.Name})
			if err != nil {
				closeAll()
				return nil, fmt.Errorf("interface %s: %w", ifc.Name, err)
			}
			p = transport.WithIFAC(srv, ifac)
		default:
			closeAll()
			return nil, fmt.Errorf("interface %s: unknown type %q", ifc.Name, ifc.Type)
		}
		ports = append(ports, &interceptPort{inner: p, n: n, rt: rt, typ: ifc.Type, name: ifc.Name, sync: ifc.SyncMode()})
	}
	return ports, nil
}

// interceptPort hands the dataset's GROUP packets to the engine and all
// other Reticulum traffic to the router.
type interceptPort struct {
	inner transport.Port
	n     *Node
	rt    *runtimeState
	typ   string
	name  string
	sync  string // config.SyncGroup, SyncLinks or SyncBoth
}

func (p *interceptPort) Run(ctx context.Context, sink transport.Sink) error {
	return p.inner.Run(ctx, &interceptSink{p: p, next: sink})
}

type interceptSink struct {
	p    *interceptPort
	next transport.Sink
}

func (s *interceptSink) InterfaceUp(ifc transport.Interface) {
	rt := s.p.rt
	info := &ifaceInfo{name: ifc.Name(), typ: s.p.typ, sync: s.p.sync, since: s.p.n.clock.now()}
	if rp, ok := s.p.inner.(*radioPort); ok {
		info.radio = rp
	}
	rt.mu.Lock()
	rt.ifaces[ifc] = info
	rt.mu.Unlock()
	s.next.InterfaceUp(ifc)
	rt.poke() // a new neighbour: let the engine speak soon
	if s.p.typ == config.TypeTCPClient {
		rt.links.uplinkUp() // a reconnected uplink: let peers behind it find us
	}
}

func (s *interceptSink) InterfaceDown(ifc transport.Interface) {
	rt := s.p.rt
	rt.mu.Lock()
	delete(rt.ifaces, ifc)
	rt.mu.Unlock()
	s.next.InterfaceDown(ifc)
	rt.links.interfaceDown(ifc.Name())
}

func (s *interceptSink) Inbound(raw []byte, from transport.Interface) {
	if s.p.sync == config.SyncLinks {
		// No GROUP sync on this interface: its packets go to the router,
		// which has no such destination and drops them.
	} else if payload, err := s.p.rt.group.Unwrap(raw); err == nil {
		s.p.n.step(payload)
		return
	}
	s.next.Inbound(raw, from)
}

func (rt *runtimeState) poke() {
	select {
	case rt.wake <- struct{}{}:
	default:
	}
}

// step feeds a received sync message to the engine.
func (n *Node) step(payload []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.store == nil {
		return
	}
	if err := n.eng.Step(gossip.Broadcast, payload, n.nowMs()); err != nil {
		n.log.Debug("sync message rejected", "err", err)
	}
	if err := n.flushLocked(); err != nil {
		n.log.Warn("persisting received events", "err", err)
	}
	if n.runtime != nil {
		n.runtime.poke()
	}
}

// broadcast sends the engine's broadcast messages on every up interface
// whose sync mode includes GROUP: radios through their airtime schedulers,
// TCP directly. Called with n.mu held.
//
// With gossip's AwaitSent (enabled when the node has radios), the engine
// keeps at most one data message per channel in the transmit queues and
// paces the next one after the previous went on air: the message is
// reported sent (rt.sent, handled by the tick loop) once every radio copy
// has been transmitted or dropped by its scheduler, or at once when no
// radio carries it.
func (rt *runtimeState) broadcast(msgs []gossip.Message) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	for _, m := range msgs {
		if !m.To.IsBroadcast() {
			rt.noteSent(m) // peer messages go to links (dispatch), which send at once
			continue
		}
		raw, err := rt.group.Wrap(m.Payload)
		if err != nil {
			rt.noteSent(m)
			continue
		}
		prio := priorityOf(m.Payload)
		var pending *sentTracker
		if prio != airtime.Beacon {
			pending = &sentTracker{rt: rt, m: m}
			pending.left.Add(1) // held until every copy is queued
		}
		for ifc, info := range rt.ifaces {
			if info.sync == config.SyncLinks {
				continue
			}
			var err error
			if info.radio != nil {
				err = info.radio.enqueue(raw, prio, pending)
			} else {
				err = ifc.Send(raw)
			}
			if err != nil {
				info.sendErr++
			} else {
				info.sent++
			}
		}
		pending.done()
	}
}

// sentNote says that a message went on air (or will not).
type sentNote struct {
	m  gossip.Message
	at time.Time
}

// sentTracker counts the radio copies of one message still queued.
type sentTracker struct {
	rt   *runtimeState
	m    gossip.Message
	left atomic.Int32
}

func (t *sentTracker) add() {
	if t != nil {
		t.left.Add(1)
	}
}

// done marks one copy transmitted or dropped; the last one reports the
// message sent. It never blocks: it may run inside a scheduler call.
func (t *sentTracker) done() {
	if t != nil && t.left.Add(-1) == 0 {
		t.rt.noteSent(t.m)
	}
}

func (rt *runtimeState) noteSent(m gossip.Message) {
	select {
	case rt.sent <- sentNote{m: m, at: time.Now()}:
	default: // the engine falls back on its AwaitSent timeout
	}
}

func priorityOf(payload []byte) airtime.Priority {
	if len(payload) == 0 {
		return airtime.Control
	}
	switch gossip.Kind(payload[0]) {
	case gossip.KindBeacon:
		return airtime.Beacon
	case gossip.KindFrontier:
		return airtime.Control
	}
	return airtime.Data
}

// tickLoop drives the engine's timers until ctx is done.
func (n *Node) tickLoop(ctx context.Context, rt *runtimeState) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		var sent []sentNote
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-rt.wake:
		case s := <-rt.sent:
			sent = append(sent, s)
		}
		n.mu.Lock()
		if n.fatal != nil {
			n.mu.Unlock()
			return
		}
		now := n.nowMs()
	drain:
		for {
			select {
			case s := <-rt.sent:
				sent = append(sent, s)
			default:
				break drain
			}
		}
		for _, s := range sent {
			n.eng.Sent(s.m, now)
		}
		n.eng.Tick(now)
		if err := n.flushLocked(); err != nil {
			n.log.Warn("flush", "err", err)
		}
		next := n.eng.NextDeadline()
		n.mu.Unlock()
		d := time.Duration(next-now) * time.Millisecond
		if d < 10*time.Millisecond {
			d = 10 * time.Millisecond
		}
		if d > 5*time.Second {
			d = 5 * time.Second
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(d)
	}
}

// announceLoop announces the node's SINGLE destination shortly after start
// (once interfaces had a moment to connect) and then every AnnounceInterval.
func (n *Node) announceLoop(ctx context.Context, rt *runtimeState) {
	appData := n.announceAppData()
	delay := 2 * time.Second
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		err := rt.stack.Do(func(r *transport.Router, now time.Time) error {
			return r.Announce(rt.single.Hash(), appData, now)
		})
		if err != nil {
			n.log.Warn("announce", "err", err)
		}
		delay = AnnounceInterval
	}
}

// announceAppData is "meshlogd" + the dataset tag + the node name, so that
// peers of the same dataset recognise each other in announces.
func (n *Node) announceAppData() []byte {
	tag := n.eng.Tag()
	b := append([]byte("meshlogd:"), fmt.Sprintf("%x", tag[:])...)
	if n.cfg.Node.Name != "" {
		b = append(b, ':')
		b = append(b, n.cfg.Node.Name...)
	}
	return b
}

// watchEvents records peers of this dataset heard in announces.
func (n *Node) watchEvents(ctx context.Context, rt *runtimeState) {
	prefix := string(n.announceAppData()[:len("meshlogd:")+2*len(n.eng.Tag())])
	for ev := range rt.stack.Events() {
		rt.links.onEvent(ev)
		a, ok := ev.(transport.AnnounceEvent)
		if !ok || !a.Valid || !strings.HasPrefix(string(a.AppData), prefix) {
			continue
		}
		if a.Destination == rt.single.Hash() || (a.Identity != nil && a.Identity.Hash() == n.id.Hash()) {
			continue // our own announce echoed back by a transport node
		}
		rt.mu.Lock()
		p := rt.peers[a.Destination]
		if p == nil {
			if len(rt.peers) >= 256 {
				rt.evictOldestPeer()
			}
			p = &PeerStatus{Destination: a.Destination.String()}
			rt.peers[a.Destination] = p
		}
		if a.Identity != nil {
			p.Identity = a.Identity.Hash().String()
		}
		if name := strings.SplitN(string(a.AppData), ":", 3); len(name) == 3 {
			p.Name = name[2]
		}
		p.Hops, p.Interface, p.LastSeen = a.Hops, a.Interface, n.clock.now().UTC()
		if s, ok := rt.signal[a.Destination]; ok {
			r, sn := s.rssi, s.snr
			p.RSSI, p.SNR = &r, &sn
		}
		rt.mu.Unlock()
	}
}

func (rt *runtimeState) evictOldestPeer() {
	var oldest rns.Hash
	var t time.Time
	for h, p := range rt.peers {
		if t.IsZero() || p.LastSeen.Before(t) {
			oldest, t = h, p.LastSeen
		}
	}
	delete(rt.peers, oldest)
}

// noteSignal remembers the radio signal of an announce so that the peer
// table can show RSSI/SNR.
func (rt *runtimeState) noteSignal(raw []byte, pkt hal.Packet, iface string) {
	p, err := rns.ParsePacket(raw)
	if err != nil || p.Type != rns.Announce {
		return
	}
	rt.mu.Lock()
	if len(rt.signal) >= 1024 {
		for k := range rt.signal {
			delete(rt.signal, k)
			break
		}
	}
	rt.signal[p.Destination] = signal{rssi: pkt.RSSI, snr: pkt.SNR, iface: iface}
	rt.mu.Unlock()
}

func sortedPeers(m map[rns.Hash]*PeerStatus) []PeerStatus {
	out := make([]PeerStatus, 0, len(m))
	for _, p := range m {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Destination < out[j].Destination })
	return out
}
