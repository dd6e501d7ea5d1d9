package rns

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Fuzz targets for every parser of bytes from a radio, wire or disk. The
// seed corpora in testdata/fuzz/ are generated from the reference vectors
// by TestWriteFuzzSeeds (run with RNS_WRITE_FUZZ_SEEDS=1).

var fuzzTokenKey = bytes.Repeat([]byte{0x5a}, 64)

func FuzzParsePacket(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParsePacket(raw)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		out := p.AppendPack(nil)
		if !bytes.Equal(out, raw) {
			t.Fatalf("repack differs:\n%x\n%x", out, raw)
		}
		if h := p.Hash(); h != sha256.Sum256(p.HashablePart()) {
			t.Fatal("hash differs from hashable part")
		}
		if p.Type == LinkRequest {
			_ = LinkID(p)
		}
	})
}

func FuzzAnnounce(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := ParsePacket(raw)
		if err != nil {
			return
		}
		p.Type, p.DestType = Announce, Single
		a, err := ValidateAnnounce(p)
		if err != nil {
			if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrAnnounceSignature) && !errors.Is(err, ErrAnnounceDestination) {
				t.Fatalf("untyped error %v", err)
			}
			if a, perr := ParseAnnounce(p); perr == nil && !bytes.Equal(a.Marshal(), p.Data) {
				t.Fatal("announce remarshal differs")
			}
			return
		}
		if !bytes.Equal(a.Marshal(), p.Data) {
			t.Fatal("valid announce remarshal differs")
		}
		_ = a.Timestamp()
	})
}

func FuzzLinkRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseLinkRequest(data)
		if err == nil {
			out, err := r.Marshal()
			if err == nil && !bytes.Equal(out, data) {
				t.Fatalf("link request remarshal differs")
			}
		} else if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrOversized) {
			t.Fatalf("untyped error %v", err)
		}
		lp, err := ParseLinkProof(data)
		if err == nil {
			out, err := lp.Marshal()
			if err == nil && !bytes.Equal(out, data) {
				t.Fatalf("link proof remarshal differs")
			}
		} else if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrOversized) {
			t.Fatalf("untyped error %v", err)
		}
		if d, err := DecodeRTT(data); err == nil && d < 0 {
			t.Fatal("negative RTT")
		}
		if r, err := ParsePathRequest(data); err == nil && !bytes.HasPrefix(data, r.Marshal()) {
			t.Fatal("path request remarshal is not a prefix of the input")
		}
		if r, err := DecodeRequest(data); err == nil {
			if len(r.Data) == 0 {
				t.Fatal("request without data accepted")
			}
		} else if !errors.Is(err, ErrRequestFormat) {
			t.Fatalf("untyped error %v", err)
		}
		if _, body, err := DecodeResponse(data); err == nil && len(body) == 0 {
			t.Fatal("response without body accepted")
		}
	})
}

func FuzzToken(f *testing.F) {
	tok, err := NewToken(fuzzTokenKey)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, err := tok.Decrypt(data)
		if err != nil {
			if !errors.Is(err, ErrTokenMAC) && !errors.Is(err, ErrTokenTooShort) && !errors.Is(err, ErrTokenPadding) {
				t.Fatalf("untyped error %v", err)
			}
		} else if again := tok.AppendEncrypt(nil, [16]byte(data[:16]), pt); !bytes.Equal(again, data) {
			t.Fatal("re-encryption differs")
		}
		// Round trip with the input as plaintext.
		ct := tok.AppendEncrypt(nil, [16]byte{1}, data)
		back, err := tok.Decrypt(ct)
		if err != nil || !bytes.Equal(back, data) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzIdentityDecrypt(f *testing.F) {
	id, err := FromPrivateKey(bytes.Repeat([]byte{0x33}, 64))
	if err != nil {
		f.Fatal(err)
	}
	r, _ := RatchetFromPrivateKey(bytes.Repeat([]byte{0x44}, 32))
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, _, err := id.DecryptWithRatchets(data, []*Ratchet{r}, false); err == nil {
			return
		} else if !errors.Is(err, ErrDecrypt) && !errors.Is(err, ErrTruncated) {
			t.Fatalf("untyped error %v", err)
		}
	})
}

func FuzzHDLCDeframer(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		size := int(chunk)%64 + 1
		d := HDLCDeframer{MaxFrame: 600}
		var frames [][]byte
		for i := 0; i < len(stream); i += size {
			d.Feed(stream[i:min(i+size, len(stream))], func(fr []byte) {
				if len(fr) <= HeaderMinSize || len(fr) > 600 {
					t.Fatalf("frame of %d bytes delivered", len(fr))
				}
				frames = append(frames, append([]byte(nil), fr...))
			})
			if cap(d.buf) > 4*600+2*64 {
				t.Fatalf("buffer grew to %d", cap(d.buf))
			}
		}
		// Whatever was delivered survives a re-frame round trip.
		var re []byte
		for _, fr := range frames {
			re = AppendHDLC(re, fr)
		}
		var again [][]byte
		var d2 HDLCDeframer
		d2.Feed(re, func(fr []byte) { again = append(again, append([]byte(nil), fr...)) })
		if len(again) != len(frames) {
			t.Fatalf("%d frames re-framed to %d", len(frames), len(again))
		}
		for i := range frames {
			if !bytes.Equal(again[i], frames[i]) {
				t.Fatal("re-framed frame differs")
			}
		}
	})
}

func FuzzKISSDeframer(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte, chunk uint8) {
		size := int(chunk)%64 + 1
		k := KISSDeframer{MaxFrame: 508}
		for i := 0; i < len(stream); i += size {
			k.Feed(stream[i:min(i+size, len(stream))], func(cmd byte, p []byte) {
				if len(p) > 508 {
					t.Fatalf("frame of %d bytes delivered", len(p))
				}
				var k2 KISSDeframer
				n := 0
				k2.Feed(AppendKISS(nil, cmd, p), func(c2 byte, p2 []byte) {
					n++
					if c2 != cmd || !bytes.Equal(p2, p) {
						t.Fatal("KISS round trip differs")
					}
				})
				if n != 1 {
					t.Fatal("KISS round trip lost the frame")
				}
			})
		}
	})
}

func FuzzIFAC(f *testing.F) {
	ifac, err := NewIFAC("meshlogd-field", "s3cret", 8)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, wire []byte) {
		raw, err := ifac.Verify(wire)
		if err != nil {
			if !errors.Is(err, ErrIFACMismatch) && !errors.Is(err, ErrIFACMissing) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrOversized) {
				t.Fatalf("untyped error %v", err)
			}
		} else if again, err := ifac.Apply(raw); err != nil || !bytes.Equal(again, wire) {
			t.Fatalf("verified packet does not re-apply to the same bytes: %v", err)
		}
		if len(wire) > 2 {
			w, err := ifac.Apply(wire)
			if wire[0]&IFACFlag != 0 {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("flagged packet: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			back, err := ifac.Verify(w)
			if err != nil || !bytes.Equal(back, wire) {
				t.Fatalf("apply/verify round trip: %v", err)
			}
		}
		if _, err := ifac.Apply(wire[:min(len(wire), 2)]); !errors.Is(err, ErrTruncated) {
			t.Fatalf("header-only packet: %v", err)
		}
		_ = CheckOpen(wire)
	})
}

// TestWriteFuzzSeeds regenerates the committed seed corpora from the
// reference vectors when RNS_WRITE_FUZZ_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("RNS_WRITE_FUZZ_SEEDS") != "1" {
		t.Skip("set RNS_WRITE_FUZZ_SEEDS=1 to regenerate testdata/fuzz")
	}
	var packets [][]byte
	var announces [][]byte
	for _, c := range loadCases(t, "packet.json") {
		if po, ok := c["packet"].(obj); ok {
			packets = append(packets, hx(t, po, "raw"))
		}
	}
	for _, c := range loadCases(t, "announce.json") {
		if po, ok := c["packet"].(obj); ok {
			announces = append(announces, hx(t, po, "raw"))
		}
	}
	var linkData, tokens, idct [][]byte
	for _, c := range loadCases(t, "link.json") {
		if c["name"] == "handshake" {
			for _, k := range []string{"link_request", "link_proof", "rtt_packet"} {
				p, _ := ParsePacket(hx(t, sub(t, c, k), "raw"))
				linkData = append(linkData, p.Data)
				tokens = append(tokens, p.Data)
			}
			linkData = append(linkData, hx(t, c, "rtt_plaintext_msgpack"))
		}
		if c["name"] == "request_response" {
			linkData = append(linkData, hx(t, c, "request_plaintext"), hx(t, c, "response_plaintext"))
		}
	}
	for _, c := range loadCases(t, "identity.json") {
		if es, ok := c["encryptions"].([]any); ok {
			for _, e := range es {
				idct = append(idct, hx(t, e.(obj), "ciphertext"))
			}
		}
	}
	tok, _ := NewToken(fuzzTokenKey)
	tokens = append(tokens, tok.AppendEncrypt(nil, [16]byte{9}, []byte("meshlogd")), tok.AppendEncrypt(nil, [16]byte{8}, nil))
	var streams [][]byte
	for _, c := range loadCases(t, "framing.json") {
		for _, k := range []string{"frame", "stream", "kiss_interface_frame"} {
			if _, ok := c[k]; ok {
				streams = append(streams, hx(t, c, k))
			}
		}
	}
	ifac, _ := NewIFAC("meshlogd-field", "s3cret", 8)
	var wires [][]byte
	for _, p := range packets[:6] {
		w, _ := ifac.Apply(p)
		wires = append(wires, w, p)
	}
	write := func(target string, seeds [][]byte, withChunk bool) {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i, s := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", s)
			if withChunk {
				body += fmt.Sprintf("byte(%q)\n", byte(7*i+1))
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("FuzzParsePacket", append(packets, []byte{0x40, 0}, []byte{}), false)
	write("FuzzAnnounce", announces, false)
	write("FuzzLinkRequest", linkData, false)
	write("FuzzToken", tokens, false)
	write("FuzzIdentityDecrypt", idct, false)
	write("FuzzHDLCDeframer", streams, true)
	write("FuzzKISSDeframer", streams, true)
	write("FuzzIFAC", wires, false)
	owner, _ := FromPrivateKey(bytes.Repeat([]byte{0x42}, 64))
	var files [][]byte
	for n := 0; n < 3; n++ {
		ring := NewRatchetRing(0, 0, nil, 0)
		for i := 0; i < n; i++ {
			ring.Rotate(bytes.NewReader(bytes.Repeat([]byte{byte(i + 1)}, 32)), int64(i)*RatchetIntervalSeconds*2)
		}
		b, _ := ring.MarshalFile(owner)
		files = append(files, b)
	}
	write("FuzzRatchetFile", files, false)
}
