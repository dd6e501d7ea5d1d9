package feed

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var genCorpus = flag.Bool("gen-corpus", false, "rewrite the committed seed corpora in testdata/fuzz")

// fuzzFixture is a deterministic dataset shared by the fuzz targets: a
// founder, two members, a few events each.
func fuzzFixture(t testing.TB) *fixture {
	f := newFixture(t, 3)
	for i := range 6 {
		f.write(f.members[1+i%2], typicalFieldSet(i))
	}
	f.write(f.members[1], NoteAppend{Record: "hh-0042", Text: "tank leaks"})
	f.write(f.members[2], RecordCreate{Record: "w-7", Type: "well"})
	return f
}

func eventSeeds(f *fixture) [][]byte {
	var out [][]byte
	for _, s := range f.written {
		out = append(out, s.Canonical())
	}
	return append(out, f.genesis.Canonical(), []byte{0x96}, []byte{})
}

func signedSeeds(f *fixture) [][]byte {
	var out [][]byte
	for _, s := range f.written[:4] {
		b, _ := s.MarshalBinary()
		out = append(out, b)
		s.Sig = nil
		b, _ = s.MarshalBinary()
		out = append(out, b)
	}
	return out
}

func runSeeds(f *fixture) [][]byte {
	var out [][]byte
	for _, m := range f.members[1:] {
		run := f.log.Authenticated(m.Hash(), 1, 10)
		for _, o := range []RunOpts{{AuthorBytes: 4}, {WithPrev: true}} {
			b, err := EncodeRun(nil, run, o)
			if err != nil {
				panic(err)
			}
			out = append(out, b, b[:len(b)/2])
		}
	}
	return out
}

// ingestSeeds are concatenations: a selector byte (0 = stored Signed, 1 =
// run) followed by the encoding.
func ingestSeeds(f *fixture) [][]byte {
	var out [][]byte
	for _, b := range signedSeeds(f) {
		out = append(out, append([]byte{0}, b...))
	}
	for _, b := range runSeeds(f) {
		out = append(out, append([]byte{1}, b...))
	}
	return out
}

func TestWriteFuzzCorpus(t *testing.T) {
	if !*genCorpus {
		t.Skip("run with -gen-corpus to rewrite testdata/fuzz")
	}
	f := fuzzFixture(t)
	for name, seeds := range map[string][][]byte{
		"FuzzDecodeEvent":  eventSeeds(f),
		"FuzzDecodeSigned": signedSeeds(f),
		"FuzzDecodeRun":    runSeeds(f),
		"FuzzLogIngest":    ingestSeeds(f),
	} {
		dir := filepath.Join("testdata", "fuzz", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	for _, s := range eventSeeds(fuzzFixture(f)) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Canonical(), b) {
			t.Fatalf("accepted input is not canonical: %x", b)
		}
	})
}

func FuzzDecodeSigned(f *testing.F) {
	for _, s := range signedSeeds(fuzzFixture(f)) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSigned(b)
		if err != nil {
			return
		}
		enc, err := s.MarshalBinary()
		if err != nil || !bytes.Equal(enc, b) {
			t.Fatalf("accepted input does not re-encode: %x", b)
		}
	})
}

func FuzzDecodeRun(f *testing.F) {
	fx := fuzzFixture(f)
	for _, s := range runSeeds(fx) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		run, n, err := DecodeRun(b, fx.log)
		if err != nil {
			return
		}
		if n <= 0 || n > len(b) || len(run) == 0 || len(run) > MaxRunEvents {
			t.Fatalf("n=%d len=%d events=%d", n, len(b), len(run))
		}
		o := RunOpts{AuthorBytes: int(b[0] & runLenMask), WithPrev: b[0]&runPrevFlag != 0}
		enc, err := EncodeRun(nil, run, o)
		if err != nil {
			t.Fatalf("decoded run does not encode: %v", err)
		}
		if !bytes.Equal(enc, b[:n]) {
			t.Fatalf("run does not round-trip:\n in %x\nout %x", b[:n], enc)
		}
	})
}

func FuzzLogIngest(f *testing.F) {
	fx := fuzzFixture(f)
	for _, s := range ingestSeeds(fx) {
		f.Add(s)
	}
	const budget = 4 << 10
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		l, err := NewLog(fx.genesis, Config{MaxPendingBytes: budget})
		if err != nil {
			t.Fatal(err)
		}
		// Admit the members so that their events can verify.
		for _, s := range fx.written[:2] {
			if _, err := l.Ingest(s); err != nil {
				t.Fatal(err)
			}
		}
		var evs []Signed
		switch b[0] % 2 {
		case 0:
			s, err := DecodeSigned(b[1:])
			if err != nil {
				return
			}
			evs = []Signed{s}
		default:
			run, _, err := DecodeRun(b[1:], l)
			if err != nil {
				return
			}
			evs = run
		}
		for _, s := range evs {
			res, err := l.Ingest(s)
			if err == nil {
				res2, err2 := l.Ingest(s)
				if err2 != nil || len(res2.Accepted) != 0 || (!res2.Duplicate && len(res.Forks) == 0 && len(res.Accepted) > 0) {
					t.Fatalf("replay not idempotent: %+v, %v", res2, err2)
				}
			}
			if l.PendingBytes() > budget {
				t.Fatalf("gap buffer %d > %d", l.PendingBytes(), budget)
			}
		}
		// Everything accepted must be a linked, genuine chain of the fixture.
		for a, n := range l.Frontier() {
			for seq := uint64(1); seq <= n; seq++ {
				id, _ := l.GetID(a, seq)
				want, ok := fx.log.GetID(a, seq)
				if !ok || want != id {
					t.Fatalf("accepted %s/%d that the author never wrote", a, seq)
				}
			}
		}
	})
}
