// Package feed holds meshlogd's data model below the view: signed,
// hash-chained, per-author feeds of immutable events, the membership they
// imply, and the compact wire form of a run of events.
//
// The full description (encodings, verification rules, membership, forks,
// the gap buffer and the run wire format) is in the package documentation
// below and in the README section "Data model and sync".
package feed
