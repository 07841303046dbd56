package engine

// The engine's decisions about a sender's input, as pure functions: whether
// its next message is routed now (inbound), and its share of a round
// (refill). The connection code gathers the inputs and carries the verdict
// out; policy_test.go tables the cases. What is done for a slow receiver is
// in slow.go.

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
