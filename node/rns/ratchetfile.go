package rns

import (
	"errors"

	"github.com/tinylib/msgp/msgp"
)

// MaxRatchetFile bounds the size of a ratchet file UnmarshalRatchetFile
// accepts (512 ratchets take about 17 KiB).
const MaxRatchetFile = 1 << 20

// ErrRatchetFile reports a ratchet file that is malformed or whose
// signature does not verify under the destination's identity.
var ErrRatchetFile = errors.New("rns: ratchet file invalid")

// MarshalFile encodes the ring in the reference's ratchet file format
// (RNS/Destination.py _persist_ratchets): msgpack {"signature": sig,
// "ratchets": packed} where packed is the msgpack array of the 32-byte
// private keys, newest first, and sig is id's signature of packed. Store it
// with a durable write (temporary file, sync, rename).
func (r *RatchetRing) MarshalFile(id *Identity) ([]byte, error) {
	list := r.List()
	packed := msgp.AppendArrayHeader(make([]byte, 0, 5+len(list)*(2+RatchetSize)), uint32(len(list)))
	for _, x := range list {
		packed = msgp.AppendBytes(packed, x.priv[:])
	}
	sig, err := id.Sign(packed)
	if err != nil {
		return nil, err
	}
	out := msgp.AppendMapHeader(nil, 2)
	out = msgp.AppendString(out, "signature")
	out = msgp.AppendBytes(out, sig)
	out = msgp.AppendString(out, "ratchets")
	return msgp.AppendBytes(out, packed), nil
}

// UnmarshalRatchetFile decodes a ratchet file written by MarshalFile or by
// the reference, verifying its signature under id, and returns a ring with
// the given interval and retention (see NewRatchetRing). Like the
// reference, the loaded ring's newest ratchet has no creation time, so the
// next announce rotates.
func UnmarshalRatchetFile(data []byte, id *Identity, interval int64, retain int) (*RatchetRing, error) {
	if len(data) > MaxRatchetFile {
		return nil, parseErr("ratchet file", len(data), ErrOversized)
	}
	n, rest, err := msgp.ReadMapHeaderBytes(data)
	if err != nil || n > 16 {
		return nil, ErrRatchetFile
	}
	var sig, packed []byte
	for i := uint32(0); i < n; i++ {
		var k []byte
		if k, rest, err = msgp.ReadStringZC(rest); err != nil {
			return nil, ErrRatchetFile
		}
		switch string(k) {
		case "signature":
			sig, rest, err = msgp.ReadBytesZC(rest)
		case "ratchets":
			packed, rest, err = msgp.ReadBytesZC(rest)
		default:
			rest, err = msgp.Skip(rest)
		}
		if err != nil {
			return nil, ErrRatchetFile
		}
	}
	if len(rest) != 0 || sig == nil || packed == nil {
		return nil, ErrRatchetFile
	}
	if !id.Verify(sig, packed) {
		return nil, ErrRatchetFile
	}
	count, p, err := msgp.ReadArrayHeaderBytes(packed)
	if err != nil || int64(count) > int64(len(p)/(2+RatchetSize)) {
		return nil, ErrRatchetFile
	}
	list := make([]*Ratchet, 0, count)
	for i := uint32(0); i < count; i++ {
		var k []byte
		if k, p, err = msgp.ReadBytesZC(p); err != nil || len(k) != RatchetSize {
			return nil, ErrRatchetFile
		}
		x, err := RatchetFromPrivateKey(k)
		if err != nil {
			return nil, ErrRatchetFile
		}
		list = append(list, x)
	}
	if len(p) != 0 {
		return nil, ErrRatchetFile
	}
	return NewRatchetRing(interval, retain, list, 0), nil
}
