package engine

import "github.com/colibri-bus/colibri/wsproto"

// checkTimers applies the handshake timeout, keepalive pings, the idle
// timeout, the slow-consumer grace and the close wait.
func (c *conn) checkTimers(now int64) {
	switch c.state {
	case stHandshake, stDialing:
		if t := c.loop.e.cfg.Limits.HandshakeTimeout; t > 0 && now-c.openedNS > int64(t) {
			c.loop.e.stats.HandshakeTimeouts.Add(1)
			c.refuse()
		}
	case stOpen:
		c.openTimers(now)
	case stClosing, stFailing, stHandedOff, stHoldingClosing, stHoldingFailing:
		c.syncOut()
		if c.state.discards() || c.lingers() {
			c.shutdownWrite()
		}
		if now-c.closeSentNS > int64(closeWait) {
			c.gc.Close()
		}
	}
}

// openTimers are the timers of an open WebSocket.
func (c *conn) openTimers(now int64) {
	cfg := c.loop.e.cfg
	ws := cfg.WebSockets
	c.sweepPending()
	if c.unsent() != nil {
		c.trimUnsent(c.gc.OutboundBuffered())
	}
	if c.link() != nil {
		// The rest since the last batch of ackEvery (resume.go), as the
		// extension says: without it the other side's replay window kept
		// up to 255 delivered messages of a quiet link until they aged
		// out (60 s), shown unacknowledged, and counted lost then.
		c.sendAck()
	}
	if t := ws.IdleTimeout; t > 0 && now-c.lastReadNS > int64(t) {
		c.loop.e.stats.IdleClosed.Add(1)
		c.startClose(wsproto.CloseGoingAway, "idle timeout")
		return
	}
	queued := c.queued()
	if c.checkGrace(now, queued) {
		return
	}
	if iv := ws.KeepalivePingInterval; ws.SendKeepalivePings && iv > 0 &&
		now-c.lastReadNS >= int64(iv) && now-c.pingSentNS >= int64(iv) {
		c.pingSentNS = now
		c.loop.e.stats.PingsSent.Add(1)
		c.writeControl(wsproto.OpPing, nil)
	}
}
