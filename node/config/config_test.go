package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaultParses(t *testing.T) {
	c, err := Parse("default", []byte(Default))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Identity != "identity" || c.Sync.BeaconMin != 30*time.Second || c.Sync.RelayWindow != 8*time.Second || len(c.Interfaces) != 0 {
		t.Fatalf("unexpected defaults: %+v", c)
	}
}

// Every key the parser accepts appears in the commented default file, so the
// file meshlogd init writes documents all of them.
func TestDefaultMentionsEveryKey(t *testing.T) {
	for section, ks := range Keys() {
		for _, k := range ks {
			if !strings.Contains(Default, k+" =") && !strings.Contains(Default, "# "+k+" =") {
				t.Errorf("[%s] %s is not in the default file", section, k)
			}
		}
	}
}

func TestFullConfig(t *testing.T) {
	src := `
[node]
name = "mast 3"
[interface lora0]
type = sx127x
board = uputronics-zero-ce1
frequency = 869.525   # MHz, the 10% sub-band
bandwidth = 250
spreading_factor = 10
coding_rate = 8
tx_power = 20
duty_cycle = 10%
network_name = field-net
passphrase = "secret # not a comment"
[interface up]
type = tcp_client
target = 127.0.0.1:4242
`
	c, err := Parse("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node.Name != "mast 3" {
		t.Errorf("name %q", c.Node.Name)
	}
	if len(c.Interfaces) != 2 {
		t.Fatalf("%d interfaces", len(c.Interfaces))
	}
	l := c.Interfaces[0]
	if l.FrequencyHz != 869_525_000 || l.BandwidthHz != 250_000 || l.SpreadingFactor != 10 ||
		l.CodingRate != 8 || l.TxPowerDBm != 20 || l.DutyCycle != 0.1 || !l.IsRadio() || l.Line != 4 {
		t.Errorf("lora0 = %+v", l)
	}
	if l.Passphrase != "secret # not a comment" {
		t.Errorf("passphrase %q", l.Passphrase)
	}
	if c.Interfaces[1].Target != "127.0.0.1:4242" || c.Interfaces[1].IsRadio() {
		t.Errorf("up = %+v", c.Interfaces[1])
	}
}

func TestErrorsNameFileLineAndReason(t *testing.T) {
	cases := []struct{ src, want string }{
		{"[node]\nnmae = x\n", `bad.conf:2: [node]: unknown key "nmae"`},
		{"[node]\nname = a\nname = b\n", `bad.conf:3: [node]: key "name" set twice (first on line 2)`},
		{"[nodes]\n", `bad.conf:1: unknown section [nodes]`},
		{"name = x\n", `bad.conf:1: key "name" outside of any section`},
		{"[interface r]\ntype = sx127x\nsf = 9\n", `bad.conf:3: [interface r]: unknown key "sf" (did you mean "spreading_factor"?)`},
		{"[interface r]\ntype = lora\n", `bad.conf:2: [interface r]: type: "lora": want sx127x`},
		{"[interface r]\ntype = sx127x\n", `bad.conf:1: [interface r]: type sx127x needs "board"`},
		{"[interface r]\ntype = rnode\nport = /dev/x\nspreading_factor = 13\n", `bad.conf:4: [interface r]: spreading_factor: 13 is out of range [6, 12]`},
		{"[interface r]\ntype = rnode\nport = /dev/x\nduty_cycle = 2\n", `bad.conf:4: [interface r]: duty_cycle: "2": want a fraction`},
		{"[interface t]\ntype = tcp_client\ntarget = nowhere\n", `bad.conf:3: [interface t]: target: "nowhere" is not host:port`},
		{"[interface t]\ntype = tcp_server\nlisten = :4242\nfrequency = 868\n", `bad.conf:4: [interface t]: key "frequency" applies to radio interfaces`},
		{"[interface a]\ntype = rnode\nport=/dev/a\n[interface a]\n", `bad.conf:4: interface "a" defined twice (first on line 1)`},
		{"[sync]\nbeacon_min = 10\n", `bad.conf:2: [sync]: beacon_min: "10" is not a duration`},
		{"[sync]\nbeacon_min = 1m\nbeacon_max = 30s\n", `bad.conf:3: [sync]: beacon_max is smaller than beacon_min`},
		{"[sync]\nrelay_window = soon\n", `bad.conf:2: [sync]: relay_window: "soon" is not a duration`},
		{"[node\n", `bad.conf:1: section header "[node" is missing ']'`},
		{"[node]\njust words\n", `bad.conf:2: expected key = value`},
		{"[clock]\ngps = /dev/ttyS0\n", `bad.conf:2: [clock]: gps: GPS time is not supported yet`},
	}
	for _, c := range cases {
		_, err := Parse("bad.conf", []byte(c.src))
		var ce *Error
		if !errors.As(err, &ce) {
			t.Errorf("%q: error %v is not a *config.Error", c.src, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q:\n got %s\nwant %s…", c.src, err, c.want)
		}
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "meshlogd.conf")
	if err := os.WriteFile(p, []byte("[node]\nname = x\n[bogus]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.HasPrefix(err.Error(), p+":3:") {
		t.Fatalf("err = %v", err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(Default))
	f.Add([]byte("[interface x]\ntype = rnode\nport = /dev/ttyUSB0\n"))
	f.Add([]byte("[node\n\x00=\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz", data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		for _, i := range c.Interfaces {
			if i.Type == "" {
				t.Fatalf("interface %q accepted without a type", i.Name)
			}
		}
	})
}

func TestInterfaceSyncMode(t *testing.T) {
	src := `
[interface lora0]
type = rnode
port = /dev/ttyUSB0
[interface up]
type = tcp_client
target = 127.0.0.1:4242
[interface far]
type = tcp_client
target = 127.0.0.1:4243
sync = links
[interface radio-links]
type = sx127x
board = custom
spi = SPI0.0
dio0 = GPIO22
sync = both
`
	c, err := Parse("t.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{SyncGroup, SyncBoth, SyncLinks, SyncBoth}
	for i, w := range want {
		if got := c.Interfaces[i].SyncMode(); got != w {
			t.Errorf("interface %s: sync mode %q, want %q", c.Interfaces[i].Name, got, w)
		}
	}
	_, err = Parse("t.conf", []byte("[interface up]\ntype = tcp_client\ntarget = 127.0.0.1:1\nsync = link\n"))
	var ce *Error
	if !errors.As(err, &ce) || ce.Line != 4 || !strings.Contains(ce.Msg, "group, links or both") {
		t.Fatalf("bad sync value: %v", err)
	}
}

func TestRelayWindow(t *testing.T) {
	for src, want := range map[string]time.Duration{"off": 0, "0": 0, "3s": 3 * time.Second} {
		c, err := Parse("m.conf", []byte("[sync]\nrelay_window = "+src+"\n"))
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if c.Sync.RelayWindow != want {
			t.Errorf("relay_window = %s: %v, want %v", src, c.Sync.RelayWindow, want)
		}
	}
}
