package routing

// Stats are a snapshot of a router's counters.
type Stats struct {
	// Received counts the text messages read on endpoint and relay sockets.
	Received uint64
	// Delivered counts the frames handed to sockets and mailboxes, one
	// per receiver.
	Delivered uint64
	// Dropped counts the messages not routed or not delivered, by reason
	// (the names /colibri/stats shows after dropped_).
	Dropped map[string]uint64
}

// PeerStats are a snapshot of an endpoint's or a relay's counters. A frame
// meant for it is counted once: in Sent, or in Dropped.
type PeerStats struct {
	// Received counts the messages read from its sockets, by colibriClass.
	Received map[string]uint64
	// Sent counts the frames queued for its sockets, by colibriClass.
	Sent map[string]uint64
	// Dropped counts the frames meant for it that were not queued: no
	// socket, a closing socket, a slow reader.
	Dropped uint64
	// MailboxMessages and MailboxBytes are what its mailbox holds while
	// it has no socket (endpoints only).
	MailboxMessages, MailboxBytes int
}
