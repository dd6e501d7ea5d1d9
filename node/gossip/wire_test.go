package gossip

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"

	"github.com/meshlogd/meshlogd/node/rns"
)

func author(b byte) rns.Hash {
	var h rns.Hash
	for i := range h {
		h[i] = b
	}
	return h
}

var testTag = Tag{0xde, 0xad, 0xbe, 0xef}

func sampleMsgs() []Msg {
	return []Msg{
		&Beacon{Tag: testTag, Hash: 0x0123456789abcdef, Count: 300},
		&Frontier{Tag: testTag, Hash: 7, First: true, Last: true},
		&Frontier{Tag: testTag, Hash: 0xffffffffffffffff, First: true, Entries: []FrontierEntry{
			{Author: author(1), Seq: 1}, {Author: author(2), Seq: 70000},
		}},
		&Slice{Tag: testTag, Run: []byte{0x04, 0x03, 0x03, 0x03, 0x03, 0x05, 0x01}},
		&Want{Tag: testTag, Ranges: []WantRange{{Author: author(4), From: 1, To: 1}, {Author: author(5), From: 200, To: 300}}},
		&Want{Tag: testTag, Ranges: []WantRange{{Author: author(6), From: 7, To: 9, Bare: true}}},
		&Slice{Tag: testTag, Run: []byte{0x04, 0x03, 0x03, 0x03, 0x03, 0x05, 0x01}, Push: true},
	}
}

// TestWireGolden pins the byte layout documented in doc.go.
func TestWireGolden(t *testing.T) {
	want := []string{
		"11deadbeef" + "cf0123456789abcdef" + "cd012c",
		"12deadbeef" + "07" + "03" + "90",
		"12deadbeef" + "cfffffffffffffffff" + "01" + "92" +
			"92" + "c410" + "01010101010101010101010101010101" + "01" +
			"92" + "c410" + "02020202020202020202020202020202" + "ce00011170",
		"13deadbeef" + "04030303030501",
		"14deadbeef" + "92" +
			"93" + "c410" + "04040404040404040404040404040404" + "01" + "01" +
			"93" + "c410" + "05050505050505050505050505050505" + "ccc8" + "cd012c",
		"14deadbeef" + "91" + "94" + "c410" + "06060606060606060606060606060606" + "07" + "09" + "01",
		"15deadbeef" + "04030303030501",
	}
	for i, m := range sampleMsgs() {
		got := hex.EncodeToString(m.AppendTo(nil))
		if got != want[i] {
			t.Errorf("%s: encoding\n got %s\nwant %s", m.Kind(), got, want[i])
		}
	}
}

func TestWireRoundTrip(t *testing.T) {
	for _, m := range sampleMsgs() {
		b := m.AppendTo(nil)
		got, err := Decode(b, 0)
		if err != nil {
			t.Fatalf("%s: Decode: %v", m.Kind(), err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("%s: round trip\n got %+v\nwant %+v", m.Kind(), got, m)
		}
		// Every strict prefix is truncated or malformed, never accepted
		// (a slice's run is the rest of the payload, so its prefixes
		// may decode to a shorter run).
		for n := range len(b) {
			got, err := Decode(b[:n], 0)
			if err == nil {
				if _, ok := got.(*Slice); ok && n > HeaderSize {
					continue
				}
				t.Fatalf("%s: prefix %d/%d decoded: %+v", m.Kind(), n, len(b), got)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("%s: prefix %d: error %v is not a *DecodeError", m.Kind(), n, err)
			}
		}
	}
}

func TestWireErrors(t *testing.T) {
	h := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	long := make([]byte, 200)
	long[0] = byte(KindBeacon)
	tests := []struct {
		name  string
		in    []byte
		limit int
		want  error
	}{
		{"empty", nil, 0, ErrTruncated},
		{"short header", h("11dead"), 0, ErrTruncated},
		{"unknown kind", h("7fdeadbeef00"), 0, ErrUnknownKind},
		{"oversized", long, 175, ErrTooLarge},
		{"beacon truncated", h("11deadbeefcf0123"), 0, ErrTruncated},
		{"beacon trailing", h("11deadbeef010200"), 0, ErrTrailing},
		{"beacon non-canonical uint", h("11deadbeefcc0102"), 0, ErrNonCanonical},
		{"beacon wrong type", h("11deadbeefa10102"), 0, ErrMalformed},
		{"frontier bad flags", h("12deadbeef070490"), 0, ErrMalformed},
		{"frontier empty partial", h("12deadbeef070190"), 0, ErrMalformed},
		{"frontier huge count", h("12deadbeef0703dd7fffffff"), 0, ErrTruncated},
		{"frontier zero seq", h("12deadbeef070391" + "92c410" + "01010101010101010101010101010101" + "00"), 0, ErrMalformed},
		{"frontier unsorted", h("12deadbeef070392" +
			"92c410" + "02020202020202020202020202020202" + "01" +
			"92c410" + "01010101010101010101010101010101" + "01"), 0, ErrMalformed},
		{"frontier long author", h("12deadbeef070391" + "92c411" + "0101010101010101010101010101010101" + "01"), 0, ErrMalformed},
		{"frontier entry arity", h("12deadbeef070391" + "93c410" + "01010101010101010101010101010101" + "0101"), 0, ErrMalformed},
		{"slice empty run", h("13deadbeef"), 0, ErrTruncated},
		{"want empty", h("14deadbeef90"), 0, ErrMalformed},
		{"want reversed", h("14deadbeef9193c410" + "04040404040404040404040404040404" + "0502"), 0, ErrMalformed},
		{"want from zero", h("14deadbeef9193c410" + "04040404040404040404040404040404" + "0002"), 0, ErrMalformed},
		{"want zero flags", h("14deadbeef9194c410" + "04040404040404040404040404040404" + "010200"), 0, ErrMalformed},
		{"want unknown flags", h("14deadbeef9194c410" + "04040404040404040404040404040404" + "010203"), 0, ErrMalformed},
		{"want arity", h("14deadbeef9192c410" + "04040404040404040404040404040404" + "0101"), 0, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode(tc.in, tc.limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %+v, %v; want %v", m, err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError", err)
			}
		})
	}
}

// FuzzDecode: no panic on any input; whatever decodes re-encodes to the
// same bytes (one meaning per byte string, one byte string per meaning).
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMsgs() {
		f.Add(m.AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode(b, MaxPayloadLimit)
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError: %v", err, err)
			}
			if m != nil {
				t.Fatal("non-nil message with error")
			}
			return
		}
		if enc := m.AppendTo(nil); !bytes.Equal(enc, b) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", b, enc)
		}
	})
}
