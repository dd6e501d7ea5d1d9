// Package scenario parses the simulator's scenario files.
//
// A scenario is one JSON object. Parsing is strict: an unknown key, a value
// of the wrong type, a bad duration or an unknown node name is an *Error
// whose Path names the key ("script[3].node", "radio.sf"), and every *Error
// unwraps to ErrInvalid. Durations are Go durations ("90s", "1h30m") with an
// optional leading day count ("2d6h"). Sizes are bounded (MaxFileSize,
// MaxNodes, MaxScriptSteps, MaxEventsPerNode), so a hostile file cannot make
// Parse allocate without bound, and Parse never panics (FuzzParse).
//
// Keys (all optional unless marked):
//
//	name, description         strings shown in reports
//	seed                      integer, the one seed every random draw derives from
//	radio                     {freq_mhz, bw_khz, sf, cr, tx_dbm, duty_cycle, duty_window, preamble}
//	nodes (required)          [{name, pos:[x_km,y_km], radio:"sim"|"sx127x"}]
//	range_km                  nodes closer than this hear each other (when links is absent)
//	loss                      default per-frame loss probability of a link
//	links                     [{a, b, loss}]: only these links exist
//	persist_delay             time for a write to become durable (crash window)
//	script                    [{at, label?, <one action>}] with actions
//	                            node+create{record,type} | node+set{record,field,value} |
//	                            node+note{record,text} | node+down | node+up |
//	                            partition:[[names..],..] | heal | link{a,b,loss}
//	workload                  {nodes:"all"|[names], events_per_node, from, to}
//	until                     end of the simulation
//	expect_convergence        false when the scenario is not meant to converge
//
// Nodes left out of every group of a partition form one more group together.
// Default returns the built-in scenario run by a bare "meshlogd --sim".
package scenario
