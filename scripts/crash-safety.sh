#!/usr/bin/env bash
# Crash safety: start an agent with a snapshot, a tags file and a keyring
# file, drive writes to all three over RPC (tags -set, keys install/use/
# remove, user events), kill -9 the agent at a random moment, and restart
# it. Every restart must succeed and come back with the last complete
# state: the tags and primary key it last confirmed, or the one write in
# flight when it died, never anything older, never a broken file.
#
#   ITERATIONS=100 (default)   kills to survive
#   KEEP=1                     keep the work directory
#
# Everything binds 127.0.0.1. Exit status 0 only if every iteration passed.
set -euo pipefail
cd "$(dirname "$0")/.."

ITERATIONS=${ITERATIONS:-100}
work=$(mktemp -d /tmp/serf-crash.XXXXXX)
agent_pid=""
writer_pid=""
cleanup() {
  [ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null || true
  [ -n "$agent_pid" ] && { disown "$agent_pid" 2>/dev/null; kill -9 "$agent_pid" 2>/dev/null; } || true
  { wait; } 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "work directory kept: $work"; fi
}
trap cleanup EXIT

command -v jq >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq; }

go build -o "$work/serf" ./cmd/serf
serf="$work/serf"

# Two ports free on 127.0.0.1 for TCP and UDP.
free_port() {
  python3 - <<'EOF'
import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
    finally:
        t.close(); u.close()
EOF
}
gossip=$(free_port)
rpc=$(free_port)
while [ "$rpc" = "$gossip" ]; do rpc=$(free_port); done
rpcflag="-rpc-addr=127.0.0.1:$rpc"

state="$work/state"
mkdir -p "$state"
key0=$("$serf" keygen)
printf '[\n  "%s"\n]' "$key0" > "$state/keyring.json"

start_agent() {
  "$serf" agent -node=crash -bind="127.0.0.1:$gossip" "$rpcflag" \
    -snapshot="$state/snapshot" -tags-file="$state/tags.json" -keyring-file="$state/keyring.json" \
    -log-level=info >>"$work/agent.log" 2>&1 &
  agent_pid=$!
  for _ in $(seq 1 150); do
    if "$serf" members "$rpcflag" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$agent_pid" 2>/dev/null; then return 1; fi
    sleep 0.1
  done
  return 1
}

# The writer appends "try <what>" before and "ok <what>" after each write
# the agent confirmed, so the checker knows the last confirmed value and
# the one that may have been in flight.
writer() {
  local gen=$1 prev=$2 n=0
  while :; do
    n=$((n + 1))
    echo "try tag $gen" >>"$work/journal"
    "$serf" tags "$rpcflag" -set gen="$gen" -set pad="$(head -c 300 /dev/zero | tr '\0' x)" >/dev/null 2>&1 || return 0
    echo "ok tag $gen" >>"$work/journal"
    gen=$((gen + 1))
    "$serf" event "$rpcflag" -coalesce=false crash "$gen" >/dev/null 2>&1 || return 0
    if [ $((n % 3)) -eq 0 ]; then
      local k
      k=$("$serf" keygen)
      "$serf" keys "$rpcflag" -install "$k" >/dev/null 2>&1 || return 0
      echo "try use $k" >>"$work/journal"
      "$serf" keys "$rpcflag" -use "$k" >/dev/null 2>&1 || return 0
      echo "ok use $k" >>"$work/journal"
      "$serf" keys "$rpcflag" -remove "$prev" >/dev/null 2>&1 || return 0
      prev=$k
    fi
  done
}

fail=0
failures=()
if ! start_agent; then echo "first start failed"; tail -20 "$work/agent.log"; exit 1; fi
gen=1
primary=$key0
for i in $(seq 1 "$ITERATIONS"); do
  : >"$work/journal"
  writer "$gen" "$primary" &
  writer_pid=$!
  # A random moment between 0.05s and 2s into the writes.
  sleep "$(awk -v r=$RANDOM 'BEGIN { printf "%.3f", 0.05 + (r % 1950) / 1000 }')"
  kill -9 "$agent_pid"
  { wait "$agent_pid"; } 2>/dev/null || true
  kill "$writer_pid" 2>/dev/null || true
  wait "$writer_pid" 2>/dev/null || true
  writer_pid=""

  ok_tag=$(awk '$1=="ok" && $2=="tag" {v=$3} END {print v}' "$work/journal")
  try_tag=$(awk '$1=="try" && $2=="tag" {v=$3} END {print v}' "$work/journal")
  ok_use=$(awk '$1=="ok" && $2=="use" {v=$3} END {print v}' "$work/journal")
  try_use=$(awk '$1=="try" && $2=="use" {v=$3} END {print v}' "$work/journal")

  if ! start_agent; then
    fail=$((fail + 1))
    failures+=("iteration $i: restart failed: $(tail -3 "$work/agent.log" | tr '\n' ' ')")
    failures+=("  tags.json: $(wc -c <"$state/tags.json") bytes, keyring.json: $(wc -c <"$state/keyring.json") bytes, snapshot: $(wc -l <"$state/snapshot" 2>/dev/null || echo 0) lines")
    # Repair by hand so the run can go on and count further failures.
    printf '{}' >"$state/tags.json"
    printf '[\n  "%s"\n]' "$primary" >"$state/keyring.json"
    rm -f "$state/snapshot"
    start_agent || { echo "cannot restart even after repair"; exit 1; }
    [ -n "$ok_tag" ] && gen=$((ok_tag + 1))
    continue
  fi

  got_tag=$("$serf" members "$rpcflag" -format=json | jq -r '.members[] | select(.name=="crash") | .tags.gen // ""')
  got_primary=$(jq -r '.[0]' "$state/keyring.json")
  want_tag="${ok_tag:-}"
  if [ -n "$want_tag" ] && [ "$got_tag" != "$want_tag" ] && [ "$got_tag" != "$try_tag" ]; then
    fail=$((fail + 1))
    failures+=("iteration $i: tag gen=$got_tag after restart, last confirmed $want_tag, in flight $try_tag")
  fi
  want_primary=${ok_use:-$primary}
  if [ "$got_primary" != "$want_primary" ] && [ "$got_primary" != "${try_use:-}" ]; then
    fail=$((fail + 1))
    failures+=("iteration $i: primary key after restart is not the last one used")
  fi
  # Go on from what the agent has now.
  [ -n "$got_tag" ] && gen=$((got_tag + 1))
  primary=$got_primary
  printf '\r%d/%d iterations, %d failures' "$i" "$ITERATIONS" "$fail"
done
echo
snap_lines=$(wc -l <"$state/snapshot" 2>/dev/null || echo 0)
echo "crash-safety: $ITERATIONS kills, $fail failures; snapshot has $snap_lines lines"
for f in "${failures[@]}"; do echo "  $f"; done
[ "$fail" -eq 0 ]
