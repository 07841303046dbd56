package engine

import "github.com/colibri-bus/colibri/wsproto"

// The slow-consumer policy, whole: a receiver that does not read as fast as
// it is sent to has its droppable frames dropped past its outbound budget,
// and is closed with 1008 "slow consumer" past 4x the budget, or after
// staying over it for Limits.OutboundGrace without draining to half of it.
// The frame that crosses 4x is not dropped: the close makes its fate keep
// (mailbox, replay window) like everything after it (lifecycle.go).

// outVerdict is what becomes of one frame routed to a receiver.
type outVerdict uint8

const (
	outQueue outVerdict = iota // queue it on the connection
	outDrop                    // drop it (a droppable class), counted
	outClose                   // close the receiver (1008 "slow consumer"); the frame is kept if it keeps traffic
)

// outInput is what the outbound verdict depends on.
type outInput struct {
	queued     int  // bytes held for the receiver: gnet's outbound buffer and the pending frames
	frame      int  // bytes of the frame on the wire
	budget     int  // Limits.OutboundBudget; 0: no per-connection budget
	globalOver bool // the bridge's queued bytes plus frame pass Limits.GlobalOutbound
	backlogged bool // gnet holds bytes for the receiver: the kernel did not take them
	droppable  bool // the frame's class may be dropped for a slow receiver
}

// outbound decides the fate of one frame and reports whether the receiver
// is over its budget with it (the slow-consumer grace starts then):
//
//   - a droppable frame is dropped while the receiver is over its budget or
//     the bridge is over its global bound;
//   - any other frame is queued, unless the receiver's queue is past 4× its
//     budget, or the bridge is over its global bound and the receiver is
//     over budget or backlogged: then the receiver is closed, so that one
//     reader never grows memory without bound and the total stays near the
//     global bound instead of reaching connections × 4× the budget.
func outbound(in outInput) (v outVerdict, over bool) {
	over = in.budget > 0 && in.queued+in.frame > in.budget
	switch {
	case (over || in.globalOver) && in.droppable:
		return outDrop, over
	case over && in.queued > 4*in.budget, in.globalOver && (over || in.backlogged):
		return outClose, over
	}
	return outQueue, over
}

// budget is the outbound budget of c, and what c inherited when its
// handover completed: the frames the previous socket had not written, the
// mailbox, a relay's replay, all queued at once, are not a slow consumer
// (a new socket closed at once for them would send them back to the
// mailbox, past its bound). Otherwise its budget is everyone's, so that a
// relay that stops reading is closed (at 4x the budget, or after the
// grace) while its replay window still holds everything it did not read,
// and the redial replays it all.
func (c *conn) budget() int {
	b := c.loop.e.cfg.Limits.OutboundBudget
	if b > 0 {
		b += c.inherited
	}
	return b
}

// graceLevel is the queue a receiver over its budget must drain to, in the
// grace, to be left open: half its budget. The pending buffer is flushed
// at that level too (pendLimit), so that one round's burst does not look
// like a slow reader.
func graceLevel(budget int) int { return budget / 2 }

// pendLimit is pendMax, or half the outbound budget when that is smaller.
func pendLimit(budget int) int {
	if budget > 0 && graceLevel(budget) < pendMax {
		return max(graceLevel(budget), 1)
	}
	return pendMax
}

// overBudget starts the grace of c if it is not running, and reports
// whether c's queue is past its budget (a pong is not queued then).
func (c *conn) overBudget() bool {
	lim := c.budget()
	if lim <= 0 || c.queued() <= lim {
		return false
	}
	c.startGrace()
	return true
}

// startGrace starts the slow-consumer grace of c unless it runs.
func (c *conn) startGrace() {
	if c.overSinceNS == 0 {
		c.overSinceNS = c.loop.e.now()
	}
}

// drainedTo ends c's grace when its gnet queue, out, is at the grace
// level: it will start again the next time c goes over.
func (c *conn) drainedTo(out int) {
	if c.overSinceNS != 0 && out <= graceLevel(c.budget()) {
		c.overSinceNS = 0
	}
}

// checkGrace closes c if its grace ran out while its queue, queued, is
// still above the grace level, or ends the grace. It reports whether c
// was closed.
func (c *conn) checkGrace(now int64, queued int) bool {
	g := c.loop.e.cfg.Limits.OutboundGrace
	if c.overSinceNS == 0 || now-c.overSinceNS <= int64(g) {
		return false
	}
	if queued > graceLevel(c.budget()) {
		c.slowClose()
		return true
	}
	c.overSinceNS = 0
	return false
}

// slowClose closes a connection that does not read fast enough.
func (c *conn) slowClose() {
	c.loop.e.stats.SlowClosed.Add(1)
	c.startClose(wsproto.ClosePolicyViolation, "slow consumer")
}

// queuesSurely reports whether outbound would queue a frame without
// asking gnet or the bridge's total: gnet held nothing for the receiver
// at the last sync (outAcct 0; it holds more only after this loop writes,
// and a write syncs), the pending bytes and the frame fit in the budget,
// and the frame is not droppable, so the global bound cannot drop it and
// closes only a receiver over budget or backlogged. Then outbound's answer
// is outQueue, not over (TestQueuesSurely). The broadcast storm takes this
// path for nearly every delivery: gnet's buffer and the shared total are
// cache lines a delivery need not touch.
func queuesSurely(outAcct, pend, frame, budget int, droppable bool) bool {
	return outAcct == 0 && !droppable && (budget <= 0 || pend+frame <= budget)
}
