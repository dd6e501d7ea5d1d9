// Package view is meshlogd's materialized view: a pure, deterministic fold
// of accepted feed events into records.
//
// A record is identified by its id (a string chosen by its creator) and has
// a type, fields and notes:
//
//   - record-create (id, type) sets the record's type; concurrent creates
//     with different types resolve like a field, by last writer wins.
//   - field-set (record, field, value) sets one field; the winner is the
//     event with the greatest Stamp (HLC, then author id, then seq).
//   - note-append (record, text) adds a note; notes are ordered by Stamp.
//
// Field sets and notes for a record whose create has not (yet) been seen
// still show up; such a record has Created false and an empty Type.
// Membership and genesis events do not change the view.
//
// Apply is idempotent and commutative: folding the same set of events in
// any order, with any duplicates, gives a byte-identical Canonical encoding
// and Digest. The view trusts its caller (feed.Log) to pass only accepted
// events; when the log revokes events (a fork freeze or a member removal),
// rebuild the view from the log with FromLog.
//
// Canonical encoding (msgp, generated, tuples): an array of records sorted
// by id; each record is [id str, type str, created bool, type stamp, fields,
// notes]; a stamp is [hlc uint, author bin16, seq uint]; fields are
// [name str, value, stamp] sorted by name; notes are [stamp, text str]
// sorted by stamp. Values use feed.Value's native msgpack encoding.
//
// A View is not safe for concurrent use.
package view
