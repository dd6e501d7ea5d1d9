package storage

import "unsafe"

// Key names one sequence of records in an Index, e.g. a feed author's
// 16-byte identity hash.
type Key [16]byte

// maxIndexGap is the largest jump in seq that still extends a dense run;
// farther entries go to the run's sparse map.
const maxIndexGap = 1024

// Index is an in-memory map (Key, seq) → Location, built by the caller
// while it iterates the log at start-up and kept up to date as it appends.
// It is a cache of what the segments hold: it has no file, so there is
// nothing to delete or to go stale. Records of one key with consecutive
// seqs (a feed) cost one Location (8 bytes) each plus slice growth slack;
// MemoryBytes reports the exact footprint of the backing arrays.
//
// An Index is not safe for concurrent use.
type Index struct {
	runs map[Key]*indexRun
	n    int
}

// indexRun holds the locations of one key: a dense slice from base, and a
// sparse map for seqs below base or far beyond the end.
type indexRun struct {
	base   uint64
	locs   []Location // zero Location = absent
	sparse map[uint64]Location
}

// NewIndex returns an empty Index.
func NewIndex() *Index { return &Index{runs: make(map[Key]*indexRun)} }

// Put records that (k, seq) is at loc, replacing any earlier location. A
// zero loc is ignored.
func (x *Index) Put(k Key, seq uint64, loc Location) {
	if loc.IsZero() {
		return
	}
	r := x.runs[k]
	if r == nil {
		r = &indexRun{base: seq}
		x.runs[k] = r
	}
	if end := r.base + uint64(len(r.locs)); seq >= end && seq-end <= maxIndexGap && end-r.base+(seq-end) < 1<<31 {
		for range seq - end + 1 {
			r.locs = append(r.locs, Location{})
		}
	}
	if seq >= r.base && seq-r.base < uint64(len(r.locs)) {
		slot := &r.locs[seq-r.base]
		if slot.IsZero() {
			if _, ok := r.sparse[seq]; ok {
				delete(r.sparse, seq) // promoted from the sparse map
			} else {
				x.n++
			}
		}
		*slot = loc
		return
	}
	if r.sparse == nil {
		r.sparse = make(map[uint64]Location)
	}
	if _, ok := r.sparse[seq]; !ok {
		x.n++
	}
	r.sparse[seq] = loc
}

// Get returns the location of (k, seq).
func (x *Index) Get(k Key, seq uint64) (Location, bool) {
	r := x.runs[k]
	if r == nil {
		return Location{}, false
	}
	if seq >= r.base && seq-r.base < uint64(len(r.locs)) {
		if loc := r.locs[seq-r.base]; !loc.IsZero() {
			return loc, true
		}
	}
	loc, ok := r.sparse[seq]
	return loc, ok
}

// Len returns the number of entries.
func (x *Index) Len() int { return x.n }

// Keys returns the number of distinct keys.
func (x *Index) Keys() int { return len(x.runs) }

// MemoryBytes estimates the heap bytes the Index holds: slice capacities,
// run structs and map entries (Go map buckets are approximated as 1.5× the
// entry size, their usual load).
func (x *Index) MemoryBytes() int64 {
	const locSize = int64(unsafe.Sizeof(Location{}))
	runEntry := int64(unsafe.Sizeof(Key{})+unsafe.Sizeof((*indexRun)(nil))) * 3 / 2
	sparseEntry := int64(unsafe.Sizeof(uint64(0))+unsafe.Sizeof(Location{})) * 3 / 2
	total := int64(unsafe.Sizeof(*x))
	for _, r := range x.runs {
		total += runEntry + int64(unsafe.Sizeof(*r)) + int64(cap(r.locs))*locSize + int64(len(r.sparse))*sparseEntry
	}
	return total
}
