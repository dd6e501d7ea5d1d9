package hal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"
)

type onAirExample struct {
	Len       int    `json:"rns_packet_len"`
	PacketHex string `json:"rns_packet_hex"`
	Nibble    byte   `json:"sequence_nibble"`
	HeaderHex string `json:"header_byte_hex"`
	Split     bool   `json:"split"`
	Frames    []struct {
		Len int    `json:"len"`
		Hex string `json:"hex"`
	} `json:"lora_frames"`
	Airtime map[string][]int64 `json:"airtime_us_rnode_sx127x"`
}

type kissFile struct {
	OnAir struct {
		Examples []onAirExample `json:"examples"`
		Edge508  struct {
			Len     int   `json:"payload_len"`
			Nibble  byte  `json:"sequence_nibble"`
			Lengths []int `json:"lora_frame_lengths"`
			Frames  []struct {
				Hex string `json:"hex"`
			} `json:"lora_frames"`
		} `json:"edge_508"`
	} `json:"on_air"`
}

func loadKISS(tb testing.TB) kissFile {
	tb.Helper()
	b, err := os.ReadFile("testdata/kiss.json")
	if err != nil {
		tb.Fatal(err)
	}
	var f kissFile
	if err := json.Unmarshal(b, &f); err != nil {
		tb.Fatal(err)
	}
	if len(f.OnAir.Examples) < 5 {
		tb.Fatalf("%d on-air examples", len(f.OnAir.Examples))
	}
	return f
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestOnAirVectors(t *testing.T) {
	f := loadKISS(t)
	profiles := map[string]Params{
		"868.1MHz/125k/SF9/CR4-5": {FrequencyHz: 868_100_000, BandwidthHz: 125000, SpreadingFactor: 9, CodingRate: 5},
		"125k/SF8/CR4-5":          {FrequencyHz: 867_200_000, BandwidthHz: 125000, SpreadingFactor: 8, CodingRate: 5},
	}
	for _, ex := range f.OnAir.Examples {
		pkt := mustHex(t, ex.PacketHex)
		if len(pkt) != ex.Len {
			t.Fatalf("vector length %d != %d", len(pkt), ex.Len)
		}
		h := mustHex(t, ex.HeaderHex)[0]
		if got := Header(ex.Nibble<<4, ex.Split); got != h {
			t.Errorf("%d: Header %02x, want %02x", ex.Len, got, h)
		}
		frames, err := EncodeFrames(ex.Nibble<<4|0x0f, pkt) // low bits of seq are ignored
		if err != nil {
			t.Fatal(err)
		}
		if len(frames) != len(ex.Frames) || FrameCount(len(pkt)) != len(ex.Frames) {
			t.Fatalf("%d: %d frames, want %d", ex.Len, len(frames), len(ex.Frames))
		}
		r := NewReassembler(time.Second)
		var got []byte
		for i, fr := range ex.Frames {
			want := mustHex(t, fr.Hex)
			if !bytes.Equal(frames[i], want) || len(want) != fr.Len {
				t.Errorf("%d: frame %d differs from the vector", ex.Len, i)
			}
			out, err := r.Push(frames[i], t0.Add(time.Duration(i)*100*time.Millisecond))
			if err != nil {
				t.Fatalf("%d: frame %d: %v", ex.Len, i, err)
			}
			if out != nil {
				if i != len(frames)-1 {
					t.Fatalf("%d: delivered after frame %d", ex.Len, i)
				}
				got = out
			}
		}
		if !bytes.Equal(got, pkt) {
			t.Errorf("%d: reassembled %d bytes, want the packet", ex.Len, len(got))
		}
		for name, wantUS := range ex.Airtime {
			p, ok := profiles[name]
			if !ok {
				t.Fatalf("unknown profile %q", name)
			}
			var sum time.Duration
			for i, us := range wantUS {
				if got := Airtime(p, len(frames[i])); got != time.Duration(us)*time.Microsecond {
					t.Errorf("%d %s frame %d: %v, want %dus", ex.Len, name, i, got, us)
				}
				sum += time.Duration(us) * time.Microsecond
			}
			if got := PacketAirtime(p, len(pkt)); got != sum {
				t.Errorf("%d %s: PacketAirtime %v, want %v", ex.Len, name, got, sum)
			}
		}
	}
}

func TestEdge508(t *testing.T) {
	e := loadKISS(t).OnAir.Edge508
	if e.Len != 508 || len(e.Frames) != 3 {
		t.Fatalf("edge vector: %+v", e.Lengths)
	}
	pkt := make([]byte, 508)
	for i := range pkt {
		pkt[i] = byte(i*53 + 7)
	}
	if _, err := EncodeFrames(e.Nibble<<4, pkt); !errors.Is(err, ErrPacketSize) {
		t.Fatalf("EncodeFrames(508): %v, want ErrPacketSize", err)
	}
	// What an RNode sends for 508 bytes is received as 508 bytes; the
	// header-only third frame is dropped as a lone second half.
	r := NewReassembler(time.Second)
	var got []byte
	for i, fr := range e.Frames {
		b := mustHex(t, fr.Hex)
		out, err := r.Push(b, t0)
		switch i {
		case 0:
			if out != nil || err != nil {
				t.Fatalf("frame 0: %v %v", out, err)
			}
		case 1:
			if err != nil {
				t.Fatal(err)
			}
			got = out
		case 2:
			if out != nil || !errors.Is(err, ErrLoneSecondHalf) {
				t.Fatalf("third frame: %v %v", out, err)
			}
		}
	}
	if !bytes.Equal(got, pkt) {
		t.Fatalf("reassembled %d bytes", len(got))
	}
	if pending, _ := r.Pending(); pending {
		t.Fatal("third frame left a partial packet")
	}
	if s := r.Stats(); s.Packets != 1 || s.Split != 1 || s.Lone != 1 || s.Frames != 3 {
		t.Fatalf("stats %+v", s)
	}
}

func TestEncodeFramesSizes(t *testing.T) {
	for n := 1; n <= MaxPacketLen; n++ {
		pkt := make([]byte, n)
		for i := range pkt {
			pkt[i] = byte(i)
		}
		frames, err := EncodeFrames(0x50, pkt)
		if err != nil {
			t.Fatal(n, err)
		}
		total := 0
		for _, f := range frames {
			if len(f) > MaxFrameLen || len(f) < 2 {
				t.Fatalf("%d: frame of %d bytes", n, len(f))
			}
			if f[0]&0x0e != 0 || f[0]&SeqMask != 0x50 || (f[0]&FlagSplit != 0) != (n > MaxFramePayload) {
				t.Fatalf("%d: header %02x", n, f[0])
			}
			total += len(f) - 1
		}
		if total != n || len(frames) != FrameCount(n) {
			t.Fatalf("%d: %d body bytes in %d frames", n, total, len(frames))
		}
		// Appending to the first frame must not clobber the second.
		if len(frames) == 2 {
			_ = append(frames[0], 0xee)
			if frames[1][0] != 0x51 {
				t.Fatalf("%d: frames alias", n)
			}
		}
		r := NewReassembler(0)
		var out []byte
		for _, f := range frames {
			out, err = r.Push(f, t0)
			if err != nil {
				t.Fatal(n, err)
			}
		}
		if !bytes.Equal(out, pkt) {
			t.Fatalf("%d: round trip failed", n)
		}
	}
	for _, n := range []int{0, MaxPacketLen + 1, 1000} {
		if _, err := EncodeFrames(0, make([]byte, n)); !errors.Is(err, ErrPacketSize) {
			t.Errorf("%d: %v", n, err)
		}
	}
}

func full(h byte, fill byte) []byte {
	f := bytes.Repeat([]byte{fill}, MaxFrameLen)
	f[0] = h
	return f
}

func TestReassemblerTransitions(t *testing.T) {
	r := NewReassembler(2 * time.Second)
	// Lone second half (short split frame, nothing waiting): dropped.
	if out, err := r.Push([]byte{0x31, 1, 2, 3}, t0); out != nil || !errors.Is(err, ErrLoneSecondHalf) {
		t.Fatalf("lone: %v %v", out, err)
	}
	// First half, then an unsplit frame: partial dropped, frame delivered.
	if out, err := r.Push(full(0x31, 0xaa), t0); out != nil || err != nil {
		t.Fatal(out, err)
	}
	if out, _ := r.Push([]byte{0x20, 9}, t0); !bytes.Equal(out, []byte{9}) {
		t.Fatalf("unsplit: %v", out)
	}
	// First half, then a first half with another nibble: the old one is
	// replaced and the new one completes.
	r.Push(full(0x31, 0xaa), t0)
	r.Push(full(0x41, 0xbb), t0)
	out, err := r.Push([]byte{0x41, 7}, t0.Add(time.Second))
	if err != nil || len(out) != 255 || out[0] != 0xbb || out[254] != 7 {
		t.Fatalf("replaced: %d %v", len(out), err)
	}
	// Timeout: a second half arriving too late is a lone second half.
	r.Push(full(0x51, 0xcc), t0)
	if out, err := r.Push([]byte{0x51, 7}, t0.Add(2*time.Second+1)); out != nil || !errors.Is(err, ErrLoneSecondHalf) {
		t.Fatalf("late second half: %v %v", out, err)
	}
	// Expire without a frame.
	r.Push(full(0x61, 0xcc), t0)
	if p, until := r.Pending(); !p || !until.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("pending %v %v", p, until)
	}
	if r.Expire(t0.Add(time.Second)) || !r.Expire(t0.Add(3*time.Second)) {
		t.Fatal("Expire")
	}
	r.Push(full(0x71, 0xcc), t0)
	r.Reset()
	r.SetTimeout(time.Hour)
	r.Push(full(0x81, 0xcc), t0)
	if r.Expire(t0.Add(time.Minute)) {
		t.Fatal("SetTimeout ignored")
	}
	r.Reset()
	r.SetTimeout(2 * time.Second)
	// Empty and oversize frames.
	if _, err := r.Push(nil, t0); !errors.Is(err, ErrEmptyFrame) {
		t.Fatal(err)
	}
	if _, err := r.Push(make([]byte, 256), t0); !errors.Is(err, ErrFrameTooLong) {
		t.Fatal(err)
	}
	// A header-only unsplit frame carries no packet.
	if out, err := r.Push([]byte{0x00}, t0); !errors.Is(err, ErrEmptyFrame) || out != nil {
		t.Fatalf("header only: %v %v", out, err)
	}
	want := ReassemblyStats{Frames: 14, Packets: 2, Split: 1, Empty: 2, TooLong: 1, Lone: 2, Replaced: 2, TimedOut: 2, Truncated: 2}
	if s := r.Stats(); s != want {
		t.Fatalf("stats\n got %+v\nwant %+v", s, want)
	}
}
