package rns

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestDestinationVectors(t *testing.T) {
	for _, c := range loadCases(t, "destination.json") {
		name := c["name"].(string)
		switch c["kind"] {
		case nil:
			var id *Identity
			if c["identity_private_key"] != nil {
				var err error
				if id, err = FromPrivateKey(hx(t, c, "identity_private_key")); err != nil {
					t.Fatal(err)
				}
			}
			typ := DestType(num(t, c, "type"))
			app, aspects := c["app_name"].(string), strs(c, "aspects")
			d, err := NewDestination(id, In, typ, app, aspects...)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if d.Name() != c["name_hashed"] {
				t.Errorf("%s: name %q", name, d.Name())
			}
			nh := d.NameHash()
			eq(t, name+" name hash", nh[:], hx(t, c, "name_hash"))
			h := d.Hash()
			eq(t, name+" hash", h[:], hx(t, c, "destination_hash"))
			if id != nil {
				pub, _ := FromPublicKey(id.PublicKey())
				out, err := NewDestination(pub, Out, typ, app, aspects...)
				if err != nil || out.Hash() != d.Hash() {
					t.Errorf("%s: outbound hash differs (%v)", name, err)
				}
			}
		case "group_encryption":
			id, _ := NewIdentity(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
			d, err := NewDestination(id, In, Group, c["app_name"].(string), strs(c, "aspects")...)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.LoadGroupKey(hx(t, c, "group_key")); err != nil {
				t.Fatal(err)
			}
			pt := hx(t, c, "plaintext")
			ct, err := d.Encrypt(bytes.NewReader(hx(t, sub(t, c, "injected"), "token_iv")), pt)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, name, ct, hx(t, c, "ciphertext"))
			dec, err := d.Decrypt(ct)
			if err != nil || !bytes.Equal(dec, pt) {
				t.Errorf("%s: decrypt %v", name, err)
			}
			k := d.GroupKey()
			k[0] ^= 1
			d.LoadGroupKey(k)
			if _, err := d.Decrypt(ct); !errors.Is(err, ErrTokenMAC) {
				t.Errorf("%s: wrong key: %v", name, err)
			}
		case "error":
			id, _ := NewIdentity(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
			var err error
			switch name {
			case "error_dot_in_app_name":
				_, err = NewDestination(id, In, Single, "mesh.logd", "x")
				if !errors.Is(err, ErrDotInName) {
					t.Errorf("%s: %v", name, err)
				}
			case "error_dot_in_aspect":
				_, err = NewDestination(id, In, Single, "meshlogd", "a.b")
				if !errors.Is(err, ErrDotInName) {
					t.Errorf("%s: %v", name, err)
				}
			case "error_plain_with_identity":
				_, err = NewDestination(id, In, Plain, "meshlogd", "x")
				if !errors.Is(err, ErrPlainIdentity) {
					t.Errorf("%s: %v", name, err)
				}
			case "error_single_out_without_identity":
				_, err = NewDestination(nil, Out, Single, "meshlogd", "x")
				if !errors.Is(err, ErrNeedIdentity) {
					t.Errorf("%s: %v", name, err)
				}
			default:
				t.Errorf("unhandled error case %s", name)
			}
		}
	}
	if PathRequestDestination.String() != "6b9f66014d9853faab220fba47d02761" {
		t.Errorf("path request destination %s", PathRequestDestination)
	}
}

func TestPlainAndGroupKeyGeneration(t *testing.T) {
	d, _ := NewDestination(nil, Out, Plain, "meshlogd", "beacon")
	ct, err := d.Encrypt(nil, []byte("hi"))
	if err != nil || string(ct) != "hi" {
		t.Fatalf("plain passthrough: %q %v", ct, err)
	}
	if err := d.LoadGroupKey(make([]byte, 64)); !errors.Is(err, ErrDestType) {
		t.Fatal(err)
	}
	id, _ := NewIdentity(bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	g, _ := NewDestination(id, In, Group, "meshlogd", "team")
	if _, err := g.Encrypt(bytes.NewReader(make([]byte, 16)), nil); !errors.Is(err, ErrNoGroupKey) {
		t.Fatal(err)
	}
	if err := g.CreateGroupKey(bytes.NewReader(bytes.Repeat([]byte{4}, 64))); err != nil {
		t.Fatal(err)
	}
	if len(g.GroupKey()) != 64 {
		t.Fatal("group key length")
	}
	ct, _ = g.Encrypt(bytes.NewReader(make([]byte, 16)), []byte("x"))
	if pt, err := g.Decrypt(ct); err != nil || string(pt) != "x" {
		t.Fatal(err)
	}
}

func TestPacketVectors(t *testing.T) {
	cases := loadCases(t, "packet.json")
	n := 0
	for _, c := range cases {
		if po, ok := c["packet"].(obj); ok {
			checkPacket(t, c["name"].(string), po)
			n++
		}
	}
	if n < 25 {
		t.Fatalf("only %d packets", n)
	}

	// Building packets from their inputs reproduces the reference's bytes.
	c := caseNamed(t, cases, "data_plain")
	d, _ := NewDestination(nil, Out, Plain, "meshlogd", "beacon")
	p := &Packet{DestType: Plain, Type: Data, Destination: d.Hash(), Data: hx(t, c, "plaintext")}
	raw, _ := p.Pack()
	eq(t, "data_plain build", raw, hx(t, sub(t, c, "packet"), "raw"))

	c = caseNamed(t, cases, "data_single")
	recv, _ := FromPrivateKey(hx(t, c, "recipient_private_key"))
	pub, _ := FromPublicKey(recv.PublicKey())
	sd, _ := NewDestination(pub, Out, Single, "meshlogd", "interop")
	inj := sub(t, c, "injected")
	ct, err := sd.Encrypt(bytes.NewReader(append(hx(t, inj, "ephemeral_x25519_private_key"), hx(t, inj, "token_iv")...)), hx(t, c, "plaintext"))
	if err != nil {
		t.Fatal(err)
	}
	single := &Packet{DestType: Single, Type: Data, Destination: sd.Hash(), Data: ct}
	raw, _ = single.Pack()
	eq(t, "data_single build", raw, hx(t, sub(t, c, "packet"), "raw"))
	in, _ := NewDestination(recv, In, Single, "meshlogd", "interop")
	if pt, err := in.Decrypt(single.Data); err != nil || !bytes.Equal(pt, hx(t, c, "decrypted")) {
		t.Errorf("data_single decrypt: %v", err)
	}

	// Proofs of data_single.
	for _, name := range []string{"proof_implicit", "proof_explicit"} {
		pc := caseNamed(t, cases, name)
		proof, err := NewProof(recv, single, name == "proof_explicit")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := proof.Pack()
		eq(t, name+" build", raw, hx(t, sub(t, pc, "packet"), "raw"))
		h := single.Hash()
		eq(t, name+" proved hash", h[:], hx(t, pc, "proved_packet_hash"))
		if err := ValidateProof(recv.Ed25519PublicKey(), h, proof.Data); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		bad := append([]byte(nil), proof.Data...)
		bad[len(bad)-1] ^= 1
		if err := ValidateProof(recv.Ed25519PublicKey(), h, bad); !errors.Is(err, ErrProofSignature) {
			t.Errorf("%s tampered: %v", name, err)
		}
		other := h
		other[0] ^= 1
		if err := ValidateProof(recv.Ed25519PublicKey(), other, proof.Data); err == nil {
			t.Errorf("%s: proof accepted for another packet", name)
		}
	}
	if err := ValidateProof(recv.Ed25519PublicKey(), [32]byte{}, make([]byte, 70)); !errors.Is(err, ErrProofLength) {
		t.Error(err)
	}

	// Ratchet-encrypted SINGLE data.
	c = caseNamed(t, cases, "data_single_ratchet")
	recv2, _ := FromPrivateKey(hx(t, c, "recipient_private_key"))
	pub2, _ := FromPublicKey(recv2.PublicKey())
	out2, _ := NewDestination(pub2, Out, Single, "meshlogd", "interop")
	if err := out2.SetRemoteRatchet(hx(t, c, "ratchet_public_key")); err != nil {
		t.Fatal(err)
	}
	inj = sub(t, c, "injected")
	ct, _ = out2.Encrypt(bytes.NewReader(append(hx(t, inj, "ephemeral_x25519_private_key"), hx(t, inj, "token_iv")...)), hx(t, c, "plaintext"))
	eq(t, "data_single_ratchet data", ct, hx(t, sub(t, c, "packet"), "data"))
	ratchet, _ := RatchetFromPrivateKey(hx(t, c, "ratchet_private_key"))
	in2, _ := NewDestination(recv2, In, Single, "meshlogd", "interop")
	in2.EnableRatchets(NewRatchetRing(0, 0, []*Ratchet{ratchet}, 1), true)
	if pt, err := in2.Decrypt(ct); err != nil || !bytes.Equal(pt, hx(t, c, "decrypted")) {
		t.Errorf("ratchet decrypt: %v", err)
	}

	// HEADER_2 insertion keeps the packet hash.
	c = caseNamed(t, cases, "data_single_path_3_hops")
	h1, err := ParsePacket(hx(t, c, "packed_header1"))
	if err != nil {
		t.Fatal(err)
	}
	h1.HeaderType, h1.TransportType = Header2, Transport
	h1.TransportID = Hash(hx(t, sub(t, c, "path"), "next_hop_transport_id"))
	raw, _ = h1.Pack()
	eq(t, "HEADER_2 insertion", raw, hx(t, sub(t, c, "packet"), "raw"))

	// Path requests.
	c = caseNamed(t, cases, "path_request_random_tag")
	pr, err := NewPathRequest(bytes.NewReader(hx(t, sub(t, c, "injected"), "urandom_for_tag")), Hash(hx(t, c, "requested_destination_hash")), nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = pr.Pack()
	eq(t, "path request", raw, hx(t, sub(t, c, "packet"), "raw"))
	for _, name := range []string{"path_request", "path_request_from_transport_node"} {
		c := caseNamed(t, cases, name)
		p, _ := ParsePacket(hx(t, sub(t, c, "packet"), "raw"))
		r, err := ParsePathRequest(p.Data)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, name+" destination", r.Destination[:], hx(t, c, "requested_destination_hash"))
		eq(t, name+" tag", r.Tag, hx(t, c, "tag"))
		if tid, ok := c["transport_identity_hash"]; ok && tid != nil {
			if r.Transport == nil {
				t.Fatalf("%s: no transport id", name)
			}
			eq(t, name+" transport", r.Transport[:], hx(t, c, "transport_identity_hash"))
		}
		eq(t, name+" remarshal", r.Marshal(), p.Data)
	}
	if _, err := ParsePathRequest(make([]byte, 16)); !errors.Is(err, ErrTruncated) {
		t.Error(err)
	}

	// Pack limits.
	lim := sub(t, caseNamed(t, cases, "pack_size_limits"), "rns_constants")
	for k, v := range map[string]int{"MTU": MTU, "HEADER_MINSIZE": HeaderMinSize, "HEADER_MAXSIZE": HeaderMaxSize,
		"IFAC_MIN_SIZE": IFACMinSize, "MDU": MDU, "Packet.PLAIN_MDU": PlainMDU, "Packet.ENCRYPTED_MDU": EncryptedMDU,
		"Link.MDU": LinkMDU, "Token.TOKEN_OVERHEAD": TokenOverhead, "Transport.PATHFINDER_M": MaxHops} {
		if int(num(t, lim, k)) != v {
			t.Errorf("constant %s = %d, reference %v", k, v, lim[k])
		}
	}
	big := &Packet{DestType: Plain, Type: Data, Destination: d.Hash(), Data: make([]byte, 481)}
	if _, err := big.Pack(); err != nil {
		t.Errorf("481-byte PLAIN payload refused: %v", err)
	}
	big.Data = make([]byte, 482)
	if _, err := big.Pack(); !errors.Is(err, ErrOversized) {
		t.Errorf("482-byte PLAIN payload: %v", err)
	}
}

func TestParsePacketRejects(t *testing.T) {
	for _, tc := range []struct {
		raw  []byte
		want error
	}{
		{nil, ErrTruncated},
		{make([]byte, 18), ErrTruncated},
		{append([]byte{0x40, 0}, make([]byte, 30)...), ErrTruncated},
		{append([]byte{0x00, 128}, make([]byte, 30)...), ErrMalformed},
		{append([]byte{0x80, 0}, make([]byte, 30)...), ErrMalformed},
	} {
		if _, err := ParsePacket(tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%x: got %v, want %v", tc.raw, err, tc.want)
		}
	}
}

func TestAnnounceVectors(t *testing.T) {
	valid, invalid := 0, 0
	for _, c := range loadCases(t, "announce.json") {
		name := c["name"].(string)
		switch c["kind"] {
		case "valid":
			valid++
			p := checkPacket(t, name, sub(t, c, "packet"))
			a, err := ValidateAnnounce(p)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			eq(t, name+" public key", a.PublicKey[:], hx(t, c, "identity_public_key"))
			eq(t, name+" name hash", a.NameHash[:], hx(t, c, "name_hash"))
			eq(t, name+" random hash", a.RandomHash[:], hx(t, c, "random_hash"))
			eq(t, name+" ratchet", a.Ratchet, hx(t, c, "ratchet_public_key"))
			eq(t, name+" signature", a.Signature[:], hx(t, c, "signature"))
			eq(t, name+" app data", a.AppData, hx(t, c, "app_data"))
			eq(t, name+" signed data", a.SignedData(), hx(t, c, "signed_data"))
			if a.Timestamp() != int64(num(t, c, "random_hash_timestamp")) {
				t.Errorf("%s: timestamp %d", name, a.Timestamp())
			}
			if rid, ok := a.RatchetID(); ok {
				eq(t, name+" ratchet id", rid[:], hx(t, c, "ratchet_id"))
			}
			ih := a.IdentityHash()
			eq(t, name+" identity hash", ih[:], hx(t, c, "identity_hash"))

			// Re-create the announce from its inputs.
			id, _ := FromPrivateKey(hx(t, c, "identity_private_key"))
			d, err := NewDestination(id, In, Single, c["app_name"].(string), strs(c, "aspects")...)
			if err != nil {
				t.Fatal(err)
			}
			inj := sub(t, c, "injected")
			if inj["ratchet_private_key"] != nil {
				r, _ := RatchetFromPrivateKey(hx(t, inj, "ratchet_private_key"))
				d.EnableRatchets(NewRatchetRing(0, 0, []*Ratchet{r}, int64(num(t, inj, "time"))), false)
			}
			now := time.Unix(0, int64(num(t, inj, "time")*1e9))
			got, err := d.Announce(bytes.NewReader(hx(t, inj, "urandom_for_random_hash")), now,
				AnnounceOptions{AppData: hx(t, c, "app_data"), PathResponse: c["path_response"] == true})
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := got.Pack()
			eq(t, name+" created", raw, hx(t, sub(t, c, "packet"), "raw"))
		case "invalid":
			invalid++
			po := sub(t, c, "packet")
			p, err := ParsePacket(hx(t, po, "raw"))
			if err != nil {
				t.Fatal(err)
			}
			a, err := ValidateAnnounce(p)
			if err == nil {
				t.Errorf("%s: invalid announce accepted", name)
				continue
			}
			v := sub(t, c, "validation")
			switch {
			case v["signature_valid"] == true:
				if !errors.Is(err, ErrAnnounceDestination) {
					t.Errorf("%s: got %v, want ErrAnnounceDestination", name, err)
				}
			case !errors.Is(err, ErrAnnounceSignature) && !errors.Is(err, ErrTruncated):
				t.Errorf("%s: untyped error %v", name, err)
			}
			_ = a
		}
	}
	if valid != 7 || invalid != 9 {
		t.Fatalf("%d valid, %d invalid cases", valid, invalid)
	}
}

func TestAnnounceRatchetRotationAndLimits(t *testing.T) {
	id, _ := NewIdentity(bytes.NewReader(bytes.Repeat([]byte{8}, 64)))
	d, _ := NewDestination(id, In, Single, "meshlogd", "sync")
	ring := NewRatchetRing(1800, 3, nil, 0)
	d.EnableRatchets(ring, false)
	rnd := bytes.NewReader(bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7}, 1000))
	var ids []RatchetID
	for i := int64(0); i < 5; i++ {
		p, err := d.Announce(rnd, time.Unix(1735689600+i*1801, 0), AnnounceOptions{AppData: []byte("x")})
		if err != nil {
			t.Fatal(err)
		}
		a, err := ValidateAnnounce(p)
		if err != nil || !p.ContextFlag {
			t.Fatalf("announce %d: %v", i, err)
		}
		rid, _ := a.RatchetID()
		ids = append(ids, rid)
	}
	if ids[0] == ids[1] || len(ring.List()) != 3 {
		t.Fatalf("ratchets did not rotate: %v, %d retained", ids, len(ring.List()))
	}
	// No rotation within the interval.
	p, _ := d.Announce(rnd, time.Unix(1735689600+4*1801+10, 0), AnnounceOptions{})
	a, _ := ValidateAnnounce(p)
	if rid, _ := a.RatchetID(); rid != ids[4] {
		t.Fatal("rotated within the interval")
	}
	// The largest app data the reference can emit still fits; one more does not.
	d2, _ := NewDestination(id, In, Single, "meshlogd", "sync")
	if _, err := d2.Announce(rnd, time.Unix(1, 0), AnnounceOptions{AppData: make([]byte, 333)}); err != nil {
		t.Fatal(err)
	}
	if _, err := d2.Announce(rnd, time.Unix(1, 0), AnnounceOptions{AppData: make([]byte, 334)}); !errors.Is(err, ErrOversized) {
		t.Fatal(err)
	}
	out, _ := NewDestination(id, Out, Single, "meshlogd", "sync")
	if _, err := out.Announce(rnd, time.Unix(1, 0), AnnounceOptions{}); !errors.Is(err, ErrAnnounceNeedsPrivate) {
		t.Fatal(err)
	}
}
