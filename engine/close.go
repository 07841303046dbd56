package engine

import (
	"time"

	"github.com/colibri-bus/colibri/wsproto"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// closeWait bounds how long a connection may take to answer our close frame.
const closeWait = 2 * time.Second

// Close starts the closing handshake from any goroutine (routing.Conn).
func (c *conn) Close(code uint16, reason string) {
	c.loop.execute(func() { c.startClose(code, reason) })
}

// startClose sends our close frame after any pending frames; the socket
// closes when the peer answers or after closeWait. A connection still in
// its handshake closes at once.
func (c *conn) startClose(code uint16, reason string) {
	switch c.state {
	case stHandshake, stDialing:
		c.refuse()
		return
	}
	c.closeWith(evCloseSent, code, reason, reason)
}

// closeWith moves c by ev (evCloseSent or evFailed) and, if c had not sent
// one yet, sends a close frame with code and sent as its reason; reason is
// what c records. The state moves first: the write may close the socket.
func (c *conn) closeWith(ev event, code uint16, reason, sent string) {
	first := c.state == stOpen || c.state == stHolding
	if !c.set(ev) {
		return
	}
	if first {
		c.setClose(code, reason)
		c.closeSentNS = c.loop.e.now()
		c.appendClose(code, sent)
		c.flushPending()
	}
	if ev == evFailed {
		c.shutdownWrite()
	}
}

// refuse ends a connection whose handshake failed: the socket closes.
func (c *conn) refuse() {
	c.set(evRefused)
	c.gc.Close()
}

// peerClosed answers the peer's close frame. If we sent ours first, the
// handshake is complete; otherwise echo its code. Either way the server
// then closes the TCP connection: it returns false.
func (c *conn) peerClosed(msg wsproto.Message) bool {
	c.closeWith(evCloseSent, msg.Code, string(msg.Payload), "")
	return false
}

// fail closes the connection for a protocol error with the error's code,
// then lingers: what the peer still sends is discarded until it closes.
func (c *conn) fail(err error) {
	code, reason := wsproto.CloseProtocolError, err.Error()
	if ce, ok := err.(*wsproto.CloseError); ok {
		code, reason = ce.Code, ce.Reason
	}
	c.loop.e.stats.ProtocolErrors.Add(1)
	c.closeWith(evFailed, code, reason, reason)
}

// shutdownWrite half-closes the socket once our close frame has left, so
// the peer sees end of stream and closes; our reads continue until then.
func (c *conn) shutdownWrite() {
	if c.forgotten() || c.gc.OutboundBuffered() > 0 {
		return
	}
	shutWrite(c.gc) // again at each sweep until the peer closes: harmless
}

// forgotten reports whether gnet closed the socket: OnClose ran, and the
// loop forgot it. A Write can do that, inside the call.
func (c *conn) forgotten() bool { return c.slot < 0 }

// halfCloser is a socket that shuts its own write side (the simulation's).
type halfCloser interface{ CloseWrite() error }

// shutWrite shuts gc's write side: the peer reads end of stream after
// what the kernel already holds, and gnet can send nothing more.
func shutWrite(gc gnet.Conn) {
	if h, ok := gc.(halfCloser); ok {
		_ = h.CloseWrite()
		return
	}
	_ = unix.Shutdown(gc.Fd(), unix.SHUT_WR)
}

// appendClose encodes a close frame (masked when we are the client).
func (c *conn) appendClose(code uint16, reason string) {
	p := c.pending()
	switch {
	case code == wsproto.CloseNoStatus && c.client:
		p.B = wsproto.AppendMaskedFrame(p.B, wsproto.OpClose, true, nil, wsproto.NewMask())
	case code == wsproto.CloseNoStatus:
		p.B = wsproto.AppendFrame(p.B, wsproto.OpClose, true, nil)
	case c.client:
		p.B = wsproto.AppendMaskedClose(p.B, code, reason, wsproto.NewMask())
	default:
		p.B = wsproto.AppendClose(p.B, code, reason)
	}
}
