package engine

import (
	"time"

	"github.com/colibri-bus/colibri/routing"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/panjf2000/gnet/v2"
	"github.com/valyala/bytebufferpool"
	"golang.org/x/sys/unix"
)

// Connection states.
const (
	stHandshake uint8 = iota // server: reading the HTTP upgrade request
	stDialing                // client (relay): waiting for the 101 response
	stOpen                   // WebSocket frames flow
	stClosing                // our close frame is out; waiting for the peer's
	stClosed                 // gnet closed the socket
)

// Kinds of WebSocket the engine serves.
const (
	kindNone uint8 = iota
	kindEndpoint
	kindRelay
)

// closeWait bounds how long a connection may take to answer our close frame.
const closeWait = 2 * time.Second

// A connection keeps its pending buffer between rounds only when it had to
// grow past minKeptPending (it is busy: regrowing each round is what costs)
// and not past maxKeptPending (a burst). Small buffers go straight back to
// the pool, so an idle connection holds none.
const (
	minKeptPending = 4 << 10
	maxKeptPending = 256 << 10
)

// compressMin is the smallest payload worth compressing for a receiver that
// negotiated permessage-deflate.
const compressMin = 128

// pendMax is the most bytes a connection's pending buffer collects in one
// loop round before they are written at once: a burst of input (one read
// can hold hundreds of messages, each fanned out) must not look like a
// slow reader, and the pending buffer must not grow with the burst.
const pendMax = 32 << 10

// pendLimit is pendMax, or half the outbound budget when that is smaller.
func pendLimit(budget int) int {
	if budget > 0 && budget/2 < pendMax {
		return max(budget/2, 1)
	}
	return pendMax
}

// conn is one TCP connection: the HTTP handshake, then a WebSocket. Every
// field is owned by its loop's goroutine.
type conn struct {
	e      *Engine
	loop   *loop
	gc     gnet.Conn
	slot   int
	state  uint8
	kind   uint8
	client bool // we dialled: our frames are masked
	// failing: we sent a close frame for a protocol error; what the peer
	// still sends is discarded, unparsed, until it closes (lingering close,
	// so that unread bytes do not turn our close into a reset).
	failing bool
	shutWr  bool // our write side is shut down after the close frame
	// upgraded is set once the handshake succeeded; OnClose goes by it,
	// not by the state, which the timers set to stClosed before closing.
	upgraded bool

	ep     *routing.Endpoint
	relay  *routing.Relay
	dial   *relayDial // set on the dialling side of a relay
	reader wsproto.Reader
	flate  *wsproto.Deflate
	remote string
	confID string
	id     string // endpoint or relay id, for logs

	openedNS, lastReadNS, pingSentNS, closeSentNS, overSinceNS int64

	pend  *bytebufferpool.ByteBuffer // frames waiting for this round's flush
	dirty bool
	// pendIdle: pend has not been flushed since the last sweep.
	pendIdle bool
	outAcct  int // gnet's outbound bytes of this connection counted in e.globalOut

	closeCode   uint16 // code of the close handshake, for metrics
	closeReason string
	closeLogged bool

	tokens     float64 // inbound token bucket
	tokensAtNS int64
}

// RemoteAddr returns the peer's address (for TLS connections, the address
// of the TLS peer, not of the internal socket pair).
func (c *conn) RemoteAddr() string { return c.remote }

// Close starts the closing handshake from any goroutine (routing.Conn).
func (c *conn) Close(code uint16, reason string) {
	c.loop.execute(func() { c.startClose(code, reason) })
}

// OnOpen sets up the connection record. Connections enrolled by the relay
// dialer or the TLS listener carry their context already.
func (e *Engine) OnOpen(gc gnet.Conn) ([]byte, gnet.Action) {
	if e.refuseAccepted(gc) {
		return fdRefusal, gnet.Close
	}
	now := time.Now().UnixNano()
	c := &conn{e: e, gc: gc, loop: e.loopOf(gc.EventLoop()), openedNS: now, lastReadNS: now, slot: -1}
	switch v := gc.Context().(type) {
	case *relayDial:
		c.dial, c.state, c.remote = v, stDialing, v.remote
	case *tlsPeer:
		c.remote = v.remote
	default:
		if a := gc.RemoteAddr(); a != nil {
			c.remote = a.String()
		}
	}
	gc.SetContext(c)
	c.loop.add(c)
	e.stats.Conns.Add(1)
	e.stats.Handshaking.Add(1)
	if c.dial != nil {
		return c.dial.request(), gnet.None
	}
	return nil, gnet.None
}

// OnTraffic runs the state machine over the bytes gnet has buffered.
func (e *Engine) OnTraffic(gc gnet.Conn) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
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
	if c.state == stOpen || c.state == stClosing {
		return c.readFrames()
	}
	if c.state == stClosed {
		return gnet.Close
	}
	return gnet.None
}

// OnClose tears the connection down: detach from its endpoint or relay,
// return buffers, count and log.
func (e *Engine) OnClose(gc gnet.Conn, err error) gnet.Action {
	c, ok := gc.Context().(*conn)
	if !ok {
		return gnet.None
	}
	wasOpen := c.upgraded
	if !wasOpen {
		e.stats.Handshaking.Add(-1)
	}
	c.state = stClosed
	c.loop.remove(c)
	c.reader.Release()
	if c.pend != nil {
		bytebufferpool.Put(c.pend)
		c.pend = nil
	}
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
		switch c.kind {
		case kindEndpoint:
			c.ep.Detach(c)
			e.stats.Endpoints.Add(-1)
		case kindRelay:
			c.relay.Detach(c)
			e.stats.Relays.Add(-1)
		}
		e.log.Info("websocket closed", "kind", kindName(c.kind), "conf", c.confID, "id", c.id,
			"remote", c.remote, "code", code, "reason", c.closeReason, "err", errString(err))
	}
	if c.dial != nil {
		c.dial.closed(c.closeCode, c.closeReason, wasOpen)
	}
	return gnet.None
}

func kindName(k uint8) string {
	switch k {
	case kindEndpoint:
		return "endpoint"
	case kindRelay:
		return "relay"
	}
	return "none"
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// opened moves a connection whose handshake succeeded to stOpen.
func (c *conn) opened(deflate *wsproto.Deflate, role wsproto.Role) {
	c.state, c.upgraded = stOpen, true
	c.flate = deflate
	c.reader.Init(role, c.e.cfg.Limits.MaxMessageSize, deflate)
	now := time.Now().UnixNano()
	c.lastReadNS, c.pingSentNS = now, now
	c.tokens, c.tokensAtNS = float64(c.e.cfg.Limits.InboundQueue), now
	c.e.stats.Handshaking.Add(-1)
	c.e.stats.Open.Add(1)
}

// readFrames parses every complete frame gnet has buffered.
func (c *conn) readFrames() gnet.Action {
	buf, _ := c.gc.Peek(-1)
	if len(buf) == 0 {
		return gnet.None
	}
	if c.failing {
		c.gc.Discard(len(buf))
		return gnet.None
	}
	c.lastReadNS = time.Now().UnixNano()
	off := 0
	action := gnet.None
	for off < len(buf) && c.state != stClosed {
		n, msg, ok, err := c.reader.Next(buf[off:])
		if err != nil {
			c.fail(err)
			off = len(buf) // the rest is unparseable: drop it with the frame
			break
		}
		if n == 0 {
			break
		}
		off += n
		if ok && !c.handle(msg) {
			action = gnet.Close
			break
		}
	}
	if off > 0 && c.state != stClosed { // after OnClose gnet has released the buffer
		c.gc.Discard(off)
	}
	return action
}

// handle acts on one message or control frame; false closes the socket.
func (c *conn) handle(msg wsproto.Message) bool {
	switch msg.Op {
	case wsproto.OpText:
		if c.state != stOpen {
			return true // after our close frame, data is ignored
		}
		c.e.stats.MessagesReceived.Add(1)
		if !c.admit() {
			c.e.router.Stats().Drop(routing.DropInboundFlood)
			return true
		}
		sample := c.e.stats.MessagesReceived.Load()&15 == 0
		var start time.Time
		if sample {
			start = time.Now()
		}
		switch c.kind {
		case kindEndpoint:
			c.e.router.HandleEndpoint(c.ep, c, msg.Payload, c.loop)
		case kindRelay:
			c.e.router.HandleRelay(c.relay, c, msg.Payload, c.loop)
		}
		if sample {
			c.e.router.Stats().RouteNanos.Observe(uint64(time.Since(start)))
		}
	case wsproto.OpBinary:
		c.e.router.Stats().Drop(routing.DropBinary)
	case wsproto.OpPing:
		if c.state != stOpen {
			break
		}
		if lim := c.e.cfg.Limits.OutboundBudget; lim > 0 && c.queued() > lim {
			// A peer that pings without reading: answering would grow the
			// queue without bound. RFC 6455 5.5.3 lets a pong answer only
			// the latest ping; the grace timer closes the connection.
			if c.overSinceNS == 0 {
				c.overSinceNS = time.Now().UnixNano()
			}
			break
		}
		c.writeControl(wsproto.OpPong, msg.Payload)
	case wsproto.OpPong:
		// lastReadNS was refreshed: the peer is alive.
	case wsproto.OpClose:
		return c.peerClosed(msg)
	}
	return true
}

// admit applies the inbound token bucket: Limits.InboundRate messages per
// second with a burst of Limits.InboundQueue. It never blocks; a message
// past the bucket is dropped and counted (routing.DropInboundFlood).
//
// This differs from Jitsi on purpose. Jitsi parses on the Jetty thread and
// queues each message for a worker in a per-endpoint queue of 50 that, when
// full, drops its oldest message; the rate is whatever the worker keeps up
// with. Here a message is routed on the event loop as soon as its frame is
// complete, so there is no queue whose oldest entry could go: the newest
// messages beyond the burst are dropped instead, and a flooding endpoint
// costs its loop only the frame parse and this check per dropped message.
// InboundQueue plays the role of Jitsi's queue length (the burst one
// endpoint may send at once); InboundRate bounds the sustained rate, which
// a queue drained by a worker bounds implicitly.
func (c *conn) admit() bool {
	lim := &c.e.cfg.Limits
	if lim.InboundRate <= 0 {
		return true
	}
	now := time.Now().UnixNano()
	c.tokens += float64(now-c.tokensAtNS) / 1e9 * float64(lim.InboundRate)
	c.tokensAtNS = now
	if burst := float64(max(lim.InboundQueue, 1)); c.tokens > burst {
		c.tokens = burst
	}
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// peerClosed answers the peer's close frame. If we sent ours first, the
// handshake is complete; otherwise echo its code. Either way the server
// then closes the TCP connection.
func (c *conn) peerClosed(msg wsproto.Message) bool {
	if c.state == stOpen {
		c.closeCode, c.closeReason = msg.Code, string(msg.Payload)
		c.appendClose(msg.Code, "")
		c.flushPending()
	}
	return false
}

// fail closes the connection for a protocol error with the error's code.
func (c *conn) fail(err error) {
	code, reason := wsproto.CloseProtocolError, err.Error()
	if ce, ok := err.(*wsproto.CloseError); ok {
		code, reason = ce.Code, ce.Reason
	}
	c.e.stats.ProtocolErrors.Add(1)
	if c.state == stOpen {
		c.closeCode, c.closeReason = code, reason
		c.appendClose(code, reason)
		c.flushPending()
	}
	if c.state != stClosed { // the write may have closed the socket
		c.state = stClosing
		c.failing = true
		c.closeSentNS = time.Now().UnixNano()
		c.shutdownWrite()
	}
}

// shutdownWrite half-closes the socket once our close frame has left, so
// the peer sees end of stream and closes; our reads continue until then.
func (c *conn) shutdownWrite() {
	if c.shutWr || c.state == stClosed || c.gc.OutboundBuffered() > 0 {
		return
	}
	c.shutWr = true
	_ = unix.Shutdown(c.gc.Fd(), unix.SHUT_WR)
}

// startClose sends our close frame after any pending frames; the socket
// closes when the peer answers or after closeWait.
func (c *conn) startClose(code uint16, reason string) {
	switch c.state {
	case stOpen:
		c.closeCode, c.closeReason = code, reason
		c.appendClose(code, reason)
		c.flushPending()
		if c.state != stClosed { // the write may have closed the socket
			c.state = stClosing
			c.closeSentNS = time.Now().UnixNano()
		}
	case stHandshake, stDialing:
		c.state = stClosed
		c.gc.Close()
	}
}

// writeControl queues a control frame (pong, ping) for this round's flush.
func (c *conn) writeControl(op wsproto.OpCode, payload []byte) {
	c.appendFrame(op, payload)
	c.loop.markDirty(c)
}

// appendFrame encodes one final frame into the pending buffer, masked when
// this side is the client.
func (c *conn) appendFrame(op wsproto.OpCode, payload []byte) {
	if c.pend == nil {
		c.pend = bytebufferpool.Get()
	}
	if c.client {
		c.pend.B = wsproto.AppendMaskedFrame(c.pend.B, op, true, payload, wsproto.NewMask())
	} else {
		c.pend.B = wsproto.AppendFrame(c.pend.B, op, true, payload)
	}
}

// appendClose encodes a close frame (masked when we are the client).
func (c *conn) appendClose(code uint16, reason string) {
	if c.pend == nil {
		c.pend = bytebufferpool.Get()
	}
	switch {
	case code == wsproto.CloseNoStatus && c.client:
		c.pend.B = wsproto.AppendMaskedFrame(c.pend.B, wsproto.OpClose, true, nil, wsproto.NewMask())
	case code == wsproto.CloseNoStatus:
		c.pend.B = wsproto.AppendFrame(c.pend.B, wsproto.OpClose, true, nil)
	case c.client:
		c.pend.B = wsproto.AppendMaskedClose(c.pend.B, code, reason, wsproto.NewMask())
	default:
		c.pend.B = wsproto.AppendClose(c.pend.B, code, reason)
	}
}

func (c *conn) appendPending(b []byte) {
	if c.pend == nil {
		c.pend = bytebufferpool.Get()
	}
	c.pend.B = append(c.pend.B, b...)
}

// enqueue copies a routed frame into the pending buffer, applying the
// outbound budget (Limits.OutboundBudget), which counts the bytes gnet
// holds for the connection (the socket did not take them) and our pending
// bytes:
//
//   - a frame that would take the connection over its budget is dropped
//     if its class is droppable (EndpointStats, ConnectionStats) and
//     queued otherwise; either way the connection is now "over";
//   - a connection over its budget for longer than Limits.OutboundGrace,
//     without its queue draining to half the budget meanwhile, is closed
//     with 1008 "slow consumer" by its timer;
//   - a connection whose queue passes 4× the budget is closed at once;
//   - while the whole bridge is over Limits.GlobalOutbound, droppable
//     frames are dropped for every connection, and a connection sent a
//     frame while its socket is backlogged (gnet holds bytes for it) is
//     closed at once, so the total stays near the global bound instead of
//     reaching connections × 4× the budget.
//
// Every frame not queued is counted: the router's drop counters and the
// receiving endpoint's (or relay's) Dropped.
func (c *conn) enqueue(f *wsproto.SharedFrame, class routing.Class) bool {
	if c.state != stOpen {
		// Closing: nothing more goes on this socket.
		c.e.router.Stats().Drop(routing.DropNoConnection)
		c.countDrop()
		return false
	}
	b := f.Bytes()
	if c.flate != nil && len(f.Payload()) >= compressMin {
		if cb := f.Compressed(); cb != nil {
			b = cb
		}
	}
	lim := &c.e.cfg.Limits
	if c.pend != nil && len(c.pend.B)+len(b) > pendLimit(lim.OutboundBudget) {
		c.flushPending()
		if c.state != stOpen { // the write failed and closed the socket
			c.e.router.Stats().Drop(routing.DropNoConnection)
			c.countDrop()
			return false
		}
	}
	queued := c.queued()
	over := lim.OutboundBudget > 0 && queued+len(b) > lim.OutboundBudget
	globalOver := lim.GlobalOutbound > 0 && c.e.globalOut.Load()+int64(len(b)) > lim.GlobalOutbound
	if over && c.overSinceNS == 0 {
		c.overSinceNS = time.Now().UnixNano()
	}
	if (over || globalOver) && class.Droppable() {
		c.e.router.Stats().Drop(routing.DropSlowReceiver)
		c.countDrop()
		return false
	}
	if over && queued > 4*lim.OutboundBudget || globalOver && (over || c.outAcct > 0) {
		// Far past the budget; or the bridge is short of memory and this
		// socket is backlogged (the kernel does not take its bytes): do
		// not let one reader grow memory further.
		c.e.router.Stats().Drop(routing.DropSlowReceiver)
		c.countDrop()
		c.slowClose()
		return false
	}
	if c.client {
		c.appendFrame(f.Op(), f.Payload())
	} else {
		c.appendPending(b)
	}
	c.loop.markDirty(c)
	return true
}

func (c *conn) countDrop() {
	switch c.kind {
	case kindEndpoint:
		c.ep.Dropped.Add(1)
	case kindRelay:
		c.relay.Dropped.Add(1)
	}
}

// slowClose closes a connection that does not read fast enough.
func (c *conn) slowClose() {
	c.e.stats.SlowClosed.Add(1)
	c.startClose(wsproto.ClosePolicyViolation, "slow consumer")
}

// queued returns the bytes held for writing on c: gnet's outbound buffer
// and our pending frames. It brings c's share of e.globalOut up to date.
func (c *conn) queued() int {
	n := c.syncOut()
	if c.pend != nil {
		n += len(c.pend.B)
	}
	return n
}

// syncOut accounts gnet's outbound buffer of c in e.globalOut (gnet drains
// it without telling us, so the share is refreshed at each enqueue, flush
// and timer sweep) and returns its size.
func (c *conn) syncOut() int {
	n := c.gc.OutboundBuffered()
	if n != c.outAcct {
		c.e.globalOut.Add(int64(n - c.outAcct))
		c.outAcct = n
	}
	return n
}

// flushPending writes the pending buffer with one write; gnet keeps what
// the socket does not take and sends it when writable.
//
// A failed write makes gnet run OnClose inside Write: the buffer is taken
// off the connection first, so OnClose neither sees nor frees it, and the
// state is checked again afterwards.
func (c *conn) flushPending() {
	p := c.pend
	if p == nil {
		return
	}
	c.pend = nil
	n := len(p.B)
	if n > 0 && c.state != stClosed {
		_, _ = c.gc.Write(p.B)
	}
	if c.state == stClosed || cap(p.B) > maxKeptPending || cap(p.B) < minKeptPending {
		bytebufferpool.Put(p)
		if c.state == stClosed {
			return
		}
	} else {
		// Keep the grown buffer while the connection is busy: handing it
		// back each round made every round regrow it (allocations, copies
		// and GC were 60% of a broadcast storm). The sweep returns it once
		// a whole tick passes without a flush.
		p.B = p.B[:0]
		c.pend, c.pendIdle = p, false
	}
	if out := c.syncOut(); c.overSinceNS != 0 && out <= c.e.cfg.Limits.OutboundBudget/2 {
		c.overSinceNS = 0 // drained: the grace starts again next time
	}
}

// checkTimers applies the handshake timeout, keepalive pings, the idle
// timeout, the slow-consumer grace and the close wait.
func (c *conn) checkTimers(now int64) {
	cfg := c.e.cfg
	switch c.state {
	case stHandshake, stDialing:
		if t := cfg.Limits.HandshakeTimeout; t > 0 && now-c.openedNS > int64(t) {
			c.e.stats.HandshakeTimeouts.Add(1)
			c.state = stClosed
			c.gc.Close()
		}
	case stOpen:
		if c.pend != nil && len(c.pend.B) == 0 {
			if c.pendIdle {
				bytebufferpool.Put(c.pend)
				c.pend = nil
			} else {
				c.pendIdle = true
			}
		}
		ws := cfg.WebSockets
		if t := ws.IdleTimeout; t > 0 && now-c.lastReadNS > int64(t) {
			c.e.stats.IdleClosed.Add(1)
			c.startClose(wsproto.CloseGoingAway, "idle timeout")
			return
		}
		queued := c.queued()
		if g := cfg.Limits.OutboundGrace; c.overSinceNS != 0 && now-c.overSinceNS > int64(g) {
			if queued > cfg.Limits.OutboundBudget/2 {
				c.slowClose()
				return
			}
			c.overSinceNS = 0
		}
		if iv := ws.KeepalivePingInterval; ws.SendKeepalivePings && iv > 0 &&
			now-c.lastReadNS >= int64(iv) && now-c.pingSentNS >= int64(iv) {
			c.pingSentNS = now
			c.e.stats.PingsSent.Add(1)
			c.writeControl(wsproto.OpPing, nil)
		}
	case stClosing:
		c.syncOut()
		if c.failing {
			c.shutdownWrite()
		}
		if now-c.closeSentNS > int64(closeWait) {
			c.state = stClosed
			c.gc.Close()
		}
	}
}
