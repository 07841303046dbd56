package engine

// The engine's decisions about a connection's traffic, as pure functions:
// what to do with a frame for a receiver (outbound), and whether a sender's
// next message is routed now (inbound). The connection code gathers the
// inputs and carries the verdict out; policy_test.go tables the cases.

// outVerdict is what becomes of one frame routed to a receiver.
type outVerdict uint8

const (
	outQueue outVerdict = iota // queue it on the connection
	outDrop                    // drop it (a droppable class), counted
	outClose                   // drop it and close the receiver: 1008 "slow consumer"
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

// inVerdict is what a sender's connection does with its complete input.
type inVerdict uint8

const (
	inRoute inVerdict = iota // route the next message now
	inWait                   // leave the bytes unparsed in gnet's buffer until the loop's next round
	inClose                  // close with 1008: the bytes left waiting passed the bound
)

// inbound decides whether a connection routes its next message. credit is
// what is left of its share of the loop's current round, in deliveries;
// unread is the bytes gnet holds for it, unparsed; bound is
// Limits.InboundBacklog (0: no bound). A connection with credit routes;
// one without waits for the next round, unless it has more unparsed input
// than the bound allows.
func inbound(credit, unread, bound int) inVerdict {
	switch {
	case credit > 0:
		return inRoute
	case bound > 0 && unread > bound:
		return inClose
	}
	return inWait
}

// refill returns a connection's credit at the start of a round: a full
// quantum, less the debt of a message that cost more than what was left if
// the connection kept waiting since (it routes a message first and pays
// for its fan-out after). A connection that had routed all its input starts
// afresh: at most one message past its quantum is routed per round.
func refill(credit, quantum int, waited bool) int {
	if waited && credit < 0 {
		return credit + quantum
	}
	return quantum
}
