package transport

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

type ifacCase struct {
	Name        string  `json:"name"`
	NetworkName *string `json:"network_name"`
	Passphrase  *string `json:"passphrase"`
	Size        *int    `json:"ifac_size"`
	Key         string  `json:"ifac_key"`
	Packets     []struct {
		Packet   string `json:"packet"`
		Wire     string `json:"wire"`
		Accepted bool   `json:"accepted"`
		Tampered []struct {
			Name     string `json:"name"`
			Wire     string `json:"wire"`
			Accepted bool   `json:"accepted"`
		} `json:"tampered"`
	} `json:"packets"`
}

func TestIFACVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/ifac.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []ifacCase }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, c := range f.Cases {
		if c.Size == nil || c.Key == "" {
			continue
		}
		var nn, pp string
		if c.NetworkName != nil {
			nn = *c.NetworkName
		}
		if c.Passphrase != nil {
			pp = *c.Passphrase
		}
		ifac, err := NewIFAC(nn, pp, *c.Size)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if !bytes.Equal(ifac.key, unhex(t, c.Key)) {
			t.Fatalf("%s: key %x", c.Name, ifac.key)
		}
		for _, p := range c.Packets {
			plain, wire := unhex(t, p.Packet), unhex(t, p.Wire)
			got, err := ifac.Apply(plain)
			if err != nil || !bytes.Equal(got, wire) {
				t.Errorf("%s: apply\n got %x\nwant %x (%v)", c.Name, got, wire, err)
			}
			back, err := ifac.Verify(wire)
			if p.Accepted != (err == nil) || (err == nil && !bytes.Equal(back, plain)) {
				t.Errorf("%s: verify accepted=%v err=%v", c.Name, p.Accepted, err)
			}
			for _, tc := range p.Tampered {
				_, err := ifac.Verify(unhex(t, tc.Wire))
				if tc.Accepted != (err == nil) {
					t.Errorf("%s/%s: accepted %v, reference %v", c.Name, tc.Name, err == nil, tc.Accepted)
				}
			}
			checked++
		}
	}
	if checked < 5 {
		t.Fatalf("only %d IFAC packets checked", checked)
	}
	if _, err := NewIFAC("", "", 16); err == nil {
		t.Fatal("IFAC without name or passphrase accepted")
	}
}
