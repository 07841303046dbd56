// Package engine is a WebSocket server on a gnet v2 epoll reactor: it runs
// each TCP connection through its state machine (HTTP upgrade, then
// WebSocket frames, then the closing handshake). A bridge's engine
// authenticates /colibri-ws and /colibri-relay-ws connections against the
// conference table and hands their text messages to the router (the
// bridge package sets that up through internal/seam); every other upgrade
// goes to the Application of Options, whose Handler gets the socket's
// messages (app.go, appconn.go, socket.go). Both kinds of socket share the
// reactor, the limits and the policies below.
//
// Inbound is flow control: each connection routes at most its share of a
// loop round (read.go, policy.go) and what is left waits, unparsed, for the
// next round, which the loop's doorbell starts. Outbound frames are
// coalesced per connection and written once per loop round; frames for
// connections on another loop travel, in order, through that loop's inbox. Timers (handshake timeout, keepalive pings, idle timeout, the
// slow-consumer grace) run from gnet's ticker as one sweep per loop. TLS
// connections are terminated with crypto/tls and enrolled into the same
// loops over a socket pair; relays to other bridges are dialled and enrolled
// the same way, so every WebSocket runs the same state machine.
//
// engine depends on internal/route, internal/seam, wsproto and config;
// routing never imports it. Its exported API names none of gnet's or
// internal/route's types.
package engine
