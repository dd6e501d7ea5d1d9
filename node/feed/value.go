package feed

import (
	"fmt"
	"math"
	"strconv"

	"github.com/tinylib/msgp/msgp"
)

// ValueType is the type of a field value.
type ValueType uint8

// Value types. A value is encoded as the matching native MessagePack type:
// nil, str, int (shortest form), float64, bool, bin.
const (
	TypeNull ValueType = iota
	TypeString
	TypeInt
	TypeFloat
	TypeBool
	TypeBytes
)

var valueTypeNames = [...]string{"null", "string", "int", "float", "bool", "bytes"}

// String returns the type name, e.g. "int".
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Value is a typed field value: null, string, int, float, bool or bytes.
// The zero Value is null. Values are immutable.
type Value struct {
	typ ValueType
	s   string // string and bytes payload
	n   uint64 // int (two's complement), float (IEEE bits) or bool (0/1)
}

// Null returns the null value.
func Null() Value { return Value{} }

// String returns a string value.
func String(s string) Value { return Value{typ: TypeString, s: s} }

// Int returns an integer value.
func Int(i int64) Value { return Value{typ: TypeInt, n: uint64(i)} }

// Float returns a float value.
func Float(f float64) Value { return Value{typ: TypeFloat, n: math.Float64bits(f)} }

// Bool returns a boolean value.
func Bool(b bool) Value {
	v := Value{typ: TypeBool}
	if b {
		v.n = 1
	}
	return v
}

// Bytes returns a bytes value; p is copied.
func Bytes(p []byte) Value { return Value{typ: TypeBytes, s: string(p)} }

// Type returns the value's type.
func (v Value) Type() ValueType { return v.typ }

// Str returns the string payload of a string value ("" otherwise).
func (v Value) Str() string {
	if v.typ == TypeString {
		return v.s
	}
	return ""
}

// Int returns the integer of an int value (0 otherwise).
func (v Value) Int() int64 {
	if v.typ == TypeInt {
		return int64(v.n)
	}
	return 0
}

// Float returns the float of a float value (0 otherwise).
func (v Value) Float() float64 {
	if v.typ == TypeFloat {
		return math.Float64frombits(v.n)
	}
	return 0
}

// Bool returns the boolean of a bool value (false otherwise).
func (v Value) Bool() bool { return v.typ == TypeBool && v.n == 1 }

// Bytes returns a copy of the payload of a bytes value (nil otherwise).
func (v Value) Bytes() []byte {
	if v.typ == TypeBytes {
		return []byte(v.s)
	}
	return nil
}

// Equal reports whether two values have the same type and the same bits.
func (v Value) Equal(o Value) bool { return v == o }

// String formats the value for humans: strings quoted, bytes in hex.
func (v Value) String() string {
	switch v.typ {
	case TypeString:
		return strconv.Quote(v.s)
	case TypeInt:
		return strconv.FormatInt(int64(v.n), 10)
	case TypeFloat:
		return strconv.FormatFloat(math.Float64frombits(v.n), 'g', -1, 64)
	case TypeBool:
		return strconv.FormatBool(v.n == 1)
	case TypeBytes:
		return fmt.Sprintf("0x%x", v.s)
	default:
		return "null"
	}
}

// Validate checks the value's size limit (MaxTextLen for strings and bytes).
func (v Value) Validate() error {
	if (v.typ == TypeString || v.typ == TypeBytes) && len(v.s) > MaxTextLen {
		return fmt.Errorf("%w: %w: %s value of %d bytes, limit %d", ErrBadBody, ErrTooLarge, v.typ, len(v.s), MaxTextLen)
	}
	if v.typ > TypeBytes {
		return fmt.Errorf("%w: unknown value type %d", ErrBadBody, v.typ)
	}
	return nil
}

// MarshalMsg implements msgp.Marshaler: the canonical encoding of the value
// as a native MessagePack value.
func (v Value) MarshalMsg(b []byte) ([]byte, error) {
	switch v.typ {
	case TypeString:
		return msgp.AppendString(b, v.s), nil
	case TypeInt:
		return msgp.AppendInt64(b, int64(v.n)), nil
	case TypeFloat:
		return msgp.AppendFloat64(b, math.Float64frombits(v.n)), nil
	case TypeBool:
		return msgp.AppendBool(b, v.n == 1), nil
	case TypeBytes:
		return msgp.AppendBytes(b, []byte(v.s)), nil
	default:
		return msgp.AppendNil(b), nil
	}
}

// UnmarshalMsg implements msgp.Unmarshaler. Integers may arrive in any
// msgpack integer form here; callers that need canonical input compare the
// re-encoding (DecodeBody does).
func (v *Value) UnmarshalMsg(b []byte) ([]byte, error) {
	t := msgp.NextType(b)
	var err error
	switch t {
	case msgp.NilType:
		b, err = msgp.ReadNilBytes(b)
		*v = Null()
	case msgp.StrType:
		var s string
		s, b, err = msgp.ReadStringBytes(b)
		*v = String(s)
	case msgp.IntType:
		var i int64
		i, b, err = msgp.ReadInt64Bytes(b)
		*v = Int(i)
	case msgp.UintType:
		var u uint64
		u, b, err = msgp.ReadUint64Bytes(b)
		if err == nil && u > math.MaxInt64 {
			return b, fmt.Errorf("%w: integer %d overflows int64", ErrMalformed, u)
		}
		*v = Int(int64(u))
	case msgp.Float64Type:
		var f float64
		f, b, err = msgp.ReadFloat64Bytes(b)
		*v = Float(f)
	case msgp.BoolType:
		var x bool
		x, b, err = msgp.ReadBoolBytes(b)
		*v = Bool(x)
	case msgp.BinType:
		var p []byte
		p, b, err = msgp.ReadBytesZC(b)
		*v = Bytes(p)
	case msgp.InvalidType:
		if len(b) == 0 {
			return b, msgp.ErrShortBytes
		}
		return b, fmt.Errorf("%w: invalid msgpack byte 0x%02x", ErrMalformed, b[0])
	default:
		return b, fmt.Errorf("%w: value of msgpack type %s", ErrMalformed, t)
	}
	return b, err
}

// Msgsize implements msgp.Sizer: an upper bound of the encoded size.
func (v Value) Msgsize() int { return 9 + len(v.s) }
