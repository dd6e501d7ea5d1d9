// Command meshlogd is a field-data node for LoRa radio meshes: it keeps a
// shared dataset of signed, hash-chained events converging over Reticulum,
// drives SX127x radios over SPI or RNode modems over UART, and simulates a
// whole mesh on virtual time with --sim.
//
// Every subcommand registers itself (see register) from its own file, so
// each area of the program owns its command-line surface.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Exit codes shared by all commands (documented in the README).
const (
	exitOK      = 0 // success (for --sim: the scenario converged)
	exitFailure = 1 // the command ran and failed, or found damage
	exitUsage   = 2 // wrong flags or arguments
)

// command is one CLI entry point, e.g. "fsck" or "rns listen".
type command struct {
	// Name is one or two words: "fsck", "rns listen".
	Name string
	// Summary is a one-line description for the command list.
	Summary string
	// Run executes the command with the arguments after its name and
	// returns the process exit code.
	Run func(args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

// register adds a command; called from init functions of the cmd_*.go files.
func register(c command) {
	if _, dup := commands[c.Name]; dup {
		panic("meshlogd: command registered twice: " + c.Name)
	}
	commands[c.Name] = c
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches args to a registered command and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	if args[0] == "--version" || args[0] == "version" {
		fmt.Fprintln(stdout, "meshlogd", version)
		return exitOK
	}
	// "meshlogd --sim [flags]" is the simulator's short form.
	if args[0] == "--sim" || args[0] == "-sim" {
		if c, ok := commands["sim"]; ok {
			return c.Run(args[1:], stdout, stderr)
		}
	}
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c.Run(args[2:], stdout, stderr)
		}
	}
	if c, ok := commands[args[0]]; ok {
		return c.Run(args[1:], stdout, stderr)
	}
	// A group name alone ("meshlogd rns") lists its subcommands.
	if sub := subcommands(args[0]); len(sub) > 0 {
		fmt.Fprintf(stderr, "meshlogd %s: missing subcommand; one of:\n", args[0])
		for _, c := range sub {
			fmt.Fprintf(stderr, "  meshlogd %-18s %s\n", c.Name, c.Summary)
		}
		return exitUsage
	}
	fmt.Fprintf(stderr, "meshlogd: unknown command %q (run 'meshlogd --help')\n", strings.Join(args, " "))
	return exitUsage
}

func subcommands(group string) []command {
	var out []command
	for name, c := range commands {
		if strings.HasPrefix(name, group+" ") {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: meshlogd COMMAND [flags]      (meshlogd COMMAND --help for its flags)")
	fmt.Fprintln(w, "       meshlogd --sim [flags]        run a simulated mesh on virtual time")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-20s %s\n", n, commands[n].Summary)
	}
}
