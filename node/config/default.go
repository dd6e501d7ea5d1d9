package config

// Default is the commented configuration `meshlogd init` writes. Every key is
// shown with its default value; radio interfaces are commented out so a
// fresh node starts without hardware.
const Default = `# meshlogd.conf — configuration of one meshlogd node.
# Format: [section] headers, "key = value" lines, '#' or ';' comments.
# Unknown sections or keys are errors: meshlogd refuses to start and names the line.

[node]
# Human label shown in status (default: the host name).
# name = base-camp
# Identity file (Reticulum 64-byte private key), relative to the data directory.
identity = identity
# debug, info, warn or error.
log_level = info

[sync]
# Trickle beacon interval bounds (RFC 6206 Imin / Imax) and suppression constant k.
beacon_min = 30s
beacon_max = 1h
redundancy = 1
# Relay events new to this node on its radios after a random delay up to
# this long, unless a neighbour is heard sending them first; "off" leaves
# relaying to the beacon/frontier exchange (cheaper when every node hears
# every other, slower and costlier in a multi-hop mesh).
relay_window = 8s
# Bound on out-of-order events held while waiting for a gap to fill.
max_gap_bytes = 262144

[clock]
# How far a peer's timestamp may drag the local hybrid logical clock ahead.
max_drift = 10m

[storage]
# Size at which a log segment is closed and a new one started.
segment_bytes = 16777216

[control]
# Unix socket (mode 0600) the CLI uses while the daemon runs; relative to the data directory.
socket = control.sock

# ---- Interfaces: any number of [interface NAME] sections. ----

# An SX127x LoRa chip on the Pi's SPI bus ('meshlogd radio boards' lists the profiles).
# [interface lora0]
# type = sx127x
# board = adafruit-rfm9x-bonnet
# frequency = 868.1          # MHz
# bandwidth = 125            # kHz
# spreading_factor = 9       # 6..12
# coding_rate = 5            # 5..8 = 4/5..4/8
# tx_power = 14              # dBm
# region = EU868             # EU868, US915 or none
# duty_cycle = 0.01          # fraction of airtime (or 1%)
# network_name = field-net   # Reticulum IFAC, optional
# passphrase = change-me     # Reticulum IFAC, optional (quote it if it contains ' #')
# ifac_size = 8              # IFAC bytes per packet (default: 8 on radios, 16 on TCP)
# sync = group               # group: GROUP broadcasts only (radio default); links: Reticulum
#                            # links to dataset peers only; both: GROUP + links to peers
#                            # more than one hop away (TCP default)
# enabled = true             # false keeps the section but leaves the interface down

# A custom wiring instead of a board profile:
# [interface lora1]
# type = sx127x
# board = custom
# spi = SPI0.0
# cs = none
# reset = GPIO25
# dio0 = GPIO22
# dio1 = none

# An RNode modem on a serial port.
# [interface rnode0]
# type = rnode
# port = /dev/ttyUSB0
# frequency = 868.1
# bandwidth = 125
# spreading_factor = 9
# coding_rate = 5
# tx_power = 14
# duty_cycle = 0.01

# Reticulum over TCP: connect to rnsd or another meshlogd ...
# [interface uplink]
# type = tcp_client
# target = 127.0.0.1:4242

# ... or accept connections.
# [interface hub]
# type = tcp_server
# listen = 0.0.0.0:4242
`
