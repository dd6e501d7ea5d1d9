package sim

import (
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/rns"
)

// viewDigest returns the digest of the engine's view.
func viewDigest(e *gossip.Engine) [32]byte { return e.View().Digest() }

// viewField looks rec.field up in the engine's view and returns the value
// as text and the index of the node that wrote it.
func viewField(e *gossip.Engine, index map[rns.Hash]int, rec, field string) (string, int, bool) {
	r, ok := e.View().Record(rec)
	if !ok {
		return "", -1, false
	}
	f, ok := r.Field(field)
	if !ok {
		return "", -1, false
	}
	who, ok := index[f.Stamp.Author]
	if !ok {
		who = -1
	}
	return f.Value.String(), who, true
}
