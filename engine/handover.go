package engine

import (
	"sync/atomic"

	"github.com/colibri-bus/colibri/routing"
	"github.com/colibri-bus/colibri/wsproto"
)

// A peer's traffic moves from one socket to the next: an endpoint's new
// socket gets what the old one (open, or closed and keeping a mailbox)
// still held, and a relay's new socket replays what the other side missed.
// Nothing may be lost on the way and nothing may overtake.
//
// Frames reach a socket through its event loop: directly from a router
// on the same loop, through the loop's inbox from the others. When the
// new socket attaches (Peer.Attach swaps it in), a router on some other
// loop may have looked the old socket up just before, and put its frame on
// the old loop's inbox just after. So the new socket holds everything it
// is sent, and the old one hands over only after a fence: every loop puts a
// marker on the old loop's inbox from its own goroutine, between two of its
// callbacks, so behind everything it put there before; off-loop senders are
// waited for with Router.Quiesce. When the old loop has drained the last
// marker, no frame for the old socket is still on its way: it gives up
// what it holds, and the new socket sends that first, then what it held.

// handover is one move of a peer's traffic from a previous holder to a
// new socket.
type handover struct {
	from, to *conn
	left     atomic.Int32 // loops whose marker has not reached from's loop yet
}

// heldFrame is a frame a new socket keeps until its handover completes.
type heldFrame struct {
	f     *wsproto.SharedFrame
	class routing.Class
}

// takeOver starts moving prev's traffic to c, which has just attached.
// It runs on c's loop; c holds what it is sent until release.
func (c *conn) takeOver(prev *conn) {
	h := &handover{from: prev, to: c}
	c.e.router.Quiesce()
	loops := *c.e.loopList.Load()
	h.left.Store(int32(len(loops)))
	if len(loops) == 0 { // no loop registered yet: nothing can be in flight
		h.left.Store(1)
		prev.loop.control(h.arrive)
		return
	}
	for _, x := range loops {
		if x == c.loop || x == prev.loop {
			// c's loop is here, between callbacks of its own; prev's loop
			// delivers to prev directly, not through its inbox.
			prev.loop.control(h.arrive)
			continue
		}
		x.execute(func() { prev.loop.control(h.arrive) })
	}
}

// arrive counts one loop's marker on from's loop; the last one hands over.
func (h *handover) arrive() {
	if h.left.Add(-1) == 0 {
		h.from.handOff(h)
	}
}

// handOff gives up what c holds for its peer to h.to (on c's loop). An
// open endpoint socket gives its frames not yet written; a socket still
// waiting for its own handover gives up once that is done.
func (c *conn) handOff(h *handover) {
	if c.holding {
		c.nextOff = h
		return
	}
	// A socket still connected gives up what it has not written: an open
	// one, and one whose closing handshake we started (slow consumer, idle
	// timeout, protocol error), which is replaced by a client that
	// reconnected meanwhile. Once c.next is set c no longer keeps its
	// peer's traffic, so what gnet held for a closing socket used to be
	// thrown away with it, uncounted, when it closed.
	live := c.state == stOpen || c.state == stClosing
	var rec []routing.Mail
	if live && c.mails() {
		rec = c.takeUnwritten()
	}
	c.next = h.to
	switch {
	case live && c.hardClose:
		c.closeCode, c.closeReason = wsproto.CloseAbnormal, routing.ReasonReplaced
		c.state = stClosed
		c.gc.Close()
	case c.state == stOpen:
		c.startClose(wsproto.CloseNormal, routing.ReasonReplaced)
	}
	to := h.to
	if to.loop == c.loop {
		to.release(rec)
		return
	}
	to.loop.control(func() { to.release(rec) })
}

// hold keeps f for c until its handover completes.
func (c *conn) hold(f *wsproto.SharedFrame, class routing.Class) {
	f.Retain()
	c.held = append(c.held, heldFrame{f: f, class: class})
}

// release ends c's handover: ServerHello first if it was held, then rec
// (what the previous open socket had not written), the mailbox, a relay's
// replay, and then what c held, in order.
func (c *conn) release(rec []routing.Mail) {
	held := c.held
	c.held, c.holding = nil, false
	if c.state != stOpen {
		// c closed while it waited and kept what it held (orphan): what
		// the old socket gave goes before all of that.
		if c.mails() && c.next == nil {
			c.peer.Recover(rec)
		}
		c.releaseHeld(held) // empty unless c is closing but not closed yet
	} else {
		i := 0
		if len(held) > 0 && held[0].class == routing.ClassServerHello {
			c.enqueue(held[0].f, held[0].class)
			held[0].f.Release()
			i = 1
		}
		if c.mails() {
			// rec went from the replaced socket to this one without being
			// kept in the mailbox: it is not counted as delivered from it.
			c.sendMessages(rec)
			c.sendMail(c.peer.TakeMail())
		}
		if c.link != nil {
			c.replay()
		}
		c.releaseHeld(held[i:])
	}
	if h := c.nextOff; h != nil {
		c.nextOff = nil
		c.handOff(h)
	}
}

// releaseHeld enqueues held on c, in order (a closed c keeps them), and
// drops the references.
func (c *conn) releaseHeld(held []heldFrame) {
	for _, hf := range held {
		c.enqueue(hf.f, hf.class)
		hf.f.Release()
	}
}

// forward sends a frame that reached c after it handed over to c.next.
func (c *conn) forward(f *wsproto.SharedFrame, class routing.Class) {
	n := c.next
	if n.loop == c.loop {
		n.enqueue(f, class)
		return
	}
	n.loop.deliverRemote(f, class, []*conn{n})
}
