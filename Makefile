# Build, test and measure the serf clone.
GO ?= go
BIN := bin/serf
PKGS := ./...

.PHONY: dev build test test-short bench bench-scale bench-sim fuzz soak vet fmt clean release release-check

# dev builds ./bin/serf for local use. CGO is off, so the binary maps no
# libc (Go's own resolver and user lookups serve instead): about 1.5 MiB
# less resident memory per agent.
dev:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/serf

build: dev

# test runs every test with the race detector; CI runs exactly this.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# bench prints the benchmark figures; nothing here passes or fails on speed.
# The cluster figures (join, user event, failure detection, idle RSS and
# CPU, members RPC) run BENCH_SIZES agents as processes on loopback,
# BENCH_ROUNDS times, and print the medians as one table.
BENCH_SIZES ?= 16,64
BENCH_ROUNDS ?= 3
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s $(PKGS)
	SERF_MEASURE_RSS=1 $(GO) test -run '^(TestIdleAgentRSS|TestHandlerFloodRSS|TestIdleRPCConnectionsFigures)$$' -count=1 -v -timeout 20m ./cmd/serf
	SERF_BENCH_CLUSTER=$(BENCH_SIZES) SERF_BENCH_ROUNDS=$(BENCH_ROUNDS) \
	  $(GO) test -run '^TestClusterFigures$$' -count=1 -v -timeout 60m ./cmd/serf

# bench-scale converges 512 agents on loopback and reports the time, RSS
# and CPU per agent (about 8 GiB of memory).
bench-scale:
	SERF_BENCH_CLUSTER=512 SERF_BENCH_ROUNDS=1 SERF_BENCH_SKIP=rpc,event,fail \
	  $(GO) test -run '^TestClusterFigures$$' -count=1 -v -timeout 60m ./cmd/serf

# bench-sim runs simulated clusters in one process (see internal/sim);
# state grows with N squared: 1,000 members take about 3 GiB of heap.
SIM_SIZES ?= 500,1000
bench-sim:
	SERF_SIM_SIZES=$(SIM_SIZES) $(GO) test -run '^TestSimFigures$$' -count=1 -v -timeout 60m ./internal/sim

# fuzz runs each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# soak runs agents under random packet loss in network namespaces (root).
soak:
	./scripts/soak.sh

vet:
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin

# release builds the zips for linux, darwin, freebsd and windows on amd64
# and arm64, the amd64 and arm64 .debs and the SHA256SUMS file into dist/
# (README.md, "Release builds"). FAST=1 builds only linux/amd64 and its .deb.
release:
	FAST=$(FAST) GO=$(GO) ./scripts/release/build.sh

# release-check builds the release (FAST=1 as above) and checks every
# artifact: checksums, zip contents, the .deb's files and fields, and the
# linux/amd64 binary's `serf version`.
release-check:
	FAST=$(FAST) GO=$(GO) ./scripts/release/check.sh
