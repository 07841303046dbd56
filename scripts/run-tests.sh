#!/usr/bin/env bash
# Runs every test: unit, end to end, short fuzz runs and interop.
set -euo pipefail
cd "$(dirname "$0")/.."
export GNET_LOGGING_LEVEL=2
go vet ./...
go test -count=1 ./...
# wsproto: short fuzz runs of the handshake parser, the frame reader and the deflate reader.
go test ./wsproto -run='^$' -fuzz='^FuzzHandshake$' -fuzztime=3s
go test ./wsproto -run='^$' -fuzz='^FuzzReader$' -fuzztime=3s
go test ./wsproto -run='^$' -fuzz='^FuzzDeflateReader$' -fuzztime=3s
