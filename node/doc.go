// Package node is the meshlogd runtime: it owns goroutines, the clock,
// storage, interfaces and the airtime scheduler around the pure sync engine.
package node
