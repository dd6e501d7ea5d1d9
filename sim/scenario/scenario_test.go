package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// full is the README's complete example: every key appears.
const full = `{
  "name": "full-example",
  "description": "every key of the scenario format",
  "seed": 7,
  "radio": {"freq_mhz": 868.1, "bw_khz": 125, "sf": 9, "cr": 5, "tx_dbm": 14, "duty_cycle": 0.01, "duty_window": "1h", "preamble": 18},
  "nodes": [
    {"name": "base", "pos": [0, 0]},
    {"name": "relay1", "pos": [2, 0], "radio": "sim"},
    {"name": "team_a", "pos": [4, 0]},
    {"name": "team_d", "pos": [4, 2]}
  ],
  "range_km": 3,
  "loss": 0.05,
  "links": [{"a": "base", "b": "relay1", "loss": 0.1}, {"a": "relay1", "b": "team_a"}, {"a": "relay1", "b": "team_d"}],
  "persist_delay": "20ms",
  "script": [
    {"at": "0s", "label": "split", "partition": [["base"], ["team_a", "relay1"]]},
    {"at": "1m", "node": "team_a", "create": {"record": "R-200", "type": "water_point"}},
    {"at": "1m10s", "node": "team_a", "set": {"record": "R-200", "field": "functional", "value": true}},
    {"at": "2m", "node": "team_d", "note": {"record": "R-300", "text": "bridge out"}},
    {"at": "20m", "link": {"a": "relay1", "b": "team_d", "loss": 0.3}},
    {"at": "30m", "label": "healed", "heal": true},
    {"at": "40m", "node": "relay1", "down": true},
    {"at": "50m", "node": "relay1", "up": true}
  ],
  "workload": {"nodes": "all", "events_per_node": 50, "from": "0s", "to": "20m"},
  "until": "3h",
  "expect_convergence": true
}`

func TestParseFullExample(t *testing.T) {
	s, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "full-example" || s.Seed != 7 || len(s.Nodes) != 4 || len(s.Links) != 3 || len(s.Script) != 8 {
		t.Fatalf("parsed %+v", s)
	}
	if s.Links[1].Loss != 0.05 {
		t.Errorf("link without loss got %v, want the default 0.05", s.Links[1].Loss)
	}
	if s.Until != 3*time.Hour || s.Radio.DutyWindow != time.Hour || s.PersistDelay != 20*time.Millisecond {
		t.Errorf("durations %v %v %v", s.Until, s.Radio.DutyWindow, s.PersistDelay)
	}
	if st := s.Script[2]; st.Op == nil || st.Op.Set == nil || st.Op.Set.Value != true || st.Node != "team_a" {
		t.Errorf("set step %+v", st)
	}
	if s.Workload == nil || s.Workload.EventsPerNode != 50 || s.Workload.Nodes != nil {
		t.Errorf("workload %+v", s.Workload)
	}
}

func TestParseIssueExample(t *testing.T) {
	// The example of the issue, with the nodes it names.
	src := `{"seed":1, "radio":{"freq_mhz":868.1,"bw_khz":125,"sf":9,"cr":5,"tx_dbm":14,"duty_cycle":0.01},
	"nodes":[{"name":"base","pos":[0,0]},{"name":"x","pos":[1,0]},{"name":"y","pos":[2,0]},{"name":"team_a","pos":[0,1]},{"name":"team_b","pos":[1,1]},{"name":"team_d","pos":[2,1]},{"name":"relay1","pos":[1,2]}],
	"range_km":3, "links":[{"a":"x","b":"y","loss":0.1}],
	"script":[{"at":"0s","partition":[["base"],["team_a","team_b"]]}, {"at":"1m","node":"team_a","create":{"record":"R-200","type":"water_point"}},
	{"at":"1m10s","node":"team_a","set":{"record":"R-200","field":"functional","value":true}}, {"at":"2m","node":"team_d","note":{"record":"R-300","text":"..."}},
	{"at":"30m","heal":true}, {"at":"40m","node":"relay1","down":true}, {"at":"50m","node":"relay1","up":true}],
	"workload":{"nodes":"all","events_per_node":50,"from":"0s","to":"20m"}, "until":"3h"}`
	if _, err := Parse([]byte(src)); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultParses(t *testing.T) {
	s := Default()
	if s.Name != "base-camp" || len(s.Nodes) != 5 {
		t.Fatalf("default %+v", s)
	}
}

func TestParseErrors(t *testing.T) {
	base := `"nodes":[{"name":"a","pos":[0,0]},{"name":"b","pos":[1,0]}]`
	cases := []struct {
		name, src, path, msg string
	}{
		{"not json", `{`, "", "not valid JSON"},
		{"not an object", `[1]`, "", "want a JSON object"},
		{"unknown top key", `{` + base + `,"sead":1}`, "sead", "unknown key"},
		{"unknown radio key", `{` + base + `,"radio":{"sf":9,"power":3}}`, "radio.power", "unknown key"},
		{"bad sf", `{` + base + `,"radio":{"sf":13}}`, "radio.sf", "out of range"},
		{"bad relay window", `{` + base + `,"sync":{"relay_window":"10ms"}}`, "sync.relay_window", "100ms..10m"},
		{"relay window not a duration", `{` + base + `,"sync":{"relay_window":true}}`, "sync.relay_window", "duration"},
		{"beacon_max below min", `{` + base + `,"sync":{"beacon_min":"1m","beacon_max":"30s"}}`, "sync.beacon_max", "beacon_min"},
		{"unknown sync key", `{` + base + `,"sync":{"relay":"off"}}`, "sync.relay", "unknown key"},
		{"sf not integer", `{` + base + `,"radio":{"sf":9.5}}`, "radio.sf", "integer"},
		{"bad duty", `{` + base + `,"radio":{"duty_cycle":0}}`, "radio.duty_cycle", "duty_cycle"},
		{"no nodes", `{"nodes":[]}`, "nodes", "at least one node"},
		{"duplicate node", `{"nodes":[{"name":"a"},{"name":"a"}]}`, "nodes[1].name", "duplicate"},
		{"unknown node key", `{"nodes":[{"name":"a","position":[0,0]}]}`, "nodes[0].position", "unknown key"},
		{"bad pos", `{"nodes":[{"name":"a","pos":[0]}]}`, "nodes[0].pos", "want [x_km, y_km]"},
		{"bad radio kind", `{"nodes":[{"name":"a","radio":"lora"}]}`, "nodes[0].radio", "want \"sim\" or \"sx127x\""},
		{"bad duration", `{` + base + `,"until":"3 hours"}`, "until", "bad duration"},
		{"duration not string", `{` + base + `,"until":3}`, "until", "want a duration string"},
		{"negative duration", `{` + base + `,"until":"-1h"}`, "until", "bad duration"},
		{"step bad duration", `{` + base + `,"script":[{"at":"1x","heal":true}]}`, "script[0].at", "bad duration"},
		{"step missing at", `{` + base + `,"script":[{"heal":true}]}`, "script[0].at", "missing"},
		{"step after until", `{` + base + `,"until":"1h","script":[{"at":"2h","heal":true}]}`, "script[0].at", "after until"},
		{"step unknown node", `{` + base + `,"script":[{"at":"1m","node":"zed","down":true}]}`, "script[0].node", "unknown node \"zed\""},
		{"step no action", `{` + base + `,"script":[{"at":"1m"}]}`, "script[0]", "needs one action"},
		{"step two actions", `{` + base + `,"script":[{"at":"1m","node":"a","down":true,"up":true}]}`, "script[0]", "more than one action"},
		{"step typo", `{` + base + `,"script":[{"at":"1m","node":"a","dwn":true}]}`, "script[0].dwn", "unknown key"},
		{"step node missing", `{` + base + `,"script":[{"at":"1m","down":true}]}`, "script[0].node", "missing"},
		{"step node unused", `{` + base + `,"script":[{"at":"1m","node":"a","heal":true}]}`, "script[0].node", "not used"},
		{"create missing type", `{` + base + `,"script":[{"at":"1m","node":"a","create":{"record":"R"}}]}`, "script[0].create.type", "missing"},
		{"set unknown key", `{` + base + `,"script":[{"at":"1m","node":"a","set":{"record":"R","field":"f","value":1,"by":"x"}}]}`, "script[0].set.by", "unknown key"},
		{"set object value", `{` + base + `,"script":[{"at":"1m","node":"a","set":{"record":"R","field":"f","value":{}}}]}`, "script[0].set.value", "want a string"},
		{"partition unknown node", `{` + base + `,"script":[{"at":"1m","partition":[["a"],["q"]]}]}`, "script[0].partition[1][0]", "unknown node \"q\""},
		{"partition twice", `{` + base + `,"script":[{"at":"1m","partition":[["a"],["a"]]}]}`, "script[0].partition[1][0]", "two groups"},
		{"heal false", `{` + base + `,"script":[{"at":"1m","heal":false}]}`, "script[0].heal", "only true"},
		{"link unknown node", `{` + base + `,"links":[{"a":"a","b":"c"}]}`, "links[0].b", "unknown node \"c\""},
		{"link self", `{` + base + `,"links":[{"a":"a","b":"a"}]}`, "links[0]", "two different nodes"},
		{"link bad loss", `{` + base + `,"links":[{"a":"a","b":"b","loss":1.5}]}`, "links[0].loss", "probability"},
		{"link change needs loss", `{` + base + `,"script":[{"at":"1m","link":{"a":"a","b":"b"}}]}`, "script[0].link.loss", "missing"},
		{"link change unknown link", `{"nodes":[{"name":"a"},{"name":"b"},{"name":"c"}],"links":[{"a":"a","b":"b"}],"script":[{"at":"1m","link":{"a":"a","b":"c","loss":0.1}}]}`, "script[0].link", "no link"},
		{"workload unknown node", `{` + base + `,"workload":{"nodes":["a","x"],"events_per_node":3}}`, "workload.nodes[1]", "unknown node \"x\""},
		{"workload missing count", `{` + base + `,"workload":{}}`, "workload.events_per_node", "missing"},
		{"workload bad to", `{` + base + `,"until":"1h","workload":{"events_per_node":3,"to":"2h"}}`, "workload.to", "until"},
		{"workload nodes word", `{` + base + `,"workload":{"nodes":"some","events_per_node":3}}`, "workload.nodes", "\"all\""},
		{"seed negative", `{` + base + `,"seed":-1}`, "seed", "non-negative"},
		{"range zero", `{` + base + `,"range_km":0}`, "range_km", "range_km"},
		{"expect not bool", `{` + base + `,"expect_convergence":"yes"}`, "expect_convergence", "true or false"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src))
			if err == nil {
				t.Fatal("no error")
			}
			var pe *Error
			if !errors.As(err, &pe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v (%T) is not a *scenario.Error", err, err)
			}
			if pe.Path != tc.path {
				t.Errorf("path %q, want %q (error: %v)", pe.Path, tc.path, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"0s": 0, "90s": 90 * time.Second, "1h30m": 90 * time.Minute,
		"2d": 48 * time.Hour, "1d12h": 36 * time.Hour, "1m10s": 70 * time.Second} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "1x", "-5s", "d", "xd", "1.5d", "400d", "1d-1h"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

func TestTestdataScenariosParse(t *testing.T) {
	files, _ := filepath.Glob("../testdata/*.json")
	if len(files) == 0 {
		t.Skip("no scenario files")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(full))
	f.Add(DefaultJSON())
	f.Add([]byte(`{"nodes":[{"name":"a"}],"script":[{"at":"1d1h","node":"a","down":true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Parse(data)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		// A parsed scenario is internally consistent.
		if len(s.Nodes) == 0 || s.Until <= 0 {
			t.Fatalf("accepted an empty scenario: %+v", s)
		}
		for i, st := range s.Script {
			if st.At > s.Until || (i > 0 && st.At < s.Script[i-1].At) {
				t.Fatalf("script not sorted within until")
			}
			if st.Node != "" && s.NodeIndex(st.Node) < 0 {
				t.Fatalf("unknown node %q accepted", st.Node)
			}
		}
	})
}

func TestSyncSection(t *testing.T) {
	base := `"nodes":[{"name":"a","pos":[0,0]},{"name":"b","pos":[1,0]}]`
	sc, err := Parse([]byte(`{` + base + `}`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Sync != (Sync{BeaconMin: 30 * time.Second, BeaconMax: time.Hour, RelayWindow: 8 * time.Second}) {
		t.Fatalf("defaults %+v", sc.Sync)
	}
	sc, err = Parse([]byte(`{` + base + `,"sync":{"beacon_min":"10s","beacon_max":"20m","relay_window":"off"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if sc.Sync != (Sync{BeaconMin: 10 * time.Second, BeaconMax: 20 * time.Minute}) {
		t.Fatalf("parsed %+v", sc.Sync)
	}
}
