package sim

import (
	"fmt"

	"github.com/meshlogd/meshlogd/sim/scenario"
)

// Options select what Run does beyond the scenario itself.
type Options struct {
	// Seed overrides the scenario's seed when SeedSet is true.
	Seed    uint64
	SeedSet bool
	// Baseline also runs the scenario with the prototype's protocol on the
	// same medium and reports it beside the real stack.
	Baseline bool
}

// Run simulates sc and returns its report. It is deterministic: the same
// scenario and seed give byte-identical reports. Run is safe to call from
// several goroutines with different scenarios.
func Run(sc *scenario.Scenario, opt Options) (*Report, error) {
	seed := sc.Seed
	if opt.SeedSet {
		seed = opt.Seed
	}
	f, d, err := runOne(sc, seed, newRealProto(sc))
	if err != nil {
		return nil, err
	}
	r := &Report{Figures: f, Detail: d}
	if opt.Baseline {
		bf, bd, err := runOne(sc, seed, &baselineProto{})
		if err != nil {
			return nil, fmt.Errorf("baseline: %w", err)
		}
		r.Baseline, r.BaselineDetail = &bf, bd
	}
	return r, nil
}

func runOne(sc *scenario.Scenario, seed uint64, p protocol) (Figures, *Detail, error) {
	w, err := newWorld(sc, seed, p)
	if err != nil {
		return Figures{}, nil, err
	}
	w.schedule()
	w.q.run(sc.Until)
	w.checkConvergence()
	f, d := w.figures()
	w.shutdown()
	return f, d, nil
}

// Converged reports whether the real stack converged, or the scenario does
// not expect it to: the exit status of "meshlogd --sim".
func (r *Report) OK() bool { return r.Converged || !r.Detail.Expect }
