package storage_test

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/storage"
)

// BenchmarkAppend measures durable appends (each Append returns after its
// fsync) from W concurrent appenders with group commit, and in the same run
// two baselines writing the same payload bytes to one O_APPEND file: W
// goroutines doing os.File.Write + Sync freely (x_vs_raw; the kernel may
// coalesce their fsyncs, but nobody learns where a record landed), and the
// same under a mutex (x_vs_raw_serial: one fsync per record, as in a log
// without group commit). A ratio > 1 means the log is faster.
func BenchmarkAppend(b *testing.B) {
	for _, size := range []int{100, 1000} {
		for _, writers := range []int{1, 8, 32} {
			b.Run(fmt.Sprintf("size=%d/writers=%d", size, writers), func(b *testing.B) {
				rec := make([]byte, size)
				for i := range rec {
					rec[i] = byte(i)
				}
				l, _, err := storage.Open(b.TempDir(), storage.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				f, err := os.OpenFile(filepath.Join(b.TempDir(), "raw"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				b.SetBytes(int64(size))
				// fsync latency on a shared machine drifts: interleave the
				// log and the baseline in small rounds so both see the
				// same disk.
				var logTime, rawTime, lockedTime time.Duration
				var mu sync.Mutex
				chunk := max(16, 4*writers)
				for done := 0; done < b.N; {
					n := min(chunk, b.N-done)
					done += n
					start := time.Now()
					parallel(n, writers, func() error {
						_, err := l.Append(rec)
						return err
					})
					logTime += time.Since(start)
					b.StopTimer()
					start = time.Now()
					parallel(n, writers, func() error {
						if _, err := f.Write(rec); err != nil {
							return err
						}
						return f.Sync()
					})
					rawTime += time.Since(start)
					start = time.Now()
					parallel(n, writers, func() error {
						mu.Lock() // what a log without group commit must do to know each record's offset
						defer mu.Unlock()
						if _, err := f.Write(rec); err != nil {
							return err
						}
						return f.Sync()
					})
					lockedTime += time.Since(start)
					b.StartTimer()
				}
				b.StopTimer()

				st := l.Stats()
				b.ReportMetric(float64(b.N)/logTime.Seconds(), "appends/s")
				b.ReportMetric(float64(b.N)/rawTime.Seconds(), "raw_appends/s")
				b.ReportMetric(rawTime.Seconds()/logTime.Seconds(), "x_vs_raw")
				b.ReportMetric(lockedTime.Seconds()/logTime.Seconds(), "x_vs_raw_serial")
				b.ReportMetric(float64(st.Records)/float64(max(st.Batches, 1)), "records/fsync")
			})
		}
	}
}

// parallel runs n calls of fn spread over w goroutines.
func parallel(n, w int, fn func() error) {
	var wg sync.WaitGroup
	var mu sync.Mutex
	left := n
	var firstErr error
	for range w {
		wg.Go(func() {
			for {
				mu.Lock()
				if left == 0 || firstErr != nil {
					mu.Unlock()
					return
				}
				left--
				mu.Unlock()
				if err := fn(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		panic(firstErr)
	}
}

// BenchmarkRecovery measures the full recovery scan (Check: every frame
// decoded and CRC-checked) of a 64 MiB log of 300-byte records, against
// reading the same files with os.ReadFile in the same run. s/GB is the
// recovery time per GB scanned, scaled from 64 MiB.
func BenchmarkRecovery(b *testing.B) {
	const total = 64 << 20
	dir := b.TempDir()
	l, _, err := storage.Open(dir, storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	rec := make([]byte, 300)
	batch := make([][]byte, 1000)
	for i := range batch {
		batch[i] = rec
	}
	for l.Stats().FileBytes < total {
		if _, err := l.AppendBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	var scanned int64
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		rep, err := storage.Check(dir, storage.Options{})
		if err != nil || !rep.Clean() {
			b.Fatalf("%v %+v", err, rep)
		}
		scanned = rep.ScannedBytes
	}
	scan := time.Since(start) / time.Duration(b.N)
	b.StopTimer()
	b.SetBytes(scanned)

	names, err := filepath.Glob(filepath.Join(dir, "*"+storage.SegmentExt))
	if err != nil {
		b.Fatal(err)
	}
	start = time.Now()
	for range b.N {
		for _, n := range names {
			if _, err := os.ReadFile(n); err != nil {
				b.Fatal(err)
			}
		}
	}
	raw := time.Since(start) / time.Duration(b.N)
	perGB := scan.Seconds() * 1e9 / float64(scanned)
	b.ReportMetric(perGB, "s/GB")
	b.ReportMetric(scan.Seconds()/raw.Seconds(), "x_raw_read_time")
}

// BenchmarkWriteAmplification reports bytes written per event byte for
// typical event sizes and group-commit batch sizes: file_B/event_B counts
// the bytes written to segment files (frames, padding, segment headers);
// device_B/event_B counts every 4 KiB page dirtied between fsyncs, since
// each fsync rewrites the partial page at the tail (an estimate of what
// the SD card sees, before filesystem journal overhead). The baseline is
// 1.0: the event bytes themselves.
func BenchmarkWriteAmplification(b *testing.B) {
	for _, size := range []int{60, 300} {
		for _, batch := range []int{1, 10, 100} {
			b.Run(fmt.Sprintf("event=%dB/batch=%d", size, batch), func(b *testing.B) {
				l, _, err := storage.Open(b.TempDir(), storage.Options{})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				recs := make([][]byte, batch)
				for i := range recs {
					recs[i] = make([]byte, size)
				}
				b.SetBytes(int64(size * batch))
				for range b.N {
					if _, err := l.AppendBatch(recs); err != nil {
						b.Fatal(err)
					}
				}
				st := l.Stats()
				b.ReportMetric(float64(st.FileBytes)/float64(st.PayloadBytes), "file_B/event_B")
				b.ReportMetric(float64(st.PagesSynced*4096)/float64(st.PayloadBytes), "device_B/event_B")
			})
		}
	}
}

// BenchmarkIndexMemory builds an Index of 1M events (200 authors × 5000
// consecutive seqs) and reports heap bytes per event, against a plain Go
// map keyed by (author, seq) built in the same run.
func BenchmarkIndexMemory(b *testing.B) {
	const authors, per = 200, 5000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	type mapKey struct {
		k   storage.Key
		seq uint64
	}
	var idxBytes, mapBytes float64
	for range b.N {
		before := heap()
		x := storage.NewIndex()
		for s := 1; s <= per; s++ {
			for a := range authors {
				x.Put(storage.Key{byte(a), byte(a >> 8)}, uint64(s), storage.Location{Segment: 1, Offset: uint32(s * 8)})
			}
		}
		idxBytes = float64(heap()-before) / float64(x.Len())
		b.ReportMetric(float64(x.MemoryBytes())/float64(x.Len()), "est_B/event")
		runtime.KeepAlive(x)

		before = heap()
		m := make(map[mapKey]storage.Location)
		for s := 1; s <= per; s++ {
			for a := range authors {
				m[mapKey{storage.Key{byte(a), byte(a >> 8)}, uint64(s)}] = storage.Location{Segment: 1, Offset: uint32(s * 8)}
			}
		}
		mapBytes = float64(heap()-before) / float64(len(m))
		runtime.KeepAlive(m)
	}
	b.ReportMetric(idxBytes, "heap_B/event")
	b.ReportMetric(mapBytes, "map_heap_B/event")
	b.ReportMetric(mapBytes/idxBytes, "x_smaller_than_map")
}
