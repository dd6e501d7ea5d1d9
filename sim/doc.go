// Package sim runs a whole meshlogd mesh on virtual time, reproducibly from a
// seed: a discrete-event scheduler, a LoRa medium and scenario files.
package sim
