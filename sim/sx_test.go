package sim

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/node/airtime"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/sim/scenario"
)

// mixedSrc: two sx127x nodes among two "sim" nodes on a line, a workload
// and a restart of one sx127x node.
const mixedSrc = `{"name":"mixed","seed":4,"radio":{"sf":7,"duty_cycle":0.05},"range_km":2.5,
	"nodes":[{"name":"a","pos":[0,0],"radio":"sx127x"},{"name":"b","pos":[1,0]},
	         {"name":"c","pos":[2,0],"radio":"sx127x"},{"name":"d","pos":[3,0]}],
	"script":[{"at":"3m","node":"c","down":true},{"at":"4m","node":"c","up":true},
	          {"at":"5m","node":"a","create":{"record":"R","type":"t"}},
	          {"at":"6m","node":"d","set":{"record":"R","field":"f","value":1}},
	          {"at":"6m","node":"a","set":{"record":"R","field":"f","value":2}}],
	"workload":{"events_per_node":5,"from":"0s","to":"5m"},"until":"20m"}`

func reportBytes(t *testing.T, r *Report) []byte {
	t.Helper()
	var txt, svg bytes.Buffer
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteSVG(&svg); err != nil {
		t.Fatal(err)
	}
	return append(append(reportJSON(t, r), txt.Bytes()...), svg.Bytes()...)
}

func TestMixedSX127xConverges(t *testing.T) {
	sc := mustParse(t, mixedSrc)
	r, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkConverged(t, sc, &r.Figures)
	for _, ns := range r.Detail.NodeStats {
		isSX := ns.Name == "a" || ns.Name == "c"
		if (ns.SX != nil) != isSX || (ns.Radio == "sx127x") != isSX {
			t.Fatalf("%s: radio %q, sx stats %v", ns.Name, ns.Radio, ns.SX)
		}
		if !isSX {
			continue
		}
		s := ns.SX
		// The driver carried the node's traffic both ways, through the chip.
		if s.TxPackets == 0 || s.RxPackets == 0 || s.SPITransactions == 0 || s.Handoffs == 0 {
			t.Fatalf("%s: driver/chip counters %+v", ns.Name, *s)
		}
		if s.TxFrames != uint64(ns.Frames) {
			t.Fatalf("%s: driver sent %d frames, the medium carried %d", ns.Name, s.TxFrames, ns.Frames)
		}
	}
	var txt bytes.Buffer
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(txt.String(), "SX127x radios") || !strings.Contains(txt.String(), "SPI transactions") {
		t.Fatalf("text report lacks the sx127x table:\n%s", txt.String())
	}
	if len(r.Detail.Conflicts) != 1 || r.Detail.Conflicts[0].Winner == "" {
		t.Fatalf("conflicts %+v", r.Detail.Conflicts)
	}
}

// Same scenario, same seed: byte-identical reports, whatever GOMAXPROCS
// (the driver goroutines and the simulator strictly alternate).
func TestSX127xDeterminism(t *testing.T) {
	sc := mustParse(t, mixedSrc)
	run := func() []byte {
		r, err := Run(sc, Options{Baseline: true})
		if err != nil {
			t.Fatal(err)
		}
		return reportBytes(t, r)
	}
	a := run()
	b := run()
	old := runtime.GOMAXPROCS(1)
	c := run()
	runtime.GOMAXPROCS(old)
	if !bytes.Equal(a, b) || !bytes.Equal(a, c) {
		t.Fatal("runs of the same mixed scenario differ")
	}
}

// The driver goroutines of every radio end with the run.
func TestSX127xNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	if _, err := Run(mustParse(t, mixedSrc), Options{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines before the run, %d after", before, runtime.NumGoroutine())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSX127xRefusedParamsNameTheNode(t *testing.T) {
	for _, c := range []struct{ radio, want string }{
		{`"tx_dbm":25`, "TxPowerDBm"},
		{`"preamble":5`, "PreambleSymbols"},
	} {
		src := `{"radio":{` + c.radio + `},"nodes":[{"name":"plain","pos":[0,0]},{"name":"chip","pos":[1,0],"radio":"sx127x"}],"until":"1m"}`
		_, err := Run(mustParse(t, src), Options{})
		if err == nil || !strings.Contains(err.Error(), "node chip") || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("%s: err %v", c.radio, err)
		}
		// The same settings are fine for a "sim" radio.
		src = strings.Replace(src, `,"radio":"sx127x"`, "", 1)
		if _, err := Run(mustParse(t, src), Options{}); err != nil {
			t.Fatalf("%s with sim radios: %v", c.radio, err)
		}
	}
}

// rawProto runs engines that send nothing on their own and record what
// they receive, so tests can put chosen payloads on air.
type rawProto struct{ engines []*rawEngine }

type rawEngine struct {
	got   [][]byte
	nsent int
}

func (p *rawProto) name() string                                { return "raw" }
func (p *rawProto) prepare(ids []*rns.Identity, _ uint64) error { return nil }
func (p *rawProto) start(env nodeEnv) (engine, error) {
	e := &rawEngine{}
	p.engines = append(p.engines, e)
	return e, nil
}
func (p *rawProto) classify([]byte) msgClass { return msgClass{kind: "raw", priority: airtime.Data} }

func (e *rawEngine) receive(payload []byte, _ time.Duration) {
	e.got = append(e.got, append([]byte(nil), payload...))
}
func (e *rawEngine) write(scenario.Op, time.Duration) error   { return nil }
func (e *rawEngine) sent([]byte, time.Duration)               { e.nsent++ }
func (e *rawEngine) tick(time.Duration)                       {}
func (e *rawEngine) nextDeadline() time.Duration              { return -1 }
func (e *rawEngine) ready() batch                             { return batch{} }
func (e *rawEngine) advance()                                 {}
func (e *rawEngine) digest() [32]byte                         { return [32]byte{} }
func (e *rawEngine) forks() int                               { return 0 }
func (e *rawEngine) field(string, string) (string, int, bool) { return "", -1, false }
func (e *rawEngine) payloadLimit() int                        { return 450 }

func rawPayload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)*13 + seed
	}
	return b
}

// A packet above one frame goes out as two frames from the sx127x driver
// and is reassembled by "sim" radios (hal.Reassembler) and by the other
// sx127x driver; and the other way round.
func TestSX127xSplitPacketsBothWays(t *testing.T) {
	sc := mustParse(t, `{"seed":8,"radio":{"sf":7,"duty_cycle":0.1},"range_km":3,
		"nodes":[{"name":"a","pos":[0,0],"radio":"sx127x"},{"name":"b","pos":[1,0]},{"name":"c","pos":[0,1],"radio":"sx127x"}],"until":"1m"}`)
	p := &rawProto{}
	w, err := newWorld(sc, sc.Seed, p)
	if err != nil {
		t.Fatal(err)
	}
	defer w.shutdown()
	big := []payloadAt{{"a", time.Second, rawPayload(400, 1)}, {"b", 10 * time.Second, rawPayload(420, 2)}}
	for _, b := range big {
		nd := w.nodes[sc.NodeIndex(b.from)]
		w.q.at(b.at, func() { w.enqueue(nd, [][]byte{b.data}) })
	}
	w.q.run(sc.Until)
	for i, e := range p.engines {
		var want [][]byte
		for _, b := range big {
			if b.from != w.nodes[i].name {
				want = append(want, b.data)
			}
		}
		if len(e.got) != len(want) {
			t.Fatalf("%s received %d packets, want %d", w.nodes[i].name, len(e.got), len(want))
		}
		for k := range want {
			if !bytes.Equal(e.got[k], want[k]) {
				t.Fatalf("%s: packet %d differs", w.nodes[i].name, k)
			}
		}
	}
	a, c := w.nodes[0], w.nodes[2]
	if a.frames != 2 || a.radio.dev.Stats().TxFrames != 2 || a.radio.dev.Stats().TxPackets != 1 {
		t.Fatalf("a sent %d frames on the medium, driver %+v", a.frames, a.radio.dev.Stats())
	}
	for _, tx := range a.tx {
		// The chip's frames last what the medium's own formula says.
		if tx.dur != hal.Airtime(w.params, tx.bytes) {
			t.Fatalf("a %d-byte chip frame lasted %v, hal.Airtime says %v", tx.bytes, tx.dur, hal.Airtime(w.params, tx.bytes))
		}
	}
	if s := c.radio.dev.Stats(); s.RxFrames != 4 || s.RxPackets != 2 {
		t.Fatalf("c's driver %+v", s)
	}
	if p.engines[0].nsent != 1 || p.engines[1].nsent != 1 {
		t.Fatalf("sent reported %d, %d times", p.engines[0].nsent, p.engines[1].nsent)
	}
}

type payloadAt struct {
	from string
	at   time.Duration
	data []byte
}

// Two hidden terminals transmit at once to an sx127x receiver: the sim's
// capture model decides, not the chip. The near sender's frame arrives
// more than 6 dB stronger and survives; the far one's gets a CRC error.
func TestSX127xCaptureDecidedByMedium(t *testing.T) {
	sc := mustParse(t, `{"seed":3,"radio":{"sf":7,"duty_cycle":0.1},
		"nodes":[{"name":"rx","pos":[0,0],"radio":"sx127x"},{"name":"near","pos":[0.2,0]},{"name":"far","pos":[-2,0]}],
		"links":[{"a":"rx","b":"near"},{"a":"rx","b":"far"}],"until":"30s"}`)
	p := &rawProto{}
	w, err := newWorld(sc, sc.Seed, p)
	if err != nil {
		t.Fatal(err)
	}
	defer w.shutdown()
	w.backoffFn = func(*simNode) time.Duration { return 0 }
	near, far := rawPayload(60, 1), rawPayload(60, 2)
	w.q.at(time.Second, func() { w.enqueue(w.nodes[2], [][]byte{far}) })
	w.q.at(time.Second+5*time.Millisecond, func() { w.enqueue(w.nodes[1], [][]byte{near}) })
	w.q.run(sc.Until)
	got := p.engines[0].got
	if len(got) != 1 || !bytes.Equal(got[0], near) {
		t.Fatalf("rx received %d packets (want only the near one)", len(got))
	}
	s := w.nodes[0].radio.dev.Stats()
	if s.RxCRCErrors != 1 || s.RxPackets != 1 || w.collisions != 1 {
		t.Fatalf("driver %+v, medium collisions %d", s, w.collisions)
	}
	if cs := w.nodes[0].radio.chip.Stats(); cs.RxFrames != 2 || cs.RxCRCErrors != 1 {
		t.Fatalf("chip %+v", cs)
	}
}

// A node going down loses its radio (driver goroutine ends, chip state is
// gone); coming up builds a new one, which carries traffic again.
func TestSX127xDownUp(t *testing.T) {
	sc := mustParse(t, `{"seed":6,"radio":{"sf":7,"duty_cycle":0.1},"range_km":3,
		"nodes":[{"name":"a","pos":[0,0],"radio":"sx127x"},{"name":"b","pos":[1,0]}],
		"script":[{"at":"1m","node":"a","create":{"record":"before","type":"t"}},
		          {"at":"5m","node":"a","down":true},
		          {"at":"6m","node":"b","create":{"record":"while_down","type":"t"}},
		          {"at":"8m","node":"a","up":true},
		          {"at":"9m","node":"a","create":{"record":"after","type":"t"}}],
		"until":"30m"}`)
	w, err := newWorld(sc, sc.Seed, newRealProto(sc))
	if err != nil {
		t.Fatal(err)
	}
	defer w.shutdown()
	w.schedule()
	a := w.nodes[0]
	var first *sxRadio
	w.q.at(4*time.Minute, func() { first = a.radio })
	w.q.at(7*time.Minute, func() {
		if a.radio != nil || !first.dead {
			t.Error("radio still alive while the node is down")
		}
	})
	w.q.run(sc.Until)
	w.checkConvergence()
	f, _ := w.figures()
	checkConverged(t, sc, &f)
	if f.Events != 3 || a.radioGen != 2 || a.radio == nil || a.radio == first {
		t.Fatalf("events %d, radios built %d", f.Events, a.radioGen)
	}
	if s := a.radio.dev.Stats(); s.TxPackets == 0 || s.RxPackets == 0 {
		t.Fatalf("the new radio carried nothing: %+v", s)
	}
	if a.sxTotals.handoffs == 0 || a.sxTotals.spi == 0 {
		t.Fatalf("first radio's counters not kept: %+v", a.sxTotals)
	}
}

func TestSX127xHandoffsPerSecond(t *testing.T) {
	sc := mustParse(t, `{"seed":1,"radio":{"sf":7},"nodes":[{"name":"a","pos":[0,0],"radio":"sx127x"}],"until":"10m"}`)
	r, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Idle, the driver waits on DIO0 for PollInterval (25 ms) per turn:
	// 40 handoffs per virtual second.
	h := float64(r.Detail.NodeStats[0].SX.Handoffs) / sc.Until.Seconds()
	if h < 39 || h > 41 {
		t.Fatalf("%.2f handoffs per virtual second, want about 40", h)
	}
}

// The built-in scenario with two teams on sx127x radios behaves like the
// all-sim one: it converges, with team_c's later write winning.
func TestDefaultScenarioWithSX127x(t *testing.T) {
	sc := withSX127x(scenario.Default(), "team_a", "team_c")
	r, err := Run(sc, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkConverged(t, sc, &r.Figures)
	if c := r.Detail.Conflicts; len(c) != 1 || c[0].Winner != "team_c" {
		t.Fatalf("conflicts %+v", c)
	}
	for _, ns := range r.Detail.NodeStats {
		if (ns.SX != nil) != (ns.Name == "team_a" || ns.Name == "team_c") {
			t.Fatalf("%s: sx stats %v", ns.Name, ns.SX)
		}
		if ns.SX != nil && (ns.SX.TxPackets == 0 || ns.SX.RxPackets == 0) {
			t.Fatalf("%s: %+v", ns.Name, *ns.SX)
		}
	}
}

// sx127x nodes keep to the duty-cycle budget even when it binds, although
// the driver transmits some time after the scheduler released a packet
// (see chargeDelay).
func TestSX127xDutyCycleNeverExceeded(t *testing.T) {
	var nodes []string
	for i := range 6 {
		radio := ""
		if i%2 == 0 {
			radio = `,"radio":"sx127x"`
		}
		nodes = append(nodes, fmt.Sprintf(`{"name":"n%d","pos":[%.1f,0]%s}`, i, float64(i)*0.3, radio))
	}
	sc := mustParse(t, `{"seed":2,"radio":{"sf":7,"duty_cycle":0.02,"duty_window":"2m"},"range_km":3,"nodes":[`+
		strings.Join(nodes, ",")+`],"workload":{"events_per_node":40,"from":"0s","to":"5m"},"until":"15m","expect_convergence":false}`)
	r, err := Run(sc, Options{Baseline: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []*Figures{&r.Figures, r.Baseline} {
		if f.MaxDutyCycle > sc.Radio.DutyCycle+1e-9 {
			t.Fatalf("max duty cycle %v above the budget %v", f.MaxDutyCycle, sc.Radio.DutyCycle)
		}
	}
	// The budget really bound the "sim" radios of the baseline.
	if r.Baseline.MaxDutyCycle < 0.99*sc.Radio.DutyCycle {
		t.Fatalf("baseline max duty %v: the budget never bound", r.Baseline.MaxDutyCycle)
	}
}

// Random meshes with loss, a partition, restarts and concurrent edits,
// with every other node on an sx127x radio, converge.
func TestConvergenceRandomizedSX127x(t *testing.T) {
	last := uint64(12)
	if testing.Short() {
		last = 11
	}
	for seed := uint64(11); seed <= last; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			sc := mustParse(t, randomScenario(seed, 5+int(seed%3)))
			var names []string
			for i, n := range sc.Nodes {
				if i%2 == 1 {
					names = append(names, n.Name)
				}
			}
			sc = withSX127x(sc, names...)
			r, err := Run(sc, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkConverged(t, sc, &r.Figures)
		})
	}
}
