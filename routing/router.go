package routing

// Router sends the embedder's messages to endpoints and relays. Its
// methods are safe from any goroutine and never block on the bridge's
// event loops: a message is checked and encoded on the caller's goroutine
// and routed on an event loop, after every message sent before it.
type Router interface {
	// SendToEndpoint sends msg, a JSON object with a known colibriClass,
	// to ep. It returns ErrNotFound if ep has no socket now (the state is
	// sent again when it connects, so it is not kept for it either), or
	// ErrInvalidJSON and its kin for a message that is not valid.
	SendToEndpoint(ep Endpoint, msg []byte) error
	// SendToConference sends msg to every local endpoint of c but except
	// (nil: none), and to every relay when relays is true. It returns how
	// many endpoints and relays that was when it was called.
	SendToConference(c Conference, msg []byte, except Endpoint, relays bool) (int, error)
	// SetDominantSpeakers tells the stats filter the conference's dominant
	// speakers, loudest first: every receiver gets their EndpointStats.
	SetDominantSpeakers(c Conference, ids []string)
	// Stats returns the router's counters.
	Stats() Stats
}

// Hooks connect the embedder to the messages the bridge consumes. They run
// on the bridge's event loops: they must return quickly and never block
// (send from them with Router, which does not wait). A nil hook is skipped.
// The message a hook gets is its own; the handles are valid after it
// returns.
type Hooks struct {
	// EndpointConnected runs when a new socket became the endpoint's
	// current one: the place to send the state burst (ForwardedSources,
	// ...). The socket's ServerHello is held until the socket has taken
	// the endpoint's traffic over from its previous socket; then the
	// socket writes, in this order, ServerHello, what the previous socket
	// had not written and the mailbox, and what the hook sent.
	EndpointConnected func(ep Endpoint)
	// RelayConnected runs when a relay's socket became its current one.
	RelayConnected func(r Relay)
	// EndpointExpired runs once for every endpoint that is expired, by the
	// REST API (Jicofo), by Conference.ExpireEndpoint or with its
	// conference, after its socket was told to close (1001). It runs on
	// the goroutine that expired it, not on an event loop: the place to
	// tear down the endpoint's media.
	EndpointExpired func(ep Endpoint)
	// LastN reports an endpoint's LastNChangedEvent.
	LastN func(ep Endpoint, m *LastNChangedEvent)
	// ReceiverVideoConstraints reports an endpoint's bandwidth allocation
	// settings.
	ReceiverVideoConstraints func(ep Endpoint, m *ReceiverVideoConstraints)
	// ReceiverAudioSubscription reports which audio an endpoint wants.
	ReceiverAudioSubscription func(ep Endpoint, m *ReceiverAudioSubscription)
	// SourceVideoType reports a source's video type, from a local endpoint
	// (r nil) or from a relay (r the link it came over).
	SourceVideoType func(c Conference, r Relay, m *SourceVideoTypeMessage)
	// AddReceiver reports a remote bridge's request for a local source.
	AddReceiver func(r Relay, m *AddReceiver)
	// WantsStats filters EndpointStats fan-out: it reports whether receiver
	// wants the stats of the endpoint senderID. At or below the bridge's
	// stats-filter threshold it decides alone (nil: every receiver does);
	// above it, it can only add receivers to those that selected or staged
	// the sender and to every receiver of a dominant speaker's stats.
	WantsStats func(receiver Endpoint, senderID string) bool
}
