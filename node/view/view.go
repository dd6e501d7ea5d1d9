package view

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"slices"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/tinylib/msgp/msgp"
)

//go:generate go run github.com/tinylib/msgp@v1.6.5 -io=false -tests=false -unexported -file view.go -o view_gen.go

//msgp:replace feed.AuthorID with:[16]byte
//msgp:replace hlc.Timestamp with:uint64
//msgp:ignore View Change record ChangeKind
//msgp:tuple Stamp Field Note Record

// Stamp orders writes: by HLC, then author id, then seq. Every accepted
// event has a distinct stamp.
type Stamp struct {
	// HLC is the event's hybrid logical timestamp.
	HLC hlc.Timestamp
	// Author is the event's author.
	Author feed.AuthorID
	// Seq is the event's seq in its author's feed.
	Seq uint64
}

// Compare returns -1, 0 or +1 as s sorts before, equal to or after o.
func (s Stamp) Compare(o Stamp) int {
	if c := cmp.Compare(s.HLC, o.HLC); c != 0 {
		return c
	}
	if c := bytes.Compare(s.Author[:], o.Author[:]); c != 0 {
		return c
	}
	return cmp.Compare(s.Seq, o.Seq)
}

// StampOf returns the stamp of an event.
func StampOf(e *feed.Event) Stamp { return Stamp{HLC: e.HLC, Author: e.Author, Seq: e.Seq} }

// Field is a field's winning value.
type Field struct {
	// Name is the field name.
	Name string
	// Value is the winning value.
	Value feed.Value
	// Stamp identifies the winning write.
	Stamp Stamp
}

// Note is one appended note.
type Note struct {
	// Stamp identifies the write and orders the notes.
	Stamp Stamp
	// Text is the note.
	Text string
}

// Record is a snapshot of one record. Fields are sorted by name, notes by
// stamp.
type Record struct {
	// ID is the record id.
	ID string
	// Type is the record type ("" until a create is seen).
	Type string
	// Created reports whether a record-create was seen.
	Created bool
	// TypeStamp identifies the winning create.
	TypeStamp Stamp
	// Fields holds the winning value of each field.
	Fields []Field
	// Notes holds every note.
	Notes []Note
}

// Field returns the named field.
func (r *Record) Field(name string) (Field, bool) {
	i, ok := slices.BinarySearchFunc(r.Fields, name, func(f Field, n string) int { return cmp.Compare(f.Name, n) })
	if !ok {
		return Field{}, false
	}
	return r.Fields[i], true
}

// ChangeKind says what changed in a record.
type ChangeKind uint8

// Change kinds.
const (
	// Created means the record's type (its create) changed.
	Created ChangeKind = iota + 1
	// FieldChanged means a field's winning value changed.
	FieldChanged
	// NoteAdded means a note was added.
	NoteAdded
)

// Change describes one effect of Apply.
type Change struct {
	// Record is the record id.
	Record string
	// Kind says what changed.
	Kind ChangeKind
	// Field is the field name for FieldChanged.
	Field string
}

// record is the mutable state of one record.
type record struct {
	id        string
	typ       string
	created   bool
	typeStamp Stamp
	fields    []Field // sorted by name, no duplicates
	notes     []Note  // sorted by stamp, no duplicates
}

// View is the fold of a set of events. The zero View is not usable; call New.
type View struct {
	records map[string]*record
	// names interns field names and record types: a dataset repeats a few
	// of them across many records, and each decoded body brings a fresh
	// copy.
	names map[string]string
	canon []byte // cached Canonical; nil when stale
}

// New returns an empty view.
func New() *View {
	return &View{records: make(map[string]*record), names: make(map[string]string)}
}

// intern returns the view's copy of s, adding s if it has none.
func (v *View) intern(s string) string {
	if c, ok := v.names[s]; ok {
		return c
	}
	v.names[s] = s
	return s
}

// FromLog folds every accepted event of l into a new view.
func FromLog(l *feed.Log) *View {
	v := New()
	for s := range l.All() {
		v.Apply(s.Event)
	}
	return v
}

// Apply folds events into the view and returns what changed, in order.
// Events whose kind does not touch records, and bodies that do not decode,
// are ignored.
func (v *View) Apply(evs ...feed.Event) []Change {
	var out []Change
	for i := range evs {
		e := &evs[i]
		switch e.Kind {
		case feed.KindRecordCreate, feed.KindFieldSet, feed.KindNoteAppend:
		default:
			continue
		}
		b, err := feed.DecodeBody(e.Kind, e.Body)
		if err != nil {
			continue
		}
		st := StampOf(e)
		switch body := b.(type) {
		case feed.RecordCreate:
			r := v.rec(body.Record)
			if !r.created || st.Compare(r.typeStamp) > 0 {
				r.created, r.typ, r.typeStamp = true, v.intern(body.Type), st
				out = append(out, Change{Record: r.id, Kind: Created})
			}
		case feed.FieldSet:
			r := v.rec(body.Record)
			i, found := slices.BinarySearchFunc(r.fields, body.Field, func(f Field, n string) int { return cmp.Compare(f.Name, n) })
			switch {
			case !found:
				r.fields = insert(r.fields, i, Field{Name: v.intern(body.Field), Value: body.Value, Stamp: st})
			case st.Compare(r.fields[i].Stamp) > 0:
				r.fields[i].Value, r.fields[i].Stamp = body.Value, st
			default:
				continue
			}
			out = append(out, Change{Record: r.id, Kind: FieldChanged, Field: r.fields[i].Name})
		case feed.NoteAppend:
			r := v.rec(body.Record)
			i, found := slices.BinarySearchFunc(r.notes, st, func(n Note, s Stamp) int { return n.Stamp.Compare(s) })
			if !found {
				r.notes = insert(r.notes, i, Note{Stamp: st, Text: body.Text})
				out = append(out, Change{Record: r.id, Kind: NoteAdded})
			}
		}
	}
	if len(out) > 0 {
		v.canon = nil
	}
	return out
}

func (v *View) rec(id string) *record {
	r := v.records[id]
	if r == nil {
		r = &record{id: id}
		v.records[id] = r
	}
	return r
}

// Len returns the number of records.
func (v *View) Len() int { return len(v.records) }

// insert inserts x at i. It grows s by a quarter when full rather than
// doubling it: a view keeps every record's fields and notes for as long as
// it runs, so spare capacity is memory that never serves.
func insert[T any](s []T, i int, x T) []T {
	if len(s) == cap(s) {
		g := make([]T, len(s), len(s)+len(s)/4+1)
		copy(g, s)
		s = g
	}
	return slices.Insert(s, i, x)
}

func (r *record) snapshot() Record {
	return Record{ID: r.id, Type: r.typ, Created: r.created, TypeStamp: r.typeStamp,
		Fields: append(make([]Field, 0, len(r.fields)), r.fields...), Notes: slices.Clone(r.notes)}
}

// Record returns a snapshot of the record with the given id.
func (v *View) Record(id string) (Record, bool) {
	r := v.records[id]
	if r == nil {
		return Record{}, false
	}
	return r.snapshot(), true
}

// Records returns snapshots of every record, sorted by id.
func (v *View) Records() []Record {
	ids := make([]string, 0, len(v.records))
	for id := range v.records {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Record, len(ids))
	for i, id := range ids {
		out[i] = v.records[id].snapshot()
	}
	return out
}

// Canonical returns the canonical encoding of the view (see the package
// doc). The result is a fresh copy.
func (v *View) Canonical() []byte {
	if v.canon == nil {
		recs := v.Records()
		b := msgp.AppendArrayHeader(make([]byte, 0, 64*len(recs)+1), uint32(len(recs)))
		for i := range recs {
			b, _ = recs[i].MarshalMsg(b) // cannot fail on byte slices
		}
		v.canon = b
	}
	return slices.Clone(v.canon)
}

// Digest returns SHA-256 of Canonical.
func (v *View) Digest() [32]byte {
	if v.canon == nil {
		v.Canonical()
	}
	return sha256.Sum256(v.canon)
}
