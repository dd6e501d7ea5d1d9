package sim

import (
	"container/heap"
	"time"
)

// action is one scheduled callback of the discrete-event loop.
type action struct {
	at  time.Duration
	seq uint64 // insertion order: breaks ties deterministically
	fn  func()
}

// queue is a min-heap of actions ordered by (at, seq). Virtual time only
// moves by popping it; nothing in the simulator reads the wall clock.
type queue struct {
	items []action
	seq   uint64
	now   time.Duration
}

func (q *queue) Len() int { return len(q.items) }
func (q *queue) Less(i, j int) bool {
	a, b := &q.items[i], &q.items[j]
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}
func (q *queue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *queue) Push(x any)    { q.items = append(q.items, x.(action)) }
func (q *queue) Pop() any {
	n := len(q.items) - 1
	it := q.items[n]
	q.items[n] = action{}
	q.items = q.items[:n]
	return it
}

// at schedules fn at virtual time t (never earlier than now).
func (q *queue) at(t time.Duration, fn func()) {
	if t < q.now {
		t = q.now
	}
	q.seq++
	heap.Push(q, action{at: t, seq: q.seq, fn: fn})
}

// after schedules fn d after now.
func (q *queue) after(d time.Duration, fn func()) { q.at(q.now+d, fn) }

// run pops and executes actions until the queue is empty or the next action
// is later than until; now ends at until.
func (q *queue) run(until time.Duration) {
	for len(q.items) > 0 && q.items[0].at <= until {
		a := heap.Pop(q).(action)
		q.now = a.at
		a.fn()
	}
	q.now = until
}
