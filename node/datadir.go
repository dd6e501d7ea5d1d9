package node

import (
	"errors"
	"os"
	"path/filepath"

	"github.com/meshlogd/meshlogd/node/internal/fsutil"
)

// EnvData names the environment variable that sets the default data directory.
const EnvData = "MESHLOGD_DATA"

// Files inside a data directory.
const (
	// ConfigFile is the node's configuration.
	ConfigFile = "meshlogd.conf"
	// IdentityFile is the node's Reticulum identity (64-byte private key).
	IdentityFile = "identity"
	// ClockFile holds the persisted clock floor (see ClockState).
	ClockFile = "clock"
	// LogDir holds the event log segments.
	LogDir = "log"
	// DatasetFile describes the dataset this node belongs to.
	DatasetFile = "dataset"
)

// DefaultDataDir returns the data directory used when --data is not given:
// $MESHLOGD_DATA, else /var/lib/meshlogd when running as root, else
// ~/.local/share/meshlogd (honouring $XDG_DATA_HOME).
func DefaultDataDir() (string, error) {
	if d := os.Getenv(EnvData); d != "" {
		return d, nil
	}
	if os.Geteuid() == 0 {
		return "/var/lib/meshlogd", nil
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "meshlogd"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", errors.New("node: no data directory: set --data or " + EnvData)
	}
	return filepath.Join(home, ".local", "share", "meshlogd"), nil
}

// writeFileDurable replaces path with data atomically and durably.
func writeFileDurable(path string, data []byte, perm os.FileMode) error {
	return fsutil.WriteFileDurable(path, data, perm)
}
