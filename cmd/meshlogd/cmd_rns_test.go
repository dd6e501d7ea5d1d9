package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/rns/transport"
)

func rnsJSONLines(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q", sc.Text())
		}
		lines = append(lines, m)
	}
	return lines
}

func TestIDNewAndShow(t *testing.T) {
	file := filepath.Join(t.TempDir(), "id")
	var out, errb bytes.Buffer
	if code := run([]string{"id", "new", "--file", file}, &out, &errb); code != exitOK {
		t.Fatalf("id new: %d %s", code, errb.String())
	}
	created := rnsJSONLines(t, out.Bytes())[0]
	if _, hasPriv := created["private_key"]; hasPriv {
		t.Fatal("private key printed although written to a file")
	}
	if code := run([]string{"id", "new", "--file", file}, &out, &errb); code != exitFailure {
		t.Fatal("id new overwrote an identity file")
	}
	out.Reset()
	if code := run([]string{"id", "show", "--file", file, "--app", "meshlogd", "--aspects", "sync,field"}, &out, &errb); code != exitOK {
		t.Fatalf("id show: %d %s", code, errb.String())
	}
	shown := rnsJSONLines(t, out.Bytes())[0]
	id, err := rns.LoadIdentityFile(file)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := rns.NewDestination(id, rns.In, rns.Single, "meshlogd", "sync", "field")
	if shown["identity"] != created["identity"] || shown["identity"] != id.Hash().String() ||
		shown["destination"] != d.Hash().String() || shown["name"] != "meshlogd.sync.field" {
		t.Fatalf("id show %v (created %v)", shown, created)
	}
	if code := run([]string{"id", "show", "--file", file, "--app", "a.b"}, &out, &errb); code != exitUsage {
		t.Fatal("dotted app name accepted")
	}
}

func TestRNSFlagErrors(t *testing.T) {
	var out, errb bytes.Buffer
	for _, args := range [][]string{
		{"rns", "listen"},
		{"rns", "link", "--tcp", "127.0.0.1:1", "--dest", "xyz", "--send", "x"},
		{"rns", "announce", "--tcp", "127.0.0.1:1", "--app", "x"},
		{"rns", "listen", "--tcp", "127.0.0.1:1", "--passphrase", "p", "--ifac-size", "65"},
	} {
		if code := run(args, &out, &errb); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}

// TestRNSToolsOverLoopback runs the tools against an in-process stack
// serving a TCP server interface with IFAC: listen sees its announce, link
// gets its echo, and announce reaches it.
func TestRNSToolsOverLoopback(t *testing.T) {
	ifac, err := rns.NewIFAC("field", "pw", rns.IFACSizeTCP)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := transport.ListenTCP(transport.TCPServerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	st := transport.NewStack(transport.StackConfig{TickInterval: 20 * time.Millisecond})
	id, _ := rns.NewIdentity(strings.NewReader(strings.Repeat("k", 64)))
	dest, _ := rns.NewDestination(id, rns.In, rns.Single, "meshlogd", "echo")
	st.Do(func(r *transport.Router, _ time.Time) error {
		return r.Register(dest, transport.LocalOptions{AcceptLinks: true})
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, transport.WithIFAC(srv, ifac)) }()
	defer func() { cancel(); <-done }()
	// The in-process server announces to each client that connects and
	// echoes link data; tool output is checked below.
	heard := make(chan transport.AnnounceEvent, 16)
	go func() {
		for e := range st.Events() {
			switch e := e.(type) {
			case transport.AnnounceEvent:
				heard <- e
			case transport.InterfaceEvent:
				if e.Up {
					time.Sleep(50 * time.Millisecond)
					st.Do(func(r *transport.Router, now time.Time) error { return r.Announce(dest.Hash(), []byte("srv"), now) })
				}
			case transport.LinkDataEvent:
				st.Do(func(r *transport.Router, now time.Time) error {
					_, err := r.LinkSend(e.LinkID, append([]byte("echo: "), e.Data...), now)
					return err
				})
			}
		}
	}()
	addr := srv.Addr().String()
	ifacFlags := []string{"--tcp", addr, "--network-name", "field", "--passphrase", "pw"}

	var out, errb bytes.Buffer
	if code := run(append([]string{"rns", "listen", "--count", "1", "--duration", "20s"}, ifacFlags...), &out, &errb); code != exitOK {
		t.Fatalf("listen: %d %s", code, errb.String())
	}
	var ann map[string]any
	for _, l := range rnsJSONLines(t, out.Bytes()) {
		if l["event"] == "announce" {
			ann = l
		}
	}
	if ann == nil || ann["valid"] != true || ann["destination"] != dest.Hash().String() ||
		ann["identity"] != id.Hash().String() || ann["app_data"] != "737276" || ann["hops"] != 1.0 {
		t.Fatalf("listen output %s", out.String())
	}

	out.Reset()
	if code := run(append([]string{"rns", "link", "--dest", dest.Hash().String(), "--send", "ping", "--timeout", "20s"}, ifacFlags...), &out, &errb); code != exitOK {
		t.Fatalf("link: %d %s\n%s", code, errb.String(), out.String())
	}
	var reply map[string]any
	for _, l := range rnsJSONLines(t, out.Bytes()) {
		if l["event"] == "reply" {
			reply = l
		}
	}
	if reply == nil || reply["text"] != "echo: ping" {
		t.Fatalf("link output %s", out.String())
	}

	// rns announce reaches the server, which validates it.
	idFile := filepath.Join(t.TempDir(), "id")
	if code := run([]string{"id", "new", "--file", idFile}, &out, &errb); code != exitOK {
		t.Fatal("id new failed")
	}
	out.Reset()
	if code := run(append([]string{"rns", "announce", "--identity", idFile, "--app", "meshlogd", "--aspects", "cli,test", "--app-data", "from cli"}, ifacFlags...), &out, &errb); code != exitOK {
		t.Fatalf("announce: %d %s", code, errb.String())
	}
	var announced map[string]any
	for _, l := range rnsJSONLines(t, out.Bytes()) {
		if l["event"] == "announced" {
			announced = l
		}
	}
	select {
	case e := <-heard:
		if !e.Valid || e.Destination.String() != announced["destination"] || string(e.AppData) != "from cli" {
			t.Fatalf("server heard %+v, tool printed %v", e, announced)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("server never heard the announce; tool printed %s", out.String())
	}

	out.Reset()
	wrong := []string{"--tcp", addr, "--network-name", "field", "--passphrase", "wrong"}
	if code := run(append([]string{"rns", "listen", "--duration", "1s"}, wrong...), &out, &errb); code != exitOK {
		t.Fatalf("listen with wrong IFAC: %d", code)
	}
	for _, l := range rnsJSONLines(t, out.Bytes()) {
		if l["event"] == "announce" {
			t.Fatalf("announce heard through a mismatched IFAC: %v", l)
		}
	}
}
