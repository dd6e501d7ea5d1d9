package rns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// ErrRequestFormat reports a link request or response payload that is not
// the reference's msgpack layout.
var ErrRequestFormat = errors.New("rns: link request/response payload invalid")

// RequestPathHash returns the truncated hash of a request path, as requests
// name their handler (RNS/Link.py request).
func RequestPathHash(path string) Hash { return TruncatedHash([]byte(path)) }

// Request is the plaintext of a link packet with context REQUEST: the
// msgpack array [timestamp float64, path hash bin(16), data].
type Request struct {
	Timestamp float64 // Unix seconds when sent
	PathHash  Hash
	Data      []byte // one msgpack-encoded value (0xc0 for nil)
}

// EncodeRequest encodes a request for path sent at ts. data must be a
// single msgpack-encoded value; nil encodes msgpack nil. The request id is
// the truncated hash of the packet carrying it (Packet.TruncatedHash).
func EncodeRequest(ts time.Time, path string, data []byte) ([]byte, error) {
	if data == nil {
		data = []byte{0xc0}
	} else if rest, err := msgp.Skip(data); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: data is not one msgpack value", ErrRequestFormat)
	}
	h := RequestPathHash(path)
	b := msgp.AppendArrayHeader(nil, 3)
	b = msgp.AppendFloat64(b, float64(ts.UnixNano())/1e9)
	b = msgp.AppendBytes(b, h[:])
	return append(b, data...), nil
}

// DecodeRequest parses a request plaintext. Data aliases b.
func DecodeRequest(b []byte) (*Request, error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil || n != 3 {
		return nil, ErrRequestFormat
	}
	r := &Request{}
	if r.Timestamp, rest, err = readNumber(rest); err != nil {
		return nil, ErrRequestFormat
	}
	ph, rest, err := msgp.ReadBytesZC(rest)
	if err != nil || len(ph) != TruncatedHashLength {
		return nil, ErrRequestFormat
	}
	copy(r.PathHash[:], ph)
	end, err := msgp.Skip(rest)
	if err != nil || len(end) != 0 {
		return nil, ErrRequestFormat
	}
	r.Data = rest
	return r, nil
}

// EncodeResponse encodes the plaintext of a RESPONSE link packet: the
// msgpack array [request id bin(16), response], response being one
// msgpack-encoded value (nil encodes msgpack nil).
func EncodeResponse(requestID Hash, response []byte) ([]byte, error) {
	if response == nil {
		response = []byte{0xc0}
	} else if rest, err := msgp.Skip(response); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("%w: response is not one msgpack value", ErrRequestFormat)
	}
	b := msgp.AppendArrayHeader(nil, 2)
	b = msgp.AppendBytes(b, requestID[:])
	return append(b, response...), nil
}

// DecodeResponse parses a response plaintext; the response aliases b.
func DecodeResponse(b []byte) (requestID Hash, response []byte, err error) {
	n, rest, err := msgp.ReadArrayHeaderBytes(b)
	if err != nil || n != 2 {
		return Hash{}, nil, ErrRequestFormat
	}
	id, rest, err := msgp.ReadBytesZC(rest)
	if err != nil || len(id) != TruncatedHashLength {
		return Hash{}, nil, ErrRequestFormat
	}
	end, err := msgp.Skip(rest)
	if err != nil || len(end) != 0 {
		return Hash{}, nil, ErrRequestFormat
	}
	return Hash(id), rest, nil
}

// readNumber reads one msgpack number (float64, float32, or a signed or
// unsigned integer, as any msgpack encoder may emit) as a float64.
func readNumber(b []byte) (float64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, msgp.ErrShortBytes
	}
	t := b[0]
	switch {
	case t <= 0x7f:
		return float64(t), b[1:], nil
	case t >= 0xe0:
		return float64(int8(t)), b[1:], nil
	case t == 0xcb && len(b) >= 9:
		return math.Float64frombits(binary.BigEndian.Uint64(b[1:])), b[9:], nil
	case t == 0xca && len(b) >= 5:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b[1:]))), b[5:], nil
	case t >= 0xcc && t <= 0xcf:
		n := 1 << (t - 0xcc)
		if len(b) < 1+n {
			return 0, nil, msgp.ErrShortBytes
		}
		var v uint64
		for _, x := range b[1 : 1+n] {
			v = v<<8 | uint64(x)
		}
		return float64(v), b[1+n:], nil
	case t >= 0xd0 && t <= 0xd3:
		n := 1 << (t - 0xd0)
		if len(b) < 1+n {
			return 0, nil, msgp.ErrShortBytes
		}
		var v uint64
		for _, x := range b[1 : 1+n] {
			v = v<<8 | uint64(x)
		}
		shift := 64 - 8*n
		return float64(int64(v<<shift) >> shift), b[1+n:], nil
	}
	return 0, nil, fmt.Errorf("%w: not a number (0x%02x)", ErrRequestFormat, t)
}
