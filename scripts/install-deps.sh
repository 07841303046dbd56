#!/usr/bin/env bash
# Installs the test dependencies: Debian packages, npm packages, Go modules.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
go mod download
