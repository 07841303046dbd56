package engine

import (
	"math/bits"

	"github.com/colibri-bus/colibri/routing"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/valyala/bytebufferpool"
)

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

// pendPool holds the per-round pending buffers, and nothing else: its
// calibration sees only their sizes (a few hundred bytes to pendMax).
var pendPool bytebufferpool.Pool

// A connection keeps its pending buffer between rounds when it had to grow
// past minKeptPending (it is busy: a buffer taken from the pool each round
// regrows each round, and that was most of a broadcast storm's time, with
// the role pool too) and not past maxKeptPending. The sweep returns a kept
// buffer after a whole tick without a write, so an idle connection holds
// none.
const (
	minKeptPending = 4 << 10
	maxKeptPending = 256 << 10
)

// enqueue queues a routed frame for c, or drops it, as outbound decides
// (policy.go), and counts it once: sent when queued, dropped with its
// reason when not. A receiver the verdict closes gets 1008 "slow consumer".
func (c *conn) enqueue(f *wsproto.SharedFrame, class routing.Class) {
	if c.state != stOpen || c.next != nil {
		// Closing, closed or handed over: nothing more goes on this
		// socket. A socket that keeps its peer's traffic keeps the frame.
		if !c.keep(f, class) {
			c.dropped(routing.DropNoConnection)
		}
		return
	}
	if c.holding {
		c.hold(f, class)
		return
	}
	b := f.Bytes()
	if c.flate != nil {
		if cb := f.Compressed(); cb != nil { // nil below wsproto.CompressMinSize
			b = cb
		}
	}
	lim := &c.e.cfg.Limits
	budget := c.budget()
	if c.pend != nil && len(c.pend.B)+len(b) > pendLimit(budget) {
		c.flushPending()
		if c.state != stOpen { // the write failed and closed the socket
			c.dropped(routing.DropNoConnection)
			return
		}
	}
	v, over := outbound(outInput{
		queued:     c.queued(),
		frame:      len(b),
		budget:     budget,
		globalOver: lim.GlobalOutbound > 0 && c.e.globalOut.Load()+int64(len(b)) > lim.GlobalOutbound,
		backlogged: c.outAcct > 0,
		droppable:  class.Droppable(),
	})
	if over && c.overSinceNS == 0 {
		c.overSinceNS = c.e.now()
	}
	switch v {
	case outDrop:
		c.dropped(routing.DropSlowReceiver)
		return
	case outClose:
		c.dropped(routing.DropSlowReceiver)
		c.slowClose()
		return
	}
	if c.link != nil {
		c.link.number(f, class, c.loop)
	}
	if c.client {
		c.appendFrame(f.Op(), f.Payload())
	} else {
		c.appendPending(b)
	}
	c.sent.add(class)
	c.loop.markDirty(c)
}

// sentCounts are the frames a connection queued since its last flush, by
// class. They are published to the peer's and the loop's counters once per
// flush: an atomic add per delivery on each receiver's own counters was a
// cache miss per delivery, a third of a broadcast storm's time.
type sentCounts struct {
	n       uint64
	mask    uint32 // classes with a count
	byClass [routing.NumClasses]uint32
}

// The class mask is a uint32: this fails to compile past 32 classes.
var _ [32 - routing.NumClasses]struct{}

func (s *sentCounts) add(c routing.Class) {
	s.n++
	s.mask |= 1 << c
	s.byClass[c]++
}

// publishSent adds what c queued since the last flush to its peer's and
// its loop's counters.
func (c *conn) publishSent() {
	s := &c.sent
	if s.n == 0 {
		return
	}
	c.loop.count.sent.Add(s.n)
	for m := s.mask; m != 0; m &= m - 1 {
		cl := routing.Class(bits.TrailingZeros32(m))
		if c.peer != nil {
			c.peer.Sent.AddN(cl, uint64(s.byClass[cl]))
		}
		s.byClass[cl] = 0
	}
	s.n, s.mask = 0, 0
}

// dropped counts one frame for c that was not queued.
func (c *conn) dropped(reason routing.DropReason) {
	c.loop.count.drop(reason)
	if c.peer != nil {
		c.peer.Dropped.Add(1)
	}
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

// writeControl queues a control frame (pong, ping) for this round's flush.
func (c *conn) writeControl(op wsproto.OpCode, payload []byte) {
	c.appendFrame(op, payload)
	c.loop.markDirty(c)
}

// pending returns c's pending buffer, taking one from the pool if needed.
func (c *conn) pending() *bytebufferpool.ByteBuffer {
	if c.pend == nil {
		c.pend = pendPool.Get()
	}
	return c.pend
}

// appendFrame encodes one final frame into the pending buffer, masked when
// this side is the client.
func (c *conn) appendFrame(op wsproto.OpCode, payload []byte) {
	p := c.pending()
	if c.client {
		p.B = wsproto.AppendMaskedFrame(p.B, op, true, payload, wsproto.NewMask())
	} else {
		p.B = wsproto.AppendFrame(p.B, op, true, payload)
	}
}

func (c *conn) appendPending(b []byte) {
	p := c.pending()
	p.B = append(p.B, b...)
}

// releasePending returns the pending buffer to the pool.
func (c *conn) releasePending() {
	if c.pend != nil {
		pendPool.Put(c.pend)
		c.pend = nil
	}
}

// flushPending writes the pending buffer with one write; gnet keeps what
// the socket does not take and sends it when writable. A failed write
// makes gnet run OnClose inside Write: the buffer is taken off the
// connection first, so OnClose neither sees nor frees it, and the state is
// checked again afterwards.
func (c *conn) flushPending() {
	c.publishSent()
	p := c.pend
	if p == nil {
		return
	}
	c.pend = nil
	if len(p.B) > 0 && c.state != stClosed {
		c.writing = p.B // OnClose within Write takes them back (mailbox.go)
		_, _ = c.gc.Write(p.B)
		if c.writing != nil {
			c.writing = nil
			if c.state != stClosed && c.mails() {
				c.trackUnsent(p.B)
			}
		}
	}
	if c.state == stClosed || cap(p.B) > maxKeptPending || cap(p.B) < minKeptPending {
		pendPool.Put(p)
		if c.state == stClosed {
			return
		}
	} else {
		p.B = p.B[:0]
		c.pend, c.pendIdle = p, false
	}
	if out := c.syncOut(); c.overSinceNS != 0 && out <= c.budget()/2 {
		c.overSinceNS = 0 // drained: the grace starts again next time
	}
}

// sweepPending returns a kept pending buffer that was not written for a
// whole tick (from the timer sweep).
func (c *conn) sweepPending() {
	if c.pend == nil || len(c.pend.B) != 0 {
		return
	}
	if c.pendIdle {
		c.releasePending()
		return
	}
	c.pendIdle = true
}
