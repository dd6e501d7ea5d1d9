package rns

import (
	"crypto/ed25519"
	"crypto/subtle"
	"errors"
)

// Proof payload sizes (RNS/Packet.py PacketReceipt).
const (
	// ImplicitProofLength is an implicit proof: signature only.
	ImplicitProofLength = SigLength
	// ExplicitProofLength is an explicit proof: packet hash (32) ‖ signature.
	ExplicitProofLength = 32 + SigLength
)

// Proof errors.
var (
	ErrProofLength    = errors.New("rns: proof has neither explicit nor implicit length")
	ErrProofHash      = errors.New("rns: proof is for a different packet")
	ErrProofSignature = errors.New("rns: proof signature invalid")
)

// NewProof builds the proof packet a destination's identity sends for a
// received packet (RNS/Identity.py prove): PROOF to the proved packet's
// truncated hash with destination type SINGLE; data = signature of the
// full packet hash (implicit, the reference default) or packet hash ‖
// signature (explicit).
func NewProof(signer *Identity, proved *Packet, explicit bool) (*Packet, error) {
	if signer == nil {
		return nil, ErrNoPrivateKey
	}
	h := proved.Hash()
	sig, err := signer.Sign(h[:])
	if err != nil {
		return nil, err
	}
	data := sig
	if explicit {
		data = append(h[:], sig...)
	}
	return &Packet{DestType: Single, Type: Proof, Destination: proved.TruncatedHash(), Context: CtxNone, Data: data}, nil
}

// ValidateProof checks a proof payload (explicit or implicit) for the packet
// with full hash provedHash against the signer's Ed25519 key, as the
// reference's PacketReceipt.validate_proof.
func ValidateProof(signer ed25519.PublicKey, provedHash [32]byte, data []byte) error {
	var sig []byte
	switch len(data) {
	case ExplicitProofLength:
		if subtle.ConstantTimeCompare(data[:32], provedHash[:]) != 1 {
			return ErrProofHash
		}
		sig = data[32:]
	case ImplicitProofLength:
		sig = data
	default:
		return parseErr("proof", len(data), ErrProofLength)
	}
	if len(signer) != ed25519.PublicKeySize || !ed25519.Verify(signer, provedHash[:], sig) {
		return ErrProofSignature
	}
	return nil
}
