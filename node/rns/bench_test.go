package rns

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/sha256"
	"testing"
	"time"
)

// compare runs measured b.N times and baseline b.N times, interleaved in
// up to 100 rounds so that load changes on a shared machine hit both alike,
// and returns both elapsed times. Only measured runs count towards ns/op.
func compare(b *testing.B, measured, baseline func(i int)) (m, base time.Duration) {
	b.ResetTimer()
	per := (b.N + 99) / 100
	for done := 0; done < b.N; {
		k := min(per, b.N-done)
		t0 := time.Now()
		for i := 0; i < k; i++ {
			measured(done + i)
		}
		m += time.Since(t0)
		b.StopTimer()
		t1 := time.Now()
		for i := 0; i < k; i++ {
			baseline(done + i)
		}
		base += time.Since(t1)
		b.StartTimer()
		done += k
	}
	b.StopTimer()
	return m, base
}

func benchAnnounce(b *testing.B) *Packet {
	b.Helper()
	id, _ := NewIdentity(bytes.NewReader(bytes.Repeat([]byte{0x11}, 64)))
	d, _ := NewDestination(id, In, Single, "meshlogd", "sync")
	p, err := d.Announce(bytes.NewReader(make([]byte, 16)), time.Unix(1735689600, 0), AnnounceOptions{AppData: []byte("frontier:42")})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPacketParseHash parses a 131-byte SINGLE data packet and computes
// its packet hash (what a duplicate filter needs per received packet).
// Baseline: SHA-256 of the same raw bytes.
func BenchmarkPacketParseHash(b *testing.B) {
	c := caseNamed(b, loadCases(b, "packet.json"), "data_single")
	raw := hx(b, sub(b, c, "packet"), "raw")
	var p Packet
	b.ReportAllocs()
	el, base := compare(b, func(int) {
		if err := p.Unmarshal(raw); err != nil {
			b.Fatal(err)
		}
		_ = p.Hash()
	}, func(int) { _ = sha256.Sum256(raw) })
	b.ReportMetric(float64(b.N)/el.Seconds(), "packets/s")
	b.ReportMetric(float64(base)/float64(el), "x_sha256_speed")
}

// BenchmarkAnnounceValidate parses and fully validates a 178-byte announce
// (signature + destination hash). Baseline: a raw ed25519.Verify of the same
// signature in the same run; the ratio is announce validations per raw
// verification (1.0 = no overhead beyond the signature check).
func BenchmarkAnnounceValidate(b *testing.B) {
	p := benchAnnounce(b)
	raw, _ := p.Pack()
	a, _ := ParseAnnounce(p)
	signed, pub, sig := a.SignedData(), ed25519.PublicKey(a.PublicKey[32:]), a.Signature[:]
	b.ReportAllocs()
	el, base := compare(b, func(int) {
		q, err := ParsePacket(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ValidateAnnounce(q); err != nil {
			b.Fatal(err)
		}
	}, func(int) {
		if !ed25519.Verify(pub, signed, sig) {
			b.Fatal("verify")
		}
	})
	b.ReportMetric(float64(b.N)/el.Seconds(), "announces/s")
	b.ReportMetric(float64(b.N)/base.Seconds(), "ed25519_verify/s")
	b.ReportMetric(float64(base)/float64(el), "x_ed25519_verify")
}

func benchToken(b *testing.B, size int, decrypt bool) {
	key := bytes.Repeat([]byte{0x77}, 64)
	tok, _ := NewToken(key)
	pt := bytes.Repeat([]byte{0xab}, size)
	ct := tok.AppendEncrypt(nil, [16]byte{1}, pt)
	buf := make([]byte, 0, len(ct))
	// Baseline: bare AES-256-CBC (same direction) over the same padded
	// length, without HMAC, padding or framing.
	block, _ := aes.NewCipher(key[32:])
	body := make([]byte, len(ct)-TokenOverhead)
	iv := make([]byte, 16)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	el, base := compare(b, func(i int) {
		if decrypt {
			if _, err := tok.AppendDecrypt(buf[:0], ct); err != nil {
				b.Fatal(err)
			}
		} else {
			buf = tok.AppendEncrypt(buf[:0], [16]byte{byte(i)}, pt)
		}
	}, func(int) {
		if decrypt {
			cipher.NewCBCDecrypter(block, iv).CryptBlocks(body, body)
		} else {
			cipher.NewCBCEncrypter(block, iv).CryptBlocks(body, body)
		}
	})
	b.ReportMetric(float64(size)*float64(b.N)/el.Seconds()/1e6, "MB/s_token")
	b.ReportMetric(float64(base)/float64(el), "x_bare_aes_cbc")
}

// BenchmarkTokenEncrypt and BenchmarkTokenDecrypt measure Token throughput
// on link-MDU (431-byte) payloads, against bare AES-256-CBC in the same run.
func BenchmarkTokenEncrypt(b *testing.B) { benchToken(b, LinkMDU, false) }

// BenchmarkTokenDecrypt: see BenchmarkTokenEncrypt.
func BenchmarkTokenDecrypt(b *testing.B) { benchToken(b, LinkMDU, true) }

// BenchmarkIFACVerify verifies and strips a 16-byte IFAC from a 131-byte
// packet (one Ed25519 signature and one HKDF mask per packet). Baseline:
// ed25519.Sign of the same packet.
func BenchmarkIFACVerify(b *testing.B) {
	f, _ := NewIFAC("meshlogd-field", "s3cret", 16)
	c := caseNamed(b, loadCases(b, "packet.json"), "data_single")
	raw := hx(b, sub(b, c, "packet"), "raw")
	wire, _ := f.Apply(raw)
	priv := ed25519.NewKeyFromSeed(f.Key()[32:])
	b.ReportAllocs()
	el, base := compare(b, func(int) {
		if _, err := f.Verify(wire); err != nil {
			b.Fatal(err)
		}
	}, func(int) { _ = ed25519.Sign(priv, raw) })
	b.ReportMetric(float64(b.N)/el.Seconds(), "packets/s")
	b.ReportMetric(float64(base)/float64(el), "x_ed25519_sign")
}
