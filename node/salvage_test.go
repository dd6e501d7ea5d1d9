package node

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/storage"
)

// A byte flipped in the middle of the log destroys one record. Recovery
// keeps everything before it and moves the rest aside; the node salvages
// from there every event that still verifies — here another member's whole
// feed — so only the destroyed event and the local events chained after it
// are missing until a peer sends them again.
func TestSalvageAfterCorruption(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	newDataset(t, a, b)
	other, err := rns.LoadIdentityFile(filepath.Join(b, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Open(Options{DataDir: a})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateRecord("R-1", "well"); err != nil {
		t.Fatal(err)
	}
	set := func(i int) {
		t.Helper()
		if _, err := n.SetField("R-1", fmt.Sprintf("f%02d", i), feed.Int(int64(i))); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 5; i++ {
		set(i)
	}
	// Ten events of the other member arrive as one signed run.
	l := n.eng.Log()
	bl, _ := feed.NewLog(l.Genesis(), feed.Config{})
	for _, au := range l.Authors() {
		for _, s := range l.Range(au, 1, l.Seq(au)) {
			if _, err := bl.Restore(s); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < 10; i++ {
		body, _ := feed.EncodeBody(feed.NoteAppend{Record: "R-1", Text: fmt.Sprintf("note %d", i)})
		if _, _, err := bl.Append(other, feed.KindNoteAppend, body, hlc.New(l.MaxHLC().Physical()+int64(i+1), 0)); err != nil {
			t.Fatal(err)
		}
	}
	run, err := feed.EncodeRun(nil, bl.Authenticated(other.Hash(), 1, 10), feed.RunOpts{AuthorBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	n.step((&gossip.Slice{Tag: n.eng.Tag(), Run: run}).AppendTo(nil))
	if got := n.Status().Frontier[other.Hash().String()]; got != 10 {
		t.Fatalf("other member's frontier %d, want 10", got)
	}
	for i := 5; i < 10; i++ {
		set(i)
	}
	before := n.Status().Events
	n.Close()

	// Find the last local record written before the other member's run.
	st, _, err := storage.Open(filepath.Join(a, LogDir), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var victim storage.Location
	var seg string
	_ = st.Iterate(func(loc storage.Location, rec []byte) error {
		if s, err := feed.DecodeSigned(rec); err == nil && s.Author == other.Hash() {
			return errStop
		}
		victim = loc
		return nil
	})
	seg = filepath.Join(a, LogDir, storage.SegmentName(uint64(victim.Segment)))
	st.Close()
	raw, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	raw[int(victim.Offset)+12] ^= 0x55 // inside the victim's payload
	os.WriteFile(seg, raw, 0o644)

	n, err = Open(Options{DataDir: a})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	after := n.Status()
	if got := after.Frontier[other.Hash().String()]; got != 10 {
		t.Fatalf("the other member's feed after recovery: frontier %d, want 10 (salvaged)", got)
	}
	// Lost: the victim and the five local events chained after it.
	if lost := before - after.Events; lost != 6 {
		t.Fatalf("lost %d events, want 6", lost)
	}
	// The salvaged events were stored again: a second restart keeps them.
	n.Close()
	n, err = Open(Options{DataDir: a})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Status().Frontier[other.Hash().String()]; got != 10 {
		t.Fatalf("after a second restart: frontier %d", got)
	}
}

var errStop = fmt.Errorf("stop")
