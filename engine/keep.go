package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/wsproto"
)

// A socket that can no longer write keeps its peer's traffic until the
// next socket takes it over (handover.go): an endpoint's goes to its
// mailbox (routing.Mailbox), a resuming relay's to its replay window
// (resume.go), in the order it was routed. A closed socket that keeps is
// its peer's ghost. What the socket still held when it died goes first:
// the frames of the pending buffer, and those gnet had not written (a copy
// of them is kept, unsent.go, while gnet holds any). Bytes the kernel had
// accepted are gone with the socket: the bridge cannot know whether the
// client read them.

// mails reports whether c is an endpoint socket whose traffic is kept in
// a mailbox while the endpoint has no socket.
func (c *conn) mails() bool {
	return c.kind == route.PeerEndpoint && c.loop.e.table.Limits().Mailbox.Bytes > 0
}

// keepsTraffic reports whether c keeps its peer's traffic once it can no
// longer write it: an endpoint with a mailbox, or a resuming relay. The
// state says whether it is still c's to keep (lifecycle.go).
func (c *conn) keepsTraffic() bool {
	if c.link() != nil && c.closeCode == wsproto.CloseGoingAway && c.closeReason() == route.ReasonRelayClosed {
		// The relay was expired (here, or by the other side): no socket
		// will resume the link, so nothing would ever take over what a
		// ghost kept. What is routed to it is dropped and counted, as
		// without the extension (it was kept uncounted in the window).
		return false
	}
	return c.mails() || c.link() != nil
}

// keep keeps f for c's peer: in the relay's replay window, numbered, or in
// the endpoint's mailbox.
func (c *conn) keep(f *wsproto.SharedFrame, class route.Class) {
	if k := c.link(); k != nil {
		k.number(f, class, c.loop)
		return
	}
	c.peer.PutMail(f.Payload(), class)
}

// socketClosed is OnClose's step of the lifecycle. A socket that keeps
// its peer's traffic puts what it had not written at the head of the
// mailbox and becomes its peer's ghost (unless a new socket took over
// meanwhile: then it is the previous holder of that handover, and keeps
// until the fence is passed); one that does not is detached. A holding
// socket goes on holding until its handover completes (handover.go).
func (c *conn) socketClosed() {
	was := c.state
	if !c.set(evGone) || c.sock() != nil { // an application socket has no peer
		return
	}
	switch {
	case c.state == stClosed && was.upgraded(), c.state == stHoldingGone && !c.keepsTraffic():
		c.peer.Detach(c)
	case c.state == stHoldingGone:
		c.peer.DetachGhost(c) // it wrote nothing yet
	case c.state == stGhost:
		if c.mails() {
			rec, _ := c.takeUnwritten()
			c.peer.Recover(rec)
		}
		c.peer.DetachGhost(c)
	}
}

// takeUnwritten returns, in order, the messages c queued that did not
// reach the kernel: those gnet had not written, then the bytes of a write
// that failed, then the pending buffer. gnet would still try to write its
// part when it closes the socket: c's write side is shut first, and shut
// reports that the socket must be closed without a close frame. Control
// frames and ServerHello are left out.
func (c *conn) takeUnwritten() (out []route.Mail, shut bool) {
	if n := c.gc.OutboundBuffered(); n > 0 {
		out = c.splitMail(out, unsentFrames(c.unsent(), n))
		shut = true
		shutWrite(c.gc)
	}
	c.dropUnsent()
	if w := &c.loop.writing; w.c == c {
		out = c.splitMail(out, w.b)
		w.c, w.b = nil, nil
	}
	if c.pend != nil {
		out = c.splitMail(out, c.pend.B)
		c.pend.B = c.pend.B[:0]
	}
	return out, shut
}

// splitMail appends the text messages of frames to out, but for
// ServerHello: it greets one socket and is not the peer's traffic. (A
// socket replaced while its own handover was under way handed its
// unwritten ServerHello over, and the next socket sent it after its own:
// two ServerHellos.)
func (c *conn) splitMail(out []route.Mail, frames []byte) []route.Mail {
	err := wsproto.SplitFrames(frames, c.loop.e.cfg.Limits.MaxMessageSize, func(op wsproto.OpCode, p []byte) {
		if op != wsproto.OpText {
			return
		}
		if class := route.ClassOf(p); class != route.ClassServerHello {
			out = append(out, route.Mail{Msg: append([]byte(nil), p...), Class: class})
		}
	})
	if err != nil { // cannot happen: the bytes are our own whole frames
		c.loop.e.log.Error("unwritten frames unreadable", "conf", c.confID(), "id", c.peerID(), "err", err)
	}
	return out
}

// sendMail is sendMessages for mails taken out of the mailbox: they are
// counted as delivered from it.
func (c *conn) sendMail(mails []route.Mail) {
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
func (c *conn) sendMessages(msgs []route.Mail) {
	if len(msgs) == 0 {
		return
	}
	for _, m := range msgs {
		c.appendFrame(wsproto.OpText, m.Msg)
		c.inherited += len(m.Msg)
	}
	c.loop.markDirty(c)
}
