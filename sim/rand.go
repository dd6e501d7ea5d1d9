package sim

import (
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
)

// stream derives an independent PRNG for one concern (a label such as
// "loss" or "workload" and optional indices such as a node or link number)
// from the scenario seed. Streams are derived by hashing, so adding a node or
// a concern never reshuffles the draws of the others.
func stream(seed uint64, label string, idx ...int) *rand.Rand {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seed)
	h.Write(b[:])
	h.Write([]byte(label))
	for _, i := range idx {
		binary.BigEndian.PutUint64(b[:], uint64(i))
		h.Write(b[:])
	}
	sum := h.Sum(nil)
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])))
}

// streamBytes fills n deterministic bytes for key material.
func streamBytes(seed uint64, label string, n int, idx ...int) []byte {
	r := stream(seed, label, idx...)
	out := make([]byte, n)
	for i := range out {
		out[i] = byte(r.Uint32())
	}
	return out
}

// readerOf adapts a PRNG to io.Reader for APIs that take their randomness
// that way (IVs, signatures with randomness, nibbles).
type readerOf struct{ r *rand.Rand }

func (r readerOf) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r.r.Uint32())
	}
	return len(p), nil
}
