package node

import (
	"errors"
	"os"
	"path/filepath"
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

// writeFileDurable replaces path with data atomically and durably: write a
// temporary file, fsync it, rename it over path and fsync the directory.
func writeFileDurable(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
