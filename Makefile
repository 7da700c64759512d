# Build, test and measure the serf clone.
GO ?= go
BIN := bin/serf
PKGS := ./...

.PHONY: dev build test test-short bench fuzz soak vet fmt clean hostile loss loss-long crash-safety soak-long nftables

# dev builds ./bin/serf for local use.
dev:
	@mkdir -p bin
	$(GO) build -o $(BIN) ./cmd/serf

build: dev

# test runs every test with the race detector; CI runs exactly this.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

# bench prints the benchmark figures; nothing here passes or fails on speed.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1s $(PKGS)
	SERF_MEASURE_RSS=1 $(GO) test -run '^TestIdleAgentRSS$$' -count=1 -v ./cmd/serf

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
