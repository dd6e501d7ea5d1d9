package node

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/feed/hlc"
	"github.com/meshlogd/meshlogd/node/rns"
	"github.com/meshlogd/meshlogd/node/view"
)

// CreateDataset founds a new dataset named name in an initialised data
// directory: the identity becomes its founder and first admin, and a fresh
// GROUP key is drawn. It fails if the directory already has a dataset.
func CreateDataset(dir, name string, now time.Time, rnd io.Reader) (feed.Signed, error) {
	id, err := rns.LoadIdentityFile(filepath.Join(dir, IdentityFile))
	if errors.Is(err, os.ErrNotExist) {
		return feed.Signed{}, ErrNotInitialised
	}
	if err != nil {
		return feed.Signed{}, err
	}
	path := filepath.Join(dir, DatasetFile)
	if _, err := os.Stat(path); err == nil {
		return feed.Signed{}, fmt.Errorf("node: %s already holds a dataset", dir)
	}
	var ck clockKeeper
	if err := ck.load(filepath.Join(dir, ClockFile), func() time.Time { return now }); err != nil {
		return feed.Signed{}, err
	}
	g, err := feed.NewGenesis(id, name, hlc.New(ck.now().UnixMilli(), 0))
	if err != nil {
		return feed.Signed{}, err
	}
	key := make([]byte, GroupKeySize)
	if _, err := io.ReadFull(rnd, key); err != nil {
		return feed.Signed{}, err
	}
	if err := saveDataset(path, &datasetFile{Genesis: g, GroupKey: key}); err != nil {
		return feed.Signed{}, err
	}
	return g, nil
}

// JoinDataset stores an invite's dataset in an initialised data directory.
// The invite must admit this directory's identity.
func JoinDataset(dir string, inv Invite) error {
	id, err := rns.LoadIdentityFile(filepath.Join(dir, IdentityFile))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotInitialised
	}
	if err != nil {
		return err
	}
	who, err := inv.Admits()
	if err != nil {
		return err
	}
	if who != id.Hash() {
		return fmt.Errorf("node: this invite admits identity %s, but this node is %s (create the invite with this node's public key: 'meshlogd id show')", who, id.Hash())
	}
	path := filepath.Join(dir, DatasetFile)
	if old, err := loadDataset(path); err == nil {
		if old.Genesis.ID() == inv.Genesis.ID() {
			return nil // joining twice is harmless
		}
		return fmt.Errorf("node: %s already holds another dataset", dir)
	}
	a := inv.Authorisation
	return saveDataset(path, &datasetFile{Genesis: inv.Genesis, GroupKey: inv.GroupKey, Authorisation: &a})
}

// parseMemberKey accepts a 64-byte public key in hex (as 'meshlogd id show'
// prints it).
func parseMemberKey(s string) ([64]byte, error) {
	var k [64]byte
	b, err := hex.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != 64 {
		return k, fmt.Errorf("node: %q is not a 128-hex-digit Reticulum public key (see 'meshlogd id show' on the new member's node)", s)
	}
	copy(k[:], b)
	return k, nil
}

// AddMember admits the identity with the given public key (hex); only an
// admin may. It returns the durable member-add event.
func (n *Node) AddMember(pubHex string, admin bool) (feed.Signed, error) {
	key, err := parseMemberKey(pubHex)
	if err != nil {
		return feed.Signed{}, err
	}
	if !n.isAdmin() {
		return feed.Signed{}, ErrNotAdmin
	}
	return n.appendLocal(feed.MemberAdd{Key: key, Admin: admin})
}

// Invite admits the identity with the given public key and returns an
// invite for it.
func (n *Node) Invite(pubHex string, admin bool) (Invite, error) {
	s, err := n.AddMember(pubHex, admin)
	if err != nil {
		return Invite{}, err
	}
	return Invite{Genesis: n.ds.Genesis, GroupKey: n.ds.GroupKey, Authorisation: s}, nil
}

// RemoveMember removes a member (identity hash or public key in hex);
// events it wrote up to now stay valid.
func (n *Node) RemoveMember(idHex string) (feed.Signed, error) {
	b, err := hex.DecodeString(strings.TrimSpace(idHex))
	if err != nil || (len(b) != 16 && len(b) != 64) {
		return feed.Signed{}, fmt.Errorf("node: %q is not an identity hash (32 hex digits) or public key (128)", idHex)
	}
	var who rns.Hash
	if len(b) == 64 {
		who = rns.TruncatedHash(b)
	} else {
		copy(who[:], b)
	}
	if !n.isAdmin() {
		return feed.Signed{}, ErrNotAdmin
	}
	n.mu.Lock()
	l := n.eng.Log()
	known := l.IsMember(who)
	after := l.Seq(who)
	n.mu.Unlock()
	if !known {
		return feed.Signed{}, fmt.Errorf("node: %s is not a member", who)
	}
	return n.appendLocal(feed.MemberRemove{Member: who, After: after})
}

func (n *Node) isAdmin() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng.Log().IsAdmin(n.id.Hash())
}

// CreateRecord creates a record; it returns once the event is durable.
func (n *Node) CreateRecord(id, typ string) (feed.Signed, error) {
	return n.appendLocal(feed.RecordCreate{Record: id, Type: typ})
}

// SetField sets a field of a record the local view holds.
func (n *Node) SetField(record, field string, v feed.Value) (feed.Signed, error) {
	if err := n.requireRecord(record); err != nil {
		return feed.Signed{}, err
	}
	return n.appendLocal(feed.FieldSet{Record: record, Field: field, Value: v})
}

// AppendNote appends a note to a record the local view holds.
func (n *Node) AppendNote(record, text string) (feed.Signed, error) {
	if err := n.requireRecord(record); err != nil {
		return feed.Signed{}, err
	}
	return n.appendLocal(feed.NoteAppend{Record: record, Text: text})
}

func (n *Node) requireRecord(id string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.eng.View().Record(id); !ok {
		return fmt.Errorf("%w: %q (create it first, or wait until it arrives from a peer)", ErrNoRecord, id)
	}
	return nil
}

// Records returns a snapshot of the view: one record, or all (id == "").
func (n *Node) Records(id string) ([]view.Record, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if id == "" {
		return n.eng.View().Records(), nil
	}
	r, ok := n.eng.View().Record(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNoRecord, id)
	}
	return []view.Record{r}, nil
}

// ViewDigest returns the digest of the canonical view bytes: equal on two
// nodes exactly when their views are byte-identical.
func (n *Node) ViewDigest() [32]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.eng.View().Digest()
}

// LogEntry is one accepted event, for `meshlogd log`.
type LogEntry struct {
	Author  string `json:"author"`
	Seq     uint64 `json:"seq"`
	ID      string `json:"id"`
	HLC     string `json:"hlc"`
	Kind    string `json:"kind"`
	Summary string `json:"summary"`
	Signed  bool   `json:"signed"`
}

// Events lists accepted events, optionally of one author (hex prefix of the
// identity hash), ordered by author then seq.
func (n *Node) Events(authorPrefix string) ([]LogEntry, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	l := n.eng.Log()
	authors := l.Authors()
	if authorPrefix != "" {
		authors = authors[:0:0]
		for _, a := range l.Authors() {
			if strings.HasPrefix(a.String(), strings.ToLower(authorPrefix)) {
				authors = append(authors, a)
			}
		}
		if len(authors) == 0 {
			return nil, fmt.Errorf("node: no author matches %q", authorPrefix)
		}
	}
	sort.Slice(authors, func(i, j int) bool { return authors[i].String() < authors[j].String() })
	var out []LogEntry
	for _, a := range authors {
		for _, s := range l.Range(a, 1, l.Seq(a)) {
			out = append(out, LogEntry{
				Author: a.String(), Seq: s.Seq, ID: s.ID().String(), HLC: formatHLC(s.HLC),
				Kind: s.Kind.String(), Summary: summarise(s.Event), Signed: len(s.Sig) > 0,
			})
		}
	}
	return out, nil
}

func formatHLC(t hlc.Timestamp) string {
	return fmt.Sprintf("%s+%d", time.UnixMilli(t.Physical()).UTC().Format("2006-01-02T15:04:05.000Z"), t.Logical())
}

func summarise(e feed.Event) string {
	b, err := feed.DecodeBody(e.Kind, e.Body)
	if err != nil {
		return "undecodable body: " + err.Error()
	}
	switch b := b.(type) {
	case feed.Genesis:
		return fmt.Sprintf("dataset %q founded", b.Name)
	case feed.MemberAdd:
		role := "member"
		if b.Admin {
			role = "admin"
		}
		return fmt.Sprintf("%s %s added", role, rns.TruncatedHash(b.Key[:]))
	case feed.MemberRemove:
		return fmt.Sprintf("member %s removed after seq %d", b.Member, b.After)
	case feed.RecordCreate:
		return fmt.Sprintf("record %s created (%s)", b.Record, b.Type)
	case feed.FieldSet:
		return fmt.Sprintf("%s.%s = %s", b.Record, b.Field, b.Value)
	case feed.NoteAppend:
		return fmt.Sprintf("note on %s: %s", b.Record, b.Text)
	}
	return ""
}
