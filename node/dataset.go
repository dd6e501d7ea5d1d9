package node

import (
	"bytes"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"strings"

	"github.com/meshlogd/meshlogd/node/feed"
	"github.com/meshlogd/meshlogd/node/rns"
)

// GroupKeySize is the size of a dataset's Reticulum GROUP key (AES-256
// Token: 32-byte signing key ‖ 32-byte encryption key).
const GroupKeySize = 64

// datasetFile is the content of DatasetFile: what a node needs besides its
// event log to take part in a dataset. It is written once by
// `dataset create` or `dataset join`.
type datasetFile struct {
	// Genesis is the dataset's signed genesis event.
	Genesis feed.Signed
	// GroupKey encrypts sync traffic to the dataset's GROUP destination.
	GroupKey []byte
	// Authorisation is the admin-signed member-add that admitted this
	// node (from its invite); it is re-offered to the log at every start
	// until the admin's feed up to it has arrived.
	Authorisation *feed.Signed
}

type datasetJSON struct {
	Version       int    `json:"version"`
	Genesis       []byte `json:"genesis"`
	GroupKey      []byte `json:"group_key"`
	Authorisation []byte `json:"authorisation,omitempty"`
}

// ErrNoDataset is returned when the data directory has no dataset yet.
var ErrNoDataset = errors.New("node: no dataset in this data directory (run 'meshlogd dataset create NAME' or 'meshlogd dataset join INVITE')")

func loadDataset(path string) (*datasetFile, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoDataset
	}
	if err != nil {
		return nil, err
	}
	d, err := decodeDataset(b)
	if err != nil {
		return nil, fmt.Errorf("node: %s: %w", path, err)
	}
	return d, nil
}

// ErrDatasetFile marks a dataset file that cannot be used.
var ErrDatasetFile = errors.New("damaged dataset file")

func decodeDataset(b []byte) (*datasetFile, error) {
	var j datasetJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDatasetFile, err)
	}
	if j.Version != 1 {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrDatasetFile, j.Version)
	}
	g, err := feed.DecodeSigned(j.Genesis)
	if err != nil {
		return nil, fmt.Errorf("%w: genesis: %v", ErrDatasetFile, err)
	}
	if _, err := feed.NewLog(g, feed.Config{}); err != nil {
		return nil, fmt.Errorf("%w: genesis: %v", ErrDatasetFile, err)
	}
	if len(j.GroupKey) != GroupKeySize {
		return nil, fmt.Errorf("%w: group key has %d bytes, want %d", ErrDatasetFile, len(j.GroupKey), GroupKeySize)
	}
	d := &datasetFile{Genesis: g, GroupKey: j.GroupKey}
	if len(j.Authorisation) > 0 {
		a, err := feed.DecodeSigned(j.Authorisation)
		if err != nil {
			return nil, fmt.Errorf("%w: authorisation: %v", ErrDatasetFile, err)
		}
		d.Authorisation = &a
	}
	return d, nil
}

func saveDataset(path string, d *datasetFile) error {
	g, err := d.Genesis.MarshalBinary()
	if err != nil {
		return err
	}
	j := datasetJSON{Version: 1, Genesis: g, GroupKey: d.GroupKey}
	if d.Authorisation != nil {
		if j.Authorisation, err = d.Authorisation.MarshalBinary(); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	return writeFileDurable(path, append(b, '\n'), 0o600)
}

// Invite is what a new member needs to join a dataset: the genesis event
// (dataset id, name, founder), the GROUP key, and the admin-signed
// member-add event that admits the new member's identity.
type Invite struct {
	Genesis       feed.Signed
	GroupKey      []byte
	Authorisation feed.Signed
}

// InvitePrefix starts every invite string.
const InvitePrefix = "MESHLOGD1-"

var inviteEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// ErrBadInvite is returned for an invite string that cannot be decoded.
var ErrBadInvite = errors.New("node: bad invite")

// maxInviteLen bounds a decoded invite.
const maxInviteLen = 16 << 10

// String encodes the invite compactly: the prefix, then base32 (upper-case
// letters and digits, so it also fits a QR code's alphanumeric mode) of
// length-prefixed genesis, key and authorisation, and a CRC-32C that
// catches typing errors.
func (inv Invite) String() string {
	var b []byte
	for _, part := range [][]byte{mustBinary(inv.Genesis), inv.GroupKey, mustBinary(inv.Authorisation)} {
		b = binary.AppendUvarint(b, uint64(len(part)))
		b = append(b, part...)
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
	return InvitePrefix + inviteEncoding.EncodeToString(b)
}

func mustBinary(s feed.Signed) []byte {
	b, err := s.MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("node: encoding a validated event: %v", err))
	}
	return b
}

// ParseInvite decodes and checks an invite string: framing and checksum,
// a valid genesis, a key of the right size, and an authorisation that is a
// member-add in this dataset.
func ParseInvite(s string) (Invite, error) {
	s = strings.Join(strings.Fields(s), "") // tolerate line breaks from copy and paste
	if !strings.HasPrefix(strings.ToUpper(s), InvitePrefix) {
		return Invite{}, fmt.Errorf("%w: does not start with %s", ErrBadInvite, InvitePrefix)
	}
	raw, err := inviteEncoding.DecodeString(strings.ToUpper(s[len(InvitePrefix):]))
	if err != nil {
		return Invite{}, fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	if len(raw) < 4 || len(raw) > maxInviteLen {
		return Invite{}, fmt.Errorf("%w: wrong length", ErrBadInvite)
	}
	body, sum := raw[:len(raw)-4], binary.BigEndian.Uint32(raw[len(raw)-4:])
	if crc32.Checksum(body, crcTable) != sum {
		return Invite{}, fmt.Errorf("%w: checksum mismatch (a character was mistyped?)", ErrBadInvite)
	}
	var parts [3][]byte
	r := bytes.NewReader(body)
	for i := range parts {
		n, err := binary.ReadUvarint(r)
		if err != nil || n > uint64(r.Len()) {
			return Invite{}, fmt.Errorf("%w: truncated", ErrBadInvite)
		}
		parts[i] = make([]byte, n)
		_, _ = r.Read(parts[i])
	}
	if r.Len() != 0 {
		return Invite{}, fmt.Errorf("%w: trailing bytes", ErrBadInvite)
	}
	var inv Invite
	if inv.Genesis, err = feed.DecodeSigned(parts[0]); err != nil {
		return Invite{}, fmt.Errorf("%w: genesis: %v", ErrBadInvite, err)
	}
	if _, err := feed.NewLog(inv.Genesis, feed.Config{}); err != nil {
		return Invite{}, fmt.Errorf("%w: %v", ErrBadInvite, err)
	}
	if len(parts[1]) != GroupKeySize {
		return Invite{}, fmt.Errorf("%w: group key has %d bytes", ErrBadInvite, len(parts[1]))
	}
	inv.GroupKey = parts[1]
	if inv.Authorisation, err = feed.DecodeSigned(parts[2]); err != nil {
		return Invite{}, fmt.Errorf("%w: authorisation: %v", ErrBadInvite, err)
	}
	if inv.Authorisation.Kind != feed.KindMemberAdd {
		return Invite{}, fmt.Errorf("%w: authorisation is a %s event", ErrBadInvite, inv.Authorisation.Kind)
	}
	return inv, nil
}

// Admits returns the identity hash the invite's authorisation admits.
func (inv Invite) Admits() (rns.Hash, error) {
	b, err := feed.DecodeBody(feed.KindMemberAdd, inv.Authorisation.Body)
	if err != nil {
		return rns.Hash{}, err
	}
	add := b.(feed.MemberAdd)
	return rns.TruncatedHash(add.Key[:]), nil
}
