package routing

// HandleRelay routes one text message received on conn, the socket of relay
// rl (reference section 5). A relay is another bridge: its "from" is trusted.
// Broadcasts go to the local endpoints and to relays of other meshes only, so
// that in a full mesh nothing is delivered twice; unicasts reach only a local
// endpoint (there is no multi-hop forwarding).
func (r *Router) HandleRelay(rl *Relay, conn Conn, msg []byte, out Sink) {
	var env envelope
	class, out, ok := r.receive(&rl.Peer, conn, msg, &env, out)
	if !ok {
		return
	}
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
		conns := r.getConns()
		*conns = r.appendEndpoint(*conns, dst)
		r.sendVerbatim(msg, class, *conns, out)
		r.putConns(conns)
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
	conns := r.getConns()
	defer r.putConns(conns)
	for _, dst := range m.endpoints {
		if want == nil || want(dst) {
			*conns = r.appendEndpoint(*conns, dst)
		}
	}
	for _, other := range m.relays {
		if other != rl && other.meshID != rl.meshID {
			*conns = r.appendRelay(*conns, other)
		}
	}
	r.sendVerbatim(msg, class, *conns, out)
}

// sendVerbatim encodes msg unchanged once and delivers it to conns.
func (r *Router) sendVerbatim(msg []byte, class Class, conns []Conn, out Sink) {
	if len(conns) == 0 {
		return
	}
	f := newFrame(msg)
	r.deliver(out, f, class, conns)
	f.Release()
}
