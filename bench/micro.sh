#!/usr/bin/env bash
# bench/micro.sh OLD NEW [PACKAGE...]
#
# Compares Go micro-benchmarks between two git revisions with benchstat.
# Each revision is exported (git archive) into a temporary directory, so
# neither the work tree nor other worktrees are touched, and each
# package's test binary is built once per revision. The binaries then run
# alternately, old, new, old, new, ... COUNT times each with -count=1, so
# that a drift of the machine (other work on the two shared cores) hits
# both sides alike, and benchstat prints the comparison: medians, 95 %
# confidence intervals, and p-values (a "~" means no significant change).
#
#   bench/micro.sh HEAD~1 HEAD ./wsproto ./routing
#   BENCH='Frame|Handshake' bench/micro.sh main bench ./wsproto
#   bench/micro.sh HEAD . ./routing        # "." = the work tree, uncommitted changes included
#
# PACKAGEs are directories relative to the repository root (default
# ./wsproto ./routing); ./bench/... packages build in the bench module.
# Environment: BENCH (-bench regexp, default .), COUNT (10), BENCHTIME
# (-benchtime, default go's 1s), PIN (a prefix for each run, e.g.
# "taskset -c 1"), KEEP=1 keeps the raw outputs (printed at the end).
# Needs benchstat: go install golang.org/x/perf/cmd/benchstat@latest
set -euo pipefail
OLD=${1:?usage: bench/micro.sh OLD NEW [PACKAGE...]}
NEW=${2:?usage: bench/micro.sh OLD NEW [PACKAGE...]}
shift 2
PKGS=("$@")
[ ${#PKGS[@]} -gt 0 ] || PKGS=(./wsproto ./routing)
BENCH=${BENCH:-.}
COUNT=${COUNT:-10}
PIN=${PIN:-}
BENCHSTAT=$(command -v benchstat || echo "$(go env GOPATH)/bin/benchstat")
if [ ! -x "$BENCHSTAT" ]; then
  echo "benchstat not found: go install golang.org/x/perf/cmd/benchstat@latest" >&2; exit 2
fi
ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
TMP=$(mktemp -d)
[ -n "${KEEP:-}" ] || trap 'rm -rf "$TMP"' EXIT

# export REV DIR: the tree of REV ("." = the work tree's tracked files,
# uncommitted changes included, via git stash create) into DIR.
export_rev() {
  local rev=$1 dir=$2
  if [ "$rev" = . ]; then rev=$(git -C "$ROOT" stash create); rev=${rev:-HEAD}; fi
  mkdir -p "$dir"
  git -C "$ROOT" archive "$rev" | tar -x -C "$dir"
}

# build SIDE: one test binary per package of that side's tree.
build() {
  local side=$1 pkg mod rel
  for pkg in "${PKGS[@]}"; do
    pkg=${pkg#./}
    mod=$TMP/$side/src; rel=./$pkg
    case $pkg in bench/*) mod=$TMP/$side/src/bench; rel=./${pkg#bench/} ;; esac
    (cd "$mod" && go test -c -o "$TMP/$side/bin/${pkg//\//_}.test" "$rel") >&2
  done
}

for side in old new; do
  rev=$OLD; [ $side = new ] && rev=$NEW
  echo "building $side = $rev" >&2
  export_rev "$rev" "$TMP/$side/src"
  build $side
done

args=(-test.run='^$' -test.bench="$BENCH" -test.benchmem -test.count=1)
[ -n "${BENCHTIME:-}" ] && args+=(-test.benchtime="$BENCHTIME")
for i in $(seq "$COUNT"); do
  echo "round $i of $COUNT" >&2
  for side in old new; do
    for pkg in "${PKGS[@]}"; do
      pkg=${pkg#./}
      bin=$TMP/$side/bin/${pkg//\//_}.test
      [ -x "$bin" ] || continue # a package without tests
      # Run from the package's directory, as go test does (testdata/).
      # shellcheck disable=SC2086
      (cd "$TMP/$side/src/$pkg" && $PIN "$bin" "${args[@]}") >> "$TMP/$side.txt"
    done
  done
done
"$BENCHSTAT" "old=$TMP/old.txt" "new=$TMP/new.txt"
[ -z "${KEEP:-}" ] || echo "raw outputs: $TMP/old.txt $TMP/new.txt" >&2
