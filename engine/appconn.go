package engine

import (
	"github.com/colibri-bus/colibri/wsproto"
)

// An application socket is a conn like any other: the same handshake
// reader, frame reader, outbound queue, budgets and timers, and the same
// lifecycle (lifecycle.go). It has no peer in the conference table, so it
// never holds, keeps or hands off: it is upgraded and its (empty) handover
// completes at once, and once closed it is stClosed. Its messages go to
// its Handler instead of the router.

// acceptApp offers an upgrade request whose path is not a Colibri one to
// the engine's Application, and opens the socket if the Application takes
// it. end is the length of the request header. It returns false when the
// connection must close (an HTTP error was written, or the write of the
// 101 failed).
func (c *conn) acceptApp(req *wsproto.Request, end int) bool {
	app := c.loop.e.app
	if app == nil {
		c.reject(404, "invalid path", "")
		return false
	}
	if !c.admitOpen() {
		return false
	}
	h, status := app.Accept(&Request{req: req, remote: c.RemoteAddr()})
	if h == nil {
		if status < 400 || status > 599 {
			status = 404
		}
		c.reject(status, wsproto.StatusText(status), "")
		return false
	}
	deflate := c.negotiate(req)
	_, _ = c.gc.Write(wsproto.AppendUpgradeResponseHeader(make([]byte, 0, 256), req.Key, deflate, ""))
	if c.forgotten() {
		return false
	}
	c.gc.Discard(end)
	c.extra().sock = &Socket{c: c, h: h}
	c.sock().self[0] = c
	c.opened(deflate, wsproto.Server)
	c.set(evUpgraded)
	c.set(evCompleted) // no handover: nothing to hold
	c.loop.e.stats.Handshaking.Add(-1)
	c.loop.e.stats.Open.Add(1)
	c.loop.e.log.Info("websocket connected", "kind", c.kindName(), "path", req.Path, "remote", c.remoteLog(),
		"deflate", deflate != nil)
	c.loop.in.claim()
	h.OnOpen(c.sock())
	c.queueSends()
	return true
}

// admitOpen refuses an upgrade, with 503, while the engine is at
// Limits.MaxConnections or stopping.
func (c *conn) admitOpen() bool {
	if max := c.loop.e.cfg.Limits.MaxConnections; max > 0 && int(c.loop.e.stats.Open.Load()) >= max {
		c.reject(503, "too many connections", "Retry-After: 5\r\n")
		return false
	}
	if c.loop.e.stopping.Load() {
		c.reject(503, "shutting down", "")
		return false
	}
	return true
}

// negotiate returns the permessage-deflate parameters to answer req with,
// nil for none: compression is on in the config and the client offered it.
func (c *conn) negotiate(req *wsproto.Request) *wsproto.Deflate {
	if !c.loop.e.cfg.WebSockets.EnableCompression {
		return nil
	}
	if d, ok := wsproto.NegotiateDeflate(req.Extensions); ok {
		return &d
	}
	return nil
}

// appMessage hands a text or binary message to c's handler. It costs the
// loop one delivery.
func (c *conn) appMessage(msg wsproto.Message) int {
	if !c.state.routes() {
		return 1 // after our close frame, data is ignored
	}
	c.loop.count.received.Add(1)
	c.loop.in.claim()
	c.sock().h.OnMessage(c.sock(), msg.Op, msg.Payload)
	c.queueSends()
	return 1
}

// queueSends queues what the handler sent during the call that just returned
// (and what other goroutines put on the loop's inbox meanwhile), in order,
// before anything the engine writes next for c: a message echoed before a
// close frame, or a protocol error, that follows in the same read leaves
// first. The caller claimed the inbox's drain before the call.
func (c *conn) queueSends() {
	c.loop.in.drain((*conn).enqueue)
}

// appClosed tells c's handler that the socket closed, with the code and
// reason of the closing handshake (1006 without one).
func (c *conn) appClosed(code uint16) {
	c.sock().gone.Store(true)
	c.sock().h.OnClose(c.sock(), code, c.closeReason())
}

// appPeerClosed answers the peer's close frame on an application socket.
// The socket closes at once, as a Colibri one does, unless gnet still
// holds bytes for it, which closing would lose (gnet tries one write): a
// large echo the peer has not read yet, before our close frame. Then c
// lingers, closing: the sweep shuts its write side once gnet has written
// them (timers.go), the peer reads the end of the stream and closes, or
// closeWait ends it.
func (c *conn) appPeerClosed(msg wsproto.Message) bool {
	c.peerClosed(msg)
	return !c.forgotten() && c.gc.OutboundBuffered() > 0
}

// lingers reports whether c is an application socket that answered the
// peer's close frame and waits for gnet to write what it holds.
func (c *conn) lingers() bool {
	return c.sock() != nil && c.reader.CloseReceived()
}

// maxMessage is the largest message c reads, decompressed.
func (c *conn) maxMessage() int {
	if c.sock() != nil {
		return c.loop.e.appMax
	}
	return c.loop.e.cfg.Limits.MaxMessageSize
}

// kindName names what c is, for logs.
func (c *conn) kindName() string {
	if c.sock() != nil {
		return "app"
	}
	return c.kind.String()
}
