#!/usr/bin/env bash
# Runs every test: unit, end to end, short fuzz runs and interop.
set -euo pipefail
cd "$(dirname "$0")/.."
export GNET_LOGGING_LEVEL=2
go vet ./...
go test -count=1 ./...
