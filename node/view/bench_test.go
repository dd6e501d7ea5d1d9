package view

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
)

// BenchmarkViewMemory measures what a view holds per field: 5,000 records
// of 10 typical fields (each written 3 times, as a survey revisits them)
// plus a record create and a note each. It reports the live Go heap
// after a GC per field, against the mean body size of the winning writes
// (the in-run baseline: the bytes the folded state is derived from). The
// timed loop folds all events into a fresh view.
func BenchmarkViewMemory(b *testing.B) {
	const records, fields, rounds = 5000, 10, 3
	var evs []feed.Event
	ts := hlc.New(1_700_000_000_000, 0)
	add := func(body feed.Body) int {
		ts++
		e := ev(1, uint64(len(evs)+1), ts, body)
		evs = append(evs, e)
		return len(e.Body)
	}
	for r := range records {
		add(feed.RecordCreate{Record: fmt.Sprintf("hh-%05d", r), Type: "household"})
		add(feed.NoteAppend{Record: fmt.Sprintf("hh-%05d", r), Text: "visited, family of five"})
	}
	winning := 0
	for w := range rounds {
		for r := range records {
			for f := range fields {
				n := add(feed.FieldSet{Record: fmt.Sprintf("hh-%05d", r), Field: fmt.Sprintf("field_%d", f), Value: feed.String(fmt.Sprintf("answer %d-%d", w, f))})
				if w == rounds-1 {
					winning += n
				}
			}
		}
	}
	var ms runtime.MemStats
	var heap uint64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap0 := ms.HeapAlloc
		b.StartTimer()
		v := New()
		v.Apply(evs...)
		b.StopTimer()
		if v.Len() != records {
			b.Fatalf("%d records", v.Len())
		}
		runtime.GC()
		runtime.ReadMemStats(&ms)
		heap = ms.HeapAlloc - heap0
		runtime.KeepAlive(v)
		b.StartTimer()
	}
	b.StopTimer()
	perField := float64(heap) / (records * fields)
	b.ReportMetric(perField, "heap-B/field")
	b.ReportMetric(perField/(float64(winning)/(records*fields)), "x-body")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
}
