// Package sx127x drives a Semtech SX1276/77/78/79 LoRa transceiver over
// periph.io's SPI and GPIO interfaces, with the RNode firmware's on-air
// settings so that a bare chip and an RNode understand each other.
package sx127x
