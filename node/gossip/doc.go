// Package gossip is meshlogd's anti-entropy sync engine: a pure state
// machine that keeps one dataset converging over a lossy broadcast radio.
package gossip
