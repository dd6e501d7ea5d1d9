//go:build race

package compat

// raceEnabled slows the emulated air down under the race detector, which
// makes the drivers several times slower in wall-clock terms.
const raceEnabled = true
