package rns

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func TestRequestResponseVectors(t *testing.T) {
	c := caseNamed(t, loadCases(t, "link.json"), "request_response")
	path := c["path"].(string)
	h := RequestPathHash(path)
	eq(t, "path hash", h[:], hx(t, c, "path_hash"))
	ts := time.Unix(0, int64(num(t, sub(t, c, "injected"), "clock")*1e9))
	req, err := EncodeRequest(ts, path, hx(t, c, "request_data_msgpack"))
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "request plaintext", req, hx(t, c, "request_plaintext"))
	r, err := DecodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Timestamp != float64(ts.Unix()) || r.PathHash != h {
		t.Errorf("decoded %+v", r)
	}
	eq(t, "request data", r.Data, hx(t, c, "request_data_msgpack"))

	rid := Hash(hx(t, c, "request_id"))
	want := hx(t, c, "response_plaintext")
	// The response value is what follows the array header and the 18-byte bin(16).
	resp, err := EncodeResponse(rid, want[1+2+16:])
	if err != nil {
		t.Fatal(err)
	}
	eq(t, "response plaintext", resp, want)
	gotID, body, err := DecodeResponse(resp)
	if err != nil || gotID != rid || !bytes.Equal(body, want[19:]) {
		t.Errorf("decoded response %x %x %v", gotID, body, err)
	}

	for _, bad := range [][]byte{nil, {0x93}, {0x92, 0xc4, 0x01, 0x00, 0xc0}, append(append([]byte(nil), req...), 0xc0), req[:len(req)-1]} {
		if _, err := DecodeRequest(bad); !errors.Is(err, ErrRequestFormat) {
			t.Errorf("request %x: %v", bad, err)
		}
		if _, _, err := DecodeResponse(bad); !errors.Is(err, ErrRequestFormat) {
			t.Errorf("response %x: %v", bad, err)
		}
	}
	if _, err := EncodeRequest(ts, path, []byte{0x92, 0x01}); !errors.Is(err, ErrRequestFormat) {
		t.Errorf("truncated data accepted: %v", err)
	}
	if b, err := EncodeRequest(ts, path, nil); err != nil || b[len(b)-1] != 0xc0 {
		t.Errorf("nil data: %x %v", b, err)
	}
}
