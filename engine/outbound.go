package engine

import (
	"math"

	"github.com/colibri-bus/colibri/internal/route"

	"github.com/colibri-bus/colibri/wsproto"
	"github.com/valyala/bytebufferpool"
)

// pendMax is the most bytes a connection's pending buffer collects in one
// loop round before they are written at once: a burst of input (one read
// can hold hundreds of messages, each fanned out) must not look like a
// slow reader, and the pending buffer must not grow with the burst.
//
// The size trades write calls against cache misses: each write costs the
// kernel a few microseconds whatever its size, and a larger buffer is
// colder when the kernel copies it. S2 on the 2-vCPU AMD machine, the
// same build at each size, alternated (BENCHMARKS.md): 32 KiB 5.65 M
// deliveries/s, 64 KiB 6.00, 96 KiB 5.61-5.99, 128 KiB 5.96-6.19, 256 KiB
// 5.69. Half the default outbound budget is 512 KiB, so pendLimit leaves
// it at this on the defaults.
const pendMax = 128 << 10

// pendPool holds the per-round pending buffers, and nothing else: its
// calibration sees only their sizes (a few hundred bytes to pendMax).
// Loops take from it and give to it only past their own free lists.
var pendPool bytebufferpool.Pool

// spares is a loop's free list of pending buffers. bytebufferpool.Pool
// counts every Put in counters that all the loops share, a cache line
// written by each loop for each flushed connection; the list is the
// loop's own. It holds at most spareCount buffers and spareBytes of
// capacity, none larger than maxKeptPending; the rest goes to pendPool,
// and so does the whole list after a tick without a take (sweep).
type spares struct {
	list  []*bytebufferpool.ByteBuffer
	bytes int
	used  bool // a buffer was taken since the last sweep
}

const (
	spareCount = 1024
	spareBytes = 1 << 20
)

// get returns an empty buffer: the last one put, or one of pendPool's.
func (s *spares) get() *bytebufferpool.ByteBuffer {
	s.used = true
	n := len(s.list)
	if n == 0 {
		return pendPool.Get()
	}
	b := s.list[n-1]
	s.list[n-1] = nil
	s.list = s.list[:n-1]
	s.bytes -= cap(b.B)
	return b
}

// put takes b back; the caller no longer owns it.
func (s *spares) put(b *bytebufferpool.ByteBuffer) {
	c := cap(b.B)
	if c > maxKeptPending || len(s.list) == spareCount || s.bytes+c > spareBytes {
		pendPool.Put(b)
		return
	}
	b.B = b.B[:0]
	s.list = append(s.list, b)
	s.bytes += c
}

// sweep gives the list to pendPool when no buffer was taken for a whole
// tick: an idle loop holds none.
func (s *spares) sweep() {
	if s.used {
		s.used = false
		return
	}
	for i, b := range s.list {
		pendPool.Put(b)
		s.list[i] = nil
	}
	s.list, s.bytes = s.list[:0], 0
}

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

// enqueue does with a frame routed to c what its fate says (lifecycle.go)
// and counts it once: sent when queued, dropped with its reason when not.
func (c *conn) enqueue(f *wsproto.SharedFrame, class route.Class) {
	if c.state == stOpen && c.write(f, class) {
		return // the hot path: frameFate(stOpen, ...) is fateWrite
	}
	for {
		switch frameFate(c.state, c.keepsTraffic(), class == route.ClassServerHello) {
		case fateHold:
			c.hold(f, class)
			return
		case fateKeep:
			c.keep(f, class)
			return
		case fateForward:
			c.forward(f, class)
			return
		case fateDrop:
			c.dropped(route.DropNoConnection)
			return
		}
		if c.write(f, class) {
			return
		}
		// The socket closed, or started closing, on the way: the frame's
		// fate is decided again, from the new state. It is never left in
		// a gap that later frames fill.
	}
}

// write queues f on an open c, drops it or closes c, as outbound decides
// (policy.go). It returns false, having queued nothing, when c closed or
// started closing on the way: a pending write that failed, or the slow
// consumer close, which the frame that triggers it does not survive only
// when c keeps nothing.
func (c *conn) write(f *wsproto.SharedFrame, class route.Class) bool {
	b := f.Bytes()
	if c.flate != nil {
		if cb := f.Compressed(); cb != nil { // nil below wsproto.CompressMinSize
			b = cb
		}
	}
	lim := &c.loop.e.cfg.Limits
	budget := c.budget()
	if c.pend != nil && c.pendLen()+len(b) > pendLimit(budget) {
		c.flushPending()
		if c.state != stOpen { // the write failed and closed the socket
			return false
		}
	}
	v, over := outQueue, false
	if !queuesSurely(c.outAcct, c.pendLen(), len(b), budget, class.Droppable()) {
		v, over = outbound(outInput{
			queued:     c.queued(),
			frame:      len(b),
			budget:     budget,
			globalOver: lim.GlobalOutbound > 0 && c.loop.e.globalOut.Load()+int64(len(b)) > lim.GlobalOutbound,
			backlogged: c.outAcct > 0,
			droppable:  class.Droppable(),
		})
	}
	if over {
		c.startGrace()
	}
	switch v {
	case outDrop:
		c.dropped(route.DropSlowReceiver)
		return true
	case outClose:
		c.slowClose()
		if !c.keepsTraffic() {
			c.dropped(route.DropSlowReceiver)
			return true
		}
		return false // kept, after everything before it
	}
	if k := c.link(); k != nil {
		k.number(f, class, c.loop)
	}
	if c.client {
		c.appendFrame(f.Op(), f.Payload())
	} else {
		c.appendPending(b)
	}
	c.countSent(class)
	c.loop.markDirty(c)
	return true
}

// sentCounts are the frames a connection queued since its last flush, by
// class. They are published to the peer's and the loop's counters once per
// flush: an atomic add per delivery on each receiver's own counters was a
// cache miss per delivery, a third of a broadcast storm's time. A round
// rarely queues more than a few classes on one socket: four slots, filled
// in order, and a fifth class publishes what they hold first.
type sentCounts struct {
	class [4]route.Class
	n     [4]uint32 // 0: the slot and those after it are free
}

// countSent counts one frame of class cl queued on c: in its slot, or in
// the first free one; with every slot taken by other classes the counts
// are published first.
func (c *conn) countSent(cl route.Class) {
	s := &c.sent
	for i := range s.n {
		switch {
		case s.n[i] == 0:
			s.class[i], s.n[i] = cl, 1
			return
		case s.class[i] == cl && s.n[i] < math.MaxUint32:
			s.n[i]++
			return
		}
	}
	c.publishSent()
	s.class[0], s.n[0] = cl, 1
}

// publishSent adds what c queued since the last flush to its peer's and
// its loop's counters.
func (c *conn) publishSent() {
	s := &c.sent
	if s.n[0] == 0 {
		return
	}
	var total uint64
	for i, n := range s.n {
		if n == 0 {
			break
		}
		total += uint64(n)
		if c.peer != nil {
			c.peer.Sent.AddN(s.class[i], uint64(n))
		}
		s.n[i] = 0
	}
	c.loop.count.sent.Add(total)
}

// dropped counts one frame for c that was not queued.
func (c *conn) dropped(reason route.DropReason) {
	c.loop.count.drop(reason)
	if c.peer != nil {
		c.peer.Dropped.Add(1)
	}
}

// pendLen returns the bytes in c's pending buffer.
func (c *conn) pendLen() int {
	if c.pend == nil {
		return 0
	}
	return len(c.pend.B)
}

// queued returns the bytes held for writing on c: gnet's outbound buffer
// and our pending frames. It brings c's share of e.globalOut up to date.
func (c *conn) queued() int {
	return c.syncOut() + c.pendLen()
}

// syncOut accounts gnet's outbound buffer of c in e.globalOut (gnet drains
// it without telling us, so the share is refreshed at each enqueue, flush
// and timer sweep) and returns its size.
func (c *conn) syncOut() int {
	n := c.gc.OutboundBuffered()
	if n != c.outAcct {
		c.loop.e.globalOut.Add(int64(n - c.outAcct))
		c.outAcct = n
	}
	return n
}

// writeControl queues a control frame (pong, ping) for this round's flush.
func (c *conn) writeControl(op wsproto.OpCode, payload []byte) {
	c.appendFrame(op, payload)
	c.loop.markDirty(c)
}

// pending returns c's pending buffer, taking one from the loop's spares
// if needed.
func (c *conn) pending() *bytebufferpool.ByteBuffer {
	if c.pend == nil {
		return c.newPending()
	}
	return c.pend
}

// newPending gives c an empty pending buffer from its loop's spares. It is
// kept out of line so that appendPending, on every delivery, is inlined.
//
//go:noinline
func (c *conn) newPending() *bytebufferpool.ByteBuffer {
	c.pend = c.loop.bufs.get()
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

// appendPending appends b to the pending buffer. It spells out pending()
// because through it this function, called for every delivery, is past
// the compiler's inlining budget.
func (c *conn) appendPending(b []byte) {
	p := c.pend
	if p == nil {
		p = c.newPending()
	}
	p.B = append(p.B, b...)
}

// freePending returns the pending buffer to the loop's spares.
func (c *conn) freePending() {
	if c.pend != nil {
		c.loop.bufs.put(c.pend)
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
	if len(p.B) > 0 && !c.forgotten() {
		w := &c.loop.writing
		was := *w
		w.c, w.b = c, p.B // OnClose within Write takes them back (keep.go)
		_, _ = c.gc.Write(p.B)
		taken := w.c != c
		*w = was
		if !taken {
			if !c.forgotten() && c.mails() {
				c.trackUnsent(p.B)
			}
		}
	}
	if c.forgotten() || cap(p.B) > maxKeptPending || cap(p.B) < minKeptPending {
		c.loop.bufs.put(p)
		if c.forgotten() {
			return
		}
	} else {
		p.B = p.B[:0]
		c.pend, c.pendIdle = p, false
	}
	c.drainedTo(c.syncOut())
}

// sweepPending returns a kept pending buffer that was not written for a
// whole tick (from the timer sweep).
func (c *conn) sweepPending() {
	if c.pend == nil || len(c.pend.B) != 0 {
		return
	}
	if c.pendIdle {
		c.freePending()
		return
	}
	c.pendIdle = true
}
