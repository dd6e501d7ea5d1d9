package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/config"
	"github.com/meshlogd/meshlogd/node/feed"
)

// newDataset initialises dirs[0] as founder and the others as invited members.
func newDataset(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if _, _, err := Init(d, rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := CreateDataset(dirs[0], "test", time.Now(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	a, err := Open(Options{DataDir: dirs[0]})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, d := range dirs[1:] {
		n, err := openIdentity(d)
		if err != nil {
			t.Fatal(err)
		}
		inv, err := a.Invite(hex.EncodeToString(n), false)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := ParseInvite(inv.String())
		if err != nil {
			t.Fatal(err)
		}
		if err := JoinDataset(d, parsed); err != nil {
			t.Fatal(err)
		}
	}
}

func openIdentity(dir string) ([]byte, error) {
	id, _, err := Init(dir, rand.Reader)
	if err != nil {
		return nil, err
	}
	return id.PublicKey(), nil
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func fastConfig(t *testing.T, dir string, ifaces ...config.Interface) *config.Config {
	c, err := config.Parse("test", []byte(config.Default))
	if err != nil {
		t.Fatal(err)
	}
	c.Sync.BeaconMin = time.Second
	c.Sync.BeaconMax = 8 * time.Second
	c.Control.Socket = filepath.Join(dir, "control.sock")
	c.Interfaces = ifaces
	return c
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestThreeNodesConvergeOverTCP(t *testing.T) {
	if testing.Short() {
		t.Skip("multi-node sync over TCP")
	}
	base := t.TempDir()
	dirs := []string{filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "c")}
	newDataset(t, dirs...)
	addr := freePort(t)
	ifcs := []config.Interface{
		{Name: "hub", Type: config.TypeTCPServer, Listen: addr, Enabled: true},
		{Name: "up", Type: config.TypeTCPClient, Target: addr, Enabled: true},
		{Name: "up", Type: config.TypeTCPClient, Target: addr, Enabled: true},
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	nodes := make([]*Node, 3)
	for i, d := range dirs {
		n, err := Open(Options{DataDir: d, Config: fastConfig(t, d, ifcs[i])})
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
	for i, n := range nodes {
		waitFor(t, fmt.Sprintf("node %d membership", i), 60*time.Second, func() bool { return n.Status().Member })
	}
	for i, n := range nodes {
		rec := fmt.Sprintf("R-%d", i)
		if _, err := n.CreateRecord(rec, "water_point"); err != nil {
			t.Fatal(err)
		}
		if _, err := n.SetField(rec, "functional", feed.Bool(i%2 == 0)); err != nil {
			t.Fatal(err)
		}
		if _, err := n.AppendNote(rec, "checked by node "+fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "convergence", 90*time.Second, func() bool {
		d0 := nodes[0].ViewDigest()
		for _, n := range nodes {
			if n.ViewDigest() != d0 || n.Status().Records != 3 {
				return false
			}
		}
		return true
	})
}
