package sim

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Figures are the measured results of one protocol on one scenario. Their
// JSON form is the "--report json" object (without "baseline").
type Figures struct {
	Seed      uint64 `json:"seed"`
	Scenario  string `json:"scenario"`
	Converged bool   `json:"converged"`
	// ConvergedAtS is when every node last came to hold the same events
	// and an identical view, in seconds of virtual time; nil if never.
	ConvergedAtS *float64 `json:"converged_at_s"`
	Nodes        int      `json:"nodes"`
	// Events is the number of distinct events held at the end, EventBytes
	// the sum of their canonical sizes.
	Events     int   `json:"events"`
	EventBytes int64 `json:"event_bytes"`
	// FramesOnAir and BytesOnAir count every LoRa frame transmitted and
	// every byte in it (RNode header byte included).
	FramesOnAir int64 `json:"frames_on_air"`
	BytesOnAir  int64 `json:"bytes_on_air"`
	// Collisions counts receptions lost to overlapping frames.
	Collisions int64              `json:"collisions"`
	AirtimeS   map[string]float64 `json:"airtime_s"`
	// MaxDutyCycle is the largest airtime share of any node over any
	// sliding duty-cycle window.
	MaxDutyCycle float64 `json:"max_duty_cycle"`
	// IdleAirtimeSPerHour is the mean airtime per node per hour from the
	// convergence moment to the end (0 when not converged or when less than
	// a minute remained).
	IdleAirtimeSPerHour float64           `json:"idle_airtime_s_per_hour"`
	ViewDigest          map[string]string `json:"view_digest"`
	Forks               int               `json:"forks"`
}

// Report is the result of Run: the figures of the real stack, the
// baseline's figures when requested, and details for the text report and
// the timeline (not part of the JSON form).
type Report struct {
	Figures
	Baseline *Figures `json:"baseline"`

	Detail         *Detail `json:"-"`
	BaselineDetail *Detail `json:"-"`
}

// Detail is what the text report and the SVG timeline show beyond Figures.
type Detail struct {
	Protocol    string
	Description string
	Radio       string
	Until       time.Duration
	Phases      []PhaseInfo
	Partitions  []PartitionInfo
	NodeStats   []NodeStat
	Conflicts   []Conflict
	Errors      []string
	ConvergedAt time.Duration // -1 if not converged
	Kinds       []KindStat    // what each message kind cost
	Expect      bool          // convergence expected
}

// PhaseInfo is one labelled or structural script step.
type PhaseInfo struct {
	At    time.Duration
	Label string
	What  string
}

// PartitionInfo is a time span with a partition in force (To = Until if
// never healed).
type PartitionInfo struct {
	From, To time.Duration
	Groups   [][]string
}

// NodeStat is one node's line of the report.
type NodeStat struct {
	Name        string
	ConvergedAt time.Duration // when its event set last changed; -1 if it never matched the final set
	Events      int
	Frames      int64
	Bytes       int64
	Airtime     time.Duration
	MaxDuty     float64
	IdlePerHour float64
	Drops       int64
	RxPackets   int64
	Up          bool
	TX          []TX   // transmitted frames (for the timeline)
	Down        []Span // times the node was down
	Radio       string // "sim" or "sx127x"
	SX          *SXStat
}

// SXStat is what the real driver and the emulated chip of an "sx127x"
// node counted over the run (summed over its restarts): packets and
// frames from the driver's hal.Stats, SPI transactions from the chip, and
// how often the simulator handed control to the driver's goroutine.
type SXStat struct {
	TxPackets, TxFrames, TxErrors    uint64
	RxFrames, RxPackets, RxCRCErrors uint64
	SPITransactions, Handoffs        uint64
}

// KindStat is what one kind of sync message cost over the run.
type KindStat struct {
	Kind                                     string
	Messages, PayloadBytes, Frames, AirBytes int64
	Airtime                                  time.Duration
}

// Span is a time range [From, To).
type Span struct{ From, To time.Duration }

// TX is one transmitted frame.
type TX struct{ Start, Dur time.Duration }

// Conflict is a (record, field) written by more than one node in the
// script, and the value the converged view holds.
type Conflict struct {
	Record, Field string
	Writers       []string // nodes that wrote it in the script, in time order
	Values        []string
	Winner        string // node whose write won (LWW), "" if unknown
	Value         string
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// figures collects the results of a finished world.
func (w *world) figures() (Figures, *Detail) {
	sc := w.sc
	f := Figures{Seed: w.seed, Scenario: sc.Name, Nodes: len(w.nodes),
		AirtimeS: map[string]float64{}, ViewDigest: map[string]string{},
		Collisions: w.collisions, Events: w.distinct}
	d := &Detail{Protocol: w.proto.name(), Description: sc.Description, Until: sc.Until,
		ConvergedAt: -1, Expect: sc.ExpectConvergence, Errors: w.errs,
		Radio: fmt.Sprintf("SF%d/%gkHz/CR4-%d, %d dBm, duty cycle %g%% per %v", sc.Radio.SF, sc.Radio.BWkHz,
			sc.Radio.CR, sc.Radio.TxDBm, 100*sc.Radio.DutyCycle, sc.Radio.DutyWindow)}
	for _, s := range w.sizes {
		f.EventBytes += int64(s)
	}
	f.Converged = w.convNow
	if w.convNow {
		t := round6(w.convSince.Seconds())
		f.ConvergedAtS = &t
		d.ConvergedAt = w.convSince
	}
	idleSpan := sc.Until - w.convSince
	measureIdle := w.convNow && idleSpan >= time.Minute
	var idleSum float64
	for _, nd := range w.nodes {
		f.FramesOnAir += nd.frames
		f.BytesOnAir += nd.bytes
		f.AirtimeS[nd.name] = round6(nd.airtime.Seconds())
		duty := float64(nd.duty.maxUsed) / float64(sc.Radio.DutyWindow)
		f.MaxDutyCycle = max(f.MaxDutyCycle, duty)
		ns := NodeStat{Name: nd.name, Events: nd.count, Frames: nd.frames, Bytes: nd.bytes,
			Airtime: nd.airtime, MaxDuty: duty, Drops: nd.drops, RxPackets: nd.rxPackets, Up: nd.up,
			ConvergedAt: -1, Radio: "sim"}
		if nd.isSX {
			t := nd.sxTotals
			if nd.radio != nil {
				t.add(nd.radio.stats())
			}
			ns.Radio = "sx127x"
			ns.SX = &SXStat{TxPackets: t.txPackets, TxFrames: t.txFrames, TxErrors: t.txErrors,
				RxFrames: t.rxFrames, RxPackets: t.rxPackets, RxCRCErrors: t.crcErrs,
				SPITransactions: t.spi, Handoffs: t.handoffs}
		}
		if nd.up {
			dg := nd.eng.digest()
			f.ViewDigest[nd.name] = hex.EncodeToString(dg[:])
			f.Forks = max(f.Forks, nd.eng.forks())
		} else {
			f.ViewDigest[nd.name] = ""
		}
		if w.convNow {
			ns.ConvergedAt = nd.lastChange
		}
		if measureIdle {
			var a time.Duration
			for _, t := range nd.tx {
				if t.start >= w.convSince {
					a += t.dur
				}
			}
			ns.IdlePerHour = a.Seconds() / idleSpan.Hours()
			idleSum += ns.IdlePerHour
		}
		for _, dn := range nd.downs {
			to := dn[1]
			if to < 0 {
				to = sc.Until
			}
			ns.Down = append(ns.Down, Span{From: dn[0], To: to})
		}
		for _, t := range nd.tx {
			ns.TX = append(ns.TX, TX{Start: t.start, Dur: t.dur})
		}
		d.NodeStats = append(d.NodeStats, ns)
	}
	if measureIdle {
		f.IdleAirtimeSPerHour = round6(idleSum / float64(len(w.nodes)))
	}
	f.MaxDutyCycle = round6(f.MaxDutyCycle)
	for _, p := range w.phases {
		d.Phases = append(d.Phases, PhaseInfo{At: p.at, Label: p.label, What: p.what})
	}
	for _, p := range w.partitions {
		to := p.to
		if to < 0 {
			to = sc.Until
		}
		d.Partitions = append(d.Partitions, PartitionInfo{From: p.from, To: to, Groups: p.groups})
	}
	d.Conflicts = w.conflicts()
	for _, k := range sortedKeys(w.kinds) {
		ks := w.kinds[k]
		d.Kinds = append(d.Kinds, KindStat{Kind: k, Messages: ks.msgs, PayloadBytes: ks.payloadBytes,
			Frames: ks.frames, AirBytes: ks.airBytes, Airtime: ks.airtime})
	}
	return f, d
}

// conflicts finds fields set by more than one node in the script and looks
// the winner up in the first running node's view.
func (w *world) conflicts() []Conflict {
	type key struct{ rec, field string }
	var order []key
	byKey := map[key]*Conflict{}
	for _, st := range w.sc.Script {
		if st.Op == nil || st.Op.Set == nil {
			continue
		}
		k := key{st.Op.Set.Record, st.Op.Set.Field}
		c := byKey[k]
		if c == nil {
			c = &Conflict{Record: k.rec, Field: k.field}
			byKey[k] = c
			order = append(order, k)
		}
		v, _ := json.Marshal(st.Op.Set.Value)
		c.Writers = append(c.Writers, st.Node)
		c.Values = append(c.Values, string(v))
	}
	var out []Conflict
	for _, k := range order {
		c := byKey[k]
		distinct := map[string]bool{}
		for _, wr := range c.Writers {
			distinct[wr] = true
		}
		if len(distinct) < 2 {
			continue
		}
		for _, nd := range w.nodes {
			if !nd.up {
				continue
			}
			if v, who, ok := nd.eng.field(k.rec, k.field); ok {
				c.Value = v
				if who >= 0 && who < len(w.nodes) {
					c.Winner = w.nodes[who].name
				}
			}
			break
		}
		out = append(out, *c)
	}
	return out
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(out io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = out.Write(append(b, '\n'))
	return err
}

func secs(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(time.Millisecond).String()
}

// WriteText writes the human report.
func (r *Report) WriteText(out io.Writer) error {
	var b bytes.Buffer
	d := r.Detail
	fmt.Fprintf(&b, "meshlogd simulator: scenario %q, seed %d\n", r.Scenario, r.Seed)
	if d.Description != "" {
		fmt.Fprintf(&b, "%s\n", d.Description)
	}
	fmt.Fprintf(&b, "%d nodes, %s, until %v; protocol: %s\n", r.Nodes, d.Radio, d.Until, d.Protocol)
	if len(d.Phases) > 0 {
		fmt.Fprintf(&b, "\nPhases\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, p := range d.Phases {
			label := p.Label
			if label == "" {
				label = "-"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", secs(p.At), label, p.What)
		}
		tw.Flush()
	}
	writeResult(&b, &r.Figures, d)
	if r.Baseline != nil {
		bd := r.BaselineDetail
		fmt.Fprintf(&b, "\n%s\n", bd.Protocol)
		writeResult(&b, r.Baseline, bd)
		fmt.Fprintf(&b, "\nReal stack vs baseline\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "\treal\tbaseline\tratio\t\n")
		ratio := func(a, c float64) string {
			if c == 0 {
				return "-"
			}
			return fmt.Sprintf("%.3f", a/c)
		}
		fmt.Fprintf(tw, "bytes on air\t%d\t%d\t%s\t\n", r.BytesOnAir, r.Baseline.BytesOnAir, ratio(float64(r.BytesOnAir), float64(r.Baseline.BytesOnAir)))
		fmt.Fprintf(tw, "bytes on air / event bytes\t%s\t%s\t\t\n", ratio(float64(r.BytesOnAir), float64(r.EventBytes)), ratio(float64(r.Baseline.BytesOnAir), float64(r.Baseline.EventBytes)))
		fmt.Fprintf(tw, "frames on air\t%d\t%d\t%s\t\n", r.FramesOnAir, r.Baseline.FramesOnAir, ratio(float64(r.FramesOnAir), float64(r.Baseline.FramesOnAir)))
		ca := func(f *Figures) string {
			if f.ConvergedAtS == nil {
				return "never"
			}
			return fmt.Sprintf("%.1fs", *f.ConvergedAtS)
		}
		fmt.Fprintf(tw, "converged at\t%s\t%s\t\t\n", ca(&r.Figures), ca(r.Baseline))
		fmt.Fprintf(tw, "idle airtime s/node/h\t%.3f\t%.3f\t\t\n", r.IdleAirtimeSPerHour, r.Baseline.IdleAirtimeSPerHour)
		fmt.Fprintf(tw, "collisions\t%d\t%d\t\t\n", r.Collisions, r.Baseline.Collisions)
		tw.Flush()
	}
	// tabwriter pads empty last cells: drop trailing blanks.
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	_, err := io.WriteString(out, strings.Join(lines, "\n"))
	return err
}

func writeResult(b *bytes.Buffer, f *Figures, d *Detail) {
	fmt.Fprintf(b, "\nResult: ")
	switch {
	case f.Converged:
		fmt.Fprintf(b, "converged at %s: every node holds the same %d events and an identical view\n", secs(d.ConvergedAt), f.Events)
	case !d.Expect:
		fmt.Fprintf(b, "not converged by %v (the scenario does not expect convergence)\n", d.Until)
	default:
		fmt.Fprintf(b, "NOT converged by %v (%d distinct events exist)\n", d.Until, f.Events)
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "node\tstate\tsettled at\tevents\tframes\tbytes\tairtime\tmax duty\tidle s/h\tq-drops\t\n")
	for _, n := range d.NodeStats {
		state := "up"
		if !n.Up {
			state = "down"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.1fs\t%.3f%%\t%.2f\t%d\t\n", n.Name, state, secs(n.ConvergedAt), n.Events,
			n.Frames, n.Bytes, n.Airtime.Seconds(), 100*n.MaxDuty, n.IdlePerHour, n.Drops)
	}
	tw.Flush()
	writeSXTable(b, d)
	ratio := 0.0
	if f.EventBytes > 0 {
		ratio = float64(f.BytesOnAir) / float64(f.EventBytes)
	}
	fmt.Fprintf(b, "Totals: %d events (%d bytes), %d frames / %d bytes on air (%.2f× the event bytes), %d collisions, max duty cycle %.3f%%, idle airtime %.3f s/node/h, forks %d\n",
		f.Events, f.EventBytes, f.FramesOnAir, f.BytesOnAir, ratio, f.Collisions, 100*f.MaxDutyCycle, f.IdleAirtimeSPerHour, f.Forks)
	if len(d.Kinds) > 0 {
		var parts []string
		for _, k := range d.Kinds {
			parts = append(parts, fmt.Sprintf("%s %d msgs/%d frames/%d B/%.1fs", k.Kind, k.Messages, k.Frames, k.AirBytes, k.Airtime.Seconds()))
		}
		fmt.Fprintf(b, "On air by message kind: %s\n", strings.Join(parts, "; "))
	}
	for _, c := range d.Conflicts {
		var parts []string
		for i := range c.Writers {
			parts = append(parts, fmt.Sprintf("%s wrote %s", c.Writers[i], c.Values[i]))
		}
		win := c.Winner
		if win == "" {
			win = "?"
		}
		fmt.Fprintf(b, "LWW conflict %s.%s: %s; the view holds %s written by %s (last writer by HLC, ties by author)\n",
			c.Record, c.Field, strings.Join(parts, ", "), c.Value, win)
	}
	if len(d.Errors) > 0 {
		fmt.Fprintf(b, "Errors:\n")
		for _, e := range d.Errors {
			fmt.Fprintf(b, "  %s\n", e)
		}
	}
}

// writeSXTable lists what the real sx127x driver and the emulated chip of
// each "sx127x" node counted (nothing when every radio is "sim").
func writeSXTable(b *bytes.Buffer, d *Detail) {
	any := false
	for _, n := range d.NodeStats {
		any = any || n.SX != nil
	}
	if !any {
		return
	}
	fmt.Fprintf(b, "SX127x radios (the real sx127x driver on an emulated chip):\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "node\ttx packets\ttx frames\ttx errors\trx frames\trx packets\tCRC errors\tSPI transactions\thandoffs\t\n")
	for _, n := range d.NodeStats {
		if s := n.SX; s != nil {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", n.Name, s.TxPackets, s.TxFrames, s.TxErrors,
				s.RxFrames, s.RxPackets, s.RxCRCErrors, s.SPITransactions, s.Handoffs)
		}
	}
	tw.Flush()
}

// sortedKeys is a helper for deterministic iteration.
func sortedKeys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
