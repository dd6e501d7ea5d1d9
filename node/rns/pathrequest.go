package rns

import (
	"fmt"
	"io"
)

// PathRequestDestination is the PLAIN destination rnstransport.path.request
// to which path requests are sent: 6b9f66014d9853faab220fba47d02761.
var PathRequestDestination = func() Hash {
	nh, _ := ComputeNameHash("rnstransport", "path", "request")
	return DestinationHash(nh, nil)
}()

// PathRequestTagLength is the length of a path request tag.
const PathRequestTagLength = TruncatedHashLength

// PathRequest is the payload of a path request.
type PathRequest struct {
	Destination Hash  // the destination whose path is wanted
	Transport   *Hash // the requesting transport instance, if it is one
	Tag         []byte
}

// NewPathRequest builds a path request packet as the reference's
// Transport.request_path: DATA, HEADER_1, BROADCAST to
// PathRequestDestination; data = destination ‖ [transport identity hash] ‖
// tag, where the tag is the truncated SHA-256 of 16 bytes read from rand.
// Pass transport = nil unless this node is a transport instance.
func NewPathRequest(rand io.Reader, dest Hash, transport *Hash) (*Packet, error) {
	var seed [16]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("rns: path request tag: %w", err)
	}
	tag := TruncatedHash(seed[:])
	pr := PathRequest{Destination: dest, Transport: transport, Tag: tag[:]}
	return &Packet{DestType: Plain, Type: Data, Destination: PathRequestDestination, Context: CtxNone, Data: pr.Marshal()}, nil
}

// Marshal returns destination ‖ [transport] ‖ tag.
func (r *PathRequest) Marshal() []byte {
	b := append([]byte(nil), r.Destination[:]...)
	if r.Transport != nil {
		b = append(b, r.Transport[:]...)
	}
	return append(b, r.Tag...)
}

// ParsePathRequest parses a path request payload as the reference's
// path_request_handler: the first 16 bytes are the destination; with more
// than 32 bytes, bytes 16–31 are the requesting transport instance and the
// rest the tag; otherwise anything after the destination is the tag. Tags
// are cut to 16 bytes. Requests without a tag (which the reference
// ignores) fail with ErrTruncated.
func ParsePathRequest(data []byte) (*PathRequest, error) {
	if len(data) <= TruncatedHashLength {
		return nil, parseErr("path request", len(data), ErrTruncated)
	}
	r := &PathRequest{Destination: Hash(data[:TruncatedHashLength])}
	tag := data[TruncatedHashLength:]
	if len(data) > 2*TruncatedHashLength {
		t := Hash(data[TruncatedHashLength : 2*TruncatedHashLength])
		r.Transport = &t
		tag = data[2*TruncatedHashLength:]
	}
	if len(tag) > PathRequestTagLength {
		tag = tag[:PathRequestTagLength]
	}
	r.Tag = tag
	return r, nil
}
