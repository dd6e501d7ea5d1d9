package sim

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/meshlogd/meshlogd/sim/scenario"
)

// workItem is one generated write.
type workItem struct {
	at   time.Duration
	node string
	op   scenario.Op
}

var (
	workTypes  = []string{"water_point", "shelter", "clinic", "school", "market", "bridge"}
	workFields = []string{"status", "people", "access", "water", "notes_ok", "damage", "priority", "contact"}
	workWords  = []string{"road", "flooded", "north", "clinic", "needs", "fuel", "checked", "access", "by", "foot", "only", "team", "returns", "tomorrow", "pump", "broken"}
)

// newWorkload generates the random writes of a workload: times uniform in
// [From, To]; each node's first write creates a record, later ones create
// (15 %), set a field of a record created earlier by anyone (65 %) or add a
// note (20 %). Everything comes from r, so it is reproducible.
func newWorkload(r *rand.Rand, names []string, wl *scenario.Workload) []workItem {
	var items []workItem
	span := int64(wl.To - wl.From)
	for _, name := range names {
		for range wl.EventsPerNode {
			at := wl.From
			if span > 0 {
				at += time.Duration(r.Int64N(span + 1))
			}
			items = append(items, workItem{at: at, node: name})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at < items[j].at })
	var records []string
	started := map[string]int{}
	for i := range items {
		it := &items[i]
		k := started[it.node]
		started[it.node]++
		p := r.IntN(100)
		switch {
		case k == 0 || len(records) == 0 || p < 15:
			rec := fmt.Sprintf("W-%s-%d", it.node, k+1)
			records = append(records, rec)
			it.op.Create = &scenario.Create{Record: rec, Type: workTypes[r.IntN(len(workTypes))]}
		case p < 80:
			rec := records[r.IntN(len(records))]
			var v any
			switch r.IntN(3) {
			case 0:
				v = float64(r.IntN(500))
			case 1:
				v = r.IntN(2) == 0
			default:
				v = workWords[r.IntN(len(workWords))]
			}
			it.op.Set = &scenario.Set{Record: rec, Field: workFields[r.IntN(len(workFields))], Value: v}
		default:
			rec := records[r.IntN(len(records))]
			n := 3 + r.IntN(6)
			text := ""
			for w := range n {
				if w > 0 {
					text += " "
				}
				text += workWords[r.IntN(len(workWords))]
			}
			it.op.Note = &scenario.Note{Record: rec, Text: text}
		}
	}
	return items
}
