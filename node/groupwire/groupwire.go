// Package groupwire puts meshlogd sync messages on a local radio
// neighbourhood the Reticulum way: a DATA packet (HEADER_1, BROADCAST) to
// the dataset's GROUP destination "meshlogd.sync" (bound to the founder's
// identity), its data a Token under the dataset's group key.
//
// GROUP packets are one-hop broadcasts in Reticulum (transport nodes do not
// forward them), which is what anti-entropy wants: each neighbour hears each
// transmission once, and multi-hop delivery happens by store-and-forward in
// the sync engine. The node runtime and the simulator share this code.
package groupwire

import (
	"errors"
	"io"

	"github.com/meshlogd/meshlogd/node/rns"
)

// Plaintext limits: the largest sync payload whose GROUP packet still fits
// one LoRa frame after the RNode header byte (19 + 48 + padded(n) ≤ 254),
// and the Reticulum MTU (≤ 500, two frames).
const (
	MaxPlaintextFrame = 175
	MaxPlaintextMTU   = 431
)

// ErrNotOurs reports a packet that is not for the dataset's GROUP destination.
var ErrNotOurs = errors.New("groupwire: packet is not for this dataset's group")

// Wire wraps and unwraps sync payloads for one dataset.
type Wire struct {
	dest *rns.Destination
	rand io.Reader
}

// New returns the wire of the dataset founded by founder with the given
// group key; rand supplies the Token IVs.
func New(founder *rns.Identity, key []byte, rand io.Reader) (*Wire, error) {
	d, err := rns.NewDestination(founder, rns.Out, rns.Group, "meshlogd", "sync")
	if err != nil {
		return nil, err
	}
	if err := d.LoadGroupKey(key); err != nil {
		return nil, err
	}
	return &Wire{dest: d, rand: rand}, nil
}

// Destination returns the GROUP destination hash.
func (w *Wire) Destination() rns.Hash { return w.dest.Hash() }

// Wrap returns the packed packet carrying payload.
func (w *Wire) Wrap(payload []byte) ([]byte, error) {
	ct, err := w.dest.Encrypt(w.rand, payload)
	if err != nil {
		return nil, err
	}
	p := rns.Packet{HeaderType: rns.Header1, TransportType: rns.Broadcast, DestType: rns.Group,
		Type: rns.Data, Destination: w.dest.Hash(), Context: rns.CtxNone, Data: ct}
	return p.Pack()
}

// Unwrap parses a raw packet and returns the decrypted payload, or
// ErrNotOurs / a parse or decryption error.
func (w *Wire) Unwrap(raw []byte) ([]byte, error) {
	p, err := rns.ParsePacket(raw)
	if err != nil {
		return nil, err
	}
	if p.DestType != rns.Group || p.Type != rns.Data || p.Destination != w.dest.Hash() {
		return nil, ErrNotOurs
	}
	return w.dest.Decrypt(p.Data)
}
