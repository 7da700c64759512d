#!/usr/bin/env bash
# Long soak on loopback: AGENTS agents for DURATION seconds, with one user
# event a second (from a random agent), tag churn every TAG_EVERY seconds,
# and a random agent killed with -9 and restarted every KILL_EVERY
# seconds. At the end:
#   - every agent that was never killed ran every event exactly once;
#   - for agents that were killed, the events they missed and ran twice
#     are counted, not failed: an agent killed right after running an
#     event and restarted without a snapshot no longer knows it, and runs
#     it again if the event is still being gossiped when it rejoins (so
#     does Serf). SNAPSHOT=1 gives every agent a snapshot file.
#   - RSS and goroutine counts of the never-killed agents, sampled every
#     SAMPLE_EVERY seconds, are fitted to a line: the slope per hour is
#     printed (flat means no leak).
#
#   AGENTS=32 DURATION=3600 KILL_EVERY=60 TAG_EVERY=5 SAMPLE_EVERY=30 WARMUP=60
#   KEEP=1 keeps the work directory (logs, handler output, samples).
#
# Everything binds 127.0.0.1. Exit status 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."

AGENTS=${AGENTS:-32}
DURATION=${DURATION:-3600}
KILL_EVERY=${KILL_EVERY:-60}
TAG_EVERY=${TAG_EVERY:-5}
SAMPLE_EVERY=${SAMPLE_EVERY:-30}
# Samples in the first WARMUP seconds are left out of the slopes: a fresh
# agent's heap grows to its working size then.
WARMUP=${WARMUP:-60}

work=$(mktemp -d /tmp/serf-soak.XXXXXX)
declare -a pid gport rport killed
cleanup() {
  for i in "${!pid[@]}"; do disown "${pid[$i]}" 2>/dev/null; kill -9 "${pid[$i]}" 2>/dev/null || true; done
  { wait; } 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "work directory kept: $work"; fi
}
trap cleanup EXIT

command -v jq >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jq; }
go build -o "$work/serf" ./cmd/serf
serf="$work/serf"

# 2*AGENTS distinct ports, each free on 127.0.0.1 for TCP and UDP.
mapfile -t ports < <(python3 - "$((2 * AGENTS))" <<'EOF'
import socket, sys
want, got, held = int(sys.argv[1]), [], []
while len(got) < want:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p))
    except OSError:
        t.close(); u.close(); continue
    held += [t, u]; got.append(p)
print("\n".join(map(str, got)))
EOF
)
for i in $(seq 0 $((AGENTS - 1))); do
  gport[$i]=${ports[$((2 * i))]}
  rport[$i]=${ports[$((2 * i + 1))]}
  killed[$i]=0
done

rpc() { echo "-rpc-addr=127.0.0.1:${rport[$1]}"; }

start_agent() {
  local i=$1 join=""
  # Join any other agent (the first one, or the second for the first).
  if [ "$i" -ne 0 ]; then join="-join=127.0.0.1:${gport[0]}"; elif [ "${2:-}" = restart ]; then join="-join=127.0.0.1:${gport[1]}"; fi
  local snap=""
  [ -n "${SNAPSHOT:-}" ] && snap="-snapshot=$work/snapshot-$i"
  "$serf" agent -node="soak-$i" -bind="127.0.0.1:${gport[$i]}" "$(rpc "$i")" -log-level=warn $join $snap \
    -event-handler "user=cat >> $work/events-$i; echo >> $work/events-$i" >>"$work/agent-$i.log" 2>&1 &
  pid[$i]=$!
  for _ in $(seq 1 200); do
    "$serf" members "$(rpc "$i")" >/dev/null 2>&1 && return 0
    kill -0 "${pid[$i]}" 2>/dev/null || { echo "agent $i exited:"; tail -5 "$work/agent-$i.log"; return 1; }
    sleep 0.1
  done
  echo "agent $i did not answer RPC"; return 1
}

alive_count() { "$serf" members "$(rpc "$1")" -status=alive 2>/dev/null | grep -c . || true; }

wait_all_alive() {
  local deadline=$((SECONDS + 120))
  while [ "$SECONDS" -lt "$deadline" ]; do
    local n
    n=$(alive_count "$1")
    [ "$n" -eq "$AGENTS" ] && return 0
    sleep 1
  done
  echo "agent $1 sees $(alive_count "$1") of $AGENTS alive after 120s"; return 1
}

echo "soak: $AGENTS agents for ${DURATION}s, an event a second, tags every ${TAG_EVERY}s, a kill every ${KILL_EVERY}s"
for i in $(seq 0 $((AGENTS - 1))); do start_agent "$i"; done
wait_all_alive 0

sample() {
  local t=$1
  for i in $(seq 0 $((AGENTS - 1))); do
    [ "${killed[$i]}" -eq 0 ] || continue
    local rss gor
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/${pid[$i]}/status" 2>/dev/null || echo "")
    gor=$("$serf" info "$(rpc "$i")" -format=json 2>/dev/null | jq -r '.runtime.goroutines' || echo "")
    [ -n "$rss" ] && [ -n "$gor" ] && echo "$t $i $rss $gor" >>"$work/samples"
  done
}

: >"$work/sent"
start=$SECONDS
n=0
kills=0
cli_fail=0
while [ $((SECONDS - start)) -lt "$DURATION" ]; do
  tick=$((SECONDS - start))
  n=$((n + 1))
  src=$((RANDOM % AGENTS))
  if "$serf" event "$(rpc "$src")" -coalesce=false soak "ev-$n" >/dev/null 2>&1; then
    echo "ev-$n" >>"$work/sent"
  else
    cli_fail=$((cli_fail + 1))
  fi
  if [ $((n % TAG_EVERY)) -eq 0 ]; then
    t=$((RANDOM % AGENTS))
    "$serf" tags "$(rpc "$t")" -set churn="$n" >/dev/null 2>&1 || cli_fail=$((cli_fail + 1))
  fi
  if [ $((n % SAMPLE_EVERY)) -eq 1 ]; then sample "$tick"; fi
  if [ $((n % KILL_EVERY)) -eq 0 ]; then
    v=$((RANDOM % AGENTS))
    kill -9 "${pid[$v]}"
    { wait "${pid[$v]}"; } 2>/dev/null || true
    killed[$v]=1
    kills=$((kills + 1))
    start_agent "$v" restart
  fi
  # One tick a second, whatever the commands cost.
  next=$((start + n))
  while [ "$SECONDS" -lt "$next" ]; do sleep 0.05; done
done
sample $((SECONDS - start))

sent=$(wc -l <"$work/sent")
echo "sent $sent events, $kills kills, $cli_fail CLI calls failed"
wait_all_alive 0 || true

# Every never-killed agent must run every event exactly once; for killed
# ones, misses and repeats are counted.
check() {
  local i=$1
  sort "$work/events-$i" 2>/dev/null | grep . | uniq -c | awk -v f="$work/sent" -v strict="$2" '
    BEGIN { while ((getline l < f) > 0) want[l] = 1 }
    { seen[$2] = $1; if ($1 > 1) dup++ }
    END {
      for (e in want) if (!(e in seen)) miss++
      printf "%d %d\n", miss + 0, dup + 0
    }'
}
fail=0
deadline=$((SECONDS + 120))
for i in $(seq 0 $((AGENTS - 1))); do
  [ "${killed[$i]}" -eq 0 ] || continue
  while :; do
    read -r miss dup < <(check "$i" 1)
    { [ "$miss" -eq 0 ] || [ "$SECONDS" -ge "$deadline" ]; } && break
    sleep 1
  done
  if [ "$miss" -ne 0 ] || [ "$dup" -ne 0 ]; then
    echo "FAIL soak-$i (never killed): $miss events missing, $dup run twice"; fail=1
  fi
done
up=0; restarted_dups=0; restarted_miss=0
for i in $(seq 0 $((AGENTS - 1))); do
  if [ "${killed[$i]}" -eq 0 ]; then up=$((up + 1)); continue; fi
  read -r miss dup < <(check "$i" 0)
  restarted_dups=$((restarted_dups + dup)); restarted_miss=$((restarted_miss + miss))
done
echo "never-killed agents: $up, each ran all $sent events exactly once: $([ $fail -eq 0 ] && echo yes || echo no)"
echo "restarted agents: $((AGENTS - up)); events they missed while down: $restarted_miss; events run twice: $restarted_dups"

# Least-squares slope per hour of RSS (MiB) and goroutines, per agent,
# then the median and the range over the never-killed agents.
keep=""
for i in $(seq 0 $((AGENTS - 1))); do [ "${killed[$i]}" -eq 0 ] && keep="$keep $i"; done
awk -v keep="$keep" -v warmup="$WARMUP" '
  BEGIN { split(keep, ks, " "); for (x in ks) up[ks[x]] = 1 }
  !($2 in up) || $1 < warmup { next }
  { i=$2; t=$1/3600; n[i]++; st[i]+=t; stt[i]+=t*t; sr[i]+=$3/1024; str[i]+=t*$3/1024; sg[i]+=$4; stg[i]+=t*$4
    if (!(i in r0)) { r0[i]=$3/1024; g0[i]=$4 } r1[i]=$3/1024; g1[i]=$4 }
  # Insertion sort of a[1..k]; mawk has no asort.
  function sortn(a, k,   x, y, v) { for (x = 2; x <= k; x++) { v = a[x]; for (y = x - 1; y >= 1 && a[y] > v; y--) a[y+1] = a[y]; a[y+1] = v } }
  END {
    for (i in n) { d = n[i]*stt[i] - st[i]*st[i]; if (n[i] < 3 || d == 0) continue
      k++; rs[k] = (n[i]*str[i] - st[i]*sr[i]) / d; gs[k] = (n[i]*stg[i] - st[i]*sg[i]) / d
      rf = rf sprintf(" %.0f->%.0f", r0[i], r1[i]); gf = gf sprintf(" %d->%d", g0[i], g1[i]) }
    if (k == 0) { print "not enough samples for a slope"; exit }
    sortn(rs, k); sortn(gs, k)
    printf "RSS slope: median %.2f MiB/h (min %.2f, max %.2f) over %d agents; first->last MiB:%s\n", rs[int((k+1)/2)], rs[1], rs[k], k, rf
    printf "goroutine slope: median %.1f /h (min %.1f, max %.1f); first->last:%s\n", gs[int((k+1)/2)], gs[1], gs[k], gf
  }' "$work/samples"
exit $fail
