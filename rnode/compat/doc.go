// Package compat holds the on-air compatibility test between meshlogd's
// two radio drivers: a node using the sx127x driver on an emulated SX127x
// chip and a node using the rnode driver on an emulated RNode (through a
// real pseudo-terminal) share one simulated air (sx127xtest.Air) and
// exchange packets of 1..507 bytes both ways, one- and two-frame packets,
// while the frames on air are compared byte for byte with the RNode
// firmware's framing vectors (testdata/kiss.json, on_air). The package has
// no non-test code.
package compat
