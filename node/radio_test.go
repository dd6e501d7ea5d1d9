package node

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/hal"
	"github.com/meshlogd/meshlogd/node/config"
	"github.com/meshlogd/meshlogd/rnode"
	"github.com/meshlogd/meshlogd/rnode/rnodetest"
	"github.com/meshlogd/meshlogd/sx127x"
	"github.com/meshlogd/meshlogd/sx127x/sx127xtest"
)

// A node whose interface is an SX127x (the real driver on an emulated chip)
// and a node whose interface is an RNode (the real host driver, over a
// pseudo-terminal, to an emulated RNode) share one simulated air and
// converge: the bare chip and the modem understand each other on air.
func TestSX127xAndRNodeNodesConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("radio end-to-end")
	}
	base := t.TempDir()
	dirs := []string{filepath.Join(base, "chip"), filepath.Join(base, "rnode")}
	newDataset(t, dirs...)

	params := hal.Params{FrequencyHz: 869_525_000, BandwidthHz: 250_000, SpreadingFactor: 7, CodingRate: 5, TxPowerDBm: 14}
	clk := sx127xtest.NewScaledClock(time.Now(), 1)
	air := sx127xtest.NewAir(clk)
	chip := sx127xtest.NewChip(sx127xtest.ChipOpts{Name: "sx127x", Clock: clk, Air: air})
	dev := rnodetest.New(rnodetest.Config{Now: clk.Now})
	rnodetest.JoinAir(dev, air, "rnode")
	pty, err := rnodetest.NewPTY(dev, t.TempDir(), "ttyUSB0")
	if err != nil {
		t.Fatal(err)
	}
	defer pty.Close()

	radioIfc := func(name, typ string) config.Interface {
		return config.Interface{Name: name, Type: typ, Enabled: true, Board: "generic", Port: pty.Path(),
			FrequencyHz: params.FrequencyHz, BandwidthHz: params.BandwidthHz, SpreadingFactor: params.SpreadingFactor,
			CodingRate: params.CodingRate, TxPowerDBm: params.TxPowerDBm, Region: "EU868", DutyCycle: 0.1}
	}
	openers := []func(config.Interface) (hal.Radio, error){
		func(config.Interface) (hal.Radio, error) {
			return sx127x.New(chip.Port(), chip.ResetPin(), chip.DIO0(), &sx127x.Opts{Params: params, Device: "SPI0.0", Now: clk.Now})
		},
		func(ifc config.Interface) (hal.Radio, error) {
			m, err := rnode.Open(context.Background(), rnode.Serial(ifc.Port), &rnode.Opts{OpenDelay: -1})
			if err != nil {
				return nil, err
			}
			if err := m.Configure(params); err != nil {
				m.Close()
				return nil, err
			}
			return m, nil
		},
	}
	ifcs := []config.Interface{radioIfc("lora0", config.TypeSX127x), radioIfc("rnode0", config.TypeRNode)}

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	nodes := make([]*Node, 2)
	for i, d := range dirs {
		n, err := Open(Options{DataDir: d, Config: fastConfig(t, d, ifcs[i]), OpenRadio: openers[i]})
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.Run(ctx); err != nil {
				t.Errorf("node %d: %v", i, err)
			}
		}()
	}
	defer func() {
		cancel()
		wg.Wait()
		for _, n := range nodes {
			n.Close()
		}
	}()
	waitFor(t, "the RNode node's admission over the air", 90*time.Second, func() bool { return nodes[1].Status().Member })
	for i, n := range nodes {
		rec := fmt.Sprintf("R-%d", i)
		if _, err := n.CreateRecord(rec, "shelter"); err != nil {
			t.Fatal(err)
		}
		if _, err := n.AppendNote(rec, fmt.Sprintf("roof intact, %048d", i)); err != nil {
			t.Fatal(err)
		}
	}
	converged := func() bool {
		return nodes[0].ViewDigest() == nodes[1].ViewDigest() && nodes[0].Status().Records == 2
	}
	deadline := time.Now().Add(180 * time.Second)
	for !converged() {
		if time.Now().After(deadline) {
			for i, n := range nodes {
				st := n.Status()
				t.Logf("node %d: frontier %v events %d pending %d interfaces %+v reports %v", i, st.Frontier, st.Events, st.Pending, st.Interfaces, st.Reports)
			}
			t.Logf("frames on air: %d", len(air.Log()))
			t.Fatal("timed out waiting for convergence over the air")
		}
		time.Sleep(50 * time.Millisecond)
	}
	st := nodes[0].Status()
	if len(st.Interfaces) != 1 || st.Interfaces[0].TxPackets == 0 || st.Interfaces[0].RxPackets == 0 || st.Interfaces[0].LastRSSI == nil {
		t.Fatalf("sx127x interface status: %+v", st.Interfaces)
	}
}
