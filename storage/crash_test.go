package storage_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/meshlogd/meshlogd/storage"
	"github.com/meshlogd/meshlogd/storage/crashfs"
)

// model tracks what a workload acknowledged and attempted.
type model struct {
	acked     map[storage.Location][]byte
	attempted map[string]bool
}

func newModel() *model {
	return &model{acked: map[storage.Location][]byte{}, attempted: map[string]bool{}}
}

// verify checks the invariant after a reopen: every acknowledged record is
// present at its location and intact, every record present was attempted,
// and locations strictly increase.
func (m *model) verify(t *testing.T, l *storage.Log, what string) {
	t.Helper()
	seen := map[storage.Location]bool{}
	var prev storage.Location
	err := l.Iterate(func(loc storage.Location, rec []byte) error {
		if !prev.IsZero() && (loc.Segment < prev.Segment || loc.Segment == prev.Segment && loc.Offset <= prev.Offset) {
			return fmt.Errorf("location %v after %v", loc, prev)
		}
		prev = loc
		if !m.attempted[string(rec)] {
			return fmt.Errorf("record at %v was never appended: %q", loc, rec)
		}
		if want, ok := m.acked[loc]; ok && !bytes.Equal(want, rec) {
			return fmt.Errorf("acknowledged record at %v changed", loc)
		}
		seen[loc] = true
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	for loc := range m.acked {
		if !seen[loc] {
			t.Fatalf("%s: acknowledged record at %v lost", what, loc)
		}
	}
}

// TestCrashFSRandomWorkloads drives random appends, batches, disk-full
// spells, failed fsyncs, clean restarts and power cuts on crashfs, and
// checks after every restart that nothing acknowledged was lost.
func TestCrashFSRandomWorkloads(t *testing.T) {
	seeds, steps := 60, 400
	if runtime.GOARCH == "arm" {
		seeds = 20
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 77))
			fsys, o := memLog(t, seed, 4096+int64(rng.IntN(4))*1024)
			m := newModel()
			l, _ := mustOpen(t, "/d", o)
			n := 0
			next := func() []byte {
				n++
				r := record(n)
				m.attempted[string(r)] = true
				return r
			}
			crashes := 0
			kinds := map[storage.DamageKind]int{}
			for step := range steps {
				switch op := rng.IntN(100); {
				case op < 55:
					r := next()
					if loc, err := l.Append(r); err == nil {
						m.acked[loc] = r
					}
				case op < 75:
					batch := make([][]byte, 1+rng.IntN(8))
					for i := range batch {
						batch[i] = next()
					}
					if locs, err := l.AppendBatch(batch); err == nil {
						for i, loc := range locs {
							m.acked[loc] = batch[i]
						}
					}
				case op < 80:
					fsys.SetCapacity(int64(rng.IntN(64 << 10)))
				case op < 84:
					fsys.SetCapacity(0)
				case op < 86:
					fsys.FailNextSync(syscall.EIO)
				case op < 94:
					crashes++
					if rng.IntN(2) == 0 {
						fsys = fsys.Crash() // between operations
					} else {
						// In the middle of a write, fsync, rename, ...
						fsys.CrashAfter(1 + rng.IntN(8))
						for range 30 {
							r := next()
							loc, err := l.Append(r)
							if err == nil {
								m.acked[loc] = r
							} else if errors.Is(err, crashfs.ErrCrashed) {
								break
							}
						}
						fsys.CrashAfter(0)
						if fsys.Stale() {
							fsys = fsys.Reboot()
						} else {
							fsys = fsys.Crash()
						}
					}
					o.FS = fsys
					fsys.SetCapacity(0)
					if rng.IntN(3) == 0 {
						// And again while recovery repairs the damage.
						fsys.CrashAfter(1 + rng.IntN(4))
						if l2, _, err := storage.Open("/d", o); err == nil {
							fsys.CrashAfter(0)
							fsys = fsys.Crash()
							_ = l2 // died with the power
						} else if !errors.Is(err, crashfs.ErrCrashed) {
							t.Fatalf("step %d: open: %v", step, err)
						}
						fsys = fsys.Reboot()
						o.FS = fsys
					}
					l2, rep, err := storage.Open("/d", o)
					if err != nil {
						t.Fatalf("step %d: open after crash: %v", step, err)
					}
					for _, d := range rep.Damage {
						kinds[d.Kind]++
						if d.Kind != storage.TornTail && d.Kind != storage.Corrupt {
							t.Fatalf("step %d: crash produced %+v", step, d)
						}
					}
					l = l2
					m.verify(t, l, fmt.Sprintf("step %d after crash", step))
				default:
					err := l.Close()
					if err != nil && !errors.Is(err, crashfs.ErrCrashed) {
						t.Fatalf("step %d: close: %v", step, err)
					}
					fsys.SetCapacity(0)
					l2, rep, err := storage.Open("/d", o)
					if err != nil {
						t.Fatalf("step %d: reopen: %v", step, err)
					}
					if !rep.Clean() {
						t.Fatalf("step %d: clean restart found %+v", step, rep.Damage)
					}
					l = l2
					m.verify(t, l, fmt.Sprintf("step %d after restart", step))
				}
			}
			fsys.SetCapacity(0)
			fsys = fsys.Crash()
			o.FS = fsys
			l, _ = mustOpen(t, "/d", o)
			m.verify(t, l, "final")
			r := next()
			loc, err := l.Append(r)
			if err != nil {
				t.Fatalf("final append: %v", err)
			}
			m.acked[loc] = r
			mustClose(t, l)
			l, _ = mustOpen(t, "/d", o)
			m.verify(t, l, "final reopen")
			mustClose(t, l)
			if crashes == 0 {
				t.Fatal("workload never crashed")
			}
			t.Logf("%d acknowledged of %d appended, %d crashes, damage found %v", len(m.acked), n, crashes, kinds)
		})
	}
}

// TestCrashFSConcurrentAppenders cuts the power while several goroutines
// append, at a random count of acknowledgements.
func TestCrashFSConcurrentAppenders(t *testing.T) {
	rounds := 30
	if runtime.GOARCH == "arm" {
		rounds = 10
	}
	rng := rand.New(rand.NewPCG(9, 9))
	fsys, o := memLog(t, 9, 4096)
	var mu sync.Mutex
	m := newModel()
	n := 0
	for round := range rounds {
		l, _ := mustOpen(t, "/d", o)
		m.verify(t, l, fmt.Sprintf("round %d", round))
		acks := make(chan struct{}, 1024)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					mu.Lock()
					n++
					r := record(n)
					m.attempted[string(r)] = true
					mu.Unlock()
					loc, err := l.Append(r)
					if err != nil {
						return // the power is off
					}
					mu.Lock()
					m.acked[loc] = r
					mu.Unlock()
					select {
					case acks <- struct{}{}:
					default:
					}
				}
			})
		}
		for range 1 + rng.IntN(60) {
			<-acks
		}
		fsys = fsys.Crash()
		o.FS = fsys
		wg.Wait()
	}
	l, _ := mustOpen(t, "/d", o)
	m.verify(t, l, "final")
	if len(m.acked) < rounds {
		t.Fatalf("only %d acknowledged appends", len(m.acked))
	}
	mustClose(t, l)
}

// TestGroupCommitBatches checks that concurrent appenders share fsyncs.
func TestGroupCommitBatches(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), storage.Options{})
	defer mustClose(t, l)
	var wg sync.WaitGroup
	const writers, each = 8, 50
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if _, err := l.Append(record(w*1000 + i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := l.Stats()
	if st.Records != writers*each || len(all(t, l)) != writers*each {
		t.Fatalf("stats %+v", st)
	}
	t.Logf("%d records in %d group commits (%.1f per fsync)", st.Records, st.Batches, float64(st.Records)/float64(st.Batches))
}

// TestConcurrentReadsDuringAppends reads and iterates while appenders run
// and rotate segments; every record read must be one that was appended.
func TestConcurrentReadsDuringAppends(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), storage.Options{SegmentSize: 8192})
	var mu sync.Mutex
	written := map[storage.Location][]byte{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				r := record(w*1000 + i)
				loc, err := l.Append(r)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				written[loc] = r
				mu.Unlock()
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				err := l.Iterate(func(loc storage.Location, rec []byte) error {
					mu.Lock()
					want, ok := written[loc]
					mu.Unlock()
					if ok && !bytes.Equal(want, rec) {
						return fmt.Errorf("record at %v differs", loc)
					}
					if ok {
						got, err := l.Read(loc)
						if err != nil || !bytes.Equal(got, want) {
							return fmt.Errorf("Read(%v): %v", loc, err)
						}
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if got := len(all(t, l)); got != 400 {
		t.Fatalf("%d records, want 400", got)
	}
	mustClose(t, l)
}
