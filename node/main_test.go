package node

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

// TestMain lets BenchmarkDaemonRSS measure a fresh process: re-executed
// with MESHLOGD_RSS_CHILD=DIR, the test binary opens that data directory
// like the daemon does at start, and prints its resident set size.
func TestMain(m *testing.M) {
	if dir := os.Getenv("MESHLOGD_RSS_CHILD"); dir != "" {
		n, err := Open(Options{DataDir: dir})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		runtime.GC()
		debug.FreeOSMemory()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Printf("%d %d %d\n", rssBytes(), ms.HeapInuse, n.Status().Events)
		n.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}
