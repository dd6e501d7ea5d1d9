package rnode

import (
	"bytes"
	"encoding/hex"
	"io"
	"testing"
	"testing/iotest"
	"time"

	"github.com/meshlogd/meshlogd/hal"
)

// decodeAll feeds r through a Decoder and returns copies of all frames.
func decodeAll(t testing.TB, r io.Reader, d *Decoder) []Frame {
	t.Helper()
	var out []Frame
	buf := make([]byte, 64)
	for {
		n, err := r.Read(buf)
		p := buf[:n]
		for len(p) > 0 {
			k, f, ok := d.Decode(p)
			p = p[k:]
			if ok {
				out = append(out, Frame{Cmd: f.Cmd, Body: append([]byte(nil), f.Body...)})
			}
		}
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// readers runs a decoder test over whole, one-byte and half reads.
var readers = map[string]func(io.Reader) io.Reader{
	"whole":   func(r io.Reader) io.Reader { return r },
	"onebyte": iotest.OneByteReader,
	"half":    iotest.HalfReader,
}

func TestEscapeVector(t *testing.T) {
	v := loadVectors(t)
	body := unhex(t, v.Framing.EscapeExample.BodyHex)
	want := unhex(t, v.Framing.EscapeExample.EscapedHex)
	if got := AppendEscaped(nil, body); !bytes.Equal(got, want) {
		t.Fatalf("AppendEscaped = %x, want %x", got, want)
	}
	frame := unhex(t, v.HostDataFrame.FrameHex)
	if got := AppendFrame(nil, CmdData, unhex(t, v.HostDataFrame.PayloadHex)); !bytes.Equal(got, frame) {
		t.Fatalf("AppendFrame = %x, want %x", got, frame)
	}
	for name, wrap := range readers {
		fs := decodeAll(t, wrap(bytes.NewReader(frame)), NewDecoder(0))
		if len(fs) != 1 || fs[0].Cmd != CmdData || !bytes.Equal(fs[0].Body, body) {
			t.Fatalf("%s: decoded %+v", name, fs)
		}
	}
}

// TestExchangeVectors decodes every frame in the vector transcripts and
// checks that AppendFrame re-encodes it byte for byte: the device's answers
// and the host's requests (both escape every body the same way).
func TestExchangeVectors(t *testing.T) {
	v := loadVectors(t)
	var all [][]byte
	for _, s := range v.Scenarios {
		for _, e := range s.Exchange {
			all = append(all, unhex(t, e.Hex))
		}
	}
	for _, e := range v.Detach.Exchange {
		all = append(all, unhex(t, e.Hex))
	}
	for _, f := range v.DeviceRxDelivery.Frames {
		all = append(all, unhex(t, f.Hex))
	}
	all = append(all, unhex(t, v.DeviceChannelStats.FrameHex))
	for _, ex := range v.OnAir.Examples {
		all = append(all, unhex(t, ex.KISSHex))
	}
	for _, raw := range all {
		for name, wrap := range readers {
			d := NewDecoder(0)
			fs := decodeAll(t, wrap(bytes.NewReader(raw)), d)
			var re []byte
			for _, f := range fs {
				re = AppendFrame(re, f.Cmd, f.Body)
			}
			// The detect request packs four frames sharing FENDs
			// (checked below); every other vector is one frame.
			if len(fs) == 1 && !bytes.Equal(re, raw) {
				t.Fatalf("%s: %x decoded to %v, re-encoded %x", name, raw, fs, re)
			}
			if st := d.Stats(); st.Oversize+st.BadEscape+st.Junk+st.Truncated != 0 {
				t.Fatalf("%s: %x: unexpected drops %+v", name, raw, st)
			}
		}
	}
	// The detect request is four frames sharing FENDs.
	fs := decodeAll(t, bytes.NewReader(unhex(t, "c00873c05000c04800c04900c0")), NewDecoder(0))
	want := []Frame{{CmdDetect, []byte{0x73}}, {CmdFWVersion, []byte{0}}, {CmdPlatform, []byte{0}}, {CmdMCU, []byte{0}}}
	if len(fs) != len(want) {
		t.Fatalf("detect: %d frames", len(fs))
	}
	for i := range want {
		if fs[i].Cmd != want[i].Cmd || !bytes.Equal(fs[i].Body, want[i].Body) {
			t.Fatalf("detect frame %d = %+v, want %+v", i, fs[i], want[i])
		}
	}
}

func TestDecoderBadInput(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  []Frame
		stats DecoderStats
	}{
		{"junk before first frame", "41424344c00846c0", []Frame{{CmdDetect, []byte{0x46}}},
			DecoderStats{Frames: 1, Junk: 4}},
		{"empty frames", "c0c0c0c00311c0c0", []Frame{{CmdTxPower, []byte{0x11}}},
			DecoderStats{Frames: 1, Empty: 4}},
		{"bad escape drops frame", "c000aadb41bbc00409c0", []Frame{{CmdSF, []byte{9}}},
			DecoderStats{Frames: 1, BadEscape: 1}},
		{"escape then FEND", "c000aadbc00409c0", []Frame{{CmdSF, []byte{9}}},
			DecoderStats{Frames: 1, BadEscape: 1}},
		{"truncated frame ends at next FEND", "c00001020304", nil, DecoderStats{}},
		{"command without body", "c00fc0", []Frame{{CmdReady, []byte{}}}, DecoderStats{Frames: 1}},
	}
	for _, tc := range tests {
		for name, wrap := range readers {
			d := NewDecoder(0)
			fs := decodeAll(t, wrap(bytes.NewReader(unhex(t, tc.in))), d)
			if len(fs) != len(tc.want) {
				t.Fatalf("%s/%s: frames %v, want %v", tc.name, name, fs, tc.want)
			}
			for i := range fs {
				if fs[i].Cmd != tc.want[i].Cmd || !bytes.Equal(fs[i].Body, tc.want[i].Body) {
					t.Fatalf("%s/%s: frame %d = %v, want %v", tc.name, name, i, fs[i], tc.want[i])
				}
			}
			if d.Stats() != tc.stats {
				t.Fatalf("%s/%s: stats %+v, want %+v", tc.name, name, d.Stats(), tc.stats)
			}
		}
	}
}

func TestDecoderOversizeAndAbort(t *testing.T) {
	big := bytes.Repeat([]byte{0x55}, MaxPacket+1)
	in := AppendFrame(nil, CmdData, big)
	in = AppendFrame(in, CmdData, big[:MaxPacket])
	d := NewDecoder(0)
	fs := decodeAll(t, bytes.NewReader(in), d)
	if len(fs) != 1 || len(fs[0].Body) != MaxPacket {
		t.Fatalf("got %d frames", len(fs))
	}
	if st := d.Stats(); st.Oversize != 1 || st.Frames != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A partial frame aborted (idle line) never reaches the consumer, and
	// the next frame decodes normally.
	d = NewDecoder(16)
	if _, _, ok := d.Decode(unhex(t, "c000010203")); ok || !d.InFrame() {
		t.Fatal("partial frame completed")
	}
	d.Abort()
	n, f, ok := d.Decode(unhex(t, "0405c00846c0"))
	if !ok || n != 6 || f.Cmd != CmdDetect || !bytes.Equal(f.Body, []byte{0x46}) || d.Stats().Truncated != 1 {
		t.Fatalf("after abort: %v %v %+v", f, ok, d.Stats())
	}
}

func TestCommandString(t *testing.T) {
	if CmdFrequency.String() != "FREQUENCY" || Command(0x7e).String() != "CMD_0x7e" {
		t.Fatal(CmdFrequency.String(), Command(0x7e).String())
	}
}

func FuzzKISS(f *testing.F) {
	f.Add(unhex(f, "c00873c05000c04800c04900c0"), 0)
	f.Add(unhex(f, "c00001dbdc02dbdd03dbdddcdbdcdd04c0"), 0)
	f.Add(unhex(f, "41c0233cc0c024eac0c000dbdc00dbdd1011c0"), 7)
	f.Add(unhex(f, "c000aadb41bbc00409c0c0c0"), 3)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		if limit < 0 || limit > 4*MaxPacket {
			limit = 0
		}
		d := NewDecoder(limit)
		max := limit
		if max < 1 {
			max = MaxPacket
		}
		p := in
		var frames []Frame
		for len(p) > 0 {
			n, fr, ok := d.Decode(p)
			if n <= 0 || n > len(p) {
				t.Fatalf("Decode consumed %d of %d", n, len(p))
			}
			p = p[n:]
			if ok {
				if len(fr.Body) > max {
					t.Fatalf("body %d > limit %d", len(fr.Body), max)
				}
				frames = append(frames, Frame{fr.Cmd, append([]byte(nil), fr.Body...)})
			}
		}
		if cap(d.buf) > max {
			t.Fatalf("buffer grew to %d", cap(d.buf))
		}
		// Whatever was accepted re-encodes and decodes to the same frames.
		var re []byte
		for _, fr := range frames {
			re = AppendFrame(re, fr.Cmd, fr.Body)
		}
		d2 := NewDecoder(limit)
		again := decodeAll(t, bytes.NewReader(re), d2)
		if len(again) != len(frames) {
			t.Fatalf("round trip: %d frames, want %d (%s)", len(again), len(frames), hex.EncodeToString(re))
		}
		for i := range frames {
			if again[i].Cmd != frames[i].Cmd || !bytes.Equal(again[i].Body, frames[i].Body) {
				t.Fatalf("round trip frame %d differs", i)
			}
		}
	})
}

// FuzzDeviceOutput feeds arbitrary device output through the driver's
// deframer and frame handler: no panic, no growth beyond the limits.
func FuzzDeviceOutput(f *testing.F) {
	f.Add(unhex(f, "c00846c0c0500156c0c04880c0c04981c0"))
	f.Add(unhex(f, "c0233cc0c024eac0c000dbdc00dbdd101112131415161718191a1b1c1d1e1fc0"))
	f.Add(unhex(f, "c025007d001f09c403e82a27ffc0c026100000f40012004a00310062c0"))
	f.Add(unhex(f, "c09002c0c055f8c0c00600c0c00f00c0c00133be27a0c0"))
	f.Fuzz(func(t *testing.T, in []byte) {
		m := &Modem{o: (*Opts)(nil).withDefaults(), changed: make(chan struct{}), trouble: make(chan struct{}, 1),
			devErr: make(chan *DeviceError, 1), rx: make(chan hal.Packet, 4), online: true}
		m.log = m.o.Logger
		m.rep.clearParams()
		d := NewDecoder(MaxPacket)
		p := in
		now := time.Unix(0, 0)
		for len(p) > 0 {
			n, fr, ok := d.Decode(p)
			p = p[n:]
			if ok {
				m.handle(0, fr, now, d.Stats())
			}
		}
		for len(m.rx) > 0 {
			if pkt := <-m.rx; len(pkt.Data) == 0 || len(pkt.Data) > MaxPacket {
				t.Fatalf("packet of %d bytes delivered", len(pkt.Data))
			}
		}
	})
}
