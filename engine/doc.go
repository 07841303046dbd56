// Package engine is the bridge's public WebSocket server: a gnet v2 epoll
// reactor that runs each TCP connection through its state machine (HTTP
// upgrade, then WebSocket frames, then the closing handshake), authenticates
// /colibri-ws and /colibri-relay-ws connections against the routing table,
// and hands their text messages to the router.
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
// engine depends on routing, wsproto and config; routing never imports it.
package engine
