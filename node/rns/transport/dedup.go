package transport

// HashFilter is the duplicate-packet filter: a bounded set of full packet
// hashes. Like the reference (RNS/Transport.py packet_hashlist and
// packet_hashlist_prev) it keeps two generations: when the current one
// reaches half the capacity it becomes the previous one and the oldest
// generation is forgotten, so memory stays bounded and the most recent
// hashes are always remembered.
//
// A HashFilter is not safe for concurrent use.
type HashFilter struct {
	half int
	cur  map[[32]byte]struct{}
	prev map[[32]byte]struct{}
}

// DefaultHashFilterSize is the default capacity of the duplicate filter.
const DefaultHashFilterSize = 16384

// NewHashFilter returns a filter remembering between capacity/2 and
// capacity recent hashes (capacity < 2 means DefaultHashFilterSize).
func NewHashFilter(capacity int) *HashFilter {
	if capacity < 2 {
		capacity = DefaultHashFilterSize
	}
	return &HashFilter{
		half: capacity / 2,
		cur:  make(map[[32]byte]struct{}),
		prev: make(map[[32]byte]struct{}),
	}
}

// Seen reports whether h was added recently.
func (f *HashFilter) Seen(h [32]byte) bool {
	if _, ok := f.cur[h]; ok {
		return true
	}
	_, ok := f.prev[h]
	return ok
}

// Add remembers h.
func (f *HashFilter) Add(h [32]byte) {
	if _, ok := f.cur[h]; ok {
		return
	}
	if len(f.cur) >= f.half {
		f.prev = f.cur
		f.cur = make(map[[32]byte]struct{}, f.half)
	}
	f.cur[h] = struct{}{}
}

// Len returns the number of hashes remembered.
func (f *HashFilter) Len() int { return len(f.cur) + len(f.prev) }
