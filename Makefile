# Build, test and measure the serf clone.
GO ?= go
BIN := bin/serf
PKGS := ./...

.PHONY: dev build test test-short bench bench-scale bench-sim fuzz soak vet fmt clean release release-check hostile loss loss-long crash-safety soak-long nftables nftables-if-root

# dev builds ./bin/serf for local use. CGO is off, so the binary maps no
# libc (Go's own resolver and user lookups serve instead): about 1.5 MiB
# less resident memory per agent.
dev:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/serf

build: dev

# test runs every test with the race detector; CI runs exactly this. As
# root it first installs nftables from Debian's packages if it is missing,
# for the packet-loss test in network namespaces; if that cannot be done the
# test skips with a message and the rest runs.
test:
	@$(MAKE) --no-print-directory nftables-if-root
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
	SERF_MEASURE_EVENTS=1 $(GO) test -run '^TestEventAndQuerySpeed$$' -count=1 -v -timeout 30m ./cmd/serf
	SERF_BENCH_CLUSTER=$(BENCH_SIZES) SERF_BENCH_ROUNDS=$(BENCH_ROUNDS) \
	  $(GO) test -run '^TestClusterFigures$$' -count=1 -v -timeout 60m ./cmd/serf

# bench-scale converges 512 agents on loopback and reports the time, RSS
# and CPU per agent (about 7 GiB of memory). On a 2-CPU machine 512 agents
# with LAN timings starve each other of CPU until probes time out and the
# cluster flaps, so the agents run the wan profile (5 s probes with a 3 s
# timeout); SCALE_PROFILE=lan tries LAN timings.
SCALE_PROFILE ?= wan
bench-scale:
	SERF_BENCH_CLUSTER=512 SERF_BENCH_ROUNDS=1 SERF_BENCH_SKIP=rpc,event,fail SERF_BENCH_PROFILE=$(SCALE_PROFILE) \
	  $(GO) test -run '^TestClusterFigures$$' -count=1 -v -timeout 60m ./cmd/serf

# bench-sim runs simulated clusters in one process (see internal/sim and
# docs/performance.md): real members at SIM_SIZES (state grows with N
# squared: 1,000 members take about 3 GiB of heap), then the lighter model
# at MODEL_SIZES on the networks of MODEL_NETS.
SIM_SIZES ?= 200,500
MODEL_SIZES ?= 100,2000,10000
MODEL_NETS ?= lan
bench-sim:
	SERF_SIM_SIZES=$(SIM_SIZES) $(GO) test -run '^TestSimFigures$$' -count=1 -v -timeout 60m ./internal/sim
	SERF_SIM_MODEL_SIZES=$(MODEL_SIZES) SERF_SIM_MODEL_NETS=$(MODEL_NETS) \
	  $(GO) test -run '^TestModelFigures$$' -count=1 -v -timeout 60m ./internal/sim

# fuzz runs each fuzz target of every package for FUZZTIME (default 30s),
# e.g. `make fuzz FUZZTIME=10m`. Names are anchored, so a target whose
# name is a prefix of another's runs alone, and a package that does not
# build fails the run instead of being skipped. Go minimises each new input
# for up to 60s by default and reports no execs meanwhile; FUZZMINIMIZETIME
# bounds that so short campaigns spend their time fuzzing.
FUZZTIME ?= 30s
FUZZMINIMIZETIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  list=$$($(GO) test -list '^Fuzz' $$pkg 2>&1) || { echo "$$list"; exit 1; }; \
	  for t in $$(echo "$$list" | grep '^Fuzz'); do \
	    echo "== $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg || exit 1; \
	  done; \
	done

# soak runs agents under random packet loss in network namespaces (root).
soak:
	./scripts/soak.sh

# hostile throws malformed, oversized and random gossip at a real agent.
hostile:
	$(GO) test -race -count=1 -run '^TestIntegrationHostileGossip' -v ./cmd/serf

# nftables is what the namespace loss tests drop packets with.
nftables:
	@command -v nft >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables; }

# nftables-if-root is `make test`'s tolerant form: only as root, and a
# failed install is reported, not fatal.
nftables-if-root:
	@command -v nft >/dev/null 2>&1 || [ "$$(id -u)" != 0 ] || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables >/dev/null; } || \
	  echo "nftables could not be installed; the packet-loss test will skip"

# loss runs the lossy-network test as `make test` does (a minute of 10%
# loss); loss-long runs it with three minutes of 10% loss. Root.
loss: nftables
	$(GO) test -race -count=1 -run '^TestIntegrationLossyNetwork$$' -timeout 20m -v ./cmd/serf

loss-long: nftables
	SERF_LOSS_LONG=1 $(GO) test -race -count=1 -run '^TestIntegrationLossyNetwork$$' -timeout 30m -v ./cmd/serf

# crash-safety kills the agent with -9 while it writes its snapshot, tags
# and keyring files, ITERATIONS times (default 100), restarting each time.
crash-safety:
	./scripts/crash-safety.sh

# soak-long: 32 agents for an hour (AGENTS, DURATION in seconds), an
# event a second, tag churn, a kill and restart a minute.
soak-long:
	./scripts/soak-long.sh

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
