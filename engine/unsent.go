package engine

import "github.com/colibri-bus/colibri/wsproto"

// While gnet holds bytes an endpoint socket did not take, the socket keeps
// a copy of the frames they belong to, so that they can go to the
// endpoint's mailbox if the socket dies (keep.go). gnet says how many
// bytes it holds, not which: they are always the tail of what was
// written, so the copy is the tail of the written frames, trimmed to whole
// frames at each write and sweep. The copy costs nothing while the socket
// keeps up (gnet holds nothing after a write: the copy is dropped), and
// is bounded by what gnet holds, the outbound budget, plus one frame.

// trackUnsent records written, the bytes of one Write just made, and trims
// the copy to the frames gnet still holds.
func (c *conn) trackUnsent(written []byte) {
	n := c.gc.OutboundBuffered()
	if n == 0 {
		c.dropUnsent()
		return
	}
	m := c.extra()
	m.unsent = append(m.unsent, written...)
	c.trimUnsent(n)
}

// trimUnsent drops the frames at the head of the copy that gnet has
// written, keeping the ones any of the last n bytes belong to.
func (c *conn) trimUnsent(n int) {
	if n == 0 {
		c.dropUnsent()
		return
	}
	c.more.unsent = unsentFrames(c.more.unsent, n)
}

// unsent returns the copy of the frames gnet holds, nil if none.
func (c *conn) unsent() []byte {
	if c.more == nil {
		return nil
	}
	return c.more.unsent
}

// dropUnsent forgets the copy.
func (c *conn) dropUnsent() {
	if c.more != nil {
		c.more.unsent = nil
	}
}

// unsentFrames returns the whole frames of copy that any of its last n
// bytes belong to: the frames not written, and the one written in part.
func unsentFrames(copy []byte, n int) []byte {
	b := copy
	for {
		l := wsproto.FrameLen(b)
		if l == 0 || len(b)-l < n {
			return b
		}
		b = b[l:]
	}
}
