// Package interop runs the bridge against real third-party software: nginx
// with the seed's two-bridge configuration in front, and the clients people
// actually use — lib-jitsi-meet's BridgeChannel (from Node), Chromium (driven
// by playwright-core), Node's ws and python3-websockets.
//
// Everything runs as real processes on loopback: the bridge is the built
// cmd/bridge binary with a jvb.conf, nginx is Debian's nginx with a generated
// unprivileged nginx.conf, and each client is a subprocess speaking a small
// line protocol (JSON commands on stdin, JSON events on stdout; see Client).
// scripts/install-deps.sh installs every client; a missing one fails the
// tests, it never skips them.
//
// The package is test code only: its helpers (StartBridge, StartNginx,
// StartDeployment, the Client constructors) are in its _test.go files, and
// what other packages' tests share with it (child processes, the built
// bridge, free ports, polling) is in internal/testbridge.
//
// These tests depend only on the bridge's external contracts (CLI, jvb.conf,
// REST, WebSocket URLs, colibri2's JSON); they use none of the bridge's Go
// API.
package interop
