package main

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/rnode"
	"github.com/meshlogd/meshlogd/rnode/rnodetest"
)

func runRNodeCmd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

// fastRNodeOpts drops the 2 s boot delay for the emulated device and
// gives deadlines that only matter when something is wrong.
func fastRNodeOpts(t *testing.T) {
	t.Helper()
	old := rnodeOpts
	rnodeOpts = func(port string) *rnode.Opts {
		return &rnode.Opts{Name: port, OpenDelay: -1, DetectTimeout: 10 * time.Second, ConfigTimeout: 10 * time.Second}
	}
	t.Cleanup(func() { rnodeOpts = old })
}

func TestRadioRNodeMissingDevice(t *testing.T) {
	port := filepath.Join(t.TempDir(), "ttyUSB0")
	for _, args := range [][]string{
		{"radio", "probe", "--rnode", port},
		{"radio", "listen", "--rnode", port, "--count", "1"},
		{"radio", "send", "--rnode", port, "68656c6c6f"},
	} {
		code, _, errs := runRNodeCmd(args...)
		if code != exitFailure || !strings.Contains(errs, "serial device not found: "+port) {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}

func TestRadioRNodeCommands(t *testing.T) {
	fastRNodeOpts(t)
	var mu = make(chan [][]byte, 1)
	mu <- nil
	dev := rnodetest.New(rnodetest.Config{Air: rnodetest.AirFunc(func(f []byte, _ hal.Params) {
		fs := <-mu
		mu <- append(fs, append([]byte(nil), f...))
	})})
	pty, err := rnodetest.NewPTY(dev, t.TempDir(), "ttyUSB0")
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()
	flags := []string{"--rnode", pty.Path(), "--freq", "868.1", "--bw", "125", "--sf", "9", "--txp", "17"}

	code, out, errs := runRNodeCmd(append([]string{"radio", "probe"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "firmware 1.86, ESP32") || !strings.Contains(out, "868.100MHz/125kHz/SF9") {
		t.Fatalf("probe: exit %d\n%s\n%s", code, out, errs)
	}

	code, out, errs = runRNodeCmd(append(append([]string{"radio", "send"}, flags...), "c0ffee")...)
	if code != exitOK || !strings.Contains(out, "sent 3 bytes in 1 frame(s)") {
		t.Fatalf("send: exit %d\n%s\n%s", code, out, errs)
	}
	// The device got the packet before the command switched it off again.
	fs := <-mu
	mu <- fs
	if len(fs) != 1 || !bytes.Equal(fs[0][1:], []byte{0xc0, 0xff, 0xee}) {
		t.Fatalf("on air: %x", fs)
	}

	// listen: deliver a frame once the command has configured the radio.
	go func() {
		for i := 0; i < 10000; i++ {
			if _, on := dev.Params(); on {
				dev.Receive(append([]byte{0x20}, []byte("hello")...), -97, -5.5)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	code, out, errs = runRNodeCmd(append([]string{"radio", "listen", "--count", "1"}, flags...)...)
	if code != exitOK || !strings.Contains(out, "rssi=-97.0 snr=-5.50 len=5 "+hex.EncodeToString([]byte("hello"))) {
		t.Fatalf("listen: exit %d\n%s\n%s", code, out, errs)
	}
	// Close's radio-off command travels through the pty.
	for i := 0; i < 10000 && dev.State().RadioOn; i++ {
		time.Sleep(time.Millisecond)
	}
	if dev.State().RadioOn {
		t.Fatal("radio left on after the command")
	}

	// A device that cannot do 20 dBm: configuration fails, naming it.
	code, _, errs = runRNodeCmd("radio", "send", "--rnode", pty.Path(), "--freq", "868.1", "--txp", "20", "00")
	if code != exitFailure || !strings.Contains(errs, "tx power: device reports 17 dBm, configured 20 dBm") {
		t.Fatalf("txp 20: exit %d, stderr %q", code, errs)
	}
	// --preamble is an SX127x setting.
	code, _, errs = runRNodeCmd("radio", "probe", "--rnode", pty.Path(), "--preamble", "12")
	if code != exitUsage || !strings.Contains(errs, "--preamble") {
		t.Fatalf("preamble: exit %d, stderr %q", code, errs)
	}
}
