package node

import (
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/control"
	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/storage"
)

// buildStore writes a dataset of n field-set events (after one record
// create) straight into a data directory's log, as a long-running node
// would have.
func buildStore(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(b.TempDir(), "n")
	newDatasetTB(b, dir)
	d, err := loadDataset(filepath.Join(dir, DatasetFile))
	if err != nil {
		b.Fatal(err)
	}
	id, err := rns.LoadIdentityFile(filepath.Join(dir, IdentityFile))
	if err != nil {
		b.Fatal(err)
	}
	l, err := feed.NewLog(d.Genesis, feed.Config{})
	if err != nil {
		b.Fatal(err)
	}
	st, _, err := storage.Open(filepath.Join(dir, LogDir), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ts := d.Genesis.HLC
	var batch [][]byte
	for i := 0; i < n; i++ {
		var body feed.Body = feed.FieldSet{Record: fmt.Sprintf("R-%d", i%500), Field: "reading", Value: feed.String(fmt.Sprintf("value %012d", i))}
		if i == 0 {
			body = feed.RecordCreate{Record: "R-0", Type: "sensor"}
		}
		raw, _ := feed.EncodeBody(body)
		ts = hlc.New(ts.Physical()+1, 0)
		s, _, err := l.Append(id, body.Kind(), raw, ts)
		if err != nil {
			b.Fatal(err)
		}
		rec, _ := s.MarshalBinary()
		batch = append(batch, rec)
		if len(batch) == 1000 {
			if _, err := st.AppendBatch(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if _, err := st.AppendBatch(batch); err != nil {
			b.Fatal(err)
		}
	}
	return dir
}

func newDatasetTB(tb testing.TB, dir string) {
	if _, _, err := Init(dir, rand.Reader); err != nil {
		tb.Fatal(err)
	}
	if _, err := CreateDataset(dir, "bench", time.Now(), rand.Reader); err != nil {
		tb.Fatal(err)
	}
}

func rssBytes() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkStartup100k measures rebuilding a node's state from 100,000
// stored events (Open: read, decode, restore into the log, fold the view)
// and the memory the node then holds: Go heap in use and the growth of the
// process's resident set.
func BenchmarkStartup100k(b *testing.B) {
	const events = 100_000
	dir := buildStore(b, events)
	runtime.GC()
	rss0 := rssBytes()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	heap0 := ms.HeapInuse
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n, err := Open(Options{DataDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		if i == b.N-1 {
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapInuse-heap0)/(1<<20), "heap-MB")
			b.ReportMetric(float64(ms.HeapInuse-heap0)/events, "heap-B/event")
			b.ReportMetric(float64(rssBytes()-rss0)/(1<<20), "rss-growth-MB")
			if st := n.Status(); st.Events != events+1 {
				b.Fatalf("restored %d events", st.Events)
			}
			b.StartTimer()
		}
		n.Close()
	}
	b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDaemonRSS measures the resident set of a fresh process that has
// opened a data directory holding 100,000 events (what the daemon holds
// before its interfaces start).
func BenchmarkDaemonRSS(b *testing.B) {
	const events = 100_000
	dir := buildStore(b, events)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "MESHLOGD_RSS_CHILD="+dir)
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("child: %v %s", err, out)
		}
		var rss, heap, n int64
		if _, err := fmt.Sscan(string(out), &rss, &heap, &n); err != nil || n != events+1 {
			b.Fatalf("child said %q", out)
		}
		b.ReportMetric(float64(rss)/(1<<20), "rss-MB")
		b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
	}
}

// BenchmarkIngestControlSocket measures durable writes end to end through
// the control socket (JSON request, engine append with signature, fsync,
// response) against the raw engine append in the same run.
func BenchmarkIngestControlSocket(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "n")
	newDatasetTB(b, dir)
	n, err := Open(Options{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if _, err := n.CreateRecord("R-1", "bench"); err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "bench.sock")
	srv, err := control.Listen(sock, control.HandlerFunc(n.handleControl))
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(b.Context())
	defer srv.Close()
	cl, err := control.Dial(sock)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()

	// Baseline: the pure engine's append (sign, chain, fold), no I/O.
	base := time.Now()
	const baseN = 2000
	n.mu.Lock()
	for i := 0; i < baseN; i++ {
		raw, _ := feed.EncodeBody(feed.FieldSet{Record: "R-1", Field: "f", Value: feed.Int(int64(i))})
		if _, err := n.eng.Append(feed.KindFieldSet, raw, n.nowMs()); err != nil {
			n.mu.Unlock()
			b.Fatal(err)
		}
	}
	if err := n.flushLocked(); err != nil {
		n.mu.Unlock()
		b.Fatal(err)
	}
	n.mu.Unlock()
	engineRate := baseN / time.Since(base).Seconds()

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := control.Request{Op: "set", Record: "R-1", Field: "f", Value: []byte(strconv.Itoa(i))}
		if err := cl.Do(req, nil); err != nil {
			b.Fatal(err)
		}
	}
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "writes/s")
	b.ReportMetric(engineRate, "engine-appends/s")
	b.ReportMetric(rate/engineRate, "ratio-vs-engine")
}
