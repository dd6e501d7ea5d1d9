package transport

import (
	"time"

	"github.com/meshlogd/meshlogd/node/rns"
)

// Event is something the router reports: an announce heard, a packet for a
// local destination, link life-cycle and data, a proof, an interface change.
type Event interface{ isEvent() }

// AnnounceEvent reports an announce that passed the packet filter, valid or
// not.
type AnnounceEvent struct {
	Destination rns.Hash
	// Identity is the announced identity (nil when invalid).
	Identity *rns.Identity
	// PublicKey is the announced public key as received (even if invalid;
	// nil if the announce was too short to carry one).
	PublicKey []byte
	NameHash  rns.NameHash
	AppData   []byte
	// Hops is the hop count after this node's increment (1 = neighbour).
	Hops int
	// TransportID is the rebroadcasting transport node (zero if direct).
	TransportID  rns.Hash
	PathResponse bool
	// Valid reports that signature and destination hash verified and the
	// key does not conflict with a known one.
	Valid bool
	// PathUpdated reports that the path table now uses this announce.
	PathUpdated bool
	Interface   string
	// Err says why the announce was invalid (Valid false) or did not
	// update the path (ErrStale).
	Err error
}

// PacketEvent reports a data packet delivered to a local destination.
type PacketEvent struct {
	Destination rns.Hash
	Data        []byte
	Hops        int
	Interface   string
	PacketHash  [32]byte
}

// LinkEstablishedEvent reports a link that became active.
type LinkEstablishedEvent struct{ Link LinkInfo }

// LinkDataEvent reports a data packet (context NONE) received on a link.
type LinkDataEvent struct {
	LinkID rns.Hash
	Data   []byte
}

// LinkIdentifiedEvent reports that a link initiator revealed its identity.
type LinkIdentifiedEvent struct {
	LinkID   rns.Hash
	Identity *rns.Identity
}

// LinkClosedEvent reports a closed link.
type LinkClosedEvent struct {
	Link   LinkInfo
	Reason CloseReason
}

// ProofEvent reports a valid proof for a packet this node sent.
type ProofEvent struct {
	PacketHash [32]byte
	// LinkID is set for proofs of link packets.
	LinkID *rns.Hash
	// RTT is the round trip of a SINGLE packet (zero for link packets).
	RTT time.Duration
}

// InterfaceEvent reports an interface going up or down.
type InterfaceEvent struct {
	Interface string
	Up        bool
}

func (AnnounceEvent) isEvent()        {}
func (PacketEvent) isEvent()          {}
func (LinkEstablishedEvent) isEvent() {}
func (LinkDataEvent) isEvent()        {}
func (LinkIdentifiedEvent) isEvent()  {}
func (LinkClosedEvent) isEvent()      {}
func (ProofEvent) isEvent()           {}
func (InterfaceEvent) isEvent()       {}
