package engine

import (
	"errors"
	"sync/atomic"
	"unicode/utf8"

	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/wsproto"
)

// Errors of Socket.Send.
var (
	// ErrClosed: the socket's OnClose has run; nothing more is sent.
	ErrClosed = errors.New("engine: socket closed")
	// ErrOpCode: only text and binary messages are sent by Send.
	ErrOpCode = errors.New("engine: Send takes a text or binary opcode")
)

// appClass is the class an application's frames are counted under: they
// are never dropped for a slow receiver before others (route.Class).
const appClass = route.ClassUnknown

// maxCloseReason is the longest reason a close frame carries: 125 bytes of
// payload, 2 of them the code.
const maxCloseReason = 123

// Socket is one application WebSocket. Its methods are safe for concurrent
// use, from any goroutine, but for Context and SetContext.
type Socket struct {
	c    *conn
	h    Handler
	self [1]*conn // c, as the receivers of the frames Send puts on the inbox
	gone atomic.Bool
	ctx  any
}

// Send queues a copy of payload as one message of op (wsproto.OpText or
// wsproto.OpBinary; a text payload must be valid UTF-8, which Send does not
// check). The message leaves in order with the socket's other sends, at
// the end of its loop's round, compressed when the socket negotiated
// permessage-deflate and the message is large enough. It goes through the
// outbound policy of every socket: past Limits.OutboundBudget queued the
// socket goes into its grace, and a socket that does not drain (or whose
// queue passes four budgets) is closed with 1008 "slow consumer".
//
// Send never blocks on the socket: from any goroutine, the message travels
// to the socket's loop through the loop's inbox. It returns ErrClosed once
// OnClose has run; a message sent while the socket closes is dropped and
// counted (no_connection).
func (s *Socket) Send(op wsproto.OpCode, payload []byte) error {
	if op != wsproto.OpText && op != wsproto.OpBinary {
		return ErrOpCode
	}
	if s.gone.Load() {
		return ErrClosed
	}
	l := s.c.loop
	l.schedule(l.in.put(wsproto.NewSharedFrame(op, payload), appClass, s.self[:]))
	return nil
}

// Close starts the closing handshake with code and reason, after the
// messages sent before it; the socket closes when the peer answers, or
// after two seconds. A code that may not be sent (wsproto.ValidCloseCode)
// is sent as 1000; a reason is cut to 123 bytes, at a character's start.
func (s *Socket) Close(code uint16, reason string) {
	if !wsproto.ValidCloseCode(code) {
		code = wsproto.CloseNormal
	}
	if len(reason) > maxCloseReason {
		n := maxCloseReason
		for n > 0 && !utf8.RuneStart(reason[n]) {
			n-- // not inside a UTF-8 sequence
		}
		reason = reason[:n]
	}
	c := s.c
	c.loop.control(func() { c.startClose(code, reason) })
}

// RemoteAddr returns the peer's address (for a TLS connection, the TLS
// peer's).
func (s *Socket) RemoteAddr() string { return s.c.RemoteAddr() }

// Context returns what SetContext stored. Only the handler's methods may
// call it: it is owned by the socket's loop.
func (s *Socket) Context() any { return s.ctx }

// SetContext stores v with the socket, for the handler's methods.
func (s *Socket) SetContext(v any) { s.ctx = v }
