# Build, test and measure the serf clone.
GO ?= go
BIN := bin/serf
PKGS := ./...

.PHONY: dev build test test-short bench fuzz soak vet fmt clean release release-check

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
	SERF_MEASURE_RSS=1 $(GO) test -run '^(TestIdleAgentRSS|TestHandlerFloodRSS|TestIdleRPCConnectionsFigures)$$' -count=1 -v -timeout 20m ./cmd/serf
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
