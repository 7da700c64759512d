#!/usr/bin/env bash
# Soak test under packet loss: three agents in network namespaces that drop
# 10% of their packets. Needs root; installs nftables from Debian if absent.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nft >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nftables
fi
go test -race -count=1 -tags soak -run '^TestSoakPacketLoss$' -timeout 10m -v ./cmd/serf
