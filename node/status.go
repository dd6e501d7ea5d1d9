package node

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	"github.com/meshlogd/meshlogd/node/control"
	"github.com/meshlogd/meshlogd/node/feed"
)

// Status is what `meshlogd status` shows.
type Status struct {
	Running    bool              `json:"running"`
	Identity   string            `json:"identity"`
	PublicKey  string            `json:"public_key"`
	Name       string            `json:"name,omitempty"`
	Dataset    DatasetStatus     `json:"dataset"`
	Member     bool              `json:"member"`
	Admin      bool              `json:"admin"`
	Members    []MemberStatus    `json:"members"`
	Frontier   map[string]uint64 `json:"frontier"`
	Events     int               `json:"events"`
	Records    int               `json:"records"`
	ViewDigest string            `json:"view_digest"`
	Pending    int               `json:"pending_events"`
	Forks      []ForkStatus      `json:"forks"`
	Peers      []PeerStatus      `json:"peers"`
	Interfaces []InterfaceStatus `json:"interfaces"`
	Storage    StorageStatus     `json:"storage"`
	Clock      ClockStatus       `json:"clock"`
	Reports    []string          `json:"reports,omitempty"`
}

// DatasetStatus identifies the dataset.
type DatasetStatus struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Founder string `json:"founder"`
}

// MemberStatus is one member.
type MemberStatus struct {
	ID      string `json:"id"`
	Admin   bool   `json:"admin"`
	Founder bool   `json:"founder"`
	Removed bool   `json:"removed"`
	Seq     uint64 `json:"seq"`
}

// ForkStatus is one proven fork.
type ForkStatus struct {
	Author string `json:"author"`
	Seq    uint64 `json:"seq"`
}

// PeerStatus is a node of this dataset heard in an announce, or linked to
// this node (then Hops and LastSeen are zero if no announce was heard).
type PeerStatus struct {
	Destination string    `json:"destination"`
	Identity    string    `json:"identity"`
	Name        string    `json:"name,omitempty"`
	Hops        int       `json:"hops"`
	Interface   string    `json:"interface"`
	LastSeen    time.Time `json:"last_seen"`
	RSSI        *float64  `json:"rssi,omitempty"`
	SNR         *float64  `json:"snr,omitempty"`
	// Link is the state of link sync with the peer: empty when the peer is
	// synced by GROUP broadcast only, else one of the LinkState… values.
	Link string `json:"link,omitempty"`
	// LinkID and LinkRTTMs describe the current link.
	LinkID    string  `json:"link_id,omitempty"`
	LinkRTTMs float64 `json:"link_rtt_ms,omitempty"`
	// LinkSent and LinkReceived count sync messages over links since start.
	LinkSent     uint64 `json:"link_sent,omitempty"`
	LinkReceived uint64 `json:"link_received,omitempty"`
	// LinkError says why the last link attempt failed or closed.
	LinkError string `json:"link_error,omitempty"`
}

// InterfaceStatus is one up interface.
type InterfaceStatus struct {
	Name           string     `json:"name"`
	Type           string     `json:"type"`
	Up             bool       `json:"up"`
	SentMessages   uint64     `json:"sent_messages"`
	SendErrors     uint64     `json:"send_errors"`
	DutyCycle      float64    `json:"duty_cycle,omitempty"`
	AirtimeUsedS   float64    `json:"airtime_used_s_last_hour"`
	AirtimeBudgetS float64    `json:"airtime_budget_s_per_hour,omitempty"`
	AirtimeTotalS  float64    `json:"airtime_total_s"`
	Queue          int        `json:"queue"`
	TxPackets      uint64     `json:"tx_packets"`
	RxPackets      uint64     `json:"rx_packets"`
	TxErrors       uint64     `json:"tx_errors"`
	Dropped        uint64     `json:"dropped"`
	LastRSSI       *float64   `json:"last_rssi,omitempty"`
	LastSNR        *float64   `json:"last_snr,omitempty"`
	LastHeard      *time.Time `json:"last_heard,omitempty"`
}

// StorageStatus describes the event log.
type StorageStatus struct {
	Dir       string `json:"dir"`
	Segments  int    `json:"segments"`
	Records   int64  `json:"records_appended_since_start"`
	FileBytes int64  `json:"bytes_written_since_start"`
}

// ClockStatus describes the node's clock.
type ClockStatus struct {
	Now           time.Time `json:"now"`
	Source        string    `json:"source"`
	OffsetSeconds float64   `json:"offset_s"`
	HLCMax        string    `json:"hlc_max"`
}

// Status returns the node's state.
func (n *Node) Status() Status {
	n.mu.Lock()
	l := n.eng.Log()
	s := Status{
		Identity:  n.id.Hash().String(),
		PublicKey: hex.EncodeToString(n.id.PublicKey()),
		Name:      n.cfg.Node.Name,
		Dataset: DatasetStatus{ID: l.DatasetID().String(), Name: l.Name(),
			Founder: l.Founder().String()},
		Member:     l.IsMember(n.id.Hash()),
		Admin:      l.IsAdmin(n.id.Hash()),
		Frontier:   map[string]uint64{},
		Events:     l.Len(),
		Records:    n.eng.View().Len(),
		Pending:    l.PendingLen(),
		Forks:      []ForkStatus{},
		Peers:      []PeerStatus{},
		Interfaces: []InterfaceStatus{},
		Reports:    append([]string(nil), n.reports...),
	}
	d := n.eng.View().Digest()
	s.ViewDigest = hex.EncodeToString(d[:])
	for a, seq := range l.Frontier() {
		s.Frontier[a.String()] = seq
	}
	for _, m := range l.Members() {
		s.Members = append(s.Members, MemberStatus{ID: m.Author.String(), Admin: m.Admin, Founder: m.Founder, Removed: m.Removed, Seq: l.Seq(m.Author)})
	}
	sort.Slice(s.Members, func(i, j int) bool { return s.Members[i].ID < s.Members[j].ID })
	for _, f := range l.Forks() {
		s.Forks = append(s.Forks, ForkStatus{Author: f.Author.String(), Seq: f.Seq})
	}
	s.Clock.HLCMax = formatHLC(l.MaxHLC())
	if n.store != nil {
		st := n.store.Stats()
		s.Storage = StorageStatus{Dir: n.store.Dir(), Segments: st.Segments, Records: st.Records, FileBytes: st.FileBytes}
	}
	rt := n.runtime
	n.mu.Unlock()
	now, off, src := n.clock.status()
	s.Clock.Now, s.Clock.OffsetSeconds, s.Clock.Source = now.UTC(), off.Seconds(), src
	if rt != nil {
		s.Running = true
		rt.mu.Lock()
		s.Peers = sortedPeers(rt.peers)
		for ifc, info := range rt.ifaces {
			is := InterfaceStatus{Name: ifc.Name(), Type: info.typ, Up: true, SentMessages: info.sent, SendErrors: info.sendErr}
			if info.radio != nil {
				info.radio.status(&is)
			}
			s.Interfaces = append(s.Interfaces, is)
		}
		rt.mu.Unlock()
		s.Peers = rt.links.annotate(s.Peers)
		sort.Slice(s.Peers, func(i, j int) bool { return s.Peers[i].Destination < s.Peers[j].Destination })
		sort.Slice(s.Interfaces, func(i, j int) bool { return s.Interfaces[i].Name < s.Interfaces[j].Name })
	}
	return s
}

// handleControl serves one control-socket request.
func (n *Node) handleControl(ctx context.Context, req control.Request) (any, error) {
	return n.Do(req)
}

// WriteResult is what a write operation returns.
type WriteResult struct {
	Author string `json:"author"`
	Seq    uint64 `json:"seq"`
	ID     string `json:"id"`
}

func writeResult(s feed.Signed, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return WriteResult{Author: s.Author.String(), Seq: s.Seq, ID: s.ID().String()}, nil
}

// Do executes a control request against the node; the daemon serves it on
// the control socket and the CLI calls it directly when no daemon runs.
func (n *Node) Do(req control.Request) (any, error) {
	switch req.Op {
	case "create":
		return writeResult(n.CreateRecord(req.Record, req.Type))
	case "set":
		v, err := ValueFromJSON(req.Value)
		if err != nil {
			return nil, err
		}
		return writeResult(n.SetField(req.Record, req.Field, v))
	case "note":
		return writeResult(n.AppendNote(req.Record, req.Text))
	case "view":
		recs, err := n.Records(req.Record)
		if err != nil {
			return nil, err
		}
		out := make([]RecordJSON, 0, len(recs))
		for _, r := range recs {
			out = append(out, ToJSON(r))
		}
		return out, nil
	case "log":
		return n.Events(req.Author)
	case "status":
		return n.Status(), nil
	case "member-add":
		return writeResult(n.AddMember(req.ID, false))
	case "admin-add":
		return writeResult(n.AddMember(req.ID, true))
	case "member-remove":
		return writeResult(n.RemoveMember(req.ID))
	case "invite", "invite-admin":
		inv, err := n.Invite(req.ID, req.Op == "invite-admin")
		if err != nil {
			return nil, err
		}
		return map[string]string{"invite": inv.String()}, nil
	}
	return nil, fmt.Errorf("unknown operation %q", req.Op)
}
