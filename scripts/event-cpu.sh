#!/bin/bash
# event-cpu.sh N [label]: the CPU one user event costs. Starts N agents on
# loopback (ports 18000+ for gossip, 19000+ for RPC), each with a handler
# for user events named "bench", lets them settle, then counts CPU ticks
# from /proc over 20 s of idling and over 20 events fired one a second,
# for the agents (with their handlers) and for the whole machine, and
# prints the difference per event. Environment:
#   BIN    the serf binary (default ./bin/serf)
#   ENVS   extra environment for the agents, e.g. "GOGC=100 GOMAXPROCS=2"
#   CONF   JSON configuration for the agents (default {})
#   NO_HANDLER=1  run no handler
# Figures, not a test: run it on a quiet machine and compare runs taken
# back to back.
set -euo pipefail
N=${1:?usage: event-cpu.sh N [label]}
LABEL=${2:-run}
BIN=${BIN:-./bin/serf}
dir=$(mktemp -d)
echo "${CONF:-{\}}" > "$dir/conf.json"
handler='user:bench=read -r p; echo "$SERF_SELF_NAME $p" > /dev/null'
pids=()
cleanup() { kill -9 "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
for i in $(seq 0 $((N-1))); do
  args=(agent -node=m$i -bind=127.0.0.1:$((18000+i)) -rpc-addr=127.0.0.1:$((19000+i)) -config-file="$dir/conf.json")
  [ "$i" -gt 0 ] && args+=(-join=127.0.0.1:18000)
  [ -z "${NO_HANDLER:-}" ] && args+=("-event-handler=$handler")
  # shellcheck disable=SC2086
  env ${ENVS:-} "$BIN" "${args[@]}" >/dev/null 2>&1 &
  pids+=($!)
  sleep 0.05
done
sleep 25
ticks() { local t=0 p; for p in "${pids[@]}"; do t=$((t + $(awk '{print $14+$15+$16+$17}' /proc/$p/stat))); done; echo $t; }
machine() { awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat; }
t0=$(ticks); m0=$(machine); sleep 20; t1=$(ticks); m1=$(machine)
for e in $(seq 20); do
  "$BIN" event -rpc-addr=127.0.0.1:$((19000 + e % N)) -coalesce=false bench "x$e" >/dev/null
  sleep 1
done
t2=$(ticks); m2=$(machine)
hz=$(getconf CLK_TCK)
echo "$LABEL: N=$N CPU per event: $(echo "scale=3; (($t2-$t1)-($t1-$t0))*1000/$hz/20/$N" | bc) ms per agent (with its handler), $(echo "scale=1; (($m2-$m1)-($m1-$m0))*1000/$hz/20" | bc) ms for the whole machine"
