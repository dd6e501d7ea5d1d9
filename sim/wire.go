package sim

import (
	"errors"
	"io"

	"github.com/meshlogd/meshlogd/node/rns"
)

// groupWire wraps sync payloads the way a meshlogd node puts them on the
// local radio neighbourhood: a Reticulum DATA packet (HEADER_1, BROADCAST)
// to the dataset's GROUP destination, its data a Token under the group key
// (node/rns Destination.Encrypt and Packet.Pack). Receivers parse the
// packet, check the destination and decrypt; anything else is dropped.
type groupWire struct {
	dest *rns.Destination
	rand io.Reader // IVs
}

// errNotOurs reports a packet that is not for the dataset's GROUP destination.
var errNotOurs = errors.New("sim: packet not for the dataset group")

// maxGroupPlaintext is the largest plaintext whose GROUP packet still fits
// one LoRa frame: 19 + 48 + padded(n) ≤ 254 → n ≤ 175.
const maxGroupPlaintext = 175

// maxGroupPlaintextMTU is the largest plaintext whose GROUP packet fits the
// Reticulum MTU (two frames): 19 + 48 + padded(n) ≤ 500 → n ≤ 431.
const maxGroupPlaintextMTU = 431

func newGroupWire(founder *rns.Identity, key []byte, rand io.Reader) (*groupWire, error) {
	d, err := rns.NewDestination(founder, rns.Out, rns.Group, "meshlogd", "sync")
	if err != nil {
		return nil, err
	}
	if err := d.LoadGroupKey(key); err != nil {
		return nil, err
	}
	return &groupWire{dest: d, rand: rand}, nil
}

// wrap returns the packed packet carrying payload.
func (w *groupWire) wrap(payload []byte) ([]byte, error) {
	ct, err := w.dest.Encrypt(w.rand, payload)
	if err != nil {
		return nil, err
	}
	p := rns.Packet{HeaderType: rns.Header1, TransportType: rns.Broadcast, DestType: rns.Group,
		Type: rns.Data, Destination: w.dest.Hash(), Context: rns.CtxNone, Data: ct}
	return p.Pack()
}

// unwrap parses raw and returns the decrypted payload.
func (w *groupWire) unwrap(raw []byte) ([]byte, error) {
	p, err := rns.ParsePacket(raw)
	if err != nil {
		return nil, err
	}
	if p.DestType != rns.Group || p.Type != rns.Data || p.Destination != w.dest.Hash() {
		return nil, errNotOurs
	}
	return w.dest.Decrypt(p.Data)
}
