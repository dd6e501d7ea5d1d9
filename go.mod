module github.com/meshlogd/meshlogd

go 1.26.8

require (
	github.com/tinylib/msgp v1.6.5
	go.bug.st/serial v1.8.0
	golang.org/x/crypto v0.59.0
	golang.org/x/sys v0.50.0
	periph.io/x/conn/v3 v3.7.3
	periph.io/x/host/v3 v3.8.5
)

require github.com/philhofer/fwd v1.2.0 // indirect
