package engine

// A connection's life is one state, and it changes only through step: a
// pure function of the state, the event, and whether the connection keeps
// its peer's traffic when it cannot send it (an endpoint with a mailbox,
// a resuming relay). What becomes of a frame routed to the connection is
// decided by fate, from the state alone. lifecycle_test.go tables both;
// docs/architecture.md shows the table.
//
// The words, the same in routing and here:
//   - hold: a new socket keeps what it is sent until the handover from the
//     previous holder of its peer's traffic completes (handover.go);
//   - keep: a socket that can no longer write puts its peer's traffic in
//     the endpoint's mailbox or the relay's replay window (keep.go);
//   - ghost: a closed socket that is still its peer's route, and keeps;
//   - hand off: a socket gives its peer's traffic to the next one, and
//     forwards what still reaches it.

// state is where a connection is in its life.
type state uint8

const (
	stHandshake      state = iota // server: reading the HTTP upgrade request
	stDialing                     // relay client: waiting for the 101
	stRefused                     // the handshake failed or timed out: the socket closes
	stHolding                     // upgraded, its peer's socket: holds what it is sent until its handover completes
	stHoldingClosing              // holding, and its close frame is out
	stHoldingFailing              // holding, and closing after a protocol error: its input is discarded
	stHoldingGone                 // holding, and the socket closed: a ghost once the handover completes
	stOpen                        // frames flow both ways
	stClosing                     // its close frame is out; what it is sent is kept (or dropped)
	stFailing                     // closing after a protocol error or an input bound: its input is discarded
	stGhost                       // the socket closed; still its peer's route, it keeps what it is sent
	stHandedOff                   // its peer's traffic went to the next socket: what it is sent is forwarded
	stClosed                      // the socket closed, holding nothing: what it is sent is dropped
	numStates
)

var stateNames = [numStates]string{"handshake", "dialing", "refused", "holding", "holding-closing",
	"holding-failing", "holding-gone", "open", "closing", "failing", "ghost", "handed-off", "closed"}

func (s state) String() string {
	if s < numStates {
		return stateNames[s]
	}
	return "state?"
}

// event is what happens to a connection.
type event uint8

const (
	evUpgraded  event = iota // the handshake succeeded and the socket became its peer's
	evRefused                // the handshake failed or timed out, or the peer expired before the attach
	evCompleted              // its own handover completed (handover.go)
	evCloseSent              // its close frame went out: ours, or our answer to the peer's
	evFailed                 // a protocol error, or input past its bound: close, and discard the input
	evHandedOff              // the next socket took its peer's traffic over
	evGone                   // gnet closed the socket (OnClose)
	numEvents
)

var eventNames = [numEvents]string{"upgraded", "refused", "completed", "close-sent", "failed", "handed-off", "gone"}

func (e event) String() string {
	if e < numEvents {
		return eventNames[e]
	}
	return "event?"
}

// step returns the state after ev in s; keeps says whether the
// connection keeps its peer's traffic once it cannot write it. ok is false
// for an event that cannot happen in s: the state does not change, and the
// caller does nothing more.
func step(s state, ev event, keeps bool) (next state, ok bool) {
	switch ev {
	case evUpgraded:
		switch s {
		case stHandshake, stDialing:
			return stHolding, true
		}
	case evRefused:
		switch s {
		case stHandshake, stDialing:
			return stRefused, true
		}
	case evCompleted:
		switch s {
		case stHolding:
			return stOpen, true
		case stHoldingClosing:
			return stClosing, true
		case stHoldingFailing:
			return stFailing, true
		case stHoldingGone:
			if keeps {
				return stGhost, true
			}
			return stClosed, true
		}
	case evCloseSent:
		switch s {
		case stOpen:
			return stClosing, true
		case stHolding:
			return stHoldingClosing, true
		}
	case evFailed:
		switch s {
		case stOpen, stClosing:
			return stFailing, true
		case stHolding, stHoldingClosing:
			return stHoldingFailing, true
		}
	case evHandedOff:
		switch s {
		case stOpen, stClosing, stFailing, stGhost, stClosed:
			return stHandedOff, true
		}
	case evGone:
		switch s {
		case stHandshake, stDialing, stRefused:
			return stClosed, true
		case stHolding, stHoldingClosing, stHoldingFailing:
			return stHoldingGone, true
		case stOpen, stClosing, stFailing:
			if keeps {
				return stGhost, true
			}
			return stClosed, true
		case stHandedOff:
			return stHandedOff, true
		}
	}
	return s, false
}

// fate is what becomes of a frame routed to a connection.
type fate uint8

const (
	fateWrite   fate = iota // queue it on the socket, as the outbound policy decides (policy.go)
	fateHold                // hold it until the handover completes
	fateKeep                // keep it for the peer's next socket: mailbox or replay window
	fateForward             // forward it to the socket that took the traffic over
	fateDrop                // drop it, counted as no_connection
)

var fateNames = [...]string{"write", "hold", "keep", "forward", "drop"}

func (f fate) String() string { return fateNames[f] }

// frameFate decides the fate of a frame routed to a connection in s.
// keeps says whether the connection keeps its peer's traffic; greeting
// marks a ServerHello, which greets one socket and is never kept for, or
// forwarded to, another.
func frameFate(s state, keeps, greeting bool) fate {
	switch s {
	case stOpen:
		return fateWrite
	case stHolding, stHoldingClosing, stHoldingFailing, stHoldingGone:
		return fateHold
	case stClosing, stFailing, stGhost:
		if keeps && !greeting {
			return fateKeep
		}
	case stHandedOff:
		if !greeting {
			return fateForward
		}
	}
	return fateDrop
}

// holding reports whether s waits for its handover.
func (s state) holding() bool {
	return s == stHolding || s == stHoldingClosing || s == stHoldingFailing || s == stHoldingGone
}

// upgraded reports whether the connection's handshake succeeded.
func (s state) upgraded() bool {
	return s != stHandshake && s != stDialing && s != stRefused
}

// routes reports whether text read in s is routed. A holding socket does
// not read: see complete.
func (s state) routes() bool { return s == stOpen }

// discards reports whether input read in s is discarded unparsed.
func (s state) discards() bool { return s == stFailing || s == stHoldingFailing }

// set applies ev to c's state. It reports false (and changes nothing)
// when ev cannot happen in c's state.
func (c *conn) set(ev event) bool {
	next, ok := step(c.state, ev, c.keepsTraffic())
	if ok {
		c.state = next
	}
	return ok
}
