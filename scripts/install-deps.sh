#!/usr/bin/env bash
# Installs the test dependencies: Debian packages, npm packages, Go modules.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
go mod download
# config tests generate key stores with openssl and keytool (a JDK's key tool).
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
command -v keytool >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }
