package engine

import "log/slog"

// connMore is what few connections need: a relay's dial and numbering,
// an application's socket, a handover in progress and the reason of a
// close. An idle endpoint's record points to none (conn's comment).
type connMore struct {
	sock *Socket    // an application socket's (appconn.go); nil for Colibri
	dial *relayDial // set on the dialling side of a relay
	link *relayLink // a resuming relay's numbering (resume.go)

	// The handover (handover.go).
	held    []heldFrame // frames held while holding, in order
	next    *conn       // c handed its peer's traffic off to next
	nextOff *handover   // a handover from c that waits for c's own to complete

	closeReason string
	unsent      []byte // a copy of the frames gnet holds (unsent.go)
}

// extra returns c's connMore, allocating it on first use.
func (c *conn) extra() *connMore {
	if c.more == nil {
		c.more = new(connMore)
	}
	return c.more
}

// shed drops c's connMore once it holds nothing: every new socket holds
// its ServerHello until its handover completes, and an idle endpoint
// should not keep the record that took.
func (c *conn) shed() {
	m := c.more
	if m.sock == nil && m.dial == nil && m.link == nil && m.held == nil &&
		m.next == nil && m.nextOff == nil && m.closeReason == "" && m.unsent == nil {
		c.more = nil
	}
}

// sock returns c's application socket, or nil for a Colibri connection.
func (c *conn) sock() *Socket {
	if c.more == nil {
		return nil
	}
	return c.more.sock
}

// dial returns the relay dial of a connection we dialled, or nil.
func (c *conn) dial() *relayDial {
	if c.more == nil {
		return nil
	}
	return c.more.dial
}

// link returns a resuming relay's numbering, or nil.
func (c *conn) link() *relayLink {
	if c.more == nil {
		return nil
	}
	return c.more.link
}

// next returns the socket c handed its peer's traffic off to, or nil.
func (c *conn) next() *conn {
	if c.more == nil {
		return nil
	}
	return c.more.next
}

// closeReason returns the reason of c's close handshake.
func (c *conn) closeReason() string {
	if c.more == nil {
		return ""
	}
	return c.more.closeReason
}

// setClose records the code and reason of c's close handshake.
func (c *conn) setClose(code uint16, reason string) {
	c.closeCode = code
	if reason != "" || c.more != nil {
		c.extra().closeReason = reason
	}
}

// confID and peerID name c's conference and peer in logs ("" before
// authentication).
func (c *conn) confID() string {
	if c.peer == nil {
		return ""
	}
	return c.peer.Conference().ID()
}

func (c *conn) peerID() string {
	if c.peer == nil {
		return ""
	}
	return c.peer.ID()
}

// textAddr is an address known as text: a dialled relay's URL host, a
// TLS peer's address.
type textAddr string

func (a textAddr) Network() string { return "tcp" }
func (a textAddr) String() string  { return string(a) }

// remoteLog is c's address for a log line, read only if the line is
// written: most connect and close lines are below the configured level.
func (c *conn) remoteLog() slog.LogValuer { return (*connRemote)(c) }

type connRemote conn

func (r *connRemote) LogValue() slog.Value { return slog.StringValue((*conn)(r).RemoteAddr()) }
