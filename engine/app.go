package engine

import (
	"github.com/colibri-bus/colibri/wsproto"
)

// Application serves the WebSocket upgrades of an engine whose path is not
// a Colibri one: an SFU's own signalling socket, an echo server for a
// conformance suite. The engine does the rest as for Colibri sockets: the
// handshake, permessage-deflate (when the config enables compression),
// frames, pings, the closing handshake, idle timeout and keepalive pings,
// outbound budgets and the slow-consumer close, TLS.
type Application interface {
	// Accept decides an upgrade request. It returns the socket's Handler,
	// or nil and the HTTP status to refuse the upgrade with (a status
	// outside 400-599 is answered 404). It runs on the connection's event
	// loop and must not block; r is valid only during the call (the
	// strings it returns may be kept).
	Accept(r *Request) (h Handler, status int)
}

// Handler is what one application socket means. Its methods run on the
// socket's event loop, one at a time for a socket, and must not block:
// every socket of the loop waits while they run. A handler that has slow
// work to do hands it to a goroutine of its own, which answers with
// Socket.Send. A call may run inside another socket's call on the same
// loop (a Send whose write fails closes that socket, and its OnClose runs
// then).
type Handler interface {
	// OnOpen runs once the upgrade response is written, before any
	// OnMessage.
	OnOpen(s *Socket)
	// OnMessage runs for each text or binary message, reassembled from its
	// fragments and decompressed. payload is valid only during the call:
	// copy what must outlive it. Pings are answered and close frames
	// handled by the engine; they do not reach the handler.
	OnMessage(s *Socket, op wsproto.OpCode, payload []byte)
	// OnClose runs once, when the TCP connection has closed; code and
	// reason are those of the closing handshake (the peer's close frame,
	// or ours), code 1006 (wsproto.CloseAbnormal) when there was none.
	// Sends after it are dropped.
	OnClose(s *Socket, code uint16, reason string)
}

// Request is a WebSocket upgrade request offered to an Application. It is
// valid only during Accept; the strings its methods return may be kept.
type Request struct {
	req    *wsproto.Request
	remote string
}

// Path returns the request target's path, before '?', as sent (not
// unescaped).
func (r *Request) Path() string { return r.req.Path }

// RawQuery returns the request target after '?', as sent; "" if none.
func (r *Request) RawQuery() string { return r.req.RawQuery }

// Host returns the Host header.
func (r *Request) Host() string { return r.req.Host }

// Origin returns the Origin header; "" if none.
func (r *Request) Origin() string { return r.req.Origin }

// XForwardedFor returns the X-Forwarded-For headers joined with ", ".
func (r *Request) XForwardedFor() string { return r.req.XForwardedFor }

// RemoteAddr returns the peer's address (for a TLS connection, the TLS
// peer's).
func (r *Request) RemoteAddr() string { return r.remote }
