package rns

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"
)

// handshake replays link.json's handshake case and returns both sessions.
func handshake(t *testing.T) (cases []obj, ini, resp *LinkSession) {
	t.Helper()
	cases = loadCases(t, "link.json")
	c := caseNamed(t, cases, "handshake")
	inj := sub(t, c, "injected")
	dst := sub(t, c, "destination")
	respID, _ := FromPrivateKey(hx(t, dst, "responder_identity_private_key"))
	eq(t, "responder public", respID.PublicKey(), hx(t, dst, "responder_identity_public_key"))
	d, _ := NewDestination(respID, In, Single, dst["app_name"].(string), strs(dst, "aspects")...)
	h := d.Hash()
	eq(t, "destination", h[:], hx(t, dst, "destination_hash"))

	li, err := NewLinkInitiatorWith(hx(t, inj, "initiator_ephemeral_x25519_private_key"), hx(t, inj, "initiator_ephemeral_ed25519_private_seed"), d.Hash(), int(num(t, c, "mtu")))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := li.Request().Pack()
	eq(t, "link request", raw, hx(t, sub(t, c, "link_request"), "raw"))
	id := li.ID()
	eq(t, "link id", id[:], hx(t, c, "link_id"))
	eq(t, "link request hashable part", li.Request().HashablePart(), hx(t, c, "link_request_hashable_part"))

	// Responder side, from the received bytes.
	req, err := ParsePacket(raw)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := ParseLinkRequest(req.Data)
	if err != nil || !rd.Signalling || rd.MTU != 500 || rd.Mode != LinkModeAES256CBC {
		t.Fatalf("request data %+v %v", rd, err)
	}
	eq(t, "initiator x25519", rd.X25519Pub[:], hx(t, c, "initiator_ephemeral_x25519_public_key"))
	eq(t, "initiator ed25519", rd.Ed25519Pub[:], hx(t, c, "initiator_ephemeral_ed25519_public_key"))
	resp, proof, err := AcceptLinkRequestWith(hx(t, inj, "responder_ephemeral_x25519_private_key"), respID, req)
	if err != nil {
		t.Fatal(err)
	}
	praw, _ := proof.Pack()
	eq(t, "link proof", praw, hx(t, sub(t, c, "link_proof"), "raw"))
	eq(t, "responder key", resp.Key(), hx(t, c, "derived_key"))

	// Initiator validates the proof with only the public key.
	pub, _ := FromPublicKey(respID.PublicKey())
	pp, _ := ParsePacket(praw)
	ini, err = li.Accept(pub, pp)
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "initiator key", ini.Key(), hx(t, c, "derived_key"))
	if ini.MTU() != 500 || ini.MDU() != int(num(t, c, "mdu")) || resp.MDU() != LinkMDU {
		t.Errorf("mtu %d mdu %d", ini.MTU(), ini.MDU())
	}
	return cases, ini, resp
}

func TestLinkHandshakeVectors(t *testing.T) {
	cases, ini, resp := handshake(t)
	c := caseNamed(t, cases, "handshake")
	inj := sub(t, c, "injected")

	// RTT packet.
	rtt := time.Duration(num(t, c, "rtt_seconds") * float64(time.Second))
	eq(t, "rtt msgpack", EncodeRTT(rtt), hx(t, c, "rtt_plaintext_msgpack"))
	rp, err := ini.RTTPacket(bytes.NewReader(hx(t, inj, "rtt_token_iv")), rtt)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := rp.Pack()
	eq(t, "rtt packet", raw, hx(t, sub(t, c, "rtt_packet"), "raw"))
	pt, err := resp.Open(rp)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := DecodeRTT(pt); err != nil || got != rtt {
		t.Errorf("rtt %v %v", got, err)
	}
	ka := KeepaliveInterval(rtt)
	if math.Abs(ka.Seconds()-num(t, c, "keepalive_interval_after_rtt_s")) > 1e-6 {
		t.Errorf("keepalive %v", ka)
	}
	if math.Abs((StaleFactor*ka).Seconds()-num(t, c, "stale_time_s")) > 1e-6 {
		t.Errorf("stale time %v", StaleFactor*ka)
	}

	// A proof signed by someone else, or for another link, is refused.
	li2, _ := NewLinkInitiator(bytes.NewReader(bytes.Repeat([]byte{6}, 64)), ini.ID(), 500)
	pr := &Packet{DestType: Link, Type: Proof, Context: CtxLRProof, Destination: li2.ID(), Data: make([]byte, 99)}
	pr.Data[96] = 0x20
	if _, err := li2.Accept(mustIdentity(t), pr); !errors.Is(err, ErrLinkProof) {
		t.Errorf("forged proof: %v", err)
	}
	pr.Destination = ini.ID()
	if _, err := li2.Accept(mustIdentity(t), pr); !errors.Is(err, ErrLinkProofType) {
		t.Errorf("proof for another link: %v", err)
	}
}

func mustIdentity(t *testing.T) *Identity {
	id, err := NewIdentity(bytes.NewReader(bytes.Repeat([]byte{0x42}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestLinkTrafficVectors(t *testing.T) {
	cases, ini, resp := handshake(t)
	for _, c := range cases {
		name := c["name"].(string)
		switch c["kind"] {
		case "link_data":
			from, to := ini, resp
			if name == "data_responder_to_initiator" {
				from, to = resp, ini
			}
			pt := hx(t, c, "plaintext")
			p, err := from.Packet(bytes.NewReader(hx(t, sub(t, c, "injected"), "token_iv")), CtxNone, pt)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := p.Pack()
			eq(t, name, raw, hx(t, sub(t, c, "packet"), "raw"))
			got, err := to.Open(p)
			if err != nil || !bytes.Equal(got, pt) {
				t.Errorf("%s: open %v", name, err)
			}
		case "limit":
			if _, err := ini.Packet(bytes.NewReader(make([]byte, 16)), CtxNone, make([]byte, int(num(t, c, "plaintext_length")))); !errors.Is(err, ErrOversized) {
				t.Errorf("%s: %v", name, err)
			}
			if _, err := ini.Packet(bytes.NewReader(make([]byte, 16)), CtxNone, make([]byte, int(num(t, c, "link_mdu")))); err != nil {
				t.Errorf("%s at MDU: %v", name, err)
			}
		case "link_packet_proof":
			dp, _ := ParsePacket(hx(t, sub(t, caseNamed(t, cases, "data_initiator_to_responder"), "packet"), "raw"))
			proof := resp.ProvePacket(dp)
			raw, _ := proof.Pack()
			eq(t, name, raw, hx(t, sub(t, c, "packet"), "raw"))
			h := dp.Hash()
			eq(t, name+" hash", h[:], hx(t, c, "proved_packet_hash"))
			if err := ini.ValidatePacketProof(proof.Data, h); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			if err := resp.ValidatePacketProof(proof.Data, h); err == nil {
				t.Errorf("%s: own proof validated as the peer's", name)
			}
		case "keepalive":
			raw, _ := ini.KeepalivePacket().Pack()
			eq(t, "initiator keepalive", raw, hx(t, sub(t, c, "initiator_keepalive"), "raw"))
			raw, _ = resp.KeepalivePacket().Pack()
			eq(t, "responder keepalive", raw, hx(t, sub(t, c, "responder_reply"), "raw"))
		case "link_identify":
			id, _ := FromPrivateKey(hx(t, c, "identity_private_key"))
			p, err := ini.IdentifyPacket(bytes.NewReader(hx(t, sub(t, c, "injected"), "token_iv")), id)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := p.Pack()
			eq(t, name, raw, hx(t, sub(t, c, "packet"), "raw"))
			pt, err := resp.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, name+" plaintext", pt, hx(t, c, "plaintext"))
			who, err := resp.ParseIdentify(pt)
			if err != nil {
				t.Fatal(err)
			}
			h := who.Hash()
			eq(t, name+" learned", h[:], hx(t, c, "responder_learned_identity_hash"))
			pt[len(pt)-1] ^= 1
			if _, err := resp.ParseIdentify(pt); !errors.Is(err, ErrLinkIdentify) {
				t.Errorf("%s: tampered: %v", name, err)
			}
		case "link_close":
			p, err := ini.TeardownPacket(bytes.NewReader(hx(t, sub(t, c, "injected"), "token_iv")))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := p.Pack()
			eq(t, name, raw, hx(t, sub(t, c, "packet"), "raw"))
			if !resp.IsTeardown(p) {
				t.Errorf("%s: responder did not close", name)
			}
			other, _ := ini.Packet(bytes.NewReader(make([]byte, 16)), CtxLinkClose, []byte("not the link id"))
			if resp.IsTeardown(other) {
				t.Errorf("%s: closed on a wrong payload", name)
			}
		case "link_request":
			// Request/response packets are link data with contexts REQUEST and RESPONSE.
			inj := sub(t, c, "injected")
			p, err := ini.Packet(bytes.NewReader(hx(t, inj, "request_token_iv")), CtxRequest, hx(t, c, "request_plaintext"))
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := p.Pack()
			eq(t, name+" request", raw, hx(t, sub(t, c, "request_packet"), "raw"))
			rid := p.TruncatedHash()
			eq(t, name+" request id", rid[:], hx(t, c, "request_id"))
			r, _ := resp.Packet(bytes.NewReader(hx(t, inj, "response_token_iv")), CtxResponse, hx(t, c, "response_plaintext"))
			raw, _ = r.Pack()
			eq(t, name+" response", raw, hx(t, sub(t, c, "response_packet"), "raw"))
		case "signalling":
			for _, v := range c["values"].([]any) {
				v := v.(obj)
				s, err := SignallingBytes(int(num(t, v, "mtu")), LinkMode(num(t, v, "mode_decoded")))
				if err != nil {
					t.Fatal(err)
				}
				eq(t, "signalling", s[:], hx(t, v, "signalling_bytes"))
				mtu, mode := DecodeSignalling(s)
				if mtu != int(num(t, v, "mtu_decoded")) || int(mode) != int(num(t, v, "mode_decoded")) {
					t.Errorf("decoded %d %d", mtu, mode)
				}
			}
			if _, err := SignallingBytes(500, LinkModeAES128CBC); !errors.Is(err, ErrLinkMode) {
				t.Error(err)
			}
		}
	}
	if LinkMDUFor(8192) != 8111 {
		t.Errorf("MDU at 8192: %d", LinkMDUFor(8192))
	}
}

func TestLinkRequestWithoutSignalling(t *testing.T) {
	resp := mustIdentity(t)
	d, _ := NewDestination(resp, In, Single, "meshlogd", "sync")
	li, err := NewLinkInitiator(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), d.Hash(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(li.Request().Data) != LinkECPubSize {
		t.Fatalf("legacy request of %d bytes", len(li.Request().Data))
	}
	rs, proof, err := AcceptLinkRequest(bytes.NewReader(bytes.Repeat([]byte{9}, 32)), resp, li.Request())
	if err != nil {
		t.Fatal(err)
	}
	is, err := li.Accept(resp, proof)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(is.Key(), rs.Key()) || is.MTU() != MTU || LinkID(li.Request()) != rs.ID() {
		t.Fatal("keys or ids differ")
	}
	// A request with signalling has the same link id as without it.
	li8k, _ := NewLinkInitiator(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), d.Hash(), 8192)
	if li8k.ID() != li.ID() {
		t.Fatal("signalling changed the link id")
	}
}

func TestLinkParsersReject(t *testing.T) {
	for n := 0; n < 110; n++ {
		_, errR := ParseLinkRequest(make([]byte, n))
		if (n == 64 || n == 67) != (errR == nil) {
			t.Errorf("link request of %d bytes: %v", n, errR)
		}
		_, errP := ParseLinkProof(make([]byte, n))
		if (n == 96 || n == 99) != (errP == nil) {
			t.Errorf("link proof of %d bytes: %v", n, errP)
		}
	}
	for _, b := range [][]byte{nil, {0xcb, 1}, {0xc0}, {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}, {0xcb, 0xbf, 0xf0, 0, 0, 0, 0, 0, 0}, {1, 2}} {
		if _, err := DecodeRTT(b); !errors.Is(err, ErrLinkRTT) {
			t.Errorf("RTT %x: %v", b, err)
		}
	}
	for b, want := range map[string]time.Duration{"\x02": 2 * time.Second, "\xcc\x03": 3 * time.Second, "\xca\x3e\x80\x00\x00": 250 * time.Millisecond} {
		if got, err := DecodeRTT([]byte(b)); err != nil || got != want {
			t.Errorf("RTT %x: %v %v", b, got, err)
		}
	}
}

// TestLinkThroughTransport replays transport.json's relayed link: the
// initiator's request carries MTU signalling that the transport node strips;
// both ends still agree on the link id and the keys.
func TestLinkThroughTransport(t *testing.T) {
	c := caseNamed(t, loadCases(t, "transport.json"), "link_through_transport")
	inj := sub(t, c, "injected")
	onB := sub(t, c, "request_received_on_B")
	reqB, err := ParsePacket(hx(t, onB, "raw"))
	if err != nil {
		t.Fatal(err)
	}
	mtu, _ := DecodeSignalling([3]byte(reqB.Data[LinkECPubSize:]))
	li, err := NewLinkInitiatorWith(hx(t, inj, "initiator_ephemeral_x25519_private_key"), hx(t, inj, "initiator_ephemeral_ed25519_private_seed"), reqB.Destination, mtu)
	if err != nil {
		t.Fatal(err)
	}
	out := *li.Request()
	out.HeaderType, out.TransportType, out.TransportID = Header2, Transport, reqB.TransportID
	raw, _ := out.Pack()
	eq(t, "request sent via transport", raw, hx(t, onB, "raw"))
	id := li.ID()
	eq(t, "initiator link id", id[:], hx(t, c, "link_id"))

	reqA, _ := ParsePacket(hx(t, sub(t, c, "request_sent_on_A"), "raw"))
	if LinkID(reqA) != li.ID() {
		t.Fatal("stripping the signalling changed the link id")
	}
	respID, _ := FromPrivateKey(hx(t, c, "responder_identity_private_key"))
	rs, proof, err := AcceptLinkRequestWith(hx(t, inj, "responder_ephemeral_x25519_private_key"), respID, reqA)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = proof.Pack()
	eq(t, "proof", raw, hx(t, sub(t, c, "proof_received_on_A"), "raw"))

	proofB, _ := ParsePacket(hx(t, sub(t, c, "proof_sent_on_B"), "raw"))
	is, err := li.Accept(respID, proofB)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(is.Key(), rs.Key()) || is.MTU() != MTU {
		t.Fatalf("keys differ or MTU %d", is.MTU())
	}
	clock := sub(t, inj, "clock")
	rtt := time.Duration((num(t, clock, "proof_received") - num(t, clock, "request_sent")) * float64(time.Second))
	rp, err := is.RTTPacket(bytes.NewReader(hx(t, inj, "rtt_token_iv")), rtt.Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = rp.Pack()
	eq(t, "rtt", raw, hx(t, sub(t, c, "rtt_received_on_B"), "raw"))
}
