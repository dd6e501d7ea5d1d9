package node

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/node/config"
	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/storage"
)

// Options configure a Node.
type Options struct {
	// DataDir is the node's data directory.
	DataDir string
	// Config is the parsed configuration; nil loads DataDir/meshlogd.conf,
	// or uses the defaults when that file does not exist.
	Config *config.Config
	// Now returns wall-clock time; default time.Now. The node never lets
	// its own clock go backwards (see ClockState).
	Now func() time.Time
	// Rand supplies randomness (keys, IVs, timer jitter); default crypto/rand.
	Rand io.Reader
	// Logger receives the node's log; default discards.
	Logger *slog.Logger
	// OpenRadio opens the radio of an sx127x or rnode interface; set by
	// cmd/meshlogd (hardware) and by tests (emulated radios). Nil makes
	// radio interfaces an error.
	OpenRadio func(ifc config.Interface) (hal.Radio, error)
	// StorageFS replaces the filesystem under the event log (tests: full
	// disks, crashes); nil is the OS.
	StorageFS storage.FS
}

// Node is one meshlogd node: identity, dataset, the durable event log and
// the pure sync engine, plus (while Run is active) its interfaces and the
// control socket. Its methods are safe for concurrent use.
type Node struct {
	opts  Options
	dir   string
	cfg   *config.Config
	id    *rns.Identity
	ds    *datasetFile
	store *storage.Log
	log   *slog.Logger

	mu      sync.Mutex
	eng     *gossip.Engine
	backlog []gossip.Ready // Readies whose Persist could not be made durable yet
	clock   clockKeeper
	forks   int      // fork proofs whose conflicting branch is persisted
	reports []string // recent engine reports, newest last (bounded)
	outbox  func(msgs []gossip.Message)
	started time.Time

	runtime *runtimeState // set while Run is active

	// fatal is set when storage failed to make events durable. The engine
	// then holds events that were never acknowledged; rather than let them
	// be advertised or persisted later behind the writer's back, the node
	// refuses further work and Run returns, so a restart rebuilds the state
	// from what storage really holds (nothing acknowledged is lost, nothing
	// unacknowledged appears).
	fatal error
}

// Errors returned by Open and the data operations.
var (
	// ErrNotInitialised is returned when the data directory has no identity.
	ErrNotInitialised = errors.New("node: data directory not initialised (run 'meshlogd init')")
	// ErrNotMember is returned when this node's identity may not write yet.
	ErrNotMember = errors.New("node: this node is not (yet) a member of the dataset: its admission has not arrived; sync with an admin's node first")
	// ErrNoRecord is returned when writing to a record the local view does not have.
	ErrNoRecord = errors.New("node: no such record in this node's view")
	// ErrNotAdmin is returned when a member operation needs an admin.
	ErrNotAdmin = errors.New("node: only an admin may add or remove members")
)

// Init prepares a data directory: a new identity (unless one exists) and
// a commented default configuration (unless one exists). It returns the
// identity.
func Init(dir string, rnd io.Reader) (*rns.Identity, bool, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, err
	}
	created := false
	idPath := filepath.Join(dir, IdentityFile)
	id, err := rns.LoadIdentityFile(idPath)
	if errors.Is(err, os.ErrNotExist) {
		if id, err = rns.NewIdentity(rnd); err != nil {
			return nil, false, err
		}
		if err := rns.SaveIdentityFile(id, idPath); err != nil {
			return nil, false, err
		}
		created = true
	} else if err != nil {
		return nil, false, err
	}
	cfgPath := filepath.Join(dir, ConfigFile)
	if _, err := os.Stat(cfgPath); errors.Is(err, os.ErrNotExist) {
		if err := writeFileDurable(cfgPath, []byte(config.Default), 0o644); err != nil {
			return nil, false, err
		}
		created = true
	}
	return id, created, nil
}

// LoadConfig reads dir/meshlogd.conf, or returns the defaults if it does not exist.
func LoadConfig(dir string) (*config.Config, error) {
	p := filepath.Join(dir, ConfigFile)
	c, err := config.Load(p)
	if errors.Is(err, os.ErrNotExist) {
		return config.Parse(p, []byte(config.Default))
	}
	return c, err
}

// Open opens the node in a data directory: identity, configuration,
// dataset and event log. It rebuilds the engine's state from the log. Only
// one process may have a data directory open (the log is locked).
func Open(opts Options) (*Node, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{opts: opts, dir: opts.DataDir, log: opts.Logger}
	var err error
	if n.cfg = opts.Config; n.cfg == nil {
		if n.cfg, err = LoadConfig(n.dir); err != nil {
			return nil, err
		}
	}
	n.id, err = rns.LoadIdentityFile(filepath.Join(n.dir, n.identityPath()))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotInitialised
	}
	if err != nil {
		return nil, err
	}
	if n.ds, err = loadDataset(filepath.Join(n.dir, DatasetFile)); err != nil {
		return nil, err
	}
	if err := n.clock.load(filepath.Join(n.dir, ClockFile), opts.Now); err != nil {
		return nil, err
	}
	if err := n.openLog(); err != nil {
		return nil, err
	}
	n.started = opts.Now()
	return n, nil
}

func (n *Node) identityPath() string {
	if filepath.IsAbs(n.cfg.Node.Identity) {
		return n.cfg.Node.Identity
	}
	return n.cfg.Node.Identity
}

// openLog opens storage and replays it into a fresh engine.
func (n *Node) openLog() error {
	st, rep, err := storage.Open(filepath.Join(n.dir, LogDir), storage.Options{
		FS: n.opts.StorageFS, SegmentSize: n.cfg.Storage.SegmentBytes, Logger: n.log,
	})
	if err != nil {
		return fmt.Errorf("node: opening the event log: %w", err)
	}
	if rep != nil && !rep.Clean() {
		n.log.Warn("event log recovered from damage; lost events will be fetched from peers again",
			"damaged_ranges", len(rep.Damage), "bytes_lost", rep.Lost())
	}
	flog, err := feed.NewLog(n.ds.Genesis, feed.Config{MaxPendingBytes: n.cfg.Sync.MaxGapBytes})
	if err != nil {
		st.Close()
		return err
	}
	bad := 0
	err = st.Iterate(func(loc storage.Location, rec []byte) error {
		s, err := feed.DecodeSigned(rec)
		if err == nil {
			_, err = flog.Restore(s)
		}
		if err != nil {
			bad++
			n.log.Warn("stored event not restored", "at", loc.String(), "err", err)
		}
		return nil
	})
	if err != nil {
		st.Close()
		return fmt.Errorf("node: reading the event log: %w", err)
	}
	if n.ds.Authorisation != nil {
		_, _ = flog.Ingest(*n.ds.Authorisation) // pending until the admin's feed arrives; a duplicate once it has
	}
	if err := n.salvage(st, rep, flog); err != nil {
		st.Close()
		return err
	}
	eng, err := gossip.New(n.engineConfig(), flog, n.nowMs())
	if err != nil {
		st.Close()
		return err
	}
	n.store, n.eng = st, eng
	n.forks = len(flog.Forks())
	if bad > 0 {
		n.report(fmt.Sprintf("%d stored events could not be restored", bad))
	}
	// The authorisation may have become acceptable: persist what it released.
	return n.flushLocked()
}

// salvage reads back the intact records that recovery moved aside with a
// damaged part of the log, verifies them like events from a peer (they are
// signed), and stores again the ones that fit the chains. What cannot be
// verified yet stays in the .broken file and comes back from peers.
func (n *Node) salvage(st *storage.Log, rep *storage.Report, flog *feed.Log) error {
	if rep == nil {
		return nil
	}
	var recs [][]byte
	for _, d := range rep.Damage {
		if d.MovedTo == "" || d.Salvageable == 0 {
			continue
		}
		path := filepath.Join(st.Dir(), d.MovedTo)
		_, err := storage.Salvage(n.opts.StorageFS, path, 0, func(off int64, rec []byte) error {
			s, err := feed.DecodeSigned(rec)
			if err != nil {
				return nil
			}
			res, err := flog.Ingest(s)
			if err != nil {
				return nil
			}
			for _, a := range res.Accepted {
				b, err := a.MarshalBinary()
				if err == nil {
					recs = append(recs, b)
				}
			}
			return nil
		})
		if err != nil {
			n.log.Warn("salvaging damaged log", "file", path, "err", err)
		}
	}
	if len(recs) == 0 {
		return nil
	}
	if _, err := st.AppendBatch(recs); err != nil {
		return fmt.Errorf("node: storing salvaged events: %w", err)
	}
	n.report(fmt.Sprintf("salvaged %d events from the damaged part of the log", len(recs)))
	return nil
}

// relayWindowMs maps [sync] relay_window to gossip.Config.RelayWindowMs:
// zero ("off") disables relaying, which the engine spells negative.
func relayWindowMs(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return d.Milliseconds()
}

func (n *Node) engineConfig() gossip.Config {
	s := n.cfg.Sync
	imin := s.BeaconMin.Milliseconds()
	doublings := 0
	if ratio := s.BeaconMax / s.BeaconMin; ratio > 1 {
		doublings = bits.Len64(uint64(ratio)) - 1
	}
	radios := false
	for _, ifc := range n.cfg.Interfaces {
		radios = radios || (ifc.Enabled && ifc.IsRadio())
	}
	return gossip.Config{
		// With radios, pace data messages by what really went on air (see
		// runtimeState.broadcast): suppression then works on what
		// neighbours heard, and queues never fill with stale slices.
		AwaitSent:        radios,
		Identity:         n.id,
		Rand:             n.randUint64,
		TrickleIminMs:    imin,
		TrickleDoublings: doublings,
		TrickleK:         s.Redundancy,
		RelayWindowMs:    relayWindowMs(s.RelayWindow),
		MaxClockDriftMs:  n.cfg.Clock.MaxDrift.Milliseconds(),
	}
}

func (n *Node) randUint64() uint64 {
	var b [8]byte
	if _, err := io.ReadFull(n.opts.Rand, b[:]); err != nil {
		// crypto/rand does not fail on Linux; a test reader that runs dry
		// degrades jitter, never correctness.
		return uint64(n.opts.Now().UnixNano())
	}
	return binary.LittleEndian.Uint64(b[:])
}

// nowMs returns the node's monotonic wall clock in Unix milliseconds.
func (n *Node) nowMs() int64 { return n.clock.now().UnixMilli() }

// Identity returns the node's identity.
func (n *Node) Identity() *rns.Identity { return n.id }

// Config returns the node's configuration.
func (n *Node) Config() *config.Config { return n.cfg }

// DataDir returns the data directory.
func (n *Node) DataDir() string { return n.dir }

// Close flushes and closes the event log and saves the clock state.
func (n *Node) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.store == nil {
		return nil
	}
	var ferr, cerr error
	if n.fatal == nil {
		ferr = n.flushLocked()
		cerr = n.clock.save(true)
	}
	serr := n.store.Close()
	n.store = nil
	return errors.Join(ferr, cerr, serr)
}

// flushLocked persists what the engine produced, then advances it and hands
// its messages to the outbox. Called with n.mu held (or before Run).
func (n *Node) flushLocked() error {
	if n.fatal != nil {
		return n.fatal
	}
	if !n.eng.HasReady() && len(n.backlog) == 0 {
		return nil
	}
	rd := n.eng.Ready()
	n.backlog = append(n.backlog, rd)
	var recs [][]byte
	for _, r := range n.backlog {
		for _, s := range r.Persist {
			b, err := s.MarshalBinary()
			if err != nil {
				return err
			}
			recs = append(recs, b)
		}
	}
	for _, r := range rd.Reports {
		n.report(r.Kind.String() + " " + r.Author.String() + fmt.Sprintf(" seq %d", r.Seq) + reportErr(r.Err))
	}
	// A fork proof lives in the log's memory only; persist the conflicting
	// branch too, so that replaying storage after a restart proves the fork
	// again and freezes the same feed (instead of silently taking one branch).
	if forks := n.eng.Log().Forks(); len(forks) > n.forks {
		for _, f := range forks[n.forks:] {
			for _, s := range f.B {
				b, err := s.MarshalBinary()
				if err != nil {
					return err
				}
				recs = append(recs, b)
			}
		}
		n.forks = len(forks)
	}
	if len(recs) > 0 {
		if _, err := n.store.AppendBatch(recs); err != nil {
			n.report("storage: " + err.Error())
			n.fatal = fmt.Errorf("node: storage failed, nothing more is accepted until the node restarts: %w", err)
			if n.runtime != nil {
				n.runtime.poke()
			}
			return fmt.Errorf("node: not saved: %w", err)
		}
	}
	for _, r := range n.backlog {
		n.eng.Advance(r)
	}
	n.backlog = n.backlog[:0]
	if len(recs) > 0 && n.clock.learn(n.eng.Log().MaxHLC().Physical()) {
		n.report("clock set from the dataset's newest timestamp (no trustworthy local clock)")
	}
	if err := n.clock.maybeSave(); err != nil {
		n.log.Warn("saving clock state", "err", err)
	}
	if n.outbox != nil && len(rd.Messages) > 0 {
		n.outbox(rd.Messages)
	}
	return nil
}

func reportErr(err error) string {
	if err == nil {
		return ""
	}
	return ": " + err.Error()
}

// report remembers a notable engine or storage event for status.
func (n *Node) report(s string) {
	const keep = 32
	n.reports = append(n.reports, n.clock.now().UTC().Format(time.RFC3339)+" "+s)
	if len(n.reports) > keep {
		n.reports = n.reports[len(n.reports)-keep:]
	}
	n.log.Info("engine report", "report", s)
}

// appendLocal writes a local event and makes it durable before returning.
func (n *Node) appendLocal(body feed.Body) (feed.Signed, error) {
	raw, err := feed.EncodeBody(body)
	if err != nil {
		return feed.Signed{}, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.store == nil {
		return feed.Signed{}, errors.New("node: closed")
	}
	if !n.eng.Log().IsMember(n.id.Hash()) {
		return feed.Signed{}, ErrNotMember
	}
	s, err := n.eng.Append(body.Kind(), raw, n.nowMs())
	if err != nil {
		return feed.Signed{}, err
	}
	if err := n.flushLocked(); err != nil {
		return feed.Signed{}, err
	}
	return s, nil
}

// hlcNow is exposed for status: the engine clock's current reading.
func (n *Node) hlcMax() hlc.Timestamp { return n.eng.Log().MaxHLC() }
