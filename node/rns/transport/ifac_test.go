package transport

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/meshlogd/meshlogd/node/rns"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeIface records what is sent on it.
type fakeIface struct {
	name string
	mtu  int
	mu   sync.Mutex
	sent [][]byte
	err  error
}

func (f *fakeIface) Name() string   { return f.name }
func (f *fakeIface) MTU() int       { return f.mtu }
func (f *fakeIface) Bitrate() int64 { return 1_000_000 }
func (f *fakeIface) Send(raw []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.sent = append(f.sent, append([]byte(nil), raw...))
	return nil
}

func (f *fakeIface) take() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.sent
	f.sent = nil
	return s
}

// scriptPort announces one interface and feeds it the given raw packets.
type scriptPort struct {
	ifc  Interface
	feed [][]byte
}

func (p *scriptPort) Run(ctx context.Context, sink Sink) error {
	sink.InterfaceUp(p.ifc)
	for _, raw := range p.feed {
		sink.Inbound(raw, p.ifc)
	}
	sink.InterfaceDown(p.ifc)
	return nil
}

// recSink records what a port delivers.
type recSink struct {
	ups, downs []Interface
	in         [][]byte
	from       []Interface
}

func (s *recSink) InterfaceUp(i Interface)   { s.ups = append(s.ups, i) }
func (s *recSink) InterfaceDown(i Interface) { s.downs = append(s.downs, i) }
func (s *recSink) Inbound(raw []byte, from Interface) {
	s.in = append(s.in, raw)
	s.from = append(s.from, from)
}

type ifacVector struct {
	Name        string  `json:"name"`
	NetworkName *string `json:"network_name"`
	Passphrase  *string `json:"passphrase"`
	Size        *int    `json:"ifac_size"`
	Packets     []struct {
		Packet   string `json:"packet"`
		Wire     string `json:"wire"`
		Accepted bool   `json:"accepted"`
		Tampered []struct {
			Name     string `json:"name"`
			Wire     string `json:"wire"`
			Accepted bool   `json:"accepted"`
		} `json:"tampered"`
	} `json:"packets"`
}

// TestWithIFACVectors drives the WithIFAC boundary with the reference's
// masked packets: outbound packets get exactly the reference's wire bytes,
// inbound wire bytes are unmasked, and every tampered variant is dropped.
func TestWithIFACVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/ifac.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []ifacVector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range f.Cases {
		if c.Size == nil || len(c.Packets) == 0 {
			continue
		}
		var nn, pp string
		if c.NetworkName != nil {
			nn = *c.NetworkName
		}
		if c.Passphrase != nil {
			pp = *c.Passphrase
		}
		ifac, err := rns.NewIFAC(nn, pp, *c.Size)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		for _, p := range c.Packets {
			inner := &fakeIface{name: "fake", mtu: 600}
			feed := [][]byte{unhex(t, p.Wire)}
			want := 0
			if p.Accepted {
				want++
			}
			for _, tc := range p.Tampered {
				feed = append(feed, unhex(t, tc.Wire))
				if tc.Accepted {
					want++
				}
			}
			port := WithIFAC(&scriptPort{ifc: inner, feed: feed}, ifac)
			var sink recSink
			if err := port.Run(context.Background(), &sink); err != nil {
				t.Fatal(err)
			}
			if len(sink.in) != want {
				t.Fatalf("%s: %d packets passed, reference accepts %d", c.Name, len(sink.in), want)
			}
			if p.Accepted && !bytes.Equal(sink.in[0], unhex(t, p.Packet)) {
				t.Errorf("%s: unmasked %x", c.Name, sink.in[0])
			}
			if got := IFACRejected(port); got != int64(len(feed)-want) {
				t.Errorf("%s: rejected %d", c.Name, got)
			}
			// The wrapped interface masks outbound packets byte for byte.
			if len(sink.ups) != 1 || sink.ups[0] != sink.downs[0] {
				t.Fatalf("%s: wrapped interface not stable: %v %v", c.Name, sink.ups, sink.downs)
			}
			if err := sink.ups[0].Send(unhex(t, p.Packet)); err != nil {
				t.Fatal(err)
			}
			if got := inner.take(); len(got) != 1 || !bytes.Equal(got[0], unhex(t, p.Wire)) {
				t.Errorf("%s: masked\n got %x\nwant %s", c.Name, got, p.Wire)
			}
			checked++
		}
	}
	if checked < 5 {
		t.Fatalf("only %d IFAC vectors checked", checked)
	}
}
