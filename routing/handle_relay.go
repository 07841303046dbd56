package routing

// HandleRelay routes one text message received on conn, the socket of relay
// rl (reference section 5). A relay is another bridge: its "from" is trusted.
// Broadcasts go to the local endpoints and to relays of other meshes only, so
// that in a full mesh nothing is delivered twice; unicasts reach only a local
// endpoint (there is no multi-hop forwarding).
func (r *Router) HandleRelay(rl *Relay, conn Conn, msg []byte, out Sink) {
	var env envelope
	r.stats.Received.Add(1)
	if out == nil {
		out = r.sink
	}
	if !rl.current(conn) {
		r.stats.drop(DropNotCurrent)
		return
	}
	class, ok := r.classify(msg, &env)
	if s, seq := conn.(Sequenced); seq && !r.sequence(s, class, msg) {
		return
	}
	if !ok {
		return
	}
	rl.Received.Add(class)
	c := rl.conf
	if c.expired.Load() {
		r.stats.drop(DropExpired)
		return
	}
	switch class {
	case ClassEndpointMessage:
		if env.toKind != '"' {
			r.stats.drop(DropInvalidFields)
			return
		}
		to := env.to.of(msg)
		if isBlank(to) {
			r.relayFanout(rl, msg, class, nil, out)
			return
		}
		target := string(to)
		if env.escaped {
			target = decodeKey(to)
		}
		dst := c.state.Load().byID[target]
		if dst == nil {
			r.stats.drop(DropUnknownTarget)
			return
		}
		t := r.getTargets()
		r.addPeer(t, &dst.Peer)
		r.sendVerbatim(msg, class, t, out)
		r.putTargets(t)
	case ClassEndpointStats:
		sender, ok := r.trustedFrom(c, msg, &env)
		if !ok {
			return
		}
		r.relayStats(rl, msg, sender, out)
	case ClassEndpointConnectivityStatusChangeEvent, ClassSyntheticSourceSendingChangeEvent:
		r.relayFanout(rl, msg, class, nil, out)
	case ClassSourceVideoTypeMessage:
		var m SourceVideoTypeMessage
		if !r.decode(msg, &m, m.validate) {
			return
		}
		if c.state.Load().remote[m.EndpointID] != rl {
			r.stats.drop(DropUnknownTarget)
			return
		}
		r.sourceVideoType(c, rl, &m, out)
	case ClassAddReceiver:
		var m AddReceiver
		if r.decode(msg, &m, func() error { return m.VideoConstraints.validate("videoConstraints") }) &&
			r.hooks.AddReceiver != nil {
			r.hooks.AddReceiver(rl, &m)
		}
	case ClassClientHello:
		r.sendServerHello(conn, out)
	case ClassServerHello:
		// The other bridge's greeting: nothing to do.
	default:
		r.stats.drop(DropUnexpectedClass)
	}
}

// trustedFrom returns the "from" of a relayed message, which must name an
// endpoint the conference knows.
func (r *Router) trustedFrom(c *Conference, msg []byte, env *envelope) (string, bool) {
	if !env.hasFrom {
		r.stats.drop(DropInvalidFields)
		return "", false
	}
	val := msg[env.from.start:env.from.end]
	// val is `"from"<ws>:<ws>"id"`: take the last string.
	end := len(val) - 1
	if end < 1 || val[end] != '"' {
		r.stats.drop(DropInvalidFields)
		return "", false
	}
	start := end - 1
	for start >= 0 && val[start] != '"' {
		start--
	}
	id := string(val[start+1 : end])
	if !c.HasEndpoint(id) {
		r.stats.drop(DropUnknownTarget)
		return "", false
	}
	return id, true
}

// relayFanout sends a relayed message verbatim to the local endpoints
// (filtered by want, if set) and to relays of meshes other than rl's.
func (r *Router) relayFanout(rl *Relay, msg []byte, class Class, want func(*Endpoint) bool, out Sink) {
	m := rl.conf.state.Load()
	t := r.getTargets()
	defer r.putTargets(t)
	for _, dst := range m.endpoints {
		if want == nil || want(dst) {
			r.addPeer(t, &dst.Peer)
		}
	}
	for _, other := range m.relays {
		if other != rl && other.meshID != rl.meshID {
			r.addPeer(t, &other.Peer)
		}
	}
	r.sendVerbatim(msg, class, t, out)
}

// sendVerbatim encodes msg unchanged once and delivers it to conns.
func (r *Router) sendVerbatim(msg []byte, class Class, t *targets, out Sink) {
	if t.empty() {
		return
	}
	f := newFrame(msg)
	r.deliver(out, f, class, t)
	f.Release()
}

// Sequenced is a relay socket that may number what it reads (the resume
// extension, replay.go); the transport's relay sockets implement it. On a
// socket without the extension, Accept is always true and the rest does
// nothing.
type Sequenced interface {
	// Accept is called for each numbered message read on the socket, in
	// order, whether or not it is valid: false drops it, a duplicate of
	// one read on an older socket of the link.
	Accept() bool
	// Acked handles RelayAck: the other side accepted up to n.
	Acked(n uint64)
	// Skip handles RelaySkip: the messages numbered before next will not
	// come (the other side's window no longer held them).
	Skip(next uint64)
}

// relayControl is RelayAck and RelaySkip.
type relayControl struct {
	ColibriClass string  `json:"colibriClass"`
	Received     *uint64 `json:"received,omitempty"`
	Next         *uint64 `json:"next,omitempty"`
}

// sequence applies the resume extension to one message read on s and
// reports whether it is to be routed: the extension's own messages are
// consumed, hellos are not numbered, anything else is numbered.
func (r *Router) sequence(s Sequenced, class Class, msg []byte) bool {
	switch class {
	case ClassServerHello, ClassClientHello:
		return true
	case ClassRelayAck, ClassRelaySkip:
		var m relayControl
		if err := decodeStrict(msg, &m); err != nil {
			r.stats.drop(DropInvalidFields)
			return false
		}
		if class == ClassRelayAck && m.Received != nil {
			s.Acked(*m.Received)
		} else if class == ClassRelaySkip && m.Next != nil {
			s.Skip(*m.Next)
		} else {
			r.stats.drop(DropInvalidFields)
		}
		return false
	}
	return s.Accept()
}
