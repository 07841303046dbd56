#!/usr/bin/env bash
# Runs every test: unit, end to end, short fuzz runs and interop.
set -euo pipefail
cd "$(dirname "$0")/.."
export GNET_LOGGING_LEVEL=2
# Every Go file of the tree is gofmt'ed (the bench and example modules too).
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './bench/results/*'))
if [ -n "$unformatted" ]; then echo "gofmt -l:"; echo "$unformatted"; exit 1; fi
go vet ./...
# Every package but interop; interop runs once, under -race, below.
go test -count=1 $(go list ./... | grep -v '/interop')
# bench/ is a module of its own (load generator, peers, plots, the
# in-process check of the generator against the bridge).
(cd bench && go vet ./... && go test -count=1 ./...)
# Each load benchmark once (bench/loadbench, BENCHMARKS.md "Load runs with go
# test -bench"): in-process bridges on their defaults, a few seconds in all;
# each fails unless every message reached every receiver exactly once.
(cd bench && go test -count=1 -run='^$' -bench=. -benchtime=1x ./loadbench)
# examples/sfu is a module of its own too (pion stays out of the root's
# go.mod): the reference embedding, tested with three headless Chromium
# pages (about 10 s).
(cd examples/sfu && go vet ./... && go test -count=1 ./...)
# wsproto: short fuzz runs of the handshake parser, the frame reader and the deflate reader.
go test ./wsproto -run='^$' -fuzz='^FuzzHandshake$' -fuzztime=3s
go test ./wsproto -run='^$' -fuzz='^FuzzReader$' -fuzztime=3s
go test ./wsproto -run='^$' -fuzz='^FuzzDeflateReader$' -fuzztime=3s
# Hardening: the end-to-end, engine and routing tests again under the race
# detector (the bridge tests also fail on leaked goroutines or descriptors),
# and a short fuzz run of the routing scanner (from rewrite, duplicate keys).
# ./engine/... is kept for the engine tests being added. wsproto's concurrent
# shared-frame test (lazy compression and Release from several goroutines)
# only proves anything under the race detector, so it runs here too.
# Interop runs here only, not above: under -race its bridges are built with
# -race as well, and a race one of them reports fails the test that started
# it; the race run costs it about 10 s more than a plain run, a second run
# would cost 25. colibri2/client (PlaceMesh dials several bridges at once)
# is raced too.
go test -race -count=1 ./bridge/... ./engine/... ./routing/... ./internal/route/... ./interop/... ./colibri2/client/...
go test -race -count=1 -run='^TestSharedFrameConcurrent$' ./wsproto
go test ./internal/route -run='^$' -fuzz='^FuzzScanRewrite$' -fuzztime=3s
# config: a short fuzz run of Load (validation, effective-config round trip,
# errors that name their key).
go test ./config -run='^$' -fuzz='^FuzzLoad$' -fuzztime=3s
# The deterministic simulation ran 2,000 schedules in the first go test
# (200 under -race). Mutations: each breaks one promise on purpose, and
# the test named for it must fail (docs/simulation.md lists them).
python3 scripts/mutations.py
