package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"sync/atomic"

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
// callbacks, so behind everything it put there before. An embedder's
// sends are routed on a loop too (Engine.run), so the fence covers them
// and no loop ever waits for an embedder's goroutine. When the old loop
// has drained the last
// marker, no frame for the old socket is still on its way: it gives up
// what it holds, and the new socket sends that first, then what it held.

// handover is one move of a peer's traffic from a previous holder to a
// new socket.
type handover struct {
	from, to *conn
}

// heldFrame is a frame a new socket keeps until its handover completes.
type heldFrame struct {
	f     *wsproto.SharedFrame
	class route.Class
}

// takeOver starts moving prev's traffic to c, which has just attached.
// It runs on c's loop; c holds what it is sent until its handover
// completes.
func (c *conn) takeOver(prev *conn) {
	h := &handover{from: prev, to: c}
	c.fence(prev.loop, func() { prev.handOff(h) })
}

// takeFirst completes the handover of a socket that attached with no
// previous holder of its peer's traffic, once every loop has passed a
// marker to c's loop. Its peer may have had a socket before, which did not
// keep (mailboxes off, a relay without the extension): what that socket
// read and routed must reach the receivers before what c reads, and it
// has once the fence is passed.
func (c *conn) takeFirst() {
	c.fence(c.loop, func() { c.complete(nil) })
}

// fence runs done on target once every loop has put a marker on target's
// inbox from its own goroutine, between two of its callbacks: behind
// everything that loop had put there, and behind everything it had routed
// to any loop. It runs on c's loop.
func (c *conn) fence(target *loop, done func()) {
	loops := *c.loop.e.loopList.Load()
	left := new(atomic.Int32)
	arrive := func() {
		if left.Add(-1) == 0 {
			done()
		}
	}
	if len(loops) == 0 { // no loop registered yet: nothing can be in flight
		left.Store(1)
		target.control(arrive)
		return
	}
	left.Store(int32(len(loops)))
	for _, x := range loops {
		if x == c.loop || x == target {
			// c's loop is here, between callbacks of its own; the target
			// loop delivers to its own sockets directly, not through its
			// inbox.
			target.control(arrive)
			continue
		}
		x.execute(func() { target.control(arrive) })
	}
}

// handOff gives up what c holds for its peer to h.to (on c's loop): the
// frames an endpoint's live socket had not written. A socket still holding
// for its own handover gives up once that completed.
func (c *conn) handOff(h *handover) {
	if c.state.holding() {
		c.extra().nextOff = h
		return
	}
	// A live socket gives up what it has not written: an open one, and one
	// whose closing handshake we started (slow consumer, idle timeout,
	// protocol error), which is replaced by a client that reconnected
	// meanwhile.
	live := c.state == stOpen || c.state == stClosing || c.state == stFailing
	var rec []route.Mail
	shut := false
	if live && c.mails() {
		rec, shut = c.takeUnwritten()
	}
	c.extra().next = h.to
	switch {
	case live && shut:
		// gnet held frames it had not written, now in rec: no close frame
		// can follow them, the socket closes without one.
		c.setClose(wsproto.CloseAbnormal, route.ReasonReplaced)
		c.gc.Close()
	case c.state == stOpen:
		c.startClose(wsproto.CloseNormal, route.ReasonReplaced)
	}
	c.set(evHandedOff) // the close may have closed the socket: handed off all the same
	to := h.to
	if to.loop == c.loop {
		to.complete(rec)
		return
	}
	to.loop.control(func() { to.complete(rec) })
}

// hold keeps f for c until its handover completes.
func (c *conn) hold(f *wsproto.SharedFrame, class route.Class) {
	f.Retain()
	m := c.extra()
	m.held = append(m.held, heldFrame{f: f, class: class})
}

// complete ends c's handover. An open socket sends its ServerHello first
// if it was held, then rec (what the previous open socket had not
// written), the mailbox, a relay's replay, and then what it held, in
// order. One that closed or started closing while it waited keeps all of
// that for the next socket instead, and drops its ServerHello.
func (c *conn) complete(rec []route.Mail) {
	var held []heldFrame
	if m := c.more; m != nil {
		held, m.held = m.held, nil
		c.shed()
	}
	c.set(evCompleted)
	if c.state == stOpen {
		i := 0
		if len(held) > 0 && held[0].class == route.ClassServerHello {
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
		if c.link() != nil {
			c.replay()
		}
		held = held[i:]
	} else if c.mails() {
		c.peer.Recover(rec) // older than anything in the mailbox and held
	}
	c.sendHeld(held)
	if !c.forgotten() && c.gc.InboundBuffered() > 0 {
		// What the socket sent while it held waited unread: its messages
		// are routed only now, after everything its peer's previous socket
		// routed reached the receivers' loops (it did before the last
		// marker, and this runs behind what its loop put on this one), so
		// that they cannot overtake it.
		c.loop.wait(c)
	}
	if m := c.more; m != nil && m.nextOff != nil {
		h := m.nextOff
		m.nextOff = nil
		c.handOff(h)
	}
}

// sendHeld enqueues held on c, in order, and drops the references: a
// socket that cannot write keeps them, or drops them.
func (c *conn) sendHeld(held []heldFrame) {
	for _, hf := range held {
		c.enqueue(hf.f, hf.class)
		hf.f.Release()
	}
}

// forward sends a frame that reached c after it handed off to c.next.
func (c *conn) forward(f *wsproto.SharedFrame, class route.Class) {
	n := c.next()
	if n.loop == c.loop {
		n.enqueue(f, class)
		return
	}
	n.loop.deliverRemote(f, class, []*conn{n})
}
