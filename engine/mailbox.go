package engine

import (
	"github.com/colibri-bus/colibri/routing"
	"github.com/colibri-bus/colibri/wsproto"
)

// An endpoint's socket that closes keeps the endpoint's traffic until the
// next socket takes it over (handover.go): it becomes the peer's ghost, and
// what reaches it goes to the endpoint's mailbox (routing.Mailbox), in the
// order it was routed. What the socket still held when it died goes first:
// the frames of the pending buffer, and those gnet had not written (a copy
// of them is kept, unsent.go, while gnet holds any). Bytes the kernel had
// accepted are gone with the socket: the bridge cannot know whether the
// client read them.

// mails reports whether c is an endpoint socket whose traffic is kept in
// a mailbox while the endpoint has no socket.
func (c *conn) mails() bool {
	return c.kind == routing.PeerEndpoint && c.e.table.Mailbox.Bytes > 0
}

// keeps reports whether c, closed or closing, still holds its peer's
// traffic: it was its peer's socket, has not handed over, and keeps a
// mailbox (an endpoint) or a replay window (a resuming relay).
func (c *conn) keeps() bool {
	if c.link != nil && c.closeCode == wsproto.CloseGoingAway && c.closeReason == routing.ReasonRelayClosed {
		// The relay was expired (here, or by the other side): no socket
		// will resume the link, so nothing would ever take over what a
		// ghost kept. What is routed to it is dropped and counted, as
		// without the extension (it was kept uncounted in the window).
		return false
	}
	return c.attached && c.next == nil && (c.mails() || c.link != nil)
}

// keep takes a frame for c that cannot go on its socket; false means it
// is dropped.
func (c *conn) keep(f *wsproto.SharedFrame, class routing.Class) bool {
	switch {
	case c.next != nil:
		c.forward(f, class)
		return true
	case !c.keeps():
		return false
	case c.link != nil:
		c.link.number(f, class, c.loop)
		return true
	}
	c.peer.Keep(f.Payload(), class)
	return true
}

// orphan is OnClose for a socket that keeps its peer's traffic: what it
// had not written goes to the head of the mailbox, and it becomes the
// peer's ghost (unless a new socket took over meanwhile: then it is the
// previous holder of that handover, and keeps until the fence is passed).
func (c *conn) orphan() {
	if c.mails() {
		c.peer.Recover(c.takeUnwritten())
	}
	c.peer.Orphan(c)
	held := c.held
	c.held = nil
	c.releaseHeld(held) // newer than the mailbox: kept after it
}

// takeUnwritten returns, in order, the messages c queued that did not
// reach the kernel: those gnet had not written, then the bytes of a write
// that failed, then the pending buffer. gnet would still try to write its
// part when it closes the socket: c's write side is shut first, and the
// socket is to be closed without a close frame (hardClose). Control
// frames and ServerHello are left out.
func (c *conn) takeUnwritten() []routing.Mail {
	var out []routing.Mail
	if n := c.gc.OutboundBuffered(); n > 0 {
		out = c.splitMail(out, unsentFrames(c.unsent, n))
		c.hardClose = true
		shutWrite(c.gc)
	}
	c.unsent = nil
	if c.writing != nil {
		out = c.splitMail(out, c.writing)
		c.writing = nil
	}
	if c.pend != nil {
		out = c.splitMail(out, c.pend.B)
		c.pend.B = c.pend.B[:0]
	}
	return out
}

// splitMail appends the text messages of frames to out, but for
// ServerHello: it greets one socket and is not the peer's traffic. (A
// socket replaced while its own handover was under way handed its
// unwritten ServerHello over, and the next socket sent it after its own:
// two ServerHellos.)
func (c *conn) splitMail(out []routing.Mail, frames []byte) []routing.Mail {
	err := wsproto.SplitFrames(frames, c.e.cfg.Limits.MaxMessageSize, func(op wsproto.OpCode, p []byte) {
		if op != wsproto.OpText {
			return
		}
		if class := routing.ClassOf(p); class != routing.ClassServerHello {
			out = append(out, routing.Mail{Msg: append([]byte(nil), p...), Class: class})
		}
	})
	if err != nil { // cannot happen: the bytes are our own whole frames
		c.e.log.Error("unwritten frames unreadable", "conf", c.confID, "id", c.id, "err", err)
	}
	return out
}

// sendMail is sendMessages for mails taken out of the mailbox: they are
// counted as delivered from it.
func (c *conn) sendMail(mails []routing.Mail) {
	if len(mails) == 0 {
		return
	}
	c.sendMessages(mails)
	c.peer.Delivered(len(mails))
}

// sendMessages queues msgs on c, in order, uncompressed (RFC 7692 lets a
// sender choose per message), for this round's write. They go in one
// write: if it fails, they are the unwritten bytes of that write, and go
// back to the mailbox in order.
func (c *conn) sendMessages(msgs []routing.Mail) {
	if len(msgs) == 0 {
		return
	}
	for _, m := range msgs {
		c.appendFrame(wsproto.OpText, m.Msg)
	}
	c.loop.markDirty(c)
}
