// Package routing is the conference table and the Colibri routing rules of
// the bridge: which endpoint or relay receives a message, with which "from".
//
// It keeps conferences keyed by the bridge's conference id (lock-free reads),
// each with a copy-on-write snapshot of its local endpoints, its relays and
// the remote endpoints reached through them. Router classifies each text
// message (colibriClass), validates it strictly (duplicate keys rejected at
// any depth), rewrites "from" for local senders while keeping every other
// byte verbatim, encodes the outgoing frame once and hands it, with the list
// of receiving connections, to a Sink.
//
// It knows nothing of sockets or event loops: the transport (package engine,
// or a benchmark peer) implements Conn and Sink. It depends only on wsproto
// for frame encoding.
package route
