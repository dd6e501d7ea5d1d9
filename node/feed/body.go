package feed

import (
	"bytes"
	"fmt"
	"unicode/utf8"
)

//msgp:replace AuthorID with:[16]byte
//msgp:tuple Genesis MemberAdd MemberRemove RecordCreate FieldSet NoteAppend

// Size limits. They keep any single event, sent as a signed run of one with
// a 4-byte author prefix (see EncodeRun), inside one 175-byte LoRa GROUP
// payload together with a small sync header.
const (
	// MaxBodySize bounds the body of every kind except genesis.
	MaxBodySize = 80
	// MaxGenesisBodySize bounds a genesis body (it carries a 64-byte key).
	MaxGenesisBodySize = 128
	// MaxEventSize bounds the canonical encoding of an event.
	MaxEventSize = 256
	// MaxNameLen bounds a dataset name, in bytes.
	MaxNameLen = 32
	// MaxRecordIDLen bounds a record id, in bytes.
	MaxRecordIDLen = 24
	// MaxTypeLen bounds a record type name, in bytes.
	MaxTypeLen = 24
	// MaxFieldLen bounds a field name, in bytes.
	MaxFieldLen = 24
	// MaxTextLen bounds a string or bytes value and a note's text, in bytes.
	MaxTextLen = 64
)

// Body is the decoded body of an event; each kind has one body type.
type Body interface {
	// Kind returns the event kind this body belongs to.
	Kind() Kind
	// Validate checks the body's limits and rules.
	Validate() error
}

// appendBody appends the canonical (generated msgp) encoding of b.
func appendBody(dst []byte, b Body) ([]byte, error) {
	switch v := b.(type) {
	case Genesis:
		return v.MarshalMsg(dst)
	case *Genesis:
		return v.MarshalMsg(dst)
	case MemberAdd:
		return v.MarshalMsg(dst)
	case *MemberAdd:
		return v.MarshalMsg(dst)
	case MemberRemove:
		return v.MarshalMsg(dst)
	case *MemberRemove:
		return v.MarshalMsg(dst)
	case RecordCreate:
		return v.MarshalMsg(dst)
	case *RecordCreate:
		return v.MarshalMsg(dst)
	case FieldSet:
		return v.MarshalMsg(dst)
	case *FieldSet:
		return v.MarshalMsg(dst)
	case NoteAppend:
		return v.MarshalMsg(dst)
	case *NoteAppend:
		return v.MarshalMsg(dst)
	default:
		return nil, fmt.Errorf("%w: unknown body type %T", ErrBadBody, b)
	}
}

// Genesis creates a dataset (KindGenesis). The founder is the first admin.
type Genesis struct {
	// Name is a human-readable dataset name (1..MaxNameLen bytes of UTF-8).
	Name string
	// FounderKey is the founder's 64-byte Reticulum public key; its hash
	// must be the genesis author.
	FounderKey [64]byte
}

// MemberAdd admits an author (KindMemberAdd).
type MemberAdd struct {
	// Key is the new member's 64-byte Reticulum public key.
	Key [64]byte
	// Admin makes the member an admin; only honoured when the founder writes it.
	Admin bool
}

// MemberRemove removes an author (KindMemberRemove): the member's events
// with seq > After are invalid everywhere. Removal is permanent for that
// identity; the founder cannot be removed.
type MemberRemove struct {
	// Member is the removed author.
	Member AuthorID
	// After is the last seq of the member's feed that stays valid.
	After uint64
}

// RecordCreate creates a record (KindRecordCreate).
type RecordCreate struct {
	// Record is the record id (1..MaxRecordIDLen bytes of UTF-8).
	Record string
	// Type is the record type, e.g. a form name (1..MaxTypeLen bytes).
	Type string
}

// FieldSet sets a field of a record (KindFieldSet).
type FieldSet struct {
	// Record is the record id.
	Record string
	// Field is the field name (1..MaxFieldLen bytes of UTF-8).
	Field string
	// Value is the new value.
	Value Value
}

// NoteAppend appends a note to a record (KindNoteAppend).
type NoteAppend struct {
	// Record is the record id.
	Record string
	// Text is the note (1..MaxTextLen bytes of UTF-8).
	Text string
}

// Kind implements Body.
func (Genesis) Kind() Kind { return KindGenesis }

// Kind implements Body.
func (MemberAdd) Kind() Kind { return KindMemberAdd }

// Kind implements Body.
func (MemberRemove) Kind() Kind { return KindMemberRemove }

// Kind implements Body.
func (RecordCreate) Kind() Kind { return KindRecordCreate }

// Kind implements Body.
func (FieldSet) Kind() Kind { return KindFieldSet }

// Kind implements Body.
func (NoteAppend) Kind() Kind { return KindNoteAppend }

func checkText(what, s string, max int) error {
	if len(s) == 0 || len(s) > max {
		return fmt.Errorf("%w: %s length %d not in 1..%d", ErrBadBody, what, len(s), max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not UTF-8", ErrBadBody, what)
	}
	return nil
}

// Validate implements Body.
func (g Genesis) Validate() error { return checkText("dataset name", g.Name, MaxNameLen) }

// Validate implements Body.
func (m MemberAdd) Validate() error { return nil }

// Validate implements Body.
func (m MemberRemove) Validate() error { return nil }

// Validate implements Body.
func (r RecordCreate) Validate() error {
	if err := checkText("record id", r.Record, MaxRecordIDLen); err != nil {
		return err
	}
	return checkText("record type", r.Type, MaxTypeLen)
}

// Validate implements Body.
func (f FieldSet) Validate() error {
	if err := checkText("record id", f.Record, MaxRecordIDLen); err != nil {
		return err
	}
	if err := checkText("field name", f.Field, MaxFieldLen); err != nil {
		return err
	}
	return f.Value.Validate()
}

// Validate implements Body.
func (n NoteAppend) Validate() error {
	if err := checkText("record id", n.Record, MaxRecordIDLen); err != nil {
		return err
	}
	return checkText("note text", n.Text, MaxTextLen)
}

func maxBody(k Kind) int {
	if k == KindGenesis {
		return MaxGenesisBodySize
	}
	return MaxBodySize
}

// EncodeBody validates b and returns its canonical encoding.
func EncodeBody(b Body) ([]byte, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	out, err := appendBody(nil, b)
	if err != nil {
		return nil, err
	}
	if len(out) > maxBody(b.Kind()) {
		return nil, fmt.Errorf("%w: %w: %s body is %d bytes, limit %d", ErrBadBody, ErrTooLarge, b.Kind(), len(out), maxBody(b.Kind()))
	}
	return out, nil
}

// DecodeBody decodes and validates the body of an event of kind k. Errors
// wrap ErrBadBody and, where it applies, ErrUnknownKind, ErrTooLarge,
// ErrTruncated, ErrMalformed or ErrNonCanonical.
func DecodeBody(k Kind, b []byte) (Body, error) {
	if !k.Valid() {
		return nil, fmt.Errorf("%w: %w: %d", ErrBadBody, ErrUnknownKind, uint8(k))
	}
	if len(b) > maxBody(k) {
		return nil, fmt.Errorf("%w: %w: %s body is %d bytes, limit %d", ErrBadBody, ErrTooLarge, k, len(b), maxBody(k))
	}
	var (
		body Body
		rest []byte
		err  error
	)
	switch k {
	case KindGenesis:
		var v Genesis
		rest, err = v.UnmarshalMsg(b)
		body = v
	case KindMemberAdd:
		var v MemberAdd
		rest, err = v.UnmarshalMsg(b)
		body = v
	case KindMemberRemove:
		var v MemberRemove
		rest, err = v.UnmarshalMsg(b)
		body = v
	case KindRecordCreate:
		var v RecordCreate
		rest, err = v.UnmarshalMsg(b)
		body = v
	case KindFieldSet:
		var v FieldSet
		rest, err = v.UnmarshalMsg(b)
		body = v
	case KindNoteAppend:
		var v NoteAppend
		rest, err = v.UnmarshalMsg(b)
		body = v
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadBody, k, classify(err))
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadBody, k, ErrTrailing)
	}
	if err := body.Validate(); err != nil {
		return nil, err
	}
	if enc, _ := appendBody(nil, body); !bytes.Equal(enc, b) {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadBody, k, ErrNonCanonical)
	}
	return body, nil
}
