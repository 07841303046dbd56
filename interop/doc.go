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
// The exported helpers (StartBridge, StartNginx, StartDeployment, the
// Client constructors) are for other packages' deployment tests too, such as
// relays across two bridges behind nginx. Packages that use them should run
// their tests through Main, which removes the bridge binary built for them.
//
// This package depends only on the bridge's external contracts (CLI, jvb.conf,
// REST, WebSocket URLs); it imports none of the bridge's packages.
package interop
