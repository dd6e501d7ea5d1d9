package sim

// newRealProto returns the real stack's protocol. Until node/gossip lands
// this is the baseline (temporary).
func newRealProto() protocol { return &baselineProto{} }
