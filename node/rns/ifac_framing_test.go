package rns

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestIFACVectors(t *testing.T) {
	n := 0
	for _, c := range loadCases(t, "ifac.json") {
		name := c["name"].(string)
		if c["ifac_size"] == nil {
			pkt := hx(t, c, "packet")
			if err := CheckOpen(pkt); err != nil {
				t.Errorf("%s: %v", name, err)
			}
			flagged := append([]byte(nil), pkt...)
			flagged[0] |= IFACFlag
			if err := CheckOpen(flagged); !errors.Is(err, ErrIFACUnexpected) {
				t.Errorf("%s: flagged packet: %v", name, err)
			}
			continue
		}
		netname, _ := c["network_name"].(string)
		pass, _ := c["passphrase"].(string)
		f, err := NewIFAC(netname, pass, int(num(t, c, "ifac_size")))
		if err != nil {
			t.Fatal(err)
		}
		eq(t, name+" key", f.Key(), hx(t, c, "ifac_key"))
		eq(t, name+" identity", f.Identity().PublicKey(), hx(t, c, "ifac_identity_public_key"))
		eq(t, name+" signature", f.Signature(), hx(t, c, "ifac_signature"))
		for _, po := range c["packets"].([]any) {
			po := po.(obj)
			n++
			pkt := hx(t, po, "packet")
			wire, err := f.Apply(pkt)
			if err != nil {
				t.Fatal(err)
			}
			eq(t, name+" wire", wire, hx(t, po, "wire"))
			eq(t, name+" ifac", wire[2:2+f.Size()], hx(t, po, "ifac"))
			got, err := f.Verify(wire)
			if err != nil || !bytes.Equal(got, pkt) {
				t.Errorf("%s: verify %v", name, err)
			}
			for _, tp := range po["tampered"].([]any) {
				tp := tp.(obj)
				_, err := f.Verify(hx(t, tp, "wire"))
				if accepted := err == nil; accepted != (tp["accepted"] == true) {
					t.Errorf("%s %s: accepted=%v, reference %v (%v)", name, tp["name"], accepted, tp["accepted"], err)
				}
				if err != nil && !errors.Is(err, ErrIFACMismatch) && !errors.Is(err, ErrIFACMissing) && !errors.Is(err, ErrTruncated) {
					t.Errorf("%s %s: untyped %v", name, tp["name"], err)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("only %d IFAC packets", n)
	}
	// Mismatched configuration: nothing gets through.
	a, _ := NewIFAC("meshlogd-field", "s3cret", 16)
	b, _ := NewIFAC("meshlogd-field", "other", 16)
	pkt := append([]byte{0x08, 0}, make([]byte, 30)...)
	w, _ := a.Apply(pkt)
	if _, err := b.Verify(w); !errors.Is(err, ErrIFACMismatch) {
		t.Errorf("mismatched IFAC: %v", err)
	}
	if _, err := a.Verify(pkt); !errors.Is(err, ErrIFACMissing) {
		t.Errorf("plain packet on IFAC interface: %v", err)
	}
	if _, err := a.Verify(w[:18]); !errors.Is(err, ErrTruncated) {
		t.Errorf("short: %v", err)
	}
	for _, bad := range []struct {
		n, p string
		size int
	}{{"", "", 8}, {"x", "", 0}, {"x", "", 65}} {
		if _, err := NewIFAC(bad.n, bad.p, bad.size); !errors.Is(err, ErrIFACConfig) {
			t.Errorf("config %+v: %v", bad, err)
		}
	}
}

func TestFramingVectors(t *testing.T) {
	n := 0
	for _, c := range loadCases(t, "framing.json") {
		name := c["name"].(string)
		switch c["kind"] {
		case "hdlc_encode":
			n++
			payload := hx(t, c, "payload")
			frame := AppendHDLC(nil, payload)
			eq(t, name, frame, hx(t, c, "frame"))
			var got [][]byte
			var d HDLCDeframer
			d.Feed(frame, func(f []byte) { got = append(got, append([]byte(nil), f...)) })
			want := c["decoded_frames"].([]any)
			if len(got) != len(want) {
				t.Fatalf("%s: %d frames, want %d", name, len(got), len(want))
			}
			for i := range want {
				eq(t, name+" decoded", got[i], mustHex(t, want[i].(string)))
			}
		case "hdlc_decode":
			n++
			stream := hx(t, c, "stream")
			chunk := int(num(t, c, "chunk_size"))
			want := c["decoded_frames"].([]any)
			for _, size := range []int{chunk, 1, len(stream)} {
				var got [][]byte
				var d HDLCDeframer
				for i := 0; i < len(stream); i += size {
					d.Feed(stream[i:min(i+size, len(stream))], func(f []byte) { got = append(got, append([]byte(nil), f...)) })
				}
				if len(got) != len(want) {
					t.Fatalf("%s/%d: %d frames, want %d", name, size, len(got), len(want))
				}
				for i := range want {
					eq(t, name+" decoded", got[i], mustHex(t, want[i].(string)))
				}
			}
			r := NewHDLCReader(bytes.NewReader(stream), 0, nil)
			for i := range want {
				f, err := r.ReadFrame()
				if err != nil {
					t.Fatal(err)
				}
				eq(t, name+" reader", f, mustHex(t, want[i].(string)))
			}
			if _, err := r.ReadFrame(); err != io.EOF {
				t.Errorf("%s: after last frame: %v", name, err)
			}
		case "kiss_encode":
			n++
			payload := hx(t, c, "payload")
			key := "frame"
			if _, ok := c[key]; !ok {
				key = "kiss_interface_frame"
			}
			frame := AppendKISS(nil, KISSCmdData, payload)
			eq(t, name, frame, hx(t, c, key))
			for _, mask := range []bool{false, true} {
				var got [][]byte
				k := KISSDeframer{PortMask: mask}
				k.Feed(frame, func(cmd byte, p []byte) {
					if cmd == KISSCmdData {
						got = append(got, append([]byte(nil), p...))
					}
				})
				if len(got) != 1 {
					t.Fatalf("%s: %d frames", name, len(got))
				}
				eq(t, name+" decoded", got[0], payload)
			}
		case "rnode_decode":
			n++
			var data [][]byte
			var cmds []byte
			var k KISSDeframer
			k.Feed(hx(t, c, "stream"), func(cmd byte, p []byte) {
				cmds = append(cmds, cmd)
				if cmd == KISSCmdData {
					data = append(data, append([]byte(nil), p...))
				}
			})
			if !bytes.Equal(cmds, []byte{0x23, 0x24, 0x00}) || len(data) != 1 {
				t.Fatalf("%s: commands %x", name, cmds)
			}
			eq(t, name, data[0], mustHex(t, c["delivered"].([]any)[0].(obj)["data"].(string)))
		}
	}
	if n < 10 {
		t.Fatalf("only %d framing cases", n)
	}
}

func mustHex(t testing.TB, s string) []byte { return hx(t, obj{"v": s}, "v") }

func TestHDLCDeframerLimits(t *testing.T) {
	var drops []error
	d := HDLCDeframer{MaxFrame: 100, OnDrop: func(err error) { drops = append(drops, err) }}
	deliver := func(f []byte) { t.Errorf("delivered %d bytes", len(f)) }
	d.Feed(AppendHDLC(nil, make([]byte, 101)), deliver)
	d.Feed(AppendHDLC(nil, make([]byte, 19)), deliver)
	// An unterminated frame is discarded once it exceeds twice the limit.
	d.Feed([]byte{HDLCFlag}, deliver)
	d.Feed(make([]byte, 250), deliver)
	if len(drops) != 3 || !errors.Is(drops[0], ErrFrameTooLong) || !errors.Is(drops[1], ErrFrameTooShort) || !errors.Is(drops[2], ErrFrameOverflow) {
		t.Fatalf("drops %v", drops)
	}
	if len(d.buf) != 0 || d.Dropped() != 3 {
		t.Fatalf("buffer %d, dropped %d", len(d.buf), d.Dropped())
	}
	ok := 0
	d.Feed(AppendHDLC(nil, make([]byte, 100)), func(f []byte) { ok++ })
	if ok != 1 {
		t.Fatal("frame at the limit not delivered")
	}
	// A lone escape is kept as the reference keeps it.
	var got []byte
	d.Feed([]byte("\x7e\x7d\x41aaaaaaaaaaaaaaaaaaaaaaaa\x7e"), func(f []byte) { got = append([]byte(nil), f...) })
	if !bytes.HasPrefix(got, []byte{0x7d, 0x41}) {
		t.Fatalf("lone escape: %x", got)
	}

	var kdrops int
	k := KISSDeframer{MaxFrame: 10, OnDrop: func(error) { kdrops++ }}
	k.Feed(AppendKISS(nil, 0, make([]byte, 11)), func(byte, []byte) { t.Error("oversized KISS frame delivered") })
	if kdrops != 1 || k.Dropped() != 1 {
		t.Fatal("oversized KISS frame not reported")
	}
}
