package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/meshlogd/meshlogd/node/rns"
)

func init() {
	register(command{
		Name:    "id new",
		Summary: "create a Reticulum identity (reference 64-byte key file format)",
		Run:     runIDNew,
	})
	register(command{
		Name:    "id show",
		Summary: "print an identity's hash, public key and destination hashes",
		Run:     runIDShow,
	})
}

// printJSON writes v as one JSON object on its own line.
func printJSON(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps of plain values are printed; this cannot happen.
		panic(err)
	}
	b = append(b, '\n')
	w.Write(b)
}

// newFlags returns a flag set for one command whose errors and --help go
// to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("meshlogd "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// rnsParseFlags parses args and maps the outcome to an exit code: -1 means
// continue, otherwise return the code.
func rnsParseFlags(fs *flag.FlagSet, args []string) int {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage
	}
	return -1
}

func runIDNew(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("id new", stderr)
	file := fs.String("file", "", "write the 64-byte private key to `F` (mode 0600; refuses to overwrite); without it the private key is printed as hex")
	if code := rnsParseFlags(fs, args); code >= 0 {
		return code
	}
	id, err := rns.NewIdentity(rand.Reader)
	if err != nil {
		fmt.Fprintln(stderr, "meshlogd id new:", err)
		return exitFailure
	}
	out := map[string]any{
		"identity":   id.Hash().String(),
		"public_key": hex.EncodeToString(id.PublicKey()),
	}
	if *file != "" {
		if _, err := os.Stat(*file); err == nil {
			fmt.Fprintf(stderr, "meshlogd id new: %s exists; not overwriting an identity\n", *file)
			return exitFailure
		}
		if err := rns.SaveIdentityFile(id, *file); err != nil {
			fmt.Fprintln(stderr, "meshlogd id new:", err)
			return exitFailure
		}
		out["file"] = *file
	} else {
		out["private_key"] = hex.EncodeToString(id.PrivateKey())
	}
	printJSON(stdout, out)
	return exitOK
}

func runIDShow(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("id show", stderr)
	file := fs.String("file", "identity", "identity file `F` (64-byte private key, the reference's format)")
	app := fs.String("app", "", "application `NAME` of a destination to compute (with --aspects)")
	aspects := fs.String("aspects", "", "comma-separated `A,B` aspects of the destination")
	if code := rnsParseFlags(fs, args); code >= 0 {
		return code
	}
	id, err := rns.LoadIdentityFile(*file)
	if err != nil {
		fmt.Fprintln(stderr, "meshlogd id show:", err)
		return exitFailure
	}
	out := map[string]any{
		"file":       *file,
		"identity":   id.Hash().String(),
		"public_key": hex.EncodeToString(id.PublicKey()),
	}
	if *app != "" || *aspects != "" {
		name, nameHash, dest, err := destinationFor(id, *app, *aspects)
		if err != nil {
			fmt.Fprintln(stderr, "meshlogd id show:", err)
			return exitUsage
		}
		out["name"] = name
		out["name_hash"] = hex.EncodeToString(nameHash)
		out["destination"] = dest.String()
	}
	printJSON(stdout, out)
	return exitOK
}

// rnsSplitAspects turns "a,b" into ["a","b"], dropping empty elements.
func rnsSplitAspects(s string) []string {
	var out []string
	for _, a := range strings.Split(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// destinationFor computes the SINGLE destination of id for app and the
// comma-separated aspects.
func destinationFor(id *rns.Identity, app, aspects string) (name string, nameHash []byte, dest rns.Hash, err error) {
	if app == "" {
		return "", nil, dest, errors.New("--app is required with --aspects")
	}
	as := rnsSplitAspects(aspects)
	name, err = rns.ExpandName(app, as...)
	if err != nil {
		return "", nil, dest, err
	}
	nh, err := rns.ComputeNameHash(app, as...)
	if err != nil {
		return "", nil, dest, err
	}
	ih := id.Hash()
	return name, nh[:], rns.DestinationHash(nh, &ih), nil
}
