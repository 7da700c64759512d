# Build, test and measure the serf clone.
GO ?= go
BIN := bin/serf
PKGS := ./...

.PHONY: dev build test test-short bench fuzz soak vet fmt clean

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
	SERF_MEASURE_EVENTS=1 $(GO) test -run '^TestEventAndQuerySpeed$$' -count=1 -v -timeout 30m ./cmd/serf

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
