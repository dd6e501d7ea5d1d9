package feed

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed/hlc"
)

// typicalFieldSet is the benchmark's typical event: a 20-byte string value.
func typicalFieldSet(i int) FieldSet {
	return fieldSet("hh-0042", "water_l", String("12 jerrycans, clean"+string(rune('a'+i%26))))
}

func TestEventRoundTripAndGolden(t *testing.T) {
	f := newFixture(t, 2)
	s := f.write(f.members[1], typicalFieldSet(0))
	enc := s.Canonical()
	dec, err := DecodeEvent(enc)
	if err != nil {
		t.Fatal(err)
	}
	if dec.ID() != s.ID() || !bytes.Equal(dec.Canonical(), enc) {
		t.Fatal("round trip changed the event")
	}
	stored, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeSigned(stored)
	if err != nil || !bytes.Equal(back.Sig, s.Sig) || back.ID() != s.ID() {
		t.Fatalf("signed round trip: %v", err)
	}
	// Golden: the canonical encoding is a format; changing it changes every id.
	e := Event{Author: AuthorID{1, 2, 3}, Seq: 7, Prev: ID{9}, HLC: hlc.New(t0, 3), Kind: KindFieldSet}
	e.Body, _ = EncodeBody(fieldSet("r1", "f", Int(-5)))
	const golden = "96" + "c410" + "01020300000000000000000000000000" + "07" +
		"c420" + "0900000000000000000000000000000000000000000000000000000000000000" +
		"cf018bcfe568000003" + "05" + "c407" + "93a27231a166fb"
	if got := hex.EncodeToString(e.Canonical()); got != golden {
		t.Fatalf("canonical encoding changed:\n got %s\nwant %s", got, golden)
	}
}

func TestDecodeEventErrors(t *testing.T) {
	f := newFixture(t, 2)
	s := f.write(f.members[1], typicalFieldSet(0))
	good := s.Canonical()

	// Same event, seq 7 written as uint64 (0xcf + 8 bytes) instead of a fixint.
	long := append([]byte{}, good[:19]...)
	long = append(long, 0xcf, 0, 0, 0, 0, 0, 0, 0, byte(s.Seq))
	long = append(long, good[20:]...)

	unknown := s.Event
	unknown.Kind = 42
	bigBody := s.Event
	bigBody.Body = bytes.Repeat([]byte{0xc0}, MaxBodySize+1)
	noncanonBody := s.Event
	noncanonBody.Body = append([]byte{0x93, 0xd9, 7}, noncanonBody.Body[2:]...) // str8 for a fixstr
	zeroSeq := s.Event
	zeroSeq.Seq = 0

	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", good[:len(good)-3], ErrTruncated},
		{"trailing", append(append([]byte{}, good...), 0), ErrTrailing},
		{"oversized", make([]byte, MaxEventSize+1), ErrTooLarge},
		{"garbage", []byte("hello, world"), ErrMalformed},
		{"wrong arity", []byte{0x92, 0x01, 0x02}, ErrMalformed},
		{"non-canonical int", long, ErrNonCanonical},
		{"unknown kind", unknown.Canonical(), ErrUnknownKind},
		{"oversized body", bigBody.Canonical(), ErrTooLarge},
		{"non-canonical body", noncanonBody.Canonical(), ErrNonCanonical},
		{"zero seq", zeroSeq.Canonical(), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEvent(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not a *DecodeError", err)
			}
		})
	}
}

func TestBodyLimits(t *testing.T) {
	long := strings.Repeat("x", 100)
	cases := []struct {
		name string
		body Body
		want error
	}{
		{"record id too long", RecordCreate{Record: long[:MaxRecordIDLen+1], Type: "hh"}, ErrBadBody},
		{"empty record id", RecordCreate{Record: "", Type: "hh"}, ErrBadBody},
		{"type too long", RecordCreate{Record: "r", Type: long[:MaxTypeLen+1]}, ErrBadBody},
		{"field too long", fieldSet("r", long[:MaxFieldLen+1], Int(1)), ErrBadBody},
		{"value too long", fieldSet("r", "f", String(long[:MaxTextLen+1])), ErrTooLarge},
		{"bytes too long", fieldSet("r", "f", Bytes([]byte(long[:MaxTextLen+1]))), ErrTooLarge},
		{"note too long", NoteAppend{Record: "r", Text: long[:MaxTextLen+1]}, ErrBadBody},
		{"body too large", fieldSet(long[:MaxRecordIDLen], long[:MaxFieldLen], String(long[:MaxTextLen])), ErrTooLarge},
		{"invalid utf-8", NoteAppend{Record: "r", Text: "\xff"}, ErrBadBody},
		{"name too long", Genesis{Name: long[:MaxNameLen+1]}, ErrBadBody},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := EncodeBody(tc.body); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Every value type round-trips.
	for _, v := range []Value{Null(), String("s"), Int(-1 << 40), Int(7), Float(2.5), Bool(true), Bool(false), Bytes([]byte{1, 2})} {
		b, err := EncodeBody(fieldSet("r", "f", v))
		if err != nil {
			t.Fatal(err)
		}
		got, err := DecodeBody(KindFieldSet, b)
		if err != nil || !got.(FieldSet).Value.Equal(v) {
			t.Fatalf("value %v: got %v, %v", v, got, err)
		}
	}
}

func TestRunRoundTripAndSize(t *testing.T) {
	f := newFixture(t, 2)
	m := f.members[1]
	for i := range 10 {
		f.write(m, typicalFieldSet(i))
	}
	run := f.log.Authenticated(m.Hash(), 1, 10)
	enc, err := EncodeRun(nil, run, RunOpts{AuthorBytes: f.log.AuthorPrefixLen(m.Hash())})
	if err != nil {
		t.Fatal(err)
	}
	if per := float64(len(enc)) / 10; per > 60 {
		t.Errorf("%.1f bytes per typical field-set in a burst of 10, goal ≤ 60", per)
	}
	r := f.newLog(Config{})
	for _, s := range f.written[:1] {
		mustIngest(t, r, s)
	}
	dec, n, err := DecodeRun(append(enc, 0xAA), r)
	if err != nil || n != len(enc) || len(dec) != 10 {
		t.Fatalf("decode: n=%d/%d events=%d err=%v", n, len(enc), len(dec), err)
	}
	for i := range dec {
		if dec[i].ID() != run[i].ID() || !bytes.Equal(dec[i].Sig, run[i].Sig) {
			t.Fatalf("event %d differs after the run codec", i)
		}
		mustIngest(t, r, dec[i])
	}
	if r.Seq(m.Hash()) != 10 {
		t.Fatal("decoded run not accepted")
	}
	// With prev, a receiver that lacks the predecessor can decode a later run.
	tail := f.log.Authenticated(m.Hash(), 6, 10)
	enc2, err := EncodeRun(nil, tail, RunOpts{AuthorBytes: 16, WithPrev: true})
	if err != nil {
		t.Fatal(err)
	}
	fresh := f.newLog(Config{})
	if _, _, err := DecodeRun(enc2, fresh); err != nil {
		t.Fatalf("decode with prev: %v", err)
	}
	enc3, _ := EncodeRun(nil, tail, RunOpts{AuthorBytes: 4})
	if _, _, err := DecodeRun(enc3, fresh); !errors.Is(err, ErrUnknownAuthor) {
		t.Fatalf("unknown prefix: %v", err)
	}
	mustIngest(t, fresh, f.written[0])
	if _, _, err := DecodeRun(enc3, fresh); !errors.Is(err, ErrUnknownPrev) {
		t.Fatalf("unknown prev: %v", err)
	}
}

func TestDecodeRunErrors(t *testing.T) {
	f := newFixture(t, 2)
	m := f.members[1]
	for i := range 3 {
		f.write(m, typicalFieldSet(i))
	}
	run := f.log.Authenticated(m.Hash(), 1, 3)
	good, _ := EncodeRun(nil, run, RunOpts{AuthorBytes: 4})
	mutate := func(fn func(b []byte) []byte) []byte { return fn(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"truncated", good[:len(good)-1], ErrTruncated},
		{"reserved flags", mutate(func(b []byte) []byte { b[0] |= 0x80; return b }), ErrMalformed},
		{"short prefix", mutate(func(b []byte) []byte { b[0] = b[0]&^0x1f | 1; return b }), ErrMalformed},
		{"huge count", mutate(func(b []byte) []byte { b[6] = 0x7f; return b }), ErrTooLarge},
		{"count beyond input", mutate(func(b []byte) []byte { b[6] = 60; return b[:20] }), ErrTruncated},
		{"zero count", mutate(func(b []byte) []byte { b[6] = 0; return b }), ErrMalformed},
		{"overlong varint", append(append([]byte{}, good[:5]...), append([]byte{0x81, 0x00}, good[6:]...)...), ErrNonCanonical},
		{"unknown kind", mutate(func(b []byte) []byte { b[7] = 0x7f; return b }), ErrUnknownKind},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeRun(tc.in, f.log)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("err %T is not a *DecodeError", err)
			}
		})
	}
}

func TestLargestEventFitsOneFrame(t *testing.T) {
	f := newFixture(t, 2)
	m := f.members[1]
	body := fieldSet(strings.Repeat("r", 10), strings.Repeat("f", 10), String(strings.Repeat("v", 55)))
	b, err := EncodeBody(body)
	if err != nil || len(b) != MaxBodySize {
		t.Fatalf("body %d bytes, %v", len(b), err)
	}
	f.write(m, body)
	run, err := EncodeRun(nil, f.log.Authenticated(m.Hash(), 1, 1), RunOpts{AuthorBytes: DefaultAuthorPrefix})
	if err != nil {
		t.Fatal(err)
	}
	if len(run) > 164 {
		t.Fatalf("largest event as a signed run of one: %d bytes > 164", len(run))
	}
}
