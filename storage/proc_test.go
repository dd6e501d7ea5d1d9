package storage_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/meshlogd/meshlogd/storage"
)

// Environment of the helper process of TestCrashProcessSIGKILL.
const (
	helperDirEnv  = "MESHLOGD_STORAGE_HELPER_DIR"
	helperBaseEnv = "MESHLOGD_STORAGE_HELPER_BASE"
)

// procSegmentSize is small so that kills also land around segment creation.
const procSegmentSize = 16 << 10

// procRecord is the record with id: "id=<id>;" and 0..299 filler bytes
// derived from id, so the verifier can check every byte.
func procRecord(id int) []byte {
	b := fmt.Appendf(nil, "id=%d;", id)
	x := uint32(id)*2654435761 + 1
	for range id % 300 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b = append(b, byte(x))
	}
	return b
}

// procID parses the id of a procRecord.
func procID(rec []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(rec, []byte("id="))
	if !ok {
		return 0, false
	}
	num, _, ok := bytes.Cut(rest, []byte(";"))
	if !ok {
		return 0, false
	}
	id, err := strconv.Atoi(string(num))
	return id, err == nil
}

// TestCrashHelperProcess is the helper process of TestCrashProcessSIGKILL,
// not a test: with helperDirEnv set, it appends from four goroutines until
// killed and prints each record's id after Append returned.
func TestCrashHelperProcess(t *testing.T) {
	dir := os.Getenv(helperDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashProcessSIGKILL")
	}
	base, err := strconv.Atoi(os.Getenv(helperBaseEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: bad base:", err)
		os.Exit(3)
	}
	l, _, err := storage.Open(dir, storage.Options{SegmentSize: procSegmentSize})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper: open:", err)
		os.Exit(3)
	}
	var next atomic.Int64
	next.Store(int64(base))
	var out sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				id := int(next.Add(1))
				if _, err := l.Append(procRecord(id)); err != nil {
					fmt.Fprintln(os.Stderr, "helper: append:", err)
					os.Exit(3)
				}
				out.Lock()
				_, err := fmt.Fprintf(os.Stdout, "%d\n", id) // acknowledged
				out.Unlock()
				if err != nil {
					os.Exit(3)
				}
			}
		})
	}
	wg.Wait()
}

// helperCommand starts this test binary as the helper. Under qemu-arm user
// emulation without binfmt_misc the binary cannot exec itself, so it runs
// itself through qemu-arm(-static) from PATH.
func helperCommand(t *testing.T, dir string, base int) (*exec.Cmd, *bufio.Scanner, *bytes.Buffer) {
	t.Helper()
	args := []string{"-test.run=^TestCrashHelperProcess$", "-test.count=1"}
	for _, prefix := range [][]string{nil, {"qemu-arm-static"}, {"qemu-arm"}} {
		var cmd *exec.Cmd
		if prefix == nil {
			cmd = exec.Command(os.Args[0], args...)
		} else {
			if runtime.GOARCH != "arm" {
				break
			}
			q, err := exec.LookPath(prefix[0])
			if err != nil {
				continue
			}
			cmd = exec.Command(q, append([]string{os.Args[0]}, args...)...)
		}
		cmd.Env = append(os.Environ(), helperDirEnv+"="+dir, helperBaseEnv+"="+strconv.Itoa(base))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			if errors.Is(err, syscall.ENOEXEC) {
				continue
			}
			t.Fatalf("start helper: %v", err)
		}
		return cmd, bufio.NewScanner(stdout), &stderr
	}
	t.Fatalf("cannot execute %s as a helper process", os.Args[0])
	return nil, nil, nil
}

// TestCrashProcessSIGKILL kills a real appending process with SIGKILL at
// random moments (after a random number of acknowledgements, including
// none: during Open and recovery) and checks after every kill that every
// acknowledged record is present and intact and that appends work again.
func TestCrashProcessSIGKILL(t *testing.T) {
	if os.Getenv(helperDirEnv) != "" {
		t.Skip("inside the helper")
	}
	kills := 100
	if runtime.GOARCH == "arm" {
		kills = 40 // every kill restarts the binary under qemu (~0.5 s each)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	acked := map[int]bool{}
	total := 0
	for run := range kills {
		base := (run + 1) * 1_000_000
		cmd, lines, stderr := helperCommand(t, dir, base)
		want := rng.IntN(60)
		got := 0
		ack := func() {
			id, err := strconv.Atoi(strings.TrimSpace(lines.Text()))
			if err != nil {
				t.Fatalf("run %d: helper printed %q", run, lines.Text())
			}
			acked[id] = true
			got++
		}
		for got < want && lines.Scan() {
			ack()
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		for lines.Scan() { // printed before the kill: acknowledged too
			ack()
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
			t.Fatalf("run %d: helper did not die by the signal: %v\n%s", run, err, stderr)
		}
		total += got

		l, rep, err := storage.Open(dir, storage.Options{SegmentSize: procSegmentSize})
		if err != nil {
			t.Fatalf("run %d: open: %v", run, err)
		}
		for _, d := range rep.Damage {
			if d.Kind != storage.TornTail {
				t.Fatalf("run %d: SIGKILL produced %+v", run, d)
			}
		}
		present := map[int]bool{}
		err = l.Iterate(func(loc storage.Location, rec []byte) error {
			id, ok := procID(rec)
			if !ok || !bytes.Equal(rec, procRecord(id)) {
				return fmt.Errorf("record at %v damaged: %q", loc, rec)
			}
			if present[id] {
				return fmt.Errorf("record %d twice", id)
			}
			present[id] = true
			return nil
		})
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		for id := range acked {
			if !present[id] {
				t.Fatalf("run %d: acknowledged record %d lost", run, id)
			}
		}
		id := base + 999_999
		if _, err := l.Append(procRecord(id)); err != nil {
			t.Fatalf("run %d: append after recovery: %v", run, err)
		}
		acked[id] = true
		mustClose(t, l)
	}
	t.Logf("%d kills, %d acknowledged appends from the helpers, all present", kills, total)
}
