package node

import (
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/meshlogd/meshlogd/storage/crashfs"
)

// A full disk: the write that does not fit is refused with a clear error
// and not acknowledged; the node refuses further writes; after a restart
// with space freed, every acknowledged event is there and the refused one
// is not.
func TestDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "n")
	newDataset(t, dir)
	fsys := crashfs.New(1)
	n, err := Open(Options{DataDir: dir, StorageFS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.CreateRecord("R-1", "well"); err != nil {
		t.Fatal(err)
	}
	fsys.SetCapacity(1) // less than is already used: no byte more fits
	_, err = n.CreateRecord("R-2", "well")
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v, want ENOSPC", err)
	}
	if _, err := n.CreateRecord("R-3", "well"); err == nil {
		t.Fatal("node accepted a write after storage failed")
	}
	n.Close()

	fsys.SetCapacity(1 << 30)
	n, err = Open(Options{DataDir: dir, StorageFS: fsys.Reboot(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	recs, _ := n.Records("")
	if len(recs) != 1 || recs[0].ID != "R-1" {
		t.Fatalf("after restart: %v, want only the acknowledged R-1", recs)
	}
	if _, err := n.CreateRecord("R-2", "well"); err != nil {
		t.Fatalf("write after space was freed: %v", err)
	}
}
