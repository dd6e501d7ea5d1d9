package transport

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

// TCP interface defaults.
const (
	// DefaultTCPBitrate is the reference's bitrate guess for TCP interfaces.
	DefaultTCPBitrate = 10_000_000
	// DefaultBackoffMin is the first reconnect delay of a TCP client.
	DefaultBackoffMin = 500 * time.Millisecond
	// DefaultBackoffMax caps the reconnect delay of a TCP client.
	DefaultBackoffMax = 30 * time.Second
	// DefaultDialTimeout bounds one connection attempt (the reference's
	// INITIAL_CONNECT_TIMEOUT).
	DefaultDialTimeout = 5 * time.Second
	// sendQueueLen is the number of frames queued per connection.
	sendQueueLen = 256
	// writeTimeout bounds one frame write; a peer that stops reading for
	// this long is disconnected.
	writeTimeout = 15 * time.Second
)

// tcpConn is one live TCP connection carrying HDLC frames: a TCP client's
// current connection or a server's sub-interface.
type tcpConn struct {
	name     string
	conn     net.Conn
	maxFrame int
	mtu      int
	queue    chan []byte
	done     chan struct{}
	once     sync.Once
	closed   atomic.Bool
	inflight atomic.Int32 // frames queued or being written
}

func newTCPConn(name string, c net.Conn, mtu, maxFrame int) *tcpConn {
	return &tcpConn{
		name:     name,
		conn:     c,
		mtu:      mtu,
		maxFrame: maxFrame,
		queue:    make(chan []byte, sendQueueLen),
		done:     make(chan struct{}),
	}
}

func (c *tcpConn) Name() string   { return c.name }
func (c *tcpConn) MTU() int       { return c.mtu }
func (c *tcpConn) Bitrate() int64 { return DefaultTCPBitrate }

// Send frames raw and queues it for the writer goroutine.
func (c *tcpConn) Send(raw []byte) error {
	if c.closed.Load() {
		return ErrOffline
	}
	if len(raw) > c.maxFrame {
		return ErrTooLarge
	}
	frame := rns.AppendHDLC(make([]byte, 0, len(raw)+len(raw)/8+4), raw)
	c.inflight.Add(1)
	select {
	case c.queue <- frame:
		return nil
	case <-c.done:
		c.inflight.Add(-1)
		return ErrOffline
	default:
		c.inflight.Add(-1)
		return ErrQueueFull
	}
}

func (c *tcpConn) close() {
	c.once.Do(func() {
		c.closed.Store(true)
		close(c.done)
		c.conn.Close()
	})
}

// serve runs the connection until it fails or ctx ends: a writer goroutine
// drains the queue and the calling goroutine reads and deframes. deliver is
// called for every received frame with a copy the callee owns.
func (c *tcpConn) serve(ctx context.Context, deliver func([]byte)) {
	stop := context.AfterFunc(ctx, c.close)
	defer stop()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-c.done:
				return
			case f := <-c.queue:
				c.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
				_, err := c.conn.Write(f)
				c.inflight.Add(-1)
				if err != nil {
					c.close()
					return
				}
			}
		}
	}()
	d := rns.HDLCDeframer{MaxFrame: c.maxFrame}
	buf := make([]byte, 4096)
	for {
		n, err := c.conn.Read(buf)
		if n > 0 {
			d.Feed(buf[:n], func(frame []byte) {
				deliver(append([]byte(nil), frame...))
			})
		}
		if err != nil {
			break
		}
	}
	c.close()
	wg.Wait()
}

// TCPClientConfig configures a TCP client interface.
type TCPClientConfig struct {
	// Addr is the HOST:PORT of a reference TCPServerInterface (or a
	// meshlogd TCP server).
	Addr string
	// Name is the interface name; default "tcp:" + Addr.
	Name string
	// MTU is the largest raw packet sent or accepted, without IFAC;
	// default DefaultHWMTU.
	MTU int
	// IFACSize is added to MTU for the largest accepted frame (set by
	// WithIFAC users so masked frames are not cut off); default 64.
	IFACSize int
	// BackoffMin and BackoffMax bound the exponential reconnect delay;
	// defaults DefaultBackoffMin and DefaultBackoffMax.
	BackoffMin, BackoffMax time.Duration
	// DialTimeout bounds one connection attempt; default DefaultDialTimeout.
	DialTimeout time.Duration
	// OnDialError, if set, is called after every failed connection attempt
	// with the error and the delay before the next one.
	OnDialError func(err error, retryIn time.Duration)
}

// TCPClient is a TCP client interface compatible with the reference's
// TCPClientInterface: HDLC framing, reconnect with exponential backoff. The
// TCPClient value itself is the Interface the router sees, so paths learnt
// through it survive reconnects.
type TCPClient struct {
	cfg TCPClientConfig

	mu   sync.Mutex
	cur  *tcpConn
	runs atomic.Bool

	// Connects counts successful connections (for tests and status).
	Connects atomic.Int64
}

// NewTCPClient returns an unconnected client; Run connects it.
func NewTCPClient(cfg TCPClientConfig) *TCPClient {
	if cfg.Name == "" {
		cfg.Name = "tcp:" + cfg.Addr
	}
	if cfg.MTU <= 0 {
		cfg.MTU = DefaultHWMTU
	}
	if cfg.IFACSize <= 0 {
		cfg.IFACSize = 64
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = DefaultBackoffMax
		if cfg.BackoffMax < cfg.BackoffMin {
			cfg.BackoffMax = cfg.BackoffMin
		}
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	return &TCPClient{cfg: cfg}
}

// Name returns the interface name.
func (c *TCPClient) Name() string { return c.cfg.Name }

// MTU returns the largest raw packet the interface carries.
func (c *TCPClient) MTU() int { return c.cfg.MTU }

// Bitrate returns the reference's TCP bitrate guess.
func (c *TCPClient) Bitrate() int64 { return DefaultTCPBitrate }

// Connected reports whether a connection is up.
func (c *TCPClient) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cur != nil && !c.cur.closed.Load()
}

// Send queues raw on the current connection, or returns ErrOffline.
func (c *TCPClient) Send(raw []byte) error {
	c.mu.Lock()
	cur := c.cur
	c.mu.Unlock()
	if cur == nil {
		return ErrOffline
	}
	return cur.Send(raw)
}

// Flush waits until every packet queued on the current connection has been
// written to the socket, ctx ends or max passes; it reports whether the
// queue drained.
func (c *TCPClient) Flush(ctx context.Context, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for {
		c.mu.Lock()
		cur := c.cur
		c.mu.Unlock()
		if cur == nil || cur.closed.Load() || cur.inflight.Load() == 0 {
			return cur == nil || cur.inflight.Load() == 0
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Run connects, reads and reconnects until ctx is cancelled. Each
// connection announces the client up to sink, and each loss announces it
// down. Run may be called only once.
func (c *TCPClient) Run(ctx context.Context, sink Sink) error {
	if !c.runs.CompareAndSwap(false, true) {
		return errors.New("transport: TCPClient.Run called twice")
	}
	backoff := c.cfg.BackoffMin
	dialer := net.Dialer{Timeout: c.cfg.DialTimeout, KeepAlive: 5 * time.Second}
	for ctx.Err() == nil {
		nc, err := dialer.DialContext(ctx, "tcp", c.cfg.Addr)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			wait := jitter(backoff)
			if c.cfg.OnDialError != nil {
				c.cfg.OnDialError(err, wait)
			}
			if !sleepCtx(ctx, wait) {
				break
			}
			backoff = min(backoff*2, c.cfg.BackoffMax)
			continue
		}
		backoff = c.cfg.BackoffMin
		conn := newTCPConn(c.cfg.Name, nc, c.cfg.MTU, c.cfg.MTU+c.cfg.IFACSize)
		c.mu.Lock()
		c.cur = conn
		c.mu.Unlock()
		c.Connects.Add(1)
		sink.InterfaceUp(c)
		conn.serve(ctx, func(raw []byte) { sink.Inbound(raw, c) })
		c.mu.Lock()
		c.cur = nil
		c.mu.Unlock()
		sink.InterfaceDown(c)
		if ctx.Err() == nil && !sleepCtx(ctx, jitter(backoff)) {
			break
		}
	}
	return nil
}

// jitter spreads d by ±20 % so that many clients do not reconnect in step.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	span := int64(d) / 5
	if span <= 0 {
		return d
	}
	return d - time.Duration(span) + time.Duration(rand.Int64N(2*span))
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// TCPServerConfig configures a TCP server interface.
type TCPServerConfig struct {
	// Addr is the HOST:PORT to listen on (port 0 picks a free port).
	Addr string
	// Name is the interface name; default "tcpserver:" + Addr. Each
	// accepted client becomes a sub-interface named Name + "/" + remote
	// address.
	Name string
	// MTU and IFACSize as in TCPClientConfig.
	MTU, IFACSize int
	// MaxClients limits concurrent clients (default 64); further
	// connections are closed at once.
	MaxClients int
}

// TCPServer is a TCP server interface compatible with the reference's
// TCPServerInterface: every accepted client is a sub-interface of its own.
type TCPServer struct {
	cfg TCPServerConfig
	ln  net.Listener

	mu      sync.Mutex
	clients map[*tcpConn]struct{}
}

// ListenTCP binds the server's listening socket; Run accepts clients.
func ListenTCP(cfg TCPServerConfig) (*TCPServer, error) {
	if cfg.MTU <= 0 {
		cfg.MTU = DefaultHWMTU
	}
	if cfg.IFACSize <= 0 {
		cfg.IFACSize = 64
	}
	if cfg.MaxClients <= 0 {
		cfg.MaxClients = 64
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("transport: listen %s: %w", cfg.Addr, err)
	}
	if cfg.Name == "" {
		cfg.Name = "tcpserver:" + ln.Addr().String()
	}
	return &TCPServer{cfg: cfg, ln: ln, clients: map[*tcpConn]struct{}{}}, nil
}

// Close closes the listening socket of a server that will not be Run
// (Run closes it itself when its context ends).
func (s *TCPServer) Close() error { return s.ln.Close() }

// Addr returns the bound listening address.
func (s *TCPServer) Addr() net.Addr { return s.ln.Addr() }

// Clients returns the number of connected clients.
func (s *TCPServer) Clients() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.clients)
}

// Flush waits until every packet queued for the connected clients has
// been written to their sockets, ctx ends or max passes; it reports
// whether the queues drained.
func (s *TCPServer) Flush(ctx context.Context, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for {
		pending := false
		s.mu.Lock()
		for c := range s.clients {
			if !c.closed.Load() && c.inflight.Load() > 0 {
				pending = true
			}
		}
		s.mu.Unlock()
		if !pending {
			return true
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Run accepts clients until ctx is cancelled, then closes the listener and
// every client and waits for their goroutines.
func (s *TCPServer) Run(ctx context.Context, sink Sink) error {
	stop := context.AfterFunc(ctx, func() { s.ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			s.ln.Close()
			return fmt.Errorf("transport: accept: %w", err)
		}
		s.mu.Lock()
		full := len(s.clients) >= s.cfg.MaxClients
		var conn *tcpConn
		if !full {
			conn = newTCPConn(s.cfg.Name+"/"+nc.RemoteAddr().String(), nc, s.cfg.MTU, s.cfg.MTU+s.cfg.IFACSize)
			s.clients[conn] = struct{}{}
		}
		s.mu.Unlock()
		if full {
			nc.Close()
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sink.InterfaceUp(conn)
			conn.serve(ctx, func(raw []byte) { sink.Inbound(raw, conn) })
			s.mu.Lock()
			delete(s.clients, conn)
			s.mu.Unlock()
			sink.InterfaceDown(conn)
		}()
	}
}
