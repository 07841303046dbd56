package engine

import (
	"strconv"

	"github.com/colibri-bus/colibri/wsproto"
	"github.com/panjf2000/gnet/v2"
)

// shareQuantum is what one connection may route in one round of its loop,
// in deliveries (a broadcast to 20 costs 20). A relay's share is its
// weight times this: it carries the traffic of a whole bridge. A round is
// one pass of the loop over its ready sockets, so under contention each
// sender waits for at most the others' quanta, and alone it gets the loop.
// Every round ends with one write per receiver: a quantum that cut a
// speaker's 16 messages to 1,000 receivers (S3) into four rounds cost it
// four writes per receiver, 0.55x raw gnet; this one routes them in one
// round (0.98x), and a round of it costs a neighbour about a millisecond.
const shareQuantum = 16384

// peekWindow is the most input parsed per Peek. Peeking a long backlog in
// gnet's ring buffer copies it whole; a window keeps what a round copies
// near what it routes. It is raised to the largest frame when that is
// larger (see window).
const peekWindow = 64 << 10

// maxFrameHeader is the longest RFC 6455 frame header: 2 + 8 + 4 bytes.
const maxFrameHeader = 14

// readFrames routes the complete messages gnet has buffered for c, as far
// as c's share of the round allows. What is left stays unparsed in gnet's
// buffer: c waits in its loop's backlog for the next round, or, with more
// than Limits.InboundBacklog left waiting, is closed with 1008. No message
// is ever read and then discarded for its rate.
func (c *conn) readFrames() gnet.Action {
	unread := c.gc.InboundBuffered()
	if unread == 0 {
		return gnet.None
	}
	l := c.loop
	if c.creditRound != l.round {
		c.credit = int32(refill(int(c.credit), shareQuantum*c.weight(), c.waiting))
		c.creditRound = l.round
	}
	win := c.window()
	for !c.forgotten() {
		if c.state.discards() { // a protocol error: the rest is unparseable
			c.gc.Discard(unread)
			break
		}
		if v := inbound(int(c.credit), unread, c.backlogBound()); v != inRoute {
			if v == inWait {
				l.wait(c)
				return gnet.None
			}
			c.backlogClose(unread)
			break
		}
		buf, _ := c.gc.Peek(min(unread, win))
		off, action := c.parse(buf)
		if off > 0 && !c.forgotten() { // after OnClose gnet has released the buffer
			c.gc.Discard(off)
		}
		unread -= off
		if action != gnet.None || off == 0 || unread == 0 {
			c.drained()
			return action
		}
	}
	c.drained()
	return gnet.None
}

// drained records that c has no complete input left waiting: it leaves
// the backlog, and its next input starts a fresh share.
func (c *conn) drained() {
	c.waiting = false
	c.creditRound = 0
}

// parse routes the complete frames at the start of buf while c has credit
// and returns the bytes consumed.
func (c *conn) parse(buf []byte) (int, gnet.Action) {
	off := 0
	for off < len(buf) && !c.forgotten() && c.credit > 0 {
		n, msg, ok, err := c.reader.Next(buf[off:])
		if err != nil {
			c.fail(err) // readFrames discards the rest, unparsed
			return len(buf), gnet.None
		}
		if n == 0 {
			break
		}
		off += n
		if !ok {
			continue
		}
		cost, keep := c.handle(msg)
		c.credit -= int32(cost)
		if !keep {
			return off, gnet.Close
		}
	}
	return off, gnet.None
}

// weight is c's share of its loop next to one endpoint's.
func (c *conn) weight() int {
	if c.peer != nil && c.peer.Relay() != nil {
		return c.peer.Relay().Weight()
	}
	return 1
}

// backlogBound is Limits.InboundBacklog, raised to one whole frame of the
// largest size when that is larger: a sender must be able to wait with one
// complete message.
func (c *conn) backlogBound() int {
	return max(c.loop.e.cfg.Limits.InboundBacklog, c.maxMessage()+maxFrameHeader)
}

// window returns how much input one Peek covers: at least one whole frame
// of the largest size the reader accepts.
func (c *conn) window() int {
	return max(peekWindow, c.maxMessage()+maxFrameHeader)
}

// backlogClose closes a sender that left more than the bound unparsed: it
// sends faster than its share of the loop, for longer than the bound
// absorbs. Its unread input is discarded with the socket; it is told why.
func (c *conn) backlogClose(unread int) {
	c.loop.count.backlogClosed.Add(1)
	if c.peer != nil {
		c.peer.BacklogClosed.Add(1)
	}
	c.loop.e.log.Warn("inbound backlog over its bound: closing the sender", "kind", c.kindName(),
		"conf", c.confID(), "id", c.peerID(), "remote", c.remoteLog(), "unread", unread,
		"bound", c.backlogBound())
	// Closed, and what it still sends is discarded until it closes.
	reason := "inbound backlog over " + strconv.Itoa(c.backlogBound()) + " bytes"
	c.closeWith(evFailed, wsproto.ClosePolicyViolation, reason, reason)
	c.gc.Discard(unread)
}
