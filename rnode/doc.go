// Package rnode is a host driver for RNode LoRa modems over a serial port
// (KISS framing), following the Reticulum reference host driver.
package rnode
