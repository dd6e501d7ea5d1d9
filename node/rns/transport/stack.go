package transport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// StackConfig configures a Stack.
type StackConfig struct {
	// Router configures the router.
	Router Config
	// Now returns the current time; default time.Now.
	Now func() time.Time
	// TickInterval is how often the router's timers run; default 250 ms.
	TickInterval time.Duration
	// MaxPendingEvents bounds events not yet read from Events; older ones
	// are dropped (and counted) beyond it. Default 4096.
	MaxPendingEvents int
}

// Stack is the concurrent shell around a Router: it is the Sink of the
// ports it runs, serialises all router access behind a lock, ticks the
// router's timers, and delivers router events on a channel. Sends happen
// under the lock; interfaces queue them (TCP) so the lock is held briefly.
type Stack struct {
	cfg    StackConfig
	mu     sync.Mutex
	r      *Router
	events chan Event

	qmu     sync.Mutex
	queue   []Event
	notify  chan struct{}
	dropped atomic.Int64
	running atomic.Bool
}

// NewStack returns a stack with an empty router.
func NewStack(cfg StackConfig) *Stack {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 250 * time.Millisecond
	}
	if cfg.MaxPendingEvents <= 0 {
		cfg.MaxPendingEvents = 4096
	}
	return &Stack{
		cfg:    cfg,
		r:      NewRouter(cfg.Router),
		events: make(chan Event, 64),
		notify: make(chan struct{}, 1),
	}
}

// Do runs f with exclusive access to the router and the current time, then
// queues the events it produced. f must not block or call back into the
// Stack.
func (s *Stack) Do(f func(r *Router, now time.Time) error) error {
	s.mu.Lock()
	err := f(s.r, s.cfg.Now())
	ev := s.r.Events()
	s.mu.Unlock()
	if len(ev) > 0 {
		s.qmu.Lock()
		s.queue = append(s.queue, ev...)
		if over := len(s.queue) - s.cfg.MaxPendingEvents; over > 0 {
			s.dropped.Add(int64(over))
			s.queue = append(s.queue[:0], s.queue[over:]...)
		}
		s.qmu.Unlock()
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	return err
}

// Events returns the channel on which router events are delivered while
// Run runs; it is closed when Run returns.
func (s *Stack) Events() <-chan Event { return s.events }

// DroppedEvents returns how many events were dropped because nobody read
// them.
func (s *Stack) DroppedEvents() int64 { return s.dropped.Load() }

// InterfaceUp implements Sink.
func (s *Stack) InterfaceUp(ifc Interface) {
	s.Do(func(r *Router, now time.Time) error { r.InterfaceUp(ifc, now); return nil })
}

// InterfaceDown implements Sink.
func (s *Stack) InterfaceDown(ifc Interface) {
	s.Do(func(r *Router, now time.Time) error { r.InterfaceDown(ifc, now); return nil })
}

// Inbound implements Sink.
func (s *Stack) Inbound(raw []byte, from Interface) {
	s.Do(func(r *Router, now time.Time) error { return r.Inbound(raw, from, now) })
}

// Run runs the ports, the timer and the event pump until ctx is cancelled
// or a port fails; it returns the first port error. Run may be called once.
func (s *Stack) Run(ctx context.Context, ports ...Port) error {
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("transport: Stack.Run called twice")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, len(ports))
	for _, p := range ports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.Run(ctx, s); err != nil {
				errc <- err
				cancel()
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		t := time.NewTicker(s.cfg.TickInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.Do(func(r *Router, now time.Time) error { r.Tick(now); return nil })
			}
		}
	}()
	go func() {
		defer wg.Done()
		s.pump(ctx)
	}()
	<-ctx.Done()
	wg.Wait()
	close(s.events)
	select {
	case err := <-errc:
		return err
	default:
		return nil
	}
}

func (s *Stack) pump(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notify:
		}
		for {
			s.qmu.Lock()
			batch := s.queue
			s.queue = nil
			s.qmu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, e := range batch {
				select {
				case s.events <- e:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}
