#!/usr/bin/env bash
# bench/run.sh SCENARIO [loadgen flags...]
#
# Builds the load generator and the peers, then for each server in $SERVERS
# (default: rawgnet gorilla gws nbio; add "bridge" for ./cmd/bridge) starts
# the server pinned to CPU 0 with GOMAXPROCS=1, runs bench/loadgen pinned to
# CPU 1 against it, stops it, and writes one JSON result per run under
# bench/results/ (plus the printed tables in a .txt next to them).
# Loopback only; every run is bounded by its -duration and by $RUN_TIMEOUT.
#
# Without loadgen flags each scenario runs its default variants (below;
# S2 and S3 include permessage-deflate variants, -deflate, which rawgnet
# skips). loadgen exits 3 on an incomplete run, reported as "run failed".
# With flags, exactly those are used for one variant.
#
# Environment:
#   SERVERS       servers to run, in order (rawgnet gorilla gws nbio bridge
#                 bridge-base; rawgnet-from is rawgnet -from: it puts
#                 "from" in each message as the bridge does, same bytes)
#   BASE_REV, BASE_ARGS  bridge-base: the revision built and its arguments
#   BRIDGE_ARGS   arguments for the bridge ("--config bench/bridge.conf": ports
#                 9190/8180, every limit the default; "" = the embedded defaults)
#   BRIDGE_REST   REST address of the bridge (127.0.0.1:8180; 127.0.0.1:8080 with BRIDGE_ARGS="")
#   BRIDGE_WS     WebSocket address to dial instead of the advertised one (127.0.0.1:9190 / 9090)
#   S5_BRIDGE_A_ARGS, S5_BRIDGE_B_ARGS, S5_REST_A, S5_REST_B, S5_WS_A, S5_WS_B, S5_RELAY_IDS
#                 S5 only: two bridges linked by relays (defaults: bench/relay-a.conf
#                 and relay-b.conf, REST 8180/8280, WS 9190/9290, relay ids jvb-a,jvb-b)
#   RESULTS       output directory (bench/results)
#   RUN_TIMEOUT   seconds after which one loadgen run is killed (600)
#   BUILD_FROM    a git revision (e.g. HEAD): build from that commit instead of
#                 the work tree, which other sessions may be editing mid-build
#   NICE          niceness of the server and the generator (-10 when root, so
#                 that builds and tests of other sessions on the same 2 cores
#                 disturb the measurement less; set NICE=0 to turn it off).
#                 The kernel groups processes by session (sched_autogroup), and
#                 nice only orders processes within a group, so the script
#                 re-runs itself in a new session and sets that group's nice.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${NICE:-}" ]; then NICE=0; [ "$(id -u)" = 0 ] && NICE=-10; fi
if [ "$NICE" != 0 ] && [ -z "${BENCH_IN_SESSION:-}" ] && command -v setsid >/dev/null; then
  exec setsid -w env BENCH_IN_SESSION=1 NICE="$NICE" bash "$0" "$@"
fi
if [ "$NICE" != 0 ] && [ -w /proc/self/autogroup ]; then echo "$NICE" > /proc/self/autogroup 2>/dev/null || true; fi

SCEN=${1:?usage: bench/run.sh S1|S2|S3|S4|S5|S6|S7|S8 [loadgen or bench/mesh flags...]}
shift
SCEN=${SCEN^^}
SERVERS=${SERVERS:-rawgnet gorilla gws nbio}
RESULTS=${RESULTS:-bench/results}
RUN_TIMEOUT=${RUN_TIMEOUT:-600}
BIN=bench/results/tmp/bin
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
export GNET_LOGGING_LEVEL=2
BRIDGE_ARGS=${BRIDGE_ARGS---config bench/bridge.conf --log-level warn}
if [ -z "$BRIDGE_ARGS" ]; then
  BRIDGE_REST=${BRIDGE_REST:-127.0.0.1:8080}; BRIDGE_WS=${BRIDGE_WS:-127.0.0.1:9090}
else
  BRIDGE_REST=${BRIDGE_REST:-127.0.0.1:8180}; BRIDGE_WS=${BRIDGE_WS:-127.0.0.1:9190}
fi
PIN0="nice -n $NICE taskset -c 0"
PIN1="nice -n $NICE taskset -c 1"
mkdir -p "$BIN" "$RESULTS"

# S7 (bench/mesh) starts its own bridges (defaults, own ports) and generator
# processes: one conference over N bridges in a full relay mesh, on both
# cores. Flags, if any, go to bench/mesh.
if [ "$SCEN" = S7 ]; then
  go build -o "$BIN/" ./cmd/bridge
  (cd bench && go build -o "../$BIN/" ./mesh) # bench/ is a module of its own
  [ $# -gt 0 ] || set -- -bridges 4 -endpoints 500 -rates 2,10,40 -duration 10s
  mkdir -p "$RESULTS/plots"
  timeout --kill-after=10 "$RUN_TIMEOUT" nice -n "$NICE" "$BIN/mesh" -bin "$BIN/bridge" "$@" \
    -out "$RESULTS/S7-$STAMP.json" -svg "$RESULTS/plots/S7-$STAMP.svg" | tee "$RESULTS/S7-$STAMP.txt"
  exit "${PIPESTATUS[0]}"
fi

# Default variants per scenario, separated by "|".
case $SCEN in
  S1) VARIANTS="-duration 10s" ;;
  S2) VARIANTS="-window 8 -duration 10s|-rate 2500 -duration 10s|-rate 5000 -duration 10s|-rate 10000 -duration 10s|-rate 20000 -duration 10s"
      VARIANTS+="|-deflate -window 8 -duration 10s|-deflate -rate 5000 -duration 10s|-deflate -rate 20000 -duration 10s" ;;
  S3) VARIANTS="-window 16 -duration 10s|-rate 500 -duration 10s|-deflate -window 16 -duration 10s|-deflate -rate 500 -duration 10s" ;;
  S4) VARIANTS="-confs 50 -window 1 -duration 10s|-confs 500 -window 1 -duration 10s|-confs 500 -rate 5000 -duration 10s|-confs 500 -rate 20000 -duration 10s" ;;
  S5) VARIANTS="-window 8 -duration 10s|-rate 5000 -duration 10s|-rate 20000 -duration 10s"; SERVERS=bridge ;;
  S6) VARIANTS="-rate 50 -duration 10s|-rate 400 -duration 10s" ;;
  S8) VARIANTS="-duration 10s" ;;
  *) echo "unknown scenario $SCEN" >&2; exit 2 ;;
esac
if [ $# -gt 0 ]; then VARIANTS="$*"; fi

SRC=.
if [ -n "${BUILD_FROM:-}" ]; then
  SRC=bench/results/tmp/src
  rm -rf "$SRC" && mkdir -p "$SRC"
  git archive "$BUILD_FROM" | tar -x -C "$SRC"
fi
ABSBIN=$(cd "$BIN" && pwd)
echo "building $(cd "$SRC" && git describe --always --dirty 2>/dev/null || echo "$BUILD_FROM") into $BIN" >&2
# bench/ is its own module (bench/go.mod, the bridge by replace ../), so that
# an SFU embedding the bridge does not inherit the peers' dependencies.
(cd "$SRC/bench" && go build -o "$ABSBIN/" ./loadgen ./peers/rawgnet ./peers/gorilla ./peers/gws ./peers/nbio)
case " $SERVERS " in *" bridge "*) (cd "$SRC" && go build -o "$ABSBIN/bridge" ./cmd/bridge) ;; esac
# bridge-base: ./cmd/bridge of BASE_REV (default 55e6ffb, the last engine with
# the inbound token bucket), for before/after runs beside "bridge". That
# engine drops past 500 msg/s per connection on its defaults, so it runs
# with its limiter raised (BASE_ARGS): the comparison is of speed, and the
# "after" bridge runs on its defaults.
BASE_REV=${BASE_REV:-55e6ffb}
BASE_CONF="$RESULTS/tmp/bridge-base.conf"
BASE_ARGS=${BASE_ARGS---config $BASE_CONF --log-level warn}
case " $SERVERS " in *" bridge-base "*)
  base_src=$(mktemp -d)
  git archive "$BASE_REV" | tar -x -C "$base_src"
  (cd "$base_src" && go build -o "$ABSBIN/bridge-base" ./cmd/bridge)
  rm -rf "$base_src"
  mkdir -p "$RESULTS/tmp"
  printf '%s\n' 'videobridge {' '  http-servers { public { port = 9190 }, private { port = 8180 } }' \
    '  websockets { domain = "127.0.0.1:9190", limits { inbound-rate = 100000, inbound-queue = 1000 } }' '}' >"$BASE_CONF" ;;
esac

PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# start NAME: starts one server on CPU 0; sets PID, REST and LGARGS.
start() {
  local name=$1 log="$RESULTS/tmp/$name.log"
  mkdir -p "$RESULTS/tmp"
  LGARGS=()
  local rest
  case $name in rawgnet|rawgnet-from) rest=127.0.0.1:8081;; gorilla) rest=127.0.0.1:8082;; gws) rest=127.0.0.1:8083;;
    nbio) rest=127.0.0.1:8084;; bridge|bridge-base) rest=$BRIDGE_REST;; esac
  if [ -n "${rest:-}" ] && listening "$rest"; then
    echo "$rest is already in use: another server (or another run.sh) is running" >&2; exit 1
  fi
  case $name in
    rawgnet) REST=127.0.0.1:8081; GOMAXPROCS=1 $PIN0 "$BIN/rawgnet" -ws 127.0.0.1:9091 -rest $REST >"$log" 2>&1 &
             LGARGS=(-verify-from=false) ;;
    rawgnet-from) REST=127.0.0.1:8081; GOMAXPROCS=1 $PIN0 "$BIN/rawgnet" -from -ws 127.0.0.1:9091 -rest $REST >"$log" 2>&1 & ;;
    gorilla) REST=127.0.0.1:8082; GOMAXPROCS=1 $PIN0 "$BIN/gorilla" -ws 127.0.0.1:9092 -rest $REST >"$log" 2>&1 & ;;
    gws)     REST=127.0.0.1:8083; GOMAXPROCS=1 $PIN0 "$BIN/gws" -ws 127.0.0.1:9093 -rest $REST >"$log" 2>&1 & ;;
    nbio)    REST=127.0.0.1:8084; GOMAXPROCS=1 $PIN0 "$BIN/nbio" -ws 127.0.0.1:9094 -rest $REST >"$log" 2>&1 & ;;
    bridge)  REST=$BRIDGE_REST
             # shellcheck disable=SC2086
             GOMAXPROCS=1 $PIN0 "$BIN/bridge" $BRIDGE_ARGS >"$log" 2>&1 &
             LGARGS=(-ws-addr "$BRIDGE_WS") ;;
    bridge-base) REST=$BRIDGE_REST
             # shellcheck disable=SC2086
             GOMAXPROCS=1 $PIN0 "$BIN/bridge-base" $BASE_ARGS >"$log" 2>&1 &
             LGARGS=(-ws-addr "$BRIDGE_WS") ;;
    *) echo "unknown server $name" >&2; exit 2 ;;
  esac
  PID=$!
  PIDS+=("$PID")
  ready "$name"
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# listening HOST:PORT: is something accepting connections there?
listening() { (exec 3<>"/dev/tcp/${1%:*}/${1##*:}") 2>/dev/null; }

# ready NAME: waits (10 s at most) until the started server's REST port
# answers, failing if the process died (e.g. a port already in use).
ready() {
  for _ in $(seq 100); do
    if ! kill -0 "$PID" 2>/dev/null; then
      echo "$1 exited; its log:" >&2; cat "$RESULTS/tmp/$1.log" >&2; return 1
    fi
    listening "$REST" && return 0
    sleep 0.1
  done
  echo "$1 not listening on $REST after 10 s" >&2; return 1
}

# run_one NAME ARGS...: one loadgen run against the started server.
run_one() {
  local name=$1; shift
  local tag; tag=$(echo "$*" | tr -c 'a-zA-Z0-9=.\n' '_' | tr -s '_' | sed 's/_$//')
  local out="$RESULTS/$SCEN-$name-$STAMP-$tag.json"
  echo "== $SCEN $name $*" | tee -a "$RESULTS/$SCEN-$STAMP.txt" >&2
  timeout --kill-after=10 "$RUN_TIMEOUT" $PIN1 "$BIN/loadgen" -scenario "$SCEN" -server "$name" \
    -rest "$REST" -server-pid "$PID" -out "$out" "${LGARGS[@]}" "$@" | tee -a "$RESULTS/$SCEN-$STAMP.txt"
}

if [ "$SCEN" = S5 ]; then
  # Two bridges sharing CPU 0, linked by relays (bench/relay-a.conf, relay-b.conf).
  A_ARGS=${S5_BRIDGE_A_ARGS:---config bench/relay-a.conf --log-level warn}
  B_ARGS=${S5_BRIDGE_B_ARGS:---config bench/relay-b.conf --log-level warn}
  REST_A=${S5_REST_A:-127.0.0.1:8180}; REST_B=${S5_REST_B:-127.0.0.1:8280}
  WS_A=${S5_WS_A:-127.0.0.1:9190}; WS_B=${S5_WS_B:-127.0.0.1:9290}
  for r in "$REST_A" "$REST_B"; do
    if listening "$r"; then echo "$r is already in use" >&2; exit 1; fi
  done
  mkdir -p "$RESULTS/tmp"
  # shellcheck disable=SC2086
  GOMAXPROCS=1 $PIN0 "$BIN/bridge" $A_ARGS >"$RESULTS/tmp/bridge-a.log" 2>&1 & PA=$!; PIDS+=("$PA")
  # shellcheck disable=SC2086
  GOMAXPROCS=1 $PIN0 "$BIN/bridge" $B_ARGS >"$RESULTS/tmp/bridge-b.log" 2>&1 & PB=$!; PIDS+=("$PB")
  PID=$PA REST=$REST_A; ready bridge-a; PID=$PB REST=$REST_B; ready bridge-b
  IFS='|' read -ra VS <<< "$VARIANTS"
  for v in "${VS[@]}"; do
    tag=$(echo "$v" | tr -c 'a-zA-Z0-9=.\n' '_' | tr -s '_' | sed 's/_$//')
    echo "== S5 bridge-a+b $v" | tee -a "$RESULTS/S5-$STAMP.txt" >&2
    # shellcheck disable=SC2086
    timeout --kill-after=10 "$RUN_TIMEOUT" $PIN1 "$BIN/loadgen" -scenario S5 -server bridge-relay \
      -rest "$REST_A,$REST_B" -ws-addr "$WS_A,$WS_B" -relay-ids "${S5_RELAY_IDS:-jvb-a,jvb-b}" \
      -server-pid "$PA,$PB" -out "$RESULTS/S5-bridge-relay-$STAMP-$tag.json" $v | tee -a "$RESULTS/S5-$STAMP.txt" \
      || echo "run failed: S5 $v (logs: $RESULTS/tmp/bridge-a.log, bridge-b.log)" >&2
  done
  stop "$PA"; stop "$PB"
  exit 0
fi

IFS='|' read -ra VS <<< "$VARIANTS"
for name in $SERVERS; do
  start "$name"
  for v in "${VS[@]}"; do
    if [[ "$name" == rawgnet* ]] && [[ " $v " == *" -deflate "* ]]; then
      echo "== $SCEN $name $v: skipped (rawgnet does not negotiate permessage-deflate)" | tee -a "$RESULTS/$SCEN-$STAMP.txt" >&2
      continue
    fi
    # shellcheck disable=SC2086
    run_one "$name" $v || echo "run failed (or incomplete, see above): $SCEN $name $v" >&2
  done
  stop "$PID"
done
echo "results: $RESULTS/$SCEN-*-$STAMP-*.json, tables: $RESULTS/$SCEN-$STAMP.txt" >&2
