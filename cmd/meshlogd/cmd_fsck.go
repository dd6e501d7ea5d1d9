package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/meshlogd/meshlogd/node"
	"github.com/meshlogd/meshlogd/storage"
)

func init() {
	register(command{
		Name:    "fsck",
		Summary: "verify (and with --repair, recover) a storage data directory",
		Run:     runFsck,
	})
}

// fsckResult is the --json output: the storage report plus a verdict.
type fsckResult struct {
	*storage.Report
	Clean bool `json:"clean"`
}

// runFsck implements "meshlogd fsck [--data DIR] [--repair] [--json]".
// DIR is a node data directory (the log is DIR/log) or a bare log
// directory. Exit status: 0 clean, 1 damage found (repaired or not) or the
// check could not run, 2 usage.
func runFsck(args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("fsck", flag.ContinueOnError)
	fl.SetOutput(stderr)
	data := fl.String("data", "", "node data `DIR` (checks DIR/"+node.LogDir+"), or a log directory itself (default $"+node.EnvData+", else /var/lib/meshlogd as root or ~/.local/share/meshlogd)")
	repair := fl.Bool("repair", false, "truncate torn tails and move corrupt data aside into *.broken files")
	asJSON := fl.Bool("json", false, "print the report as JSON")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: meshlogd fsck [--data DIR] [--repair] [--json]")
		fmt.Fprintln(stderr, "Verifies every segment and record of the event log; exits 1 if anything is damaged.")
		fmt.Fprintln(stderr, "Stop the node first: fsck takes the log's lock.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fl.NArg() > 0 {
		fl.Usage()
		return exitUsage
	}
	dir := *data
	if dir == "" {
		d, err := node.DefaultDataDir()
		if err != nil {
			fmt.Fprintf(stderr, "meshlogd fsck: %v\n", err)
			return exitFailure
		}
		dir = d
	}
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "meshlogd fsck: %s is not a directory\n", dir)
		return exitFailure
	}
	if st, err := os.Stat(filepath.Join(dir, node.LogDir)); err == nil && st.IsDir() {
		dir = filepath.Join(dir, node.LogDir) // a node data directory
	}
	check := storage.Check
	if *repair {
		check = storage.Repair
	}
	rep, err := check(dir, storage.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "meshlogd fsck: %v\n", err)
		return exitFailure
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(fsckResult{Report: rep, Clean: rep.Clean()}); err != nil {
			fmt.Fprintf(stderr, "meshlogd fsck: %v\n", err)
			return exitFailure
		}
	} else {
		printFsck(stdout, rep, *repair)
	}
	if !rep.Clean() {
		return exitFailure
	}
	return exitOK
}

func printFsck(w io.Writer, rep *storage.Report, repair bool) {
	fmt.Fprintf(w, "%s: %d segments, %d records (%d payload bytes), %d bytes scanned\n",
		rep.Dir, rep.Segments, rep.Records, rep.RecordBytes, rep.ScannedBytes)
	for _, d := range rep.Damage {
		fmt.Fprintf(w, "  %s: %s at offset %d: %d bytes", d.Kind, d.File, d.Offset, d.Length)
		if d.Kind != storage.MissingSegment {
			more := ""
			if !d.SalvageComplete {
				more = " at least"
			}
			fmt.Fprintf(w, ",%s %d intact records in them", more, d.Salvageable)
		}
		fmt.Fprintf(w, " (%s)\n", d.Reason)
		if d.MovedTo != "" {
			fmt.Fprintf(w, "    moved to %s\n", d.MovedTo)
		}
	}
	for _, name := range rep.StrayTemp {
		verb := "found"
		if rep.Repaired {
			verb = "removed"
		}
		fmt.Fprintf(w, "  %s unfinished segment %s (holds no records)\n", verb, name)
	}
	switch {
	case rep.Clean():
		fmt.Fprintln(w, "clean")
	case repair && rep.Repaired:
		fmt.Fprintf(w, "damaged, repaired: %d bytes removed from the log (kept in *.broken files where nonzero)\n", rep.Lost())
	default:
		fmt.Fprintln(w, "damaged: run with --repair (what the node also does when it opens the log)")
	}
}
