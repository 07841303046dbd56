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
# bench/ is its own module (its peers' dependencies stay out of the root's).
(cd bench && go mod download)
# examples/sfu, the reference embedding, is one more (it brings pion/webrtc).
(cd examples/sfu && go mod download)
# config tests generate key stores with openssl and keytool (a JDK's key tool).
command -v openssl >/dev/null || { apt-get update -qq && apt-get install -y -qq openssl; }
command -v keytool >/dev/null || { apt-get update -qq && apt-get install -y -qq openjdk-17-jre-headless; }

# --- interop (interop/, docs/interop.md): third-party clients, pinned, into
# the git-ignored prefix interop/.deps; each step only when its marker is missing.
# Node: ws (client), playwright-core (drives Debian's chromium), @jitsi/logger
# (BridgeChannel needs it). lib-jitsi-meet: `npm install` of the fork fails on
# github: dependencies, so its tarball is unpacked (npm pack) instead.
interop_deps=interop/.deps
interop_pins="ws@8.23.0 playwright-core@1.65.1 @jitsi/logger@2.0.0"
mkdir -p "$interop_deps"
if [ "$(cat "$interop_deps/.npm-pins" 2>/dev/null)" != "$interop_pins" ] \
   || [ ! -f "$interop_deps/node_modules/ws/package.json" ] \
   || [ ! -f "$interop_deps/node_modules/playwright-core/package.json" ] \
   || [ ! -f "$interop_deps/node_modules/@jitsi/logger/package.json" ]; then
  [ -f "$interop_deps/package.json" ] || echo '{"name":"colibri-interop-deps","private":true}' > "$interop_deps/package.json"
  # shellcheck disable=SC2086
  npm install --prefix "$interop_deps" --no-audit --no-fund --no-save --loglevel=error $interop_pins
  echo "$interop_pins" > "$interop_deps/.npm-pins"
fi
if [ ! -f "$interop_deps/lib-jitsi-meet/dist/modules/RTC/BridgeChannel.js" ]; then
  ( cd "$interop_deps" && rm -rf lib-jitsi-meet package lyno-lib-jitsi-meet-*.tgz \
    && npm pack --silent @lyno/lib-jitsi-meet@2.6726.2 >/dev/null \
    && tar xzf lyno-lib-jitsi-meet-2.6726.2.tgz && mv package lib-jitsi-meet \
    && rm -f lyno-lib-jitsi-meet-2.6726.2.tgz )
fi
# --- end interop

# --- dashboard (interop/dashboard, docs/operations.md): the browser test of the
# bridge's dashboard runs test.mjs with playwright-core from interop/.deps and
# Debian's chromium (both above). The interop block installs playwright-core
# with the same pin; this only repairs a prefix that lacks it.
if [ ! -f interop/.deps/node_modules/playwright-core/package.json ]; then
  npm install --prefix interop/.deps --no-audit --no-fund --no-save --loglevel=error playwright-core@1.65.1
fi
# --- end dashboard
