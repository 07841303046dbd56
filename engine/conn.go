package engine

import (
	"net"
	"time"

	"github.com/colibri-bus/colibri/internal/route"

	"github.com/colibri-bus/colibri/wsproto"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
)

// conn is one TCP connection: the HTTP handshake, then a WebSocket of an
// endpoint or a relay. Its life is state (lifecycle.go). Every field is
// owned by its loop's goroutine.
//
// Most of a bridge's connections are idle endpoints, so the record is
// kept to 256 bytes (TestConnSize): what only relays, application sockets,
// handovers and closes need is in more, allocated when first needed.
type conn struct {
	// What a delivery reads and writes (outbound.go) comes first, on the
	// record's first cache line: a broadcast touches one line of each
	// receiver's record, not four (TestConnHotLine).
	loop    *loop                      // its engine is loop.e
	pend    *bytebufferpool.ByteBuffer // frames waiting for this round's flush
	more    *connMore                  // what few connections need (more.go); nil until then
	flate   *wsproto.Deflate
	outAcct int   // gnet's outbound bytes of c at the last sync (syncOut), counted in e.globalOut
	state   state // (lifecycle.go)
	// client: we dialled (a relay), so our frames are masked.
	client bool
	dirty  bool       // in loop.dirty
	sent   sentCounts // frames queued since the last flush, by class (outbound.go)

	// inherited is what c queued when its handover completed: what the
	// previous socket had not written, the mailbox, a relay's replay. It
	// is allowed on top of c's budget (slow.go).
	inherited int
	gc        gnet.Conn
	// addr is the peer's address (a dialled relay's or a TLS peer's, not
	// the socket's then), set at open and never written again: RemoteAddr
	// reads it from any goroutine. It is gnet's own record, not a copy.
	addr net.Addr

	slot      int32          // index in loop.conns; -1 once gnet closed the socket
	credit    int32          // deliveries c may still route this round (read.go)
	closeCode uint16         // code of the close handshake, for metrics
	kind      route.PeerKind // what the path names, before authentication
	// pendIdle: pend has not been written since the last sweep.
	pendIdle bool
	waiting  bool // complete input is left for the next round
	listed   bool // in loop.backlog

	peer   *route.Peer // the endpoint or relay, once authenticated
	reader wsproto.Reader

	openedNS, lastReadNS, pingSentNS, closeSentNS, overSinceNS int64

	// Inbound share (read.go).
	creditRound uint64 // the loop round credit belongs to; 0: none
}

// RemoteAddr returns the peer's address (for TLS connections, the address
// of the TLS peer, not of the internal socket pair).
func (c *conn) RemoteAddr() string {
	if c.addr == nil {
		return ""
	}
	return c.addr.String()
}

// onOpen sets up the connection record. Connections enrolled by the relay
// dialer or the TLS listener carry their context already.
func (e *Engine) onOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if b, ok := gc.Context().(*doorbell); ok {
		b.open(gc)
		return nil, gnet.None
	}
	if !e.admit(gc) {
		return fdRefusal, gnet.Close
	}
	now := e.now()
	c := &conn{gc: gc, loop: e.loopOf(gc.EventLoop()), addr: gc.RemoteAddr(), openedNS: now, lastReadNS: now, slot: -1}
	switch v := gc.Context().(type) {
	case *relayDial:
		c.more = &connMore{dial: v}
		c.state, c.addr = stDialing, textAddr(v.remote)
	case *tlsPeer:
		c.addr = textAddr(v.remote)
	}
	gc.SetContext(c)
	c.loop.add(c)
	e.stats.Handshaking.Add(1)
	if c.dial() != nil {
		return c.dial().request(), gnet.None
	}
	return nil, gnet.None
}

// onTraffic runs the state machine over the bytes gnet has buffered.
func (e *Engine) onTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		if b, ok := gc.Context().(*doorbell); ok {
			b.answer()
			return gnet.None
		}
		return gnet.Close
	}
	switch c.state {
	case stHandshake:
		if !c.serverHandshake() {
			return gnet.Close
		}
	case stDialing:
		if !c.clientHandshake() {
			return gnet.Close
		}
	}
	switch c.state {
	case stHandshake, stDialing:
		return gnet.None // the header is not complete yet
	case stHolding, stHoldingClosing, stHoldingFailing:
		// Its input waits until the handover completes (handover.go).
		return gnet.None
	case stRefused, stGhost, stClosed, stHoldingGone:
		return gnet.Close
	}
	c.lastReadNS = c.loop.e.now()
	return c.readFrames()
}

// onClose tears the connection down: detach from its peer, return
// buffers, count and log.
func (e *Engine) onClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		if b, ok := gc.Context().(*doorbell); ok {
			b.closed()
		}
		return gnet.None
	}
	wasOpen := c.state.upgraded()
	if !wasOpen {
		e.stats.Handshaking.Add(-1)
	}
	c.loop.remove(c)
	c.reader.Release()
	c.publishSent()
	c.socketClosed() // before the pending buffer goes: its frames may be kept
	c.freePending()
	e.globalOut.Add(-int64(c.outAcct))
	c.outAcct = 0
	e.stats.Conns.Add(-1)
	if wasOpen {
		e.stats.Open.Add(-1)
		code := c.closeCode
		if code == 0 {
			code = wsproto.CloseAbnormal
		}
		e.stats.countClose(code)
		if c.peer != nil {
			e.stats.peers(c.peer.Kind()).Add(-1)
		}
		e.log.Info("websocket closed", "kind", c.kindName(), "conf", c.confID(), "id", c.peerID(),
			"remote", c.remoteLog(), "code", code, "reason", c.closeReason(), "err", errString(err))
		if c.sock() != nil {
			c.appClosed(code)
		}
	}
	if c.dial() != nil {
		c.dial().closed(c.closeCode, c.closeReason(), wasOpen)
	}
	return gnet.None
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// opened sets up the WebSocket of a connection whose handshake succeeded;
// attach makes it its peer's.
func (c *conn) opened(deflate *wsproto.Deflate, role wsproto.Role) {
	c.flate = deflate
	c.reader.Init(role, c.maxMessage(), deflate)
	now := c.loop.e.now()
	c.lastReadNS, c.pingSentNS = now, now
}

// handle acts on one message or control frame and returns what it cost
// the loop in deliveries (at least 1); ok false closes the socket.
func (c *conn) handle(msg wsproto.Message) (cost int, ok bool) {
	if c.sock() != nil && (msg.Op == wsproto.OpText || msg.Op == wsproto.OpBinary) {
		return c.appMessage(msg), true
	}
	switch msg.Op {
	case wsproto.OpText:
		if !c.state.routes() {
			return 1, true // after our close frame, data is ignored
		}
		return c.route(msg.Payload), true
	case wsproto.OpBinary:
		c.loop.count.drop(route.DropBinary)
	case wsproto.OpPing:
		c.pong(msg.Payload)
	case wsproto.OpPong:
		// lastReadNS was refreshed: the peer is alive.
	case wsproto.OpClose:
		if c.sock() != nil {
			return 1, c.appPeerClosed(msg)
		}
		return 1, c.peerClosed(msg)
	}
	return 1, true
}

// route hands one text message to the router and returns its fan-out: the
// deliveries the loop's sink saw during the call, at least 1. One message
// in 16 is timed for the routing-latency histogram.
func (c *conn) route(payload []byte) int {
	l := c.loop
	if o := c.loop.e.observe; o != nil {
		o(c, payload)
	}
	n := l.count.received.Add(1)
	before := l.deliveries
	if n&15 == 0 {
		start := time.Now()
		c.loop.e.router.Handle(c.peer, c, payload, l)
		l.routed.RouteNanos.Observe(uint64(time.Since(start)))
	} else {
		c.loop.e.router.Handle(c.peer, c, payload, l)
	}
	return max(int(l.deliveries-before), 1)
}

// pong answers a ping, unless the peer is over its outbound budget: a peer
// that pings without reading would grow the queue without bound, and RFC
// 6455 5.5.3 lets a pong answer only the latest ping. The grace timer
// closes such a peer.
func (c *conn) pong(payload []byte) {
	if c.state != stOpen {
		return // a holding socket writes nothing before its ServerHello
	}
	if c.overBudget() {
		return
	}
	c.writeControl(wsproto.OpPong, payload)
}
