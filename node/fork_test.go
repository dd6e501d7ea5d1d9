package node

import (
	"path/filepath"
	"testing"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/gossip"
	"github.com/meshlogd/meshlogd/node/rns"
)

// A member that signs two different events at the same seq is caught: the
// fork is reported, its feed frozen, and the proof survives a restart (the
// conflicting branch is persisted, so replaying storage proves it again).
func TestForkProofSurvivesRestart(t *testing.T) {
	base := t.TempDir()
	a, b := filepath.Join(base, "a"), filepath.Join(base, "b")
	newDataset(t, a, b)
	forker, err := rns.LoadIdentityFile(filepath.Join(b, IdentityFile))
	if err != nil {
		t.Fatal(err)
	}
	n, err := Open(Options{DataDir: a})
	if err != nil {
		t.Fatal(err)
	}
	// Both branches start from what node a holds (genesis + b's admission).
	var held []feed.Signed
	l := n.eng.Log()
	for _, au := range l.Authors() {
		held = append(held, l.Range(au, 1, l.Seq(au))...)
	}
	branch := func(text string) []byte {
		bl, err := feed.NewLog(l.Genesis(), feed.Config{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range held {
			if _, err := bl.Restore(s); err != nil {
				t.Fatal(err)
			}
		}
		body, _ := feed.EncodeBody(feed.NoteAppend{Record: "R-1", Text: text})
		s, _, err := bl.Append(forker, feed.KindNoteAppend, body, hlc.New(l.MaxHLC().Physical()+1000, 0))
		if err != nil {
			t.Fatal(err)
		}
		run, err := feed.EncodeRun(nil, bl.Authenticated(s.Author, s.Seq, s.Seq), feed.RunOpts{AuthorBytes: 16})
		if err != nil {
			t.Fatal(err)
		}
		return (&gossip.Slice{Tag: n.eng.Tag(), Run: run}).AppendTo(nil)
	}
	n.step(branch("water level 1.2 m"))
	n.step(branch("water level 0.3 m"))
	st := n.Status()
	if len(st.Forks) != 1 || st.Forks[0].Author != forker.Hash().String() {
		t.Fatalf("forks before restart: %+v", st.Forks)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n, err = Open(Options{DataDir: a})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	st = n.Status()
	if len(st.Forks) != 1 || st.Forks[0].Author != forker.Hash().String() {
		t.Fatalf("forks after restart: %+v (the proof was lost)", st.Forks)
	}
	if _, frozen := n.eng.Log().Frozen(forker.Hash()); !frozen {
		t.Fatal("forked feed not frozen after restart")
	}
}
