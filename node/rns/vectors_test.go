package rns

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// obj is a JSON object from a vector file.
type obj = map[string]any

// loadCases reads testdata/<file> and returns its cases.
func loadCases(t testing.TB, file string) []obj {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Cases []obj `json:"cases"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Cases) == 0 {
		t.Fatalf("%s: no cases", file)
	}
	return v.Cases
}

// caseNamed returns the case with the given name.
func caseNamed(t testing.TB, cases []obj, name string) obj {
	t.Helper()
	for _, c := range cases {
		if c["name"] == name {
			return c
		}
	}
	t.Fatalf("no case %q", name)
	return nil
}

// hx decodes the hex string at o[key]; a JSON null yields nil.
func hx(t testing.TB, o obj, key string) []byte {
	t.Helper()
	v, ok := o[key]
	if !ok {
		t.Fatalf("missing key %q", key)
	}
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		t.Fatalf("key %q is not a string", key)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("key %q: %v", key, err)
	}
	return b
}

func sub(t testing.TB, o obj, key string) obj {
	t.Helper()
	m, ok := o[key].(obj)
	if !ok {
		t.Fatalf("key %q is not an object", key)
	}
	return m
}

func num(t testing.TB, o obj, key string) float64 {
	t.Helper()
	f, ok := o[key].(float64)
	if !ok {
		t.Fatalf("key %q is not a number", key)
	}
	return f
}

func strs(o obj, key string) []string {
	var out []string
	for _, v := range o[key].([]any) {
		out = append(out, v.(string))
	}
	return out
}

func eq(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s:\n got %x\nwant %x", what, got, want)
	}
}

func iv16(t testing.TB, b []byte) [TokenIVSize]byte {
	t.Helper()
	if len(b) != TokenIVSize {
		t.Fatalf("IV of %d bytes", len(b))
	}
	return [TokenIVSize]byte(b)
}

// checkPacket compares a parsed packet with a vector "packet" object.
func checkPacket(t testing.TB, name string, po obj) *Packet {
	t.Helper()
	raw := hx(t, po, "raw")
	p, err := ParsePacket(raw)
	if ok, _ := po["unpack_ok"].(bool); !ok {
		if err == nil {
			t.Errorf("%s: parsed a packet the reference refuses", name)
		}
		return nil
	}
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if int(p.Flags()) != int(num(t, po, "flags")) || int(p.Hops) != int(num(t, po, "hops")) ||
		int(p.HeaderType) != int(num(t, po, "header_type")) || int(p.TransportType) != int(num(t, po, "transport_type")) ||
		int(p.DestType) != int(num(t, po, "destination_type")) || int(p.Type) != int(num(t, po, "packet_type")) ||
		int(p.Context) != int(num(t, po, "context")) || (p.ContextFlag != (num(t, po, "context_flag") == 1)) {
		t.Errorf("%s: header fields %+v differ from %v", name, p, po)
	}
	if p.Context.String() != po["context_name"] || p.Type.String() != po["packet_type_name"] || p.DestType.String() != po["destination_type_name"] {
		t.Errorf("%s: names %s/%s/%s", name, p.Context, p.Type, p.DestType)
	}
	eq(t, name+" destination", p.Destination[:], hx(t, po, "destination_hash"))
	if tid := hx(t, po, "transport_id"); tid != nil {
		eq(t, name+" transport id", p.TransportID[:], tid)
	}
	eq(t, name+" data", p.Data, hx(t, po, "data"))
	eq(t, name+" hashable part", p.HashablePart(), hx(t, po, "hashable_part"))
	h := p.Hash()
	eq(t, name+" hash", h[:], hx(t, po, "packet_hash"))
	th := p.TruncatedHash()
	eq(t, name+" truncated hash", th[:], hx(t, po, "truncated_hash"))
	rh, err := RawPacketHash(raw)
	if err != nil || rh != h {
		t.Errorf("%s: RawPacketHash %x, %v", name, rh, err)
	}
	repacked, err := p.Pack()
	if err != nil {
		t.Fatalf("%s: pack: %v", name, err)
	}
	eq(t, name+" repack", repacked, raw)
	return p
}
