#!/usr/bin/env bash
# Installs the test dependencies: Debian packages, npm packages, Go modules.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

# Debian packages: nginx (two-bridge deployment tests), python3-websockets
# (a strict third-party client), chromium (browser interop and the dashboard
# test). apt-get update runs once, only when something is missing.
need=()
command -v nginx >/dev/null || need+=(nginx)
[ -d /usr/lib/python3/dist-packages/websockets ] || need+=(python3-websockets)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

go mod download
# config tests generate key stores with openssl and keytool (a JDK's key tool).
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
command -v keytool >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }
