package hal

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fuzzFrames splits fuzz input into (delay, frame) records: one byte of
// delay in 100 ms steps, one length byte (0..255, 0xff+1 means 256 via a
// flag in the delay's top bit), then the frame.
func fuzzFrames(data []byte) (frames [][]byte, delays []time.Duration) {
	for len(data) >= 2 {
		d, n := data[0], int(data[1])
		if d&0x80 != 0 {
			n++ // lets the fuzzer produce 256-byte (oversize) frames
		}
		data = data[2:]
		if n > len(data) {
			n = len(data)
		}
		frames = append(frames, data[:n])
		delays = append(delays, time.Duration(d&0x7f)*100*time.Millisecond)
		data = data[n:]
	}
	return frames, delays
}

// FuzzReassembler feeds arbitrary frame sequences to the Reassembler and
// checks its invariants; it also round-trips the input as a packet through
// EncodeFrames when its size allows.
func FuzzReassembler(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReassembler(2 * time.Second)
		frames, delays := fuzzFrames(data)
		now := t0
		var delivered uint64
		for i, fr := range frames {
			now = now.Add(delays[i])
			out, err := r.Push(fr, now)
			if err != nil && out != nil {
				t.Fatal("packet and error together")
			}
			if out == nil {
				continue
			}
			delivered++
			if len(out) < 1 || len(out) > MaxReceivedLen {
				t.Fatalf("delivered %d bytes", len(out))
			}
			if !bytes.HasSuffix(out, fr[1:]) {
				t.Fatal("delivered packet does not end with the last frame's body")
			}
			if fr[0]&FlagSplit == 0 && len(out) != len(fr)-1 {
				t.Fatal("unsplit frame delivered with extra bytes")
			}
			if fr[0]&FlagSplit != 0 && len(out) != len(fr)-1+MaxFramePayload {
				t.Fatal("split packet without a full first half")
			}
		}
		s := r.Stats()
		if s.Frames != uint64(len(frames)) || s.Packets != delivered {
			t.Fatalf("stats %+v for %d frames, %d packets", s, len(frames), delivered)
		}
		if s.Split > s.Packets {
			t.Fatalf("stats %+v", s)
		}
		if len(data) >= 1 && len(data) <= MaxPacketLen {
			fs, err := EncodeFrames(byte(len(data)), data)
			if err != nil {
				t.Fatal(err)
			}
			r2 := NewReassembler(time.Second)
			var out []byte
			for _, fr := range fs {
				if out, err = r2.Push(fr, t0); err != nil {
					t.Fatal(err)
				}
			}
			if !bytes.Equal(out, data) {
				t.Fatal("round trip through EncodeFrames failed")
			}
		}
	})
}

func record(delay100ms byte, frame []byte) []byte {
	n := len(frame)
	if n == 256 {
		return append([]byte{delay100ms | 0x80, 0xff}, frame...)
	}
	return append([]byte{delay100ms, byte(n)}, frame...)
}

func fuzzSeeds() [][]byte {
	split := func(seq byte, n int) []byte {
		pkt := bytes.Repeat([]byte{0x5a}, n)
		fs, _ := EncodeFrames(seq, pkt)
		var out []byte
		for _, f := range fs {
			out = append(out, record(1, f)...)
		}
		return out
	}
	return [][]byte{
		record(0, []byte{0xa0, 1, 2, 3}),
		split(0xc0, 255),
		split(0x70, 500),
		append(record(0, full(0x31, 1)), record(30, []byte{0x31, 2})...), // second half too late
		record(0, []byte{0x41, 9, 9}),                                    // lone second half
		append(record(0, full(0x31, 1)), record(1, full(0x41, 2))...),    // replaced
		record(0, nil),
		record(0, make([]byte, 256)),
	}
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzReassembler when
// MESHLOGD_WRITE_CORPUS=1; otherwise it checks that the corpus exists.
func TestWriteFuzzCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzReassembler")
	if os.Getenv("MESHLOGD_WRITE_CORPUS") != "1" {
		if ents, err := os.ReadDir(dir); err != nil || len(ents) < len(fuzzSeeds()) {
			t.Fatalf("seed corpus missing in %s (run with MESHLOGD_WRITE_CORPUS=1): %v", dir, err)
		}
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, s := range fuzzSeeds() {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed-%02d", i)), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
