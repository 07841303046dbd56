#!/usr/bin/env bash
# cpu-per-delivery.sh LOADGEN_ARGS SERVER...: S2 against each server in
# turn, pinned as bench/run.sh pins them (server on CPU 0 with GOMAXPROCS=1,
# generator on CPU 1), and the server's CPU split per delivery: user and
# system nanoseconds, and bytes written and read, from /proc/PID/stat and
# /proc/PID/io at the end of the run. SERVER is rawgnet, rawgnet-from
# (rawgnet -from: "from" in each message, the bridge's bytes) or a bridge
# binary.
#
#   go build -o /tmp/bridge ./cmd/bridge
#   (cd bench && go build -o ../bench/results/tmp/bin/ ./loadgen ./peers/rawgnet)
#   bench/cpu-per-delivery.sh "-window 8 -duration 6s -verify-from=false" /tmp/bridge rawgnet /tmp/bridge rawgnet
#
# A run that is not complete prints INCOMPLETE and no figures.
set -euo pipefail
ARGS=$1; shift
BIN=bench/results/tmp/bin
export GNET_LOGGING_LEVEL=2
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for server in "$@"; do
  if [ "$server" = rawgnet ]; then
    GOMAXPROCS=1 nice -n -10 taskset -c 0 "$BIN/rawgnet" -ws 127.0.0.1:9091 -rest 127.0.0.1:8081 >/dev/null 2>&1 &
    pid=$!; rest=127.0.0.1:8081; extra=(-verify-from=false)
  elif [ "$server" = rawgnet-from ]; then
    GOMAXPROCS=1 nice -n -10 taskset -c 0 "$BIN/rawgnet" -from -ws 127.0.0.1:9091 -rest 127.0.0.1:8081 >/dev/null 2>&1 &
    pid=$!; rest=127.0.0.1:8081; extra=()
  else
    GOMAXPROCS=1 nice -n -10 taskset -c 0 "$server" --config bench/bridge.conf --log-level warn >/dev/null 2>&1 &
    pid=$!; rest=127.0.0.1:8180; extra=(-ws-addr 127.0.0.1:9190)
  fi
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/${rest%:*}/${rest#*:}") 2>/dev/null && break; sleep 0.1; done
  # shellcheck disable=SC2086
  nice -n -10 taskset -c 1 "$BIN/loadgen" -scenario S2 -server x -rest "$rest" "${extra[@]}" -server-pid "$pid" $ARGS \
    -out /dev/null >"$out" 2>&1 || true
  read -r ut st < <(awk '{print $14, $15}' "/proc/$pid/stat")
  wc=$(awk '/^wchar/{print $2}' "/proc/$pid/io"); rc=$(awk '/^rchar/{print $2}' "/proc/$pid/io")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  name=$(basename "$server")
  if ! grep -q '^complete:' "$out"; then echo "$name INCOMPLETE"; continue; fi
  d=$(grep -oE '^delivered +[0-9]+' "$out" | grep -oE '[0-9]+')
  tick=$((1000000000 / $(getconf CLK_TCK)))
  printf '%-12s %s deliveries/s; per delivery: user %d ns, system %d ns, %d B written, %d B read\n' \
    "$name" "$(grep -oE '\(([0-9]+) deliveries/s\)' "$out" | grep -oE '[0-9]+')" \
    $((ut * tick / d)) $((st * tick / d)) $((wc / d)) $((rc / d))
done
