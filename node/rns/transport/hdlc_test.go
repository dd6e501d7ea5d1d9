package transport

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

type framingCase struct {
	Name          string   `json:"name"`
	Kind          string   `json:"kind"`
	Payload       string   `json:"payload"`
	Frame         string   `json:"frame"`
	Stream        string   `json:"stream"`
	ChunkSize     int      `json:"chunk_size"`
	DecodedFrames []string `json:"decoded_frames"`
}

func loadFraming(t testing.TB) []framingCase {
	t.Helper()
	b, err := os.ReadFile("testdata/framing.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []framingCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func deframeAll(d *Deframer, stream []byte, chunk int) [][]byte {
	var out [][]byte
	if chunk <= 0 {
		chunk = len(stream) + 1
	}
	for len(stream) > 0 {
		n := min(chunk, len(stream))
		d.Write(stream[:n], func(f []byte) { out = append(out, append([]byte(nil), f...)) })
		stream = stream[n:]
	}
	return out
}

func TestHDLCVectors(t *testing.T) {
	n := 0
	for _, c := range loadFraming(t) {
		switch c.Kind {
		case "hdlc_encode":
			n++
			got := AppendHDLCFrame(nil, unhex(t, c.Payload))
			if want := unhex(t, c.Frame); !bytes.Equal(got, want) {
				t.Errorf("%s: frame\n got %x\nwant %x", c.Name, got, want)
			}
			var d Deframer
			checkFrames(t, c.Name, deframeAll(&d, unhex(t, c.Frame), 0), c.DecodedFrames)
		case "hdlc_decode":
			n++
			for _, chunk := range []int{c.ChunkSize, 1, 0} {
				var d Deframer
				checkFrames(t, c.Name, deframeAll(&d, unhex(t, c.Stream), chunk), c.DecodedFrames)
			}
		}
	}
	if n < 5 {
		t.Fatalf("only %d HDLC vectors found", n)
	}
}

func checkFrames(t *testing.T, name string, got [][]byte, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d frames, want %d", name, len(got), len(want))
		return
	}
	for i := range got {
		if hex.EncodeToString(got[i]) != want[i] {
			t.Errorf("%s: frame %d\n got %x\nwant %s", name, i, got[i], want[i])
		}
	}
}

// referenceDeframe is a literal transcription of the reference's read loop
// algorithm (find flag, find next flag, replace escapes, check length) used
// as an oracle for the streaming Deframer.
func referenceDeframe(stream []byte, maxFrame int) [][]byte {
	var out [][]byte
	buf := stream
	for {
		start := bytes.IndexByte(buf, hdlcFlag)
		if start < 0 {
			return out
		}
		end := bytes.IndexByte(buf[start+1:], hdlcFlag)
		if end < 0 {
			return out
		}
		end += start + 1
		frame := append([]byte(nil), buf[start+1:end]...)
		frame = bytes.ReplaceAll(frame, []byte{hdlcEsc, hdlcFlag ^ hdlcEscMask}, []byte{hdlcFlag})
		frame = bytes.ReplaceAll(frame, []byte{hdlcEsc, hdlcEsc ^ hdlcEscMask}, []byte{hdlcEsc})
		if len(frame) > headerMinSize && len(frame) <= maxFrame {
			out = append(out, frame)
		}
		buf = buf[end:]
	}
}

func TestDeframerMatchesReferenceAlgorithm(t *testing.T) {
	streams := [][]byte{
		unhex(t, "7e7d7d5e000000000000000000000000000000000000007e"),
		unhex(t, "7e7d7d5d5e00000000000000000000000000000000000000007d7e"),
		unhex(t, "11227e00000000000000000000000000000000000000007d5e7d5d7d417e7e7e"),
	}
	for _, s := range streams {
		var d Deframer
		got := deframeAll(&d, s, 3)
		want := referenceDeframe(s, DefaultHWMTU)
		if len(got) != len(want) {
			t.Fatalf("%x: %d frames, want %d", s, len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Errorf("%x: frame %d\n got %x\nwant %x", s, i, got[i], want[i])
			}
		}
	}
}

func TestDeframerBoundsFrameLength(t *testing.T) {
	d := Deframer{MaxFrame: 40}
	ok := bytes.Repeat([]byte{1}, 40)
	long := bytes.Repeat([]byte{2}, 41)
	short := bytes.Repeat([]byte{3}, headerMinSize)
	var stream []byte
	stream = AppendHDLCFrame(stream, long)
	stream = AppendHDLCFrame(stream, ok)
	stream = AppendHDLCFrame(stream, short)
	stream = append(stream, bytes.Repeat([]byte{4}, 10000)...) // unterminated garbage
	stream = AppendHDLCFrame(stream, ok)
	got := deframeAll(&d, stream, 5)
	if len(got) != 2 || !bytes.Equal(got[0], ok) || !bytes.Equal(got[1], ok) {
		t.Fatalf("got %d frames %x", len(got), got)
	}
	if d.Dropped != 3 {
		t.Fatalf("dropped %d, want 3 (long, short, garbage)", d.Dropped)
	}
	if cap(d.buf) > 64 {
		t.Fatalf("deframer buffered %d bytes for a 40-byte limit", cap(d.buf))
	}
}

func FuzzHDLCDeframer(f *testing.F) {
	for _, c := range loadFraming(f) {
		if c.Kind == "hdlc_decode" {
			f.Add(unhex(f, c.Stream), uint8(c.ChunkSize))
		}
		if c.Kind == "hdlc_encode" {
			f.Add(unhex(f, c.Frame), uint8(1))
		}
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		const max = 600
		d := Deframer{MaxFrame: max}
		got := deframeAll(&d, stream, int(chunk))
		want := referenceDeframe(stream, max)
		if len(got) != len(want) {
			t.Fatalf("%d frames, reference algorithm %d", len(got), len(want))
		}
		for i := range got {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d differs:\n got %x\nwant %x", i, got[i], want[i])
			}
			if len(got[i]) > max {
				t.Fatalf("frame longer than limit")
			}
			// Re-framing a decoded frame round-trips.
			var d2 Deframer
			rt := deframeAll(&d2, AppendHDLCFrame(nil, got[i]), 0)
			if len(rt) != 1 || !bytes.Equal(rt[0], got[i]) {
				t.Fatalf("round trip of %x failed", got[i])
			}
		}
	})
}
