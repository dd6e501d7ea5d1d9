package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/meshlogd/meshlogd/sim"
	"github.com/meshlogd/meshlogd/sim/scenario"
)

func init() {
	register(command{
		Name:    "sim",
		Summary: "simulate a whole mesh on virtual time (also: meshlogd --sim)",
		Run:     runSim,
	})
}

// runSim runs a scenario (the built-in one without --scenario) and prints
// its report. Exit 0 when it converged (or was not expected to), 1 when it
// did not, 2 on bad flags or a bad scenario file.
func runSim(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scenarioFile := fs.String("scenario", "", "scenario `FILE` (JSON, see README \"Simulator\"); default: the built-in base-camp scenario")
	seed := fs.Int64("seed", -1, "override the scenario's seed (`N` ≥ 0)")
	report := fs.String("report", "text", "report format: text or json")
	svgFile := fs.String("svg", "", "also write a timeline picture to `FILE` (SVG)")
	baseline := fs.Bool("baseline", false, "also run the prototype's protocol on the same scenario and report both")
	printDefault := fs.Bool("print-scenario", false, "print the built-in scenario file and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: meshlogd --sim [flags]   (or: meshlogd sim [flags])")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "meshlogd sim: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if *printDefault {
		stdout.Write(scenario.DefaultJSON())
		return exitOK
	}
	if *report != "text" && *report != "json" {
		fmt.Fprintf(stderr, "meshlogd sim: --report must be text or json, not %q\n", *report)
		return exitUsage
	}
	var sc *scenario.Scenario
	if *scenarioFile == "" {
		sc = scenario.Default()
	} else {
		data, err := readLimited(*scenarioFile, scenario.MaxFileSize)
		if err != nil {
			fmt.Fprintf(stderr, "meshlogd sim: %v\n", err)
			return exitUsage
		}
		sc, err = scenario.Parse(data)
		if err != nil {
			fmt.Fprintf(stderr, "meshlogd sim: %s: %v\n", *scenarioFile, err)
			return exitUsage
		}
	}
	opt := sim.Options{Baseline: *baseline}
	if *seed >= 0 {
		opt.Seed, opt.SeedSet = uint64(*seed), true
	} else if *seed != -1 {
		fmt.Fprintln(stderr, "meshlogd sim: --seed must be ≥ 0")
		return exitUsage
	}
	start := time.Now()
	r, err := sim.Run(sc, opt)
	if err != nil {
		fmt.Fprintf(stderr, "meshlogd sim: %v\n", err)
		return exitFailure
	}
	wall := time.Since(start)
	if *report == "json" {
		err = r.WriteJSON(stdout)
	} else {
		err = r.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "meshlogd sim: %v\n", err)
		return exitFailure
	}
	if *svgFile != "" {
		f, err := os.Create(*svgFile)
		if err == nil {
			err = r.WriteSVG(f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "meshlogd sim: svg: %v\n", err)
			return exitFailure
		}
	}
	// Wall time varies from run to run, so it goes to stderr: the report
	// itself is byte-identical for a given scenario and seed.
	fmt.Fprintf(stderr, "meshlogd sim: simulated %v in %v (%.0f× real time)\n",
		sc.Until, wall.Round(time.Millisecond), sc.Until.Seconds()/max(wall.Seconds(), 1e-9))
	if !r.OK() {
		return exitFailure
	}
	return exitOK
}

// readLimited reads a file of at most limit bytes.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}
