package view_test

import (
	"fmt"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/view"
)

func event(author byte, seq uint64, ms int64, body feed.Body) feed.Event {
	b, _ := feed.EncodeBody(body)
	return feed.Event{Author: feed.AuthorID{author}, Seq: seq, Prev: feed.ID{1}, HLC: hlc.New(ms, 0), Kind: body.Kind(), Body: b}
}

// Two teams edit the same field concurrently; every node folds to the
// same winner whatever the order in which it received the edits.
func Example() {
	create := event(1, 1, 1000, feed.RecordCreate{Record: "well-3", Type: "well"})
	teamA := event(1, 2, 2000, feed.FieldSet{Record: "well-3", Field: "status", Value: feed.String("dry")})
	teamB := event(2, 1, 2500, feed.FieldSet{Record: "well-3", Field: "status", Value: feed.String("repaired")})
	note := event(2, 2, 2600, feed.NoteAppend{Record: "well-3", Text: "pump replaced"})

	x, y := view.New(), view.New()
	x.Apply(create, teamA, teamB, note)
	y.Apply(note, teamB, teamA, create, teamA)

	r, _ := x.Record("well-3")
	status, _ := r.Field("status")
	fmt.Println(r.Type, status.Value, r.Notes[0].Text)
	fmt.Println("same view:", x.Digest() == y.Digest())
	// Output:
	// well "repaired" pump replaced
	// same view: true
}
