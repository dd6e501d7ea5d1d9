package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the meshlogd command when re-executed
// with MESHLOGD_E2E_CHILD=1, so end-to-end tests run real processes without
// a separate build step.
func TestMain(m *testing.M) {
	if os.Getenv("MESHLOGD_E2E_CHILD") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// meshlogd runs the command in a child process and returns its output.
func meshlogd(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "MESHLOGD_E2E_CHILD=1", "MESHLOGD_DATA=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("meshlogd %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

func mustMeshlogd(t *testing.T, args ...string) string {
	t.Helper()
	out, errs, code := meshlogd(t, args...)
	if code != 0 {
		t.Fatalf("meshlogd %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// daemon is a `meshlogd run` child process.
type daemon struct {
	dir string
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startDaemon(t *testing.T, dir string) *daemon {
	t.Helper()
	d := &daemon{dir: dir, log: &bytes.Buffer{}}
	d.cmd = exec.Command(os.Args[0], "run", "--data", dir, "--log-level", "debug")
	d.cmd.Env = append(os.Environ(), "MESHLOGD_E2E_CHILD=1")
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Ready when the control socket answers.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("unix", filepath.Join(dir, "control.sock")); err == nil {
			c.Close()
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon in %s did not start:\n%s", dir, d.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (d *daemon) kill9(t *testing.T) {
	_ = d.cmd.Process.Signal(syscall.SIGKILL)
	_ = d.cmd.Wait()
}

func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("daemon %s: exit after SIGTERM: %v\n%s", d.dir, err, d.log)
		}
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Errorf("daemon %s did not stop on SIGTERM", d.dir)
	}
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// fastSync makes beacons frequent so the test converges in seconds.
const fastSync = "\n[sync]\nbeacon_min = 1s\nbeacon_max = 8s\n"

func writeConfig(t *testing.T, dir, ifaces string) {
	t.Helper()
	cfg := "[node]\nname = " + filepath.Base(dir) + "\n" + fastSync + ifaces
	if err := os.WriteFile(filepath.Join(dir, "meshlogd.conf"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
}

type statusJSON struct {
	Member     bool              `json:"member"`
	Records    int               `json:"records"`
	Events     int               `json:"events"`
	ViewDigest string            `json:"view_digest"`
	Frontier   map[string]uint64 `json:"frontier"`
}

func status(t *testing.T, dir string) statusJSON {
	t.Helper()
	var s statusJSON
	out := mustMeshlogd(t, "status", "--json", "--data", dir)
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	return s
}

func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestEndToEndThreeDaemons runs three `meshlogd run` processes on loopback
// TCP (one tcp_server, two tcp_clients), each with its own data directory:
// records created on each converge on all; one is killed with SIGKILL
// while it syncs and restarted; it catches up and nothing it acknowledged
// is lost.
func TestEndToEndThreeDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end processes")
	}
	base := t.TempDir()
	dirs := []string{filepath.Join(base, "base"), filepath.Join(base, "team_a"), filepath.Join(base, "team_b")}
	var pubs []string
	for _, d := range dirs {
		var init struct {
			PublicKey string `json:"public_key"`
		}
		if err := json.Unmarshal([]byte(mustMeshlogd(t, "init", "--json", "--data", d)), &init); err != nil {
			t.Fatal(err)
		}
		pubs = append(pubs, init.PublicKey)
	}
	mustMeshlogd(t, "dataset", "create", "--data", dirs[0], "Flood assessment")
	for i := 1; i < 3; i++ {
		inv := strings.TrimSpace(mustMeshlogd(t, "invite", "--data", dirs[0], pubs[i]))
		mustMeshlogd(t, "dataset", "join", "--data", dirs[i], inv)
	}
	addr := freeAddr(t)
	writeConfig(t, dirs[0], "[interface hub]\ntype = tcp_server\nlisten = "+addr+"\n")
	for _, d := range dirs[1:] {
		writeConfig(t, d, "[interface uplink]\ntype = tcp_client\ntarget = "+addr+"\n")
	}
	daemons := make([]*daemon, 3)
	for i, d := range dirs {
		daemons[i] = startDaemon(t, d)
	}
	defer func() {
		for _, d := range daemons {
			if d != nil && d.cmd.ProcessState == nil {
				d.stop(t)
			}
		}
	}()
	for _, d := range dirs[1:] {
		eventually(t, d+" admitted", 60*time.Second, func() bool { return status(t, d).Member })
	}
	for i, d := range dirs {
		rec := fmt.Sprintf("R-%d", i)
		mustMeshlogd(t, "record", "create", "--data", d, rec, "water_point")
		mustMeshlogd(t, "set", "--data", d, rec, "functional", "true")
		mustMeshlogd(t, "note", "--data", d, rec, "visited by", filepath.Base(d))
	}
	converged := func(want int) func() bool {
		return func() bool {
			s0 := status(t, dirs[0])
			for _, d := range dirs[1:] {
				s := status(t, d)
				if s.ViewDigest != s0.ViewDigest || s.Records != want {
					return false
				}
			}
			return s0.Records == want
		}
	}
	eventually(t, "three daemons to converge", 90*time.Second, converged(3))

	// team_b writes a burst; every write it acknowledged must survive a
	// SIGKILL in the middle of syncing it.
	for i := 0; i < 12; i++ {
		mustMeshlogd(t, "set", "--data", dirs[2], "R-2", fmt.Sprintf("reading_%02d", i), fmt.Sprint(i*10))
	}
	acked := status(t, dirs[2]).Frontier
	daemons[2].kill9(t)
	mustMeshlogd(t, "record", "create", "--data", dirs[0], "R-9", "shelter") // written while team_b is down
	daemons[2] = startDaemon(t, dirs[2])
	after := status(t, dirs[2]).Frontier
	for a, seq := range acked {
		if after[a] < seq {
			t.Fatalf("after SIGKILL, author %s has seq %d, acknowledged %d", a, after[a], seq)
		}
	}
	eventually(t, "catch-up after restart", 90*time.Second, converged(4))
	var rec []struct {
		Fields map[string]any `json:"fields"`
	}
	out := mustMeshlogd(t, "view", "--json", "--data", dirs[1], "R-2")
	if err := json.Unmarshal([]byte("["+strings.ReplaceAll(strings.TrimSpace(out), "\n", ",")+"]"), &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec) != 1 || rec[0].Fields["reading_11"] != float64(110) {
		t.Fatalf("team_a's copy of R-2: %v", rec)
	}
}

func TestBadInputExits(t *testing.T) {
	dir := t.TempDir()
	mustMeshlogd(t, "init", "--data", dir)
	// Commands before a dataset exists.
	if _, errs, code := meshlogd(t, "record", "create", "--data", dir, "R-1", "x"); code != exitFailure || !strings.Contains(errs, "no dataset") {
		t.Errorf("write without dataset: exit %d: %s", code, errs)
	}
	mustMeshlogd(t, "dataset", "create", "--data", dir, "d")
	// Malformed config: file, line and reason.
	cfg := filepath.Join(dir, "meshlogd.conf")
	os.WriteFile(cfg, []byte("[node]\nname = x\n[interface lora]\ntype = sx127x\nboard = no-such-board\n"), 0o644)
	if _, errs, code := meshlogd(t, "run", "--data", dir); code != exitFailure || !strings.Contains(errs, "no-such-board") {
		t.Errorf("unknown board: exit %d: %s", code, errs)
	}
	os.WriteFile(cfg, []byte("[node]\nnmae = x\n"), 0o644)
	if _, errs, code := meshlogd(t, "run", "--data", dir); code != exitFailure || !strings.Contains(errs, "meshlogd.conf:2:") {
		t.Errorf("malformed config: exit %d: %s", code, errs)
	}
	// A missing serial device.
	os.WriteFile(cfg, []byte("[interface r]\ntype = rnode\nport = /dev/ttyNOPE0\n"), 0o644)
	if _, errs, code := meshlogd(t, "run", "--data", dir); code != exitFailure || !strings.Contains(errs, "/dev/ttyNOPE0") {
		t.Errorf("missing serial device: exit %d: %s", code, errs)
	}
	os.WriteFile(cfg, []byte(""), 0o644)
	// Wrong arguments.
	if _, _, code := meshlogd(t, "set", "--data", dir, "R-1"); code != exitUsage {
		t.Errorf("set with one argument: exit %d", code)
	}
	if _, _, code := meshlogd(t, "export", "--data", dir, "--format", "xml"); code != exitUsage {
		t.Errorf("bad export format: exit %d", code)
	}
	if _, errs, code := meshlogd(t, "dataset", "join", "--data", dir, "MESHLOGD1-AAAA"); code != exitFailure || !strings.Contains(errs, "invite") {
		t.Errorf("bad invite: exit %d: %s", code, errs)
	}
	// A corrupted data directory: a flipped byte in the middle of the log
	// is reported and the records before it survive.
	mustMeshlogd(t, "record", "create", "--data", dir, "R-1", "x")
	for i := 0; i < 5; i++ {
		mustMeshlogd(t, "set", "--data", dir, "R-1", "f", fmt.Sprint(i))
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "*"))
	var seg string
	for _, s := range segs {
		if st, err := os.Stat(s); err == nil && st.Mode().IsRegular() && st.Size() > 200 {
			seg = s
		}
	}
	if seg == "" {
		t.Fatalf("no segment file in %v", segs)
	}
	b, _ := os.ReadFile(seg)
	b[len(b)*2/3] ^= 0xFF
	os.WriteFile(seg, b, 0o644)
	out, errs, code := meshlogd(t, "view", "--json", "--data", dir)
	if code != exitOK || !strings.Contains(out, `"R-1"`) {
		t.Errorf("view after corruption: exit %d\n%s%s", code, out, errs)
	}
}
