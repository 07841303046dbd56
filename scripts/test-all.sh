#!/usr/bin/env bash
# Installs everything the tests need (Debian packages, npm packages, Go modules)
# and runs every test. `.ci/run` calls exactly this script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/run-tests.sh
