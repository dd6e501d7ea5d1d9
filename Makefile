# meshlogd — build, test, measure.
#   make sim       run the built-in simulated mesh
#   make test      lint + all tests (incl. fuzz seed corpora) + ARMv6 tests under qemu
#   make arm       static ARMv6 binary for a Pi Zero
#   make bench     benchmarks
#   make fuzz      every fuzz target for FUZZTIME each

GO        ?= go
FUZZTIME  ?= 10s
BENCHTIME ?= 1s
VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# Packages whose unit tests also run as ARMv6 binaries under qemu-arm.
ARM_TEST_PKGS ?= ./node/... ./storage/... ./hal/... ./sx127x/... ./rnode/... ./board/...
QEMU_ARM  ?= $(shell command -v qemu-arm-static || command -v qemu-arm)

.PHONY: all build arm sim test test-unit test-arm lint bench fuzz generate clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/meshlogd ./cmd/meshlogd

arm:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/meshlogd-linux-armv6 ./cmd/meshlogd

sim:
	$(GO) run ./cmd/meshlogd --sim

test: lint test-unit test-arm

test-unit:
	$(GO) test -count=1 ./...

# Cross-compiled ARMv6 unit tests, executed under qemu user-mode emulation.
test-arm:
	@if [ -z "$(QEMU_ARM)" ]; then echo "test-arm: qemu-arm not found (apt-get install qemu-user-static)"; exit 1; fi
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) test -count=1 -exec '$(QEMU_ARM)' $(ARM_TEST_PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $(GO) vet ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# Runs each fuzz target (go test -fuzz) for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

generate:
	$(GO) generate ./...

clean:
	rm -rf bin
