package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// MaxFileSize bounds the scenario files Parse accepts.
const MaxFileSize = 1 << 20

// Limits that keep a hostile or mistyped scenario from allocating without
// bound. They are far above anything a useful scenario needs.
const (
	MaxNodes         = 1000
	MaxScriptSteps   = 100000
	MaxEventsPerNode = 1000000
	MaxUntil         = 30 * 24 * time.Hour
)

// ErrInvalid is the sentinel every *Error unwraps to.
var ErrInvalid = errors.New("scenario: invalid")

// Error reports which key of a scenario file is wrong and why. Path is a
// JSON-path-like name of the key, e.g. "script[3].at" or "radio.sf".
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "scenario: " + e.Msg
	}
	return fmt.Sprintf("scenario: %s: %s", e.Path, e.Msg)
}

// Unwrap returns ErrInvalid so callers can test with errors.Is.
func (e *Error) Unwrap() error { return ErrInvalid }

func errf(path, format string, args ...any) error {
	return &Error{Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Radio holds the LoRa parameters shared by every node of a scenario.
type Radio struct {
	FreqMHz    float64       // carrier, MHz (only used by the path-loss model)
	BWkHz      float64       // 125, 250 or 500 (any chip bandwidth accepted)
	SF         int           // spreading factor 7..12
	CR         int           // coding rate 5..8 = 4/5..4/8
	TxDBm      int           // transmit power
	DutyCycle  float64       // fraction of DutyWindow a node may transmit, (0, 1]
	DutyWindow time.Duration // sliding window of the duty-cycle budget
	Preamble   int           // preamble symbols N (RNode rule when 0)
}

// Sync tunes every node's sync engine, with the meanings and defaults of
// the [sync] section of meshlogd.conf.
type Sync struct {
	BeaconMin   time.Duration // Trickle Imin (default 30s)
	BeaconMax   time.Duration // Trickle Imax, rounded down to BeaconMin·2^k (default 1h)
	RelayWindow time.Duration // eager relay delay bound; 0 = off (default 8s)
}

// Node is one simulated node.
type Node struct {
	Name   string
	Pos    [2]float64 // km, x/y on a flat plane
	HasPos bool
	Radio  string // "sim" (default: the medium's own radio model) or "sx127x" (the real sx127x driver on an emulated chip)
}

// Link is an explicit radio link between two nodes.
type Link struct {
	A, B string
	Loss float64 // per-frame loss probability
}

// Op is a local write done by a node: exactly one of Create, Set or Note is
// non-nil.
type Op struct {
	Create *Create
	Set    *Set
	Note   *Note
}

// Create makes a new record.
type Create struct{ Record, Type string }

// Set writes one field of a record (last writer wins).
type Set struct {
	Record, Field string
	Value         any // JSON value: bool, float64, string or nil
}

// Note appends a free-text note to a record.
type Note struct{ Record, Text string }

// Step is one scheduled action of the script. Exactly one action is set.
type Step struct {
	At        time.Duration
	Node      string     // for Op, Down, Up
	Op        *Op        // a local write at Node
	Down, Up  bool       // Node crashes / restarts
	Partition [][]string // groups that can only hear each other
	Heal      bool       // remove the partition
	Link      *Link      // change the loss of an existing link
	Label     string     // optional phase name shown in reports
}

// Workload generates random writes.
type Workload struct {
	Nodes         []string // empty means all nodes
	EventsPerNode int
	From, To      time.Duration
}

// Scenario is a parsed, validated scenario file.
type Scenario struct {
	Name              string
	Description       string
	Seed              uint64
	Radio             Radio
	Sync              Sync
	Nodes             []Node
	RangeKm           float64
	Loss              float64 // default per-frame loss of range-based links
	Links             []Link  // explicit links; nil means range-based
	Script            []Step  // sorted by At (stable)
	Workload          *Workload
	Until             time.Duration
	PersistDelay      time.Duration // time for a write to become durable
	ExpectConvergence bool
}

// NodeIndex returns the index of the named node, or -1.
func (s *Scenario) NodeIndex(name string) int {
	for i, n := range s.Nodes {
		if n.Name == name {
			return i
		}
	}
	return -1
}

// object is one JSON object being decoded with strict key checking.
type object struct {
	path string
	m    map[string]json.RawMessage
	used map[string]bool
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func decodeObject(path string, raw json.RawMessage) (*object, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return nil, errf(path, "want a JSON object, got %s", describe(raw))
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errf(path, "%v", err)
	}
	return &object{path: path, m: m, used: map[string]bool{}}, nil
}

func describe(raw json.RawMessage) string {
	if len(raw) == 0 {
		return "nothing"
	}
	s := string(raw)
	if len(s) > 20 {
		s = s[:20] + "…"
	}
	return s
}

func (o *object) has(key string) bool { _, ok := o.m[key]; return ok }

func (o *object) raw(key string) (json.RawMessage, bool) {
	r, ok := o.m[key]
	o.used[key] = true
	return r, ok
}

// finish reports the first unknown key in sorted order.
func (o *object) finish() error {
	var unknown []string
	for k := range o.m {
		if !o.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return errf(child(o.path, unknown[0]), "unknown key")
}

func (o *object) str(key string, dst *string) error {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	if err := json.Unmarshal(r, dst); err != nil {
		return errf(child(o.path, key), "want a string, got %s", describe(r))
	}
	return nil
}

func (o *object) num(key string, dst *float64) error {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	var f float64
	if err := json.Unmarshal(r, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return errf(child(o.path, key), "want a number, got %s", describe(r))
	}
	*dst = f
	return nil
}

func (o *object) integer(key string, dst *int, lo, hi int) error {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	var f float64
	if err := json.Unmarshal(r, &f); err != nil || f != math.Trunc(f) {
		return errf(child(o.path, key), "want an integer, got %s", describe(r))
	}
	if f < float64(lo) || f > float64(hi) {
		return errf(child(o.path, key), "%v out of range [%d, %d]", f, lo, hi)
	}
	*dst = int(f)
	return nil
}

func (o *object) boolean(key string, dst *bool) error {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	if err := json.Unmarshal(r, dst); err != nil {
		return errf(child(o.path, key), "want true or false, got %s", describe(r))
	}
	return nil
}

func (o *object) duration(key string, dst *time.Duration) error {
	r, ok := o.raw(key)
	if !ok {
		return nil
	}
	var s string
	if err := json.Unmarshal(r, &s); err != nil {
		return errf(child(o.path, key), "want a duration string like \"1m30s\", got %s", describe(r))
	}
	d, err := ParseDuration(s)
	if err != nil {
		return errf(child(o.path, key), "bad duration %q: %v", s, err)
	}
	*dst = d
	return nil
}

func (o *object) array(key string) ([]json.RawMessage, bool, error) {
	r, ok := o.raw(key)
	if !ok {
		return nil, false, nil
	}
	var a []json.RawMessage
	if err := json.Unmarshal(r, &a); err != nil {
		return nil, true, errf(child(o.path, key), "want an array, got %s", describe(r))
	}
	return a, true, nil
}

// ParseDuration parses a non-negative Go duration ("90s", "1h30m"); "d"
// days are accepted as a leading unit ("2d", "1d12h").
func ParseDuration(s string) (time.Duration, error) {
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i > 0 {
		var n int
		if _, err := fmt.Sscanf(s[:i], "%d", &n); err != nil || fmt.Sprint(n) != s[:i] || n < 0 || n > 366 {
			return 0, errors.New("bad day count")
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New(strings.TrimPrefix(err.Error(), "time: "))
	}
	if d < 0 {
		return 0, errors.New("negative")
	}
	return days + d, nil
}

// Parse decodes and validates a scenario file. Every problem is reported as
// an *Error naming the offending key.
func Parse(data []byte) (*Scenario, error) {
	if len(data) > MaxFileSize {
		return nil, errf("", "file larger than %d bytes", MaxFileSize)
	}
	if !json.Valid(data) {
		var v any
		err := json.Unmarshal(data, &v)
		return nil, errf("", "not valid JSON: %v", err)
	}
	root, err := decodeObject("", data)
	if err != nil {
		return nil, err
	}
	s := &Scenario{
		Name: "scenario",
		Radio: Radio{FreqMHz: 868.1, BWkHz: 125, SF: 9, CR: 5, TxDBm: 14,
			DutyCycle: 0.01, DutyWindow: time.Hour},
		Sync:              Sync{BeaconMin: 30 * time.Second, BeaconMax: time.Hour, RelayWindow: 8 * time.Second},
		RangeKm:           3,
		Until:             time.Hour,
		PersistDelay:      20 * time.Millisecond,
		ExpectConvergence: true,
	}
	if err := root.str("name", &s.Name); err != nil {
		return nil, err
	}
	if err := root.str("description", &s.Description); err != nil {
		return nil, err
	}
	var seed float64
	if err := root.num("seed", &seed); err != nil {
		return nil, err
	}
	if seed < 0 || seed != math.Trunc(seed) || seed > 1<<53 {
		return nil, errf("seed", "want a non-negative integer below 2^53")
	}
	s.Seed = uint64(seed)
	if r, ok := root.raw("radio"); ok {
		if err := parseRadio(r, &s.Radio); err != nil {
			return nil, err
		}
	}
	if r, ok := root.raw("sync"); ok {
		if err := parseSync(r, &s.Sync); err != nil {
			return nil, err
		}
	}
	if err := parseNodes(root, s); err != nil {
		return nil, err
	}
	if err := root.num("range_km", &s.RangeKm); err != nil {
		return nil, err
	}
	if s.RangeKm <= 0 || s.RangeKm > 1000 {
		return nil, errf("range_km", "want 0 < range_km ≤ 1000")
	}
	if err := root.num("loss", &s.Loss); err != nil {
		return nil, err
	}
	if s.Loss < 0 || s.Loss > 1 {
		return nil, errf("loss", "want a probability in [0, 1]")
	}
	if err := root.duration("until", &s.Until); err != nil {
		return nil, err
	}
	if s.Until <= 0 || s.Until > MaxUntil {
		return nil, errf("until", "want 0 < until ≤ %v", MaxUntil)
	}
	if err := root.duration("persist_delay", &s.PersistDelay); err != nil {
		return nil, err
	}
	if s.PersistDelay > time.Minute {
		return nil, errf("persist_delay", "want at most 1m")
	}
	if err := root.boolean("expect_convergence", &s.ExpectConvergence); err != nil {
		return nil, err
	}
	if err := parseLinks(root, s); err != nil {
		return nil, err
	}
	if err := parseScript(root, s); err != nil {
		return nil, err
	}
	if r, ok := root.raw("workload"); ok {
		w, err := parseWorkload(r, s)
		if err != nil {
			return nil, err
		}
		s.Workload = w
	}
	if err := root.finish(); err != nil {
		return nil, err
	}
	return s, nil
}

func parseSync(raw json.RawMessage, y *Sync) error {
	o, err := decodeObject("sync", raw)
	if err != nil {
		return err
	}
	if err := o.duration("beacon_min", &y.BeaconMin); err != nil {
		return err
	}
	if y.BeaconMin < time.Second || y.BeaconMin > 24*time.Hour {
		return errf("sync.beacon_min", "want 1s..24h")
	}
	if err := o.duration("beacon_max", &y.BeaconMax); err != nil {
		return err
	}
	if y.BeaconMax < y.BeaconMin || y.BeaconMax > 7*24*time.Hour {
		return errf("sync.beacon_max", "want beacon_min..168h")
	}
	if r, ok := o.raw("relay_window"); ok {
		var v string
		if json.Unmarshal(r, &v) == nil && v == "off" {
			y.RelayWindow = 0
		} else if err := o.duration("relay_window", &y.RelayWindow); err != nil {
			return err
		} else if y.RelayWindow < 100*time.Millisecond || y.RelayWindow > 10*time.Minute {
			return errf("sync.relay_window", "want \"off\" or 100ms..10m")
		}
	}
	return o.finish()
}

func parseRadio(raw json.RawMessage, r *Radio) error {
	o, err := decodeObject("radio", raw)
	if err != nil {
		return err
	}
	if err := o.num("freq_mhz", &r.FreqMHz); err != nil {
		return err
	}
	if r.FreqMHz < 137 || r.FreqMHz > 3000 {
		return errf("radio.freq_mhz", "want 137..3000 MHz")
	}
	if err := o.num("bw_khz", &r.BWkHz); err != nil {
		return err
	}
	if r.BWkHz < 7.8 || r.BWkHz > 1625 {
		return errf("radio.bw_khz", "want 7.8..1625 kHz")
	}
	if err := o.integer("sf", &r.SF, 7, 12); err != nil {
		return err
	}
	if err := o.integer("cr", &r.CR, 5, 8); err != nil {
		return err
	}
	if err := o.integer("tx_dbm", &r.TxDBm, -4, 30); err != nil {
		return err
	}
	if err := o.num("duty_cycle", &r.DutyCycle); err != nil {
		return err
	}
	if r.DutyCycle <= 0 || r.DutyCycle > 1 {
		return errf("radio.duty_cycle", "want 0 < duty_cycle ≤ 1")
	}
	if err := o.duration("duty_window", &r.DutyWindow); err != nil {
		return err
	}
	if r.DutyWindow < time.Second || r.DutyWindow > 24*time.Hour {
		return errf("radio.duty_window", "want 1s..24h")
	}
	if err := o.integer("preamble", &r.Preamble, 0, 1000); err != nil {
		return err
	}
	return o.finish()
}

func parseNodes(root *object, s *Scenario) error {
	arr, ok, err := root.array("nodes")
	if err != nil {
		return err
	}
	if !ok || len(arr) == 0 {
		return errf("nodes", "at least one node is required")
	}
	if len(arr) > MaxNodes {
		return errf("nodes", "more than %d nodes", MaxNodes)
	}
	seen := map[string]bool{}
	for i, r := range arr {
		path := fmt.Sprintf("nodes[%d]", i)
		o, err := decodeObject(path, r)
		if err != nil {
			return err
		}
		n := Node{Radio: "sim"}
		if err := o.str("name", &n.Name); err != nil {
			return err
		}
		if n.Name == "" || len(n.Name) > 32 || strings.ContainsAny(n.Name, " \t\n\"<>&") {
			return errf(path+".name", "want a non-empty name of at most 32 characters without spaces or markup")
		}
		if n.Name == "all" {
			return errf(path+".name", "\"all\" is reserved")
		}
		if seen[n.Name] {
			return errf(path+".name", "duplicate node name %q", n.Name)
		}
		seen[n.Name] = true
		if pr, ok := o.raw("pos"); ok {
			var p []float64
			if err := json.Unmarshal(pr, &p); err != nil || len(p) != 2 {
				return errf(path+".pos", "want [x_km, y_km], got %s", describe(pr))
			}
			if math.Abs(p[0]) > 1e4 || math.Abs(p[1]) > 1e4 {
				return errf(path+".pos", "coordinates beyond ±10000 km")
			}
			n.Pos, n.HasPos = [2]float64{p[0], p[1]}, true
		}
		if err := o.str("radio", &n.Radio); err != nil {
			return err
		}
		if n.Radio != "sim" && n.Radio != "sx127x" {
			return errf(path+".radio", "want \"sim\" or \"sx127x\", got %q", n.Radio)
		}
		if err := o.finish(); err != nil {
			return err
		}
		s.Nodes = append(s.Nodes, n)
	}
	return nil
}

func (s *Scenario) nodeName(path string, raw json.RawMessage) (string, error) {
	var name string
	if err := json.Unmarshal(raw, &name); err != nil {
		return "", errf(path, "want a node name, got %s", describe(raw))
	}
	if s.NodeIndex(name) < 0 {
		return "", errf(path, "unknown node %q", name)
	}
	return name, nil
}

func parseLinks(root *object, s *Scenario) error {
	arr, ok, err := root.array("links")
	if err != nil || !ok {
		return err
	}
	if len(arr) == 0 {
		return errf("links", "empty: omit the key to use range_km")
	}
	if len(arr) > MaxNodes*MaxNodes/2 {
		return errf("links", "too many links")
	}
	seen := map[[2]string]bool{}
	for i, r := range arr {
		path := fmt.Sprintf("links[%d]", i)
		l, err := s.parseLink(path, r, true)
		if err != nil {
			return err
		}
		k := pairKey(l.A, l.B)
		if seen[k] {
			return errf(path, "duplicate link %s–%s", l.A, l.B)
		}
		seen[k] = true
		s.Links = append(s.Links, l)
	}
	return nil
}

func pairKey(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

func (s *Scenario) parseLink(path string, raw json.RawMessage, defaultLoss bool) (Link, error) {
	o, err := decodeObject(path, raw)
	if err != nil {
		return Link{}, err
	}
	var l Link
	for _, k := range []string{"a", "b"} {
		r, ok := o.raw(k)
		if !ok {
			return l, errf(child(path, k), "missing")
		}
		name, err := s.nodeName(child(path, k), r)
		if err != nil {
			return l, err
		}
		if k == "a" {
			l.A = name
		} else {
			l.B = name
		}
	}
	if l.A == l.B {
		return l, errf(path, "a link needs two different nodes")
	}
	if !defaultLoss && !o.has("loss") {
		return l, errf(child(path, "loss"), "missing")
	}
	l.Loss = s.Loss
	if err := o.num("loss", &l.Loss); err != nil {
		return l, err
	}
	if l.Loss < 0 || l.Loss > 1 {
		return l, errf(child(path, "loss"), "want a probability in [0, 1]")
	}
	return l, o.finish()
}

var actionKeys = []string{"create", "set", "note", "down", "up", "partition", "heal", "link"}

func parseScript(root *object, s *Scenario) error {
	arr, ok, err := root.array("script")
	if err != nil || !ok {
		return err
	}
	if len(arr) > MaxScriptSteps {
		return errf("script", "more than %d steps", MaxScriptSteps)
	}
	for i, r := range arr {
		path := fmt.Sprintf("script[%d]", i)
		o, err := decodeObject(path, r)
		if err != nil {
			return err
		}
		var st Step
		if !o.has("at") {
			return errf(path+".at", "missing")
		}
		if err := o.duration("at", &st.At); err != nil {
			return err
		}
		if st.At > s.Until {
			return errf(path+".at", "%v is after until (%v)", st.At, s.Until)
		}
		if err := o.str("label", &st.Label); err != nil {
			return err
		}
		var actions []string
		for _, k := range actionKeys {
			if o.has(k) {
				actions = append(actions, k)
			}
		}
		if len(actions) != 1 {
			// Report unknown keys first: a typo is the likely cause.
			if err := o.finishExcept(actionKeys, "node"); err != nil {
				return err
			}
			if len(actions) == 0 {
				if st.Label != "" {
					s.Script = append(s.Script, st) // a pure phase marker
					continue
				}
				return errf(path, "needs one action: %s", strings.Join(actionKeys, ", "))
			}
			return errf(path, "more than one action: %s", strings.Join(actions, ", "))
		}
		act := actions[0]
		needNode := act == "create" || act == "set" || act == "note" || act == "down" || act == "up"
		if needNode {
			r, ok := o.raw("node")
			if !ok {
				return errf(path+".node", "missing (needed by %q)", act)
			}
			if st.Node, err = s.nodeName(path+".node", r); err != nil {
				return err
			}
		}
		ap := child(path, act)
		switch act {
		case "create", "set", "note":
			r, _ := o.raw(act)
			op, err := parseOp(ap, act, r)
			if err != nil {
				return err
			}
			st.Op = op
		case "down", "up", "heal":
			var b bool
			if err := o.boolean(act, &b); err != nil {
				return err
			}
			if !b {
				return errf(ap, "only true is meaningful")
			}
			st.Down, st.Up, st.Heal = act == "down", act == "up", act == "heal"
		case "partition":
			r, _ := o.raw(act)
			var groups [][]json.RawMessage
			if err := json.Unmarshal(r, &groups); err != nil || len(groups) == 0 {
				return errf(ap, "want a non-empty array of arrays of node names")
			}
			seen := map[string]bool{}
			for gi, g := range groups {
				var names []string
				for ni, nr := range g {
					np := fmt.Sprintf("%s[%d][%d]", ap, gi, ni)
					name, err := s.nodeName(np, nr)
					if err != nil {
						return err
					}
					if seen[name] {
						return errf(np, "node %q is in two groups", name)
					}
					seen[name] = true
					names = append(names, name)
				}
				st.Partition = append(st.Partition, names)
			}
		case "link":
			r, _ := o.raw(act)
			l, err := s.parseLink(ap, r, false)
			if err != nil {
				return err
			}
			if s.Links != nil {
				found := false
				for _, e := range s.Links {
					if pairKey(e.A, e.B) == pairKey(l.A, l.B) {
						found = true
					}
				}
				if !found {
					return errf(ap, "no link %s–%s in links", l.A, l.B)
				}
			}
			st.Link = &l
		}
		if !needNode && o.has("node") {
			return errf(path+".node", "not used by %q", act)
		}
		if err := o.finish(); err != nil {
			return err
		}
		s.Script = append(s.Script, st)
	}
	sort.SliceStable(s.Script, func(i, j int) bool { return s.Script[i].At < s.Script[j].At })
	return nil
}

// finishExcept reports unknown keys, ignoring the listed ones.
func (o *object) finishExcept(known []string, more ...string) error {
	for _, k := range append(known, more...) {
		o.used[k] = true
	}
	return o.finish()
}

func parseOp(path, act string, raw json.RawMessage) (*Op, error) {
	o, err := decodeObject(path, raw)
	if err != nil {
		return nil, err
	}
	var rec string
	if !o.has("record") {
		return nil, errf(path+".record", "missing")
	}
	if err := o.str("record", &rec); err != nil {
		return nil, err
	}
	if rec == "" || len(rec) > 64 {
		return nil, errf(path+".record", "want 1..64 characters")
	}
	op := &Op{}
	switch act {
	case "create":
		c := &Create{Record: rec}
		if !o.has("type") {
			return nil, errf(path+".type", "missing")
		}
		if err := o.str("type", &c.Type); err != nil {
			return nil, err
		}
		if c.Type == "" || len(c.Type) > 64 {
			return nil, errf(path+".type", "want 1..64 characters")
		}
		op.Create = c
	case "set":
		st := &Set{Record: rec}
		if !o.has("field") {
			return nil, errf(path+".field", "missing")
		}
		if err := o.str("field", &st.Field); err != nil {
			return nil, err
		}
		if st.Field == "" || len(st.Field) > 64 {
			return nil, errf(path+".field", "want 1..64 characters")
		}
		r, ok := o.raw("value")
		if !ok {
			return nil, errf(path+".value", "missing")
		}
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			return nil, errf(path+".value", "%v", err)
		}
		switch x := v.(type) {
		case nil, bool, float64:
		case string:
			if len(x) > 200 {
				return nil, errf(path+".value", "string longer than 200 bytes")
			}
		default:
			return nil, errf(path+".value", "want a string, number, boolean or null")
		}
		st.Value = v
		op.Set = st
	case "note":
		n := &Note{Record: rec}
		if !o.has("text") {
			return nil, errf(path+".text", "missing")
		}
		if err := o.str("text", &n.Text); err != nil {
			return nil, err
		}
		if len(n.Text) > 200 {
			return nil, errf(path+".text", "longer than 200 bytes")
		}
		op.Note = n
	}
	return op, o.finish()
}

func parseWorkload(raw json.RawMessage, s *Scenario) (*Workload, error) {
	o, err := decodeObject("workload", raw)
	if err != nil {
		return nil, err
	}
	w := &Workload{To: s.Until / 2}
	if r, ok := o.raw("nodes"); ok {
		var all string
		if json.Unmarshal(r, &all) == nil {
			if all != "all" {
				return nil, errf("workload.nodes", "want \"all\" or an array of node names")
			}
		} else {
			var arr []json.RawMessage
			if err := json.Unmarshal(r, &arr); err != nil || len(arr) == 0 {
				return nil, errf("workload.nodes", "want \"all\" or a non-empty array of node names")
			}
			for i, nr := range arr {
				name, err := s.nodeName(fmt.Sprintf("workload.nodes[%d]", i), nr)
				if err != nil {
					return nil, err
				}
				w.Nodes = append(w.Nodes, name)
			}
		}
	}
	if !o.has("events_per_node") {
		return nil, errf("workload.events_per_node", "missing")
	}
	if err := o.integer("events_per_node", &w.EventsPerNode, 1, MaxEventsPerNode); err != nil {
		return nil, err
	}
	if err := o.duration("from", &w.From); err != nil {
		return nil, err
	}
	if err := o.duration("to", &w.To); err != nil {
		return nil, err
	}
	if w.To < w.From || w.To > s.Until {
		return nil, errf("workload.to", "want from ≤ to ≤ until")
	}
	n := len(w.Nodes)
	if n == 0 {
		n = len(s.Nodes)
	}
	if n*w.EventsPerNode > 10*MaxEventsPerNode {
		return nil, errf("workload.events_per_node", "more than %d events in total", 10*MaxEventsPerNode)
	}
	return w, o.finish()
}
