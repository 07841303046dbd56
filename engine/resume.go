package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"strconv"

	"github.com/colibri-bus/colibri/wsproto"
)

// The relay resume extension on one socket (routing/replay.go has the
// numbering, docs/relay-resume.md the protocol). The dialler puts its
// routing.ResumeHeader on the upgrade request; the dialled side, when it
// has the extension too, answers with its own on the 101. Both sides then
// replay what the other did not accept, after the handover from the
// link's previous socket (handover.go). A side without the extension
// sends no header and ignores it: the link is today's.

// ackEvery is how many accepted messages make a RelayAck; the timer sweep
// acknowledges the rest.
const ackEvery = 1024

// relayLink is a socket's part of a resuming relay link.
type relayLink struct {
	l    *route.RelayLink
	t    *route.Table // its limits and counters
	rseq uint64       // the number of the last message read on this socket
	from uint64       // the other side had accepted up to here: the replay starts after it

	unacked int // messages accepted since the last RelayAck
}

// resumeLine is the header line for h.
func resumeLine(h route.ResumeHeader) string {
	return route.ResumeHeaderName + ": " + h.String() + "\r\n"
}

// answerResume is the dialled side: given the dialler's header value, it
// turns the extension on for c and returns the header line of the 101, or
// "" when either side does not have it.
func (c *conn) answerResume(theirs string) string {
	if theirs == "" || !c.loop.e.cfg.Relay.Resume {
		return ""
	}
	mine := c.peer.Relay().Link.Header() // what this side knew before this handshake
	if !c.startResume(theirs, mine.Received) {
		return ""
	}
	return resumeLine(mine)
}

// startResume turns the extension on for c, a relay socket, given the
// other side's header value v ("" for none: the link is today's). own is
// the number this side announced it had accepted. It returns false for a
// malformed header, which is ignored like a missing one.
func (c *conn) startResume(v string, own uint64) bool {
	if v == "" || !c.loop.e.cfg.Relay.Resume {
		return false
	}
	h, err := route.ParseResumeHeader(v)
	if err != nil {
		c.loop.e.log.Warn("relay resume header ignored", "conf", c.confID(), "relay", c.peerID(), "remote", c.remoteLog(), "err", err)
		return false
	}
	r := c.peer.Relay()
	known := r.Link.Header().Peer
	from := r.Link.Resume(h, &c.loop.e.table.Resume)
	if known != "" && h.Link != known {
		own = 0 // the other side is a new link: its numbers start at 1
	}
	c.extra().link = &relayLink{l: &r.Link, t: c.loop.e.table, rseq: own, from: from}
	return true
}

// number gives f its number on the link and keeps it for replay (on the
// socket it goes out on, or on the ghost of the last one), stamped with
// the loop's clock of its last sweep: the age bound is in tens of seconds.
// Hellos are not numbered.
func (k *relayLink) number(f *wsproto.SharedFrame, class route.Class, l *loop) {
	if class == route.ClassServerHello || class == route.ClassClientHello {
		return
	}
	k.l.Number(f, class, l.heartbeat.Load(), k.t.Limits().Replay)
}

// Accept implements routing.Sequenced.
func (c *conn) Accept() bool {
	k := c.link()
	if k == nil {
		return true
	}
	k.rseq++
	if !k.l.Accept(k.rseq, &c.loop.e.table.Resume) {
		return false
	}
	k.unacked++
	if k.unacked >= ackEvery {
		c.sendAck()
	}
	return true
}

// Acked implements routing.Sequenced.
func (c *conn) Acked(n uint64) {
	if k := c.link(); k != nil {
		k.l.Ack(n)
	}
}

// Skip implements routing.Sequenced.
func (c *conn) Skip(next uint64) {
	if k := c.link(); k != nil {
		k.rseq = k.l.Skip(k.rseq, next, &c.loop.e.table.Resume)
	}
}

// sendAck queues a RelayAck with everything accepted on the link so far.
func (c *conn) sendAck() {
	k := c.link()
	if c.state != stOpen || k.unacked == 0 {
		return
	}
	k.unacked = 0
	var buf [64]byte
	b := append(buf[:0], `{"colibriClass":"RelayAck","received":`...)
	b = strconv.AppendUint(b, k.l.Received(), 10)
	b = append(b, '}')
	c.appendFrame(wsproto.OpText, b)
	c.loop.markDirty(c)
	c.loop.e.table.Resume.Acks.Add(1)
}

// replay queues, after a handover, what the other side did not accept,
// before anything new: a RelaySkip first if some of it is gone.
func (c *conn) replay() {
	k := c.link()
	t := c.loop.e.table
	k.l.Replay(k.from, c.loop.e.now(), t.Limits().Replay, &t.Resume,
		func(next uint64) {
			var buf [64]byte
			b := append(buf[:0], `{"colibriClass":"RelaySkip","next":`...)
			b = strconv.AppendUint(b, next, 10)
			c.appendFrame(wsproto.OpText, append(b, '}'))
		},
		func(f *wsproto.SharedFrame, _ route.Class) {
			c.inherited += len(f.Bytes())
			c.appendQueued(f)
		})
	c.loop.markDirty(c)
}

// appendQueued appends f to the pending buffer as enqueue would, without
// its policy and numbering.
func (c *conn) appendQueued(f *wsproto.SharedFrame) {
	if c.client {
		c.appendFrame(f.Op(), f.Payload())
		return
	}
	b := f.Bytes()
	if c.flate != nil {
		if cb := f.Compressed(); cb != nil {
			b = cb
		}
	}
	c.appendPending(b)
}
