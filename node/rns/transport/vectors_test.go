package transport

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

type rawPacket struct {
	Raw string `json:"raw"`
}

type transportCase struct {
	Name         string         `json:"name"`
	Injected     map[string]any `json:"injected"`
	Plaintext    string         `json:"plaintext"`
	SentOnB      rawPacket      `json:"sent_on_B"`
	ReceivedOnB  rawPacket      `json:"received_on_B"`
	RequestOnB   rawPacket      `json:"request_received_on_B"`
	ProofSentOnB rawPacket      `json:"proof_sent_on_B"`
	RTTReceivedB rawPacket      `json:"rtt_received_on_B"`
	LinkID       string         `json:"link_id"`
	TransportID  string         `json:"transport_identity_hash"`
}

// TestEndpointBehindTransportNode replays the reference's transport vectors
// from the point of view of S, an ordinary node one transport node (T) away
// from X: S learns X's path from T's rebroadcast (HEADER_2, next hop T), and
// then S's own outbound packets — a SINGLE data packet and a link request
// inserted into transport, and the RTT packet after T relays X's proof —
// must be byte for byte what the reference's S sent.
func TestEndpointBehindTransportNode(t *testing.T) {
	b, err := os.ReadFile("testdata/transport.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []transportCase }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	cases := map[string]transportCase{}
	for _, c := range f.Cases {
		cases[c.Name] = c
	}
	ann, data, lnk := cases["announce_rebroadcast"], cases["data_last_hop_strip"], cases["link_through_transport"]
	if ann.SentOnB.Raw == "" || data.ReceivedOnB.Raw == "" || lnk.RequestOnB.Raw == "" {
		t.Fatal("transport vectors missing")
	}
	inj := func(c transportCase, k string) []byte { return unhex(t, c.Injected[k].(string)) }
	clock := lnk.Injected["clock"].(map[string]any)
	at := func(k string) time.Time {
		s := clock[k].(float64)
		return time.Unix(0, int64(s*1e9))
	}

	r := NewRouter(Config{})
	ifc := &fakeIface{name: "B", mtu: rns.MTU}
	now := at("request_sent")
	r.InterfaceUp(ifc, now)

	// T's rebroadcast of X's announce.
	if err := r.Inbound(unhex(t, ann.SentOnB.Raw), ifc, now); err != nil {
		t.Fatal(err)
	}
	var x rns.Packet
	x.Unmarshal(unhex(t, ann.SentOnB.Raw))
	path, ok := r.Path(x.Destination, now)
	if !ok || path.Hops != 2 || path.NextHop.String() != ann.TransportID {
		t.Fatalf("path %+v", path)
	}

	// A SINGLE data packet from S to X is inserted into transport via T.
	r.cfg.Rand = bytes.NewReader(append(inj(data, "ephemeral_x25519_private_key"), inj(data, "token_iv")...))
	if _, err := r.SendPacket(x.Destination, unhex(t, data.Plaintext), now); err != nil {
		t.Fatal(err)
	}
	if got := ifc.take(); len(got) != 1 || !bytes.Equal(got[0], unhex(t, data.ReceivedOnB.Raw)) {
		t.Fatalf("data packet\n got %x\nwant %s", got, data.ReceivedOnB.Raw)
	}

	// The link request leaves S as HEADER_2 with MTU signalling.
	r.cfg.Rand = bytes.NewReader(append(inj(lnk, "initiator_ephemeral_x25519_private_key"), inj(lnk, "initiator_ephemeral_ed25519_private_seed")...))
	id, err := r.OpenLink(x.Destination, now)
	if err != nil {
		t.Fatal(err)
	}
	if id.String() != lnk.LinkID {
		t.Fatalf("link id %s, want %s", id, lnk.LinkID)
	}
	if got := ifc.take(); len(got) != 1 || !bytes.Equal(got[0], unhex(t, lnk.RequestOnB.Raw)) {
		t.Fatalf("link request\n got %x\nwant %s", got, lnk.RequestOnB.Raw)
	}

	// T relays X's proof; S validates it and sends its RTT packet.
	r.cfg.Rand = bytes.NewReader(inj(lnk, "rtt_token_iv"))
	if err := r.Inbound(unhex(t, lnk.ProofSentOnB.Raw), ifc, at("proof_received")); err != nil {
		t.Fatal(err)
	}
	if got := ifc.take(); len(got) != 1 || !bytes.Equal(got[0], unhex(t, lnk.RTTReceivedB.Raw)) {
		t.Fatalf("RTT packet\n got %x\nwant %s", got, lnk.RTTReceivedB.Raw)
	}
	li, _ := r.LinkInfo(id)
	if li.Status != LinkActive || li.RTT != 500*time.Millisecond || li.MTU != 500 || li.Hops != 2 {
		t.Fatalf("link %+v", li)
	}
}
