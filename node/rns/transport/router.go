package transport

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

// Router defaults (RNS/Transport.py unless noted).
const (
	// DefaultPathExpiry is how long a path learnt from an announce lives
	// (PATHFINDER_E, 7 days).
	DefaultPathExpiry = 7 * 24 * time.Hour
	// DefaultMaxPaths bounds the path table.
	DefaultMaxPaths = 4096
	// DefaultMaxLinks bounds concurrent links.
	DefaultMaxLinks = 64
	// DefaultLinkMTU is the link MTU meshlogd signals and accepts: the
	// radio MTU, so link packets fit every interface (link MDU 431).
	DefaultLinkMTU = rns.MTU
	// DefaultInterfaceGrace is how long paths through a downed interface
	// are kept in case it reconnects.
	DefaultInterfaceGrace = 2 * time.Minute
	// maxRandomBlobs is how many announce random hashes are kept per path
	// (MAX_RANDOM_BLOBS).
	maxRandomBlobs = 64
	// maxPendingReceipts bounds the proofs awaited for sent packets.
	maxPendingReceipts = 256
)

// Router errors. Inbound returns one of these (possibly wrapped) for every
// packet it drops, so tests and fuzzers can tell the reasons apart.
var (
	// ErrDuplicate: the packet hash was seen recently (replay or loop).
	ErrDuplicate = errors.New("transport: duplicate packet")
	// ErrFiltered: the reference's packet filter drops it (PLAIN/GROUP
	// beyond one hop, PLAIN/GROUP announces, transport for another node,
	// unsupported link contexts).
	ErrFiltered = errors.New("transport: packet filtered")
	// ErrUnknownDest: no local destination or link is addressed.
	ErrUnknownDest = errors.New("transport: no local destination or link for packet")
	// ErrUnknownIdentity: no announce has been heard for the destination.
	ErrUnknownIdentity = errors.New("transport: destination identity unknown (no announce heard)")
	// ErrUnknownInterface: the packet came from an interface never
	// reported up.
	ErrUnknownInterface = errors.New("transport: packet from an interface the router does not know")
	// ErrTooManyLinks: Config.MaxLinks links are open.
	ErrTooManyLinks = errors.New("transport: too many links")
	// ErrNotLocal: the hash is not a registered local destination.
	ErrNotLocal = errors.New("transport: not a registered local destination")
	// ErrStale: a valid announce that is not newer than the held path
	// (reported in AnnounceEvent.Err, not returned by Inbound).
	ErrStale = errors.New("transport: announce not newer than the held path")
)

// Config configures a Router. The zero value is usable.
type Config struct {
	// Rand supplies randomness (ephemeral keys, IVs, announce random
	// hashes, path request tags); default crypto/rand.Reader.
	Rand io.Reader
	// HashFilterSize bounds the duplicate filter; default DefaultHashFilterSize.
	HashFilterSize int
	// MaxPaths bounds the path table (and the table of known identities,
	// which is twice as large); default DefaultMaxPaths.
	MaxPaths int
	// PathExpiry is the lifetime of a path; default DefaultPathExpiry.
	PathExpiry time.Duration
	// MaxLinks bounds concurrent links; default DefaultMaxLinks.
	MaxLinks int
	// LinkMTU is the MTU signalled in link requests and the most accepted
	// from initiators; default DefaultLinkMTU.
	LinkMTU int
	// InterfaceGrace is how long paths through a downed interface are
	// kept; default DefaultInterfaceGrace.
	InterfaceGrace time.Duration
}

func (c *Config) setDefaults() {
	if c.Rand == nil {
		c.Rand = crand.Reader
	}
	if c.MaxPaths <= 0 {
		c.MaxPaths = DefaultMaxPaths
	}
	if c.PathExpiry <= 0 {
		c.PathExpiry = DefaultPathExpiry
	}
	if c.MaxLinks <= 0 {
		c.MaxLinks = DefaultMaxLinks
	}
	if c.LinkMTU <= 0 {
		c.LinkMTU = DefaultLinkMTU
	}
	if c.InterfaceGrace <= 0 {
		c.InterfaceGrace = DefaultInterfaceGrace
	}
}

// Path is a path table entry learnt from a validated announce.
type Path struct {
	Destination rns.Hash
	// NextHop is the transport id of the node that rebroadcast the
	// announce (zero when heard directly from the destination).
	NextHop rns.Hash
	// Hops is the announce's hop count as received (1 = direct neighbour).
	Hops int
	// Emitted is the newest announce emission time (Unix s) held.
	Emitted   int64
	Learnt    time.Time
	Expires   time.Time
	Interface Interface

	randomBlobs [][rns.RandomHashLength]byte
}

// known is what the router remembers about an announced destination.
type known struct {
	identity *rns.Identity
	nameHash rns.NameHash
	appData  []byte
	ratchet  []byte
	heard    time.Time
}

// LocalOptions configure a registered local destination.
type LocalOptions struct {
	// AcceptLinks makes the destination answer link requests.
	AcceptLinks bool
	// ProveAll makes the destination prove every SINGLE data packet it
	// receives (RNS PROVE_ALL), and every link data packet on its links.
	ProveAll bool
	// MinEmitted is a floor for announce emission times (Unix s): pass
	// the value LastEmitted reported before a restart, so that a node
	// whose clock went backwards (a Pi without RTC) never emits an
	// announce older than one the network already holds.
	MinEmitted int64
}

type localDest struct {
	dest        *rns.Destination
	opts        LocalOptions
	lastEmitted int64
	appData     []byte // announced in path responses
}

// ifaceState is the router's view of one interface.
type ifaceState struct {
	ifc       Interface
	up        bool
	downSince time.Time
	order     int
}

// Stats counts what the router did.
type Stats struct {
	Received, Sent, SendErrors              uint64
	Malformed, Duplicates, Filtered         uint64
	AnnouncesValid, AnnouncesInvalid        uint64
	PathRequestsAnswered, PathRequestsSent  uint64
	LinksEstablished, LinksClosed, LinkData uint64
	Delivered                               uint64
}

type receipt struct {
	hash   [32]byte
	signer *rns.Identity
	sent   time.Time
}

// Router is the packet router of a Reticulum endpoint: duplicate filter,
// path table from validated announces, path requests, local destinations,
// proofs and links. It is a plain state machine: the current time is passed
// to every call, it starts no goroutines, and it sends by calling
// Interface.Send. Outputs other than packets are queued as Events, drained
// with Events. A Router is not safe for concurrent use (Stack wraps it).
type Router struct {
	cfg      Config
	ifaces   map[Interface]*ifaceState
	ifaceSeq int
	filter   *HashFilter
	paths    map[rns.Hash]*Path
	known    map[rns.Hash]*known
	locals   map[rns.Hash]*localDest
	links    map[rns.Hash]*link
	prTags   *HashFilter
	receipts map[rns.Hash]*receipt
	events   []Event
	stats    Stats
}

// NewRouter returns an empty router.
func NewRouter(cfg Config) *Router {
	cfg.setDefaults()
	return &Router{
		cfg:      cfg,
		ifaces:   map[Interface]*ifaceState{},
		filter:   NewHashFilter(cfg.HashFilterSize),
		paths:    map[rns.Hash]*Path{},
		known:    map[rns.Hash]*known{},
		locals:   map[rns.Hash]*localDest{},
		links:    map[rns.Hash]*link{},
		prTags:   NewHashFilter(1024),
		receipts: map[rns.Hash]*receipt{},
	}
}

// Stats returns the counters.
func (r *Router) Stats() Stats { return r.stats }

// Events drains the queued events.
func (r *Router) Events() []Event {
	ev := r.events
	r.events = nil
	return ev
}

func (r *Router) emit(e Event) { r.events = append(r.events, e) }

// InterfaceUp adds ifc (or marks it up again after a reconnect).
func (r *Router) InterfaceUp(ifc Interface, now time.Time) {
	st, ok := r.ifaces[ifc]
	if !ok {
		r.ifaceSeq++
		st = &ifaceState{ifc: ifc, order: r.ifaceSeq}
		r.ifaces[ifc] = st
	}
	st.up = true
	st.downSince = time.Time{}
	r.emit(InterfaceEvent{Interface: ifc.Name(), Up: true})
}

// InterfaceDown marks ifc down. Its paths are kept for
// Config.InterfaceGrace in case it comes back (a reconnecting TCP client).
func (r *Router) InterfaceDown(ifc Interface, now time.Time) {
	st, ok := r.ifaces[ifc]
	if !ok || !st.up {
		return
	}
	st.up = false
	st.downSince = now
	r.emit(InterfaceEvent{Interface: ifc.Name(), Up: false})
}

// upInterfaces returns the interfaces that are up, in attach order.
func (r *Router) upInterfaces() []Interface {
	sts := make([]*ifaceState, 0, len(r.ifaces))
	for _, st := range r.ifaces {
		if st.up {
			sts = append(sts, st)
		}
	}
	sort.Slice(sts, func(i, j int) bool { return sts[i].order < sts[j].order })
	out := make([]Interface, len(sts))
	for i, st := range sts {
		out[i] = st.ifc
	}
	return out
}

// Register adds a local destination. Inbound SINGLE destinations can
// announce and accept links; PLAIN and GROUP destinations receive local
// broadcasts.
func (r *Router) Register(d *rns.Destination, opts LocalOptions) error {
	if d.Direction() != rns.In {
		return fmt.Errorf("%w: destination %s is not inbound", ErrNotLocal, d.Hash())
	}
	r.locals[d.Hash()] = &localDest{dest: d, opts: opts, lastEmitted: opts.MinEmitted}
	return nil
}

// LastEmitted returns the emission time (Unix s) of the newest announce of
// a local destination, for the caller to persist (see
// LocalOptions.MinEmitted).
func (r *Router) LastEmitted(h rns.Hash) (int64, bool) {
	ld, ok := r.locals[h]
	if !ok {
		return 0, false
	}
	return ld.lastEmitted, true
}

// Deregister removes a local destination.
func (r *Router) Deregister(h rns.Hash) { delete(r.locals, h) }

// transmit packs p and sends it on ifc.
func (r *Router) transmit(ifc Interface, p *rns.Packet) error {
	raw, err := p.PackMTU(ifc.MTU())
	if err != nil {
		return err
	}
	return r.send(ifc, raw)
}

func (r *Router) send(ifc Interface, raw []byte) error {
	if err := ifc.Send(raw); err != nil {
		r.stats.SendErrors++
		return err
	}
	r.stats.Sent++
	return nil
}

// broadcast sends p on every interface that is up; it fails only if no
// interface took it.
func (r *Router) broadcast(p *rns.Packet) error {
	var firstErr error
	sent := 0
	for _, ifc := range r.upInterfaces() {
		if err := r.transmit(ifc, p); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		sent++
	}
	if sent == 0 {
		if firstErr == nil {
			firstErr = ErrOffline
		}
		return firstErr
	}
	return nil
}

// outbound sends a non-announce packet to a SINGLE destination as the
// reference's Transport.outbound does for an endpoint: with a path more than
// one hop away the packet is inserted into transport (HEADER_2 with the next
// hop's transport id) on the path's interface; one hop away it goes HEADER_1
// on that interface; without a path it is broadcast on every interface.
// It returns the interface used (nil for a broadcast).
func (r *Router) outbound(p *rns.Packet, now time.Time) (Interface, error) {
	path := r.livePath(p.Destination, now)
	if path == nil {
		return nil, r.broadcast(p)
	}
	q := *p
	if path.Hops > 1 && path.NextHop != (rns.Hash{}) {
		q.HeaderType = rns.Header2
		q.TransportType = rns.Transport
		q.TransportID = path.NextHop
	}
	return path.Interface, r.transmit(path.Interface, &q)
}

// livePath returns the path to dest if it exists, has not expired and its
// interface is up.
func (r *Router) livePath(dest rns.Hash, now time.Time) *Path {
	p, ok := r.paths[dest]
	if !ok || !now.Before(p.Expires) {
		return nil
	}
	if st, ok := r.ifaces[p.Interface]; !ok || !st.up {
		return nil
	}
	return p
}

// Path returns a copy of the path table entry for dest.
func (r *Router) Path(dest rns.Hash, now time.Time) (Path, bool) {
	p := r.livePath(dest, now)
	if p == nil {
		return Path{}, false
	}
	c := *p
	c.randomBlobs = nil
	return c, true
}

// Paths returns the number of path table entries.
func (r *Router) Paths() int { return len(r.paths) }

// Recall returns the identity and app data last announced for dest.
func (r *Router) Recall(dest rns.Hash) (*rns.Identity, []byte, bool) {
	k, ok := r.known[dest]
	if !ok {
		return nil, nil, false
	}
	return k.identity, k.appData, true
}

// Announce emits an announce for the registered local SINGLE destination h
// on every interface; appData is also used for later path responses.
// Emission times never go backwards within a Router.
func (r *Router) Announce(h rns.Hash, appData []byte, now time.Time) error {
	p, err := r.buildAnnounce(h, appData, now, false)
	if err != nil {
		return err
	}
	r.locals[h].appData = append([]byte(nil), appData...)
	return r.broadcast(p)
}

func (r *Router) buildAnnounce(h rns.Hash, appData []byte, now time.Time, pathResponse bool) (*rns.Packet, error) {
	ld, ok := r.locals[h]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotLocal, h)
	}
	emit := now.Unix()
	if emit < ld.lastEmitted {
		emit = ld.lastEmitted
	}
	ld.lastEmitted = emit
	return ld.dest.Announce(r.cfg.Rand, time.Unix(emit, 0), rns.AnnounceOptions{AppData: appData, PathResponse: pathResponse})
}

// RequestPath broadcasts a path request for dest (RNS/Transport.py
// request_path for a non-transport instance: data = destination ‖ tag).
func (r *Router) RequestPath(dest rns.Hash, now time.Time) error {
	p, err := rns.NewPathRequest(r.cfg.Rand, dest, nil)
	if err != nil {
		return err
	}
	if err := r.broadcast(p); err != nil {
		return err
	}
	r.stats.PathRequestsSent++
	return nil
}

// SendPacket encrypts data to the announced SINGLE destination dest and
// sends it; the proof, if the destination sends one, arrives as a
// ProofEvent. It returns the packet hash.
func (r *Router) SendPacket(dest rns.Hash, data []byte, now time.Time) ([32]byte, error) {
	k, ok := r.known[dest]
	if !ok {
		return [32]byte{}, ErrUnknownIdentity
	}
	ct, err := k.identity.Encrypt(r.cfg.Rand, data, k.ratchet)
	if err != nil {
		return [32]byte{}, err
	}
	p := &rns.Packet{Type: rns.Data, DestType: rns.Single, Destination: dest, Context: rns.CtxNone, Data: ct}
	if _, err := r.outbound(p, now); err != nil {
		return [32]byte{}, err
	}
	h := p.Hash()
	r.addReceipt(&receipt{hash: h, signer: k.identity, sent: now})
	return h, nil
}

func (r *Router) addReceipt(rc *receipt) {
	if len(r.receipts) >= maxPendingReceipts {
		var oldest rns.Hash
		var ot time.Time
		first := true
		for h, x := range r.receipts {
			if first || x.sent.Before(ot) {
				oldest, ot, first = h, x.sent, false
			}
		}
		delete(r.receipts, oldest)
	}
	var th rns.Hash
	copy(th[:], rc.hash[:rns.TruncatedHashLength])
	r.receipts[th] = rc
}

// Inbound processes one raw packet received on from (IFAC already removed).
// It returns nil when the packet was accepted and acted upon, or an error
// saying why it was dropped.
func (r *Router) Inbound(raw []byte, from Interface, now time.Time) error {
	r.stats.Received++
	if _, ok := r.ifaces[from]; !ok {
		r.stats.Filtered++
		return ErrUnknownInterface
	}
	if len(raw) > from.MTU() {
		r.stats.Malformed++
		return fmt.Errorf("%w: %d-byte packet on %d-byte MTU interface", rns.ErrOversized, len(raw), from.MTU())
	}
	var p rns.Packet
	if err := p.Unmarshal(raw); err != nil {
		r.stats.Malformed++
		return err
	}
	p.Hops++ // the reference counts the hop before processing
	hash := p.Hash()
	if err := r.filterPacket(&p, hash); err != nil {
		return err
	}
	if !(p.Type == rns.Proof && p.Context == rns.CtxLRProof) {
		r.filter.Add(hash)
	}
	switch p.Type {
	case rns.Announce:
		return r.inboundAnnounce(&p, from, now)
	case rns.LinkRequest:
		return r.inboundLinkRequest(&p, from, now)
	case rns.Data:
		return r.inboundData(&p, hash, from, now)
	case rns.Proof:
		return r.inboundProof(&p, from, now)
	}
	return ErrFiltered
}

// filterPacket is the reference's Transport.packet_filter for an endpoint.
func (r *Router) filterPacket(p *rns.Packet, hash [32]byte) error {
	// Packets in transport for another node (an endpoint is no transport
	// node, so every HEADER_2 non-announce is someone else's).
	if p.HeaderType == rns.Header2 && p.Type != rns.Announce {
		r.stats.Filtered++
		return fmt.Errorf("%w: in transport for %s", ErrFiltered, p.TransportID)
	}
	switch p.Context {
	case rns.CtxKeepalive, rns.CtxResourceReq, rns.CtxResourcePRF, rns.CtxResource, rns.CtxCacheRequest, rns.CtxChannel:
		return nil // bytes legitimately repeat
	}
	if p.DestType == rns.Plain || p.DestType == rns.Group {
		if p.Type == rns.Announce {
			r.stats.Filtered++
			return fmt.Errorf("%w: %s announce", ErrFiltered, p.DestType)
		}
		if p.Hops > 1 {
			r.stats.Filtered++
			return fmt.Errorf("%w: %s packet with %d hops", ErrFiltered, p.DestType, p.Hops)
		}
	}
	if r.filter.Seen(hash) && !(p.Type == rns.Announce && p.DestType == rns.Single) {
		r.stats.Duplicates++
		return ErrDuplicate
	}
	return nil
}

// inboundAnnounce validates an announce and updates the path table with the
// reference's replay and loop rules (RNS/Transport.py inbound).
func (r *Router) inboundAnnounce(p *rns.Packet, from Interface, now time.Time) error {
	ev := AnnounceEvent{
		Destination:  p.Destination,
		Hops:         int(p.Hops),
		PathResponse: p.Context == rns.CtxPathResponse,
		Interface:    from.Name(),
	}
	if p.HeaderType == rns.Header2 {
		ev.TransportID = p.TransportID
	}
	a, err := rns.ParseAnnounce(p)
	if err == nil {
		ev.NameHash = a.NameHash
		ev.AppData = append([]byte(nil), a.AppData...)
		ev.PublicKey = append([]byte(nil), a.PublicKey[:]...)
		err = a.Validate()
	}
	if err == nil {
		if k, ok := r.known[p.Destination]; ok && string(k.identity.PublicKey()) != string(a.PublicKey[:]) {
			err = rns.ErrAnnounceKeyConflict
		}
	}
	if err != nil {
		r.stats.AnnouncesInvalid++
		ev.Err = err
		r.emit(ev)
		return err
	}
	r.stats.AnnouncesValid++
	ev.Valid = true
	if _, local := r.locals[p.Destination]; local {
		// Our own announce echoed back: valid, but no path to ourselves.
		ev.Err = ErrStale
		r.emit(ev)
		return nil
	}
	id, _ := a.Identity()
	ev.Identity = id
	emitted := a.Timestamp()
	blob := a.RandomHash
	shouldAdd := false
	path, exists := r.paths[p.Destination]
	if !exists {
		shouldAdd = true
	} else {
		seen := false
		var newest int64
		for _, b := range path.randomBlobs {
			if b == blob {
				seen = true
			}
			if t := timestampOf(b); t > newest {
				newest = t
			}
		}
		switch {
		case int(p.Hops) <= path.Hops:
			shouldAdd = !seen && emitted > newest
		case !now.Before(path.Expires):
			shouldAdd = !seen
		default:
			shouldAdd = !seen && emitted > newest
		}
	}
	ident := r.known[p.Destination]
	if ident == nil {
		r.makeRoomKnown()
		ident = &known{}
		r.known[p.Destination] = ident
	}
	ident.identity, ident.nameHash, ident.heard = id, a.NameHash, now
	ident.appData = append([]byte(nil), a.AppData...)
	if a.Ratchet != nil {
		ident.ratchet = append([]byte(nil), a.Ratchet...)
	}
	if shouldAdd {
		if !exists {
			r.makeRoomPaths(now)
			path = &Path{Destination: p.Destination}
			r.paths[p.Destination] = path
		}
		if p.HeaderType == rns.Header2 {
			path.NextHop = p.TransportID
		} else {
			path.NextHop = rns.Hash{}
		}
		path.Hops = int(p.Hops)
		path.Interface = from
		path.Learnt = now
		path.Expires = now.Add(r.cfg.PathExpiry)
		if emitted > path.Emitted {
			path.Emitted = emitted
		}
		path.randomBlobs = appendBlob(path.randomBlobs, blob)
		ev.PathUpdated = true
	} else {
		ev.Err = ErrStale
	}
	r.emit(ev)
	return nil
}

func timestampOf(b [rns.RandomHashLength]byte) int64 {
	var t int64
	for _, x := range b[5:] {
		t = t<<8 | int64(x)
	}
	return t
}

func appendBlob(blobs [][rns.RandomHashLength]byte, b [rns.RandomHashLength]byte) [][rns.RandomHashLength]byte {
	for _, x := range blobs {
		if x == b {
			return blobs
		}
	}
	blobs = append(blobs, b)
	if len(blobs) > maxRandomBlobs {
		blobs = append(blobs[:0], blobs[len(blobs)-maxRandomBlobs:]...)
	}
	return blobs
}

// makeRoomPaths evicts the path expiring first when the table is full.
func (r *Router) makeRoomPaths(now time.Time) {
	if len(r.paths) < r.cfg.MaxPaths {
		return
	}
	var victim rns.Hash
	var exp time.Time
	first := true
	for h, p := range r.paths {
		if first || p.Expires.Before(exp) {
			victim, exp, first = h, p.Expires, false
		}
	}
	delete(r.paths, victim)
}

// makeRoomKnown evicts the least recently heard identity without a path
// when the identity table is full.
func (r *Router) makeRoomKnown() {
	if len(r.known) < 2*r.cfg.MaxPaths {
		return
	}
	var victim rns.Hash
	var heard time.Time
	first := true
	for h, k := range r.known {
		if _, hasPath := r.paths[h]; hasPath {
			continue
		}
		if first || k.heard.Before(heard) {
			victim, heard, first = h, k.heard, false
		}
	}
	if first { // every known identity has a path: evict the oldest anyway
		for h, k := range r.known {
			if first || k.heard.Before(heard) {
				victim, heard, first = h, k.heard, false
			}
		}
	}
	delete(r.known, victim)
}

// inboundData handles DATA packets: link traffic, path requests, and
// packets for local destinations.
func (r *Router) inboundData(p *rns.Packet, hash [32]byte, from Interface, now time.Time) error {
	if p.DestType == rns.Link {
		l, ok := r.links[p.Destination]
		if !ok {
			return ErrUnknownDest
		}
		return r.linkReceive(l, p, from, now)
	}
	if p.DestType == rns.Plain && p.Destination == rns.PathRequestDestination {
		return r.inboundPathRequest(p, from, now)
	}
	ld, ok := r.locals[p.Destination]
	if !ok || ld.dest.Type() != p.DestType {
		return ErrUnknownDest
	}
	pt, err := ld.dest.Decrypt(p.Data)
	if err != nil {
		return err
	}
	r.stats.Delivered++
	r.emit(PacketEvent{Destination: p.Destination, Data: pt, Hops: int(p.Hops), Interface: from.Name(), PacketHash: hash})
	if ld.opts.ProveAll && p.DestType == rns.Single {
		proof, err := rns.NewProof(ld.dest.Identity(), p, false)
		if err != nil {
			return err
		}
		return r.transmit(from, proof)
	}
	return nil
}

// inboundPathRequest answers path requests for local destinations
// (RNS/Transport.py path_request_handler; a non-transport node answers only
// for its own destinations, with an announce of context PATH_RESPONSE on the
// requesting interface).
func (r *Router) inboundPathRequest(p *rns.Packet, from Interface, now time.Time) error {
	pr, err := rns.ParsePathRequest(p.Data)
	if err != nil {
		return err
	}
	dest := pr.Destination
	unique := rns.FullHash(dest[:], pr.Tag)
	if r.prTags.Seen(unique) {
		return ErrDuplicate
	}
	r.prTags.Add(unique)
	if _, ok := r.locals[dest]; !ok {
		return ErrUnknownDest
	}
	ann, err := r.buildAnnounce(dest, r.locals[dest].appData, now, true)
	if err != nil {
		return err
	}
	if err := r.transmit(from, ann); err != nil {
		return err
	}
	r.stats.PathRequestsAnswered++
	return nil
}

// SetAppData sets the app data announced in path responses for a local
// destination (Announce takes its own).
func (r *Router) SetAppData(h rns.Hash, appData []byte) error {
	ld, ok := r.locals[h]
	if !ok {
		return ErrNotLocal
	}
	ld.appData = append([]byte(nil), appData...)
	return nil
}

// inboundProof handles link request proofs, link packet proofs and proofs
// of packets this router sent.
func (r *Router) inboundProof(p *rns.Packet, from Interface, now time.Time) error {
	if p.Context == rns.CtxLRProof {
		l, ok := r.links[p.Destination]
		if !ok || !l.initiator || l.status != LinkPending {
			return ErrUnknownDest
		}
		if err := r.linkProof(l, p, from, now); err != nil {
			return err
		}
		r.filter.Add(p.Hash())
		return nil
	}
	if p.DestType == rns.Link {
		l, ok := r.links[p.Destination]
		if !ok || l.session == nil {
			return ErrUnknownDest
		}
		if len(p.Data) != rns.ExplicitProofLength {
			return fmt.Errorf("%w: link proof of %d bytes", rns.ErrProofLength, len(p.Data))
		}
		var h [32]byte
		copy(h[:], p.Data)
		if err := l.session.ValidatePacketProof(p.Data, h); err != nil {
			return err
		}
		l.lastInbound = now
		id := l.id
		r.emit(ProofEvent{PacketHash: h, LinkID: &id})
		return nil
	}
	rc, ok := r.receipts[p.Destination]
	if !ok {
		return ErrUnknownDest
	}
	if err := rns.ValidateProof(rc.signer.Ed25519PublicKey(), rc.hash, p.Data); err != nil {
		return err
	}
	delete(r.receipts, p.Destination)
	r.emit(ProofEvent{PacketHash: rc.hash, RTT: now.Sub(rc.sent)})
	return nil
}

// Tick runs timers: link establishment timeouts, keepalives, stale links,
// path expiry and the cleanup of long-downed interfaces.
func (r *Router) Tick(now time.Time) {
	ids := make([]rns.Hash, 0, len(r.links))
	for id := range r.links {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	for _, id := range ids {
		l := r.links[id]
		switch l.tick(now) {
		case actKeepalive:
			r.linkSendPacket(l, l.session.KeepalivePacket(), now)
			l.lastKeepalive = now
		case actTeardownTimeout:
			if tp, err := l.session.TeardownPacket(r.cfg.Rand); err == nil {
				r.linkSendPacket(l, tp, now)
			}
			r.closeLink(l, ReasonTimeout)
		case actCloseTimeout:
			r.closeLink(l, ReasonTimeout)
		}
	}
	for h, p := range r.paths {
		if !now.Before(p.Expires) {
			delete(r.paths, h)
			continue
		}
		if st, ok := r.ifaces[p.Interface]; !ok || (!st.up && !now.Before(st.downSince.Add(r.cfg.InterfaceGrace))) {
			delete(r.paths, h)
		}
	}
	for ifc, st := range r.ifaces {
		if !st.up && !now.Before(st.downSince.Add(r.cfg.InterfaceGrace)) && !r.ifaceInUse(ifc) {
			delete(r.ifaces, ifc)
		}
	}
	for h, rc := range r.receipts {
		if now.Sub(rc.sent) > 10*time.Minute {
			delete(r.receipts, h)
		}
	}
}

func (r *Router) ifaceInUse(ifc Interface) bool {
	for _, p := range r.paths {
		if p.Interface == ifc {
			return true
		}
	}
	for _, l := range r.links {
		if l.iface == ifc {
			return true
		}
	}
	return false
}

// NextDeadline returns when Tick next has link work to do (zero if none).
// Path expiry is coarse and needs no precise deadline.
func (r *Router) NextDeadline() time.Time {
	var d time.Time
	for _, l := range r.links {
		if t := l.nextDeadline(); !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}
