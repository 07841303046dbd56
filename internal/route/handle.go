package route

import (
	"encoding/json"
	"github.com/colibri-bus/colibri/routing"

	"github.com/colibri-bus/colibri/wsproto"
)

// Handle routes one text message received on conn, the socket of p: it
// dispatches to HandleEndpoint or HandleRelay by the peer's kind.
func (r *Router) Handle(p *Peer, conn Conn, msg []byte, out Sink) {
	switch p.kind {
	case PeerEndpoint:
		r.HandleEndpoint(p.ep, conn, msg, out)
	case PeerRelay:
		r.HandleRelay(p.relay, conn, msg, out)
	}
}

// HandleEndpoint routes one text message received on conn, the socket of
// local endpoint ep. out is the sink of the calling transport goroutine;
// nil means the router's own. msg is only read during the call.
func (r *Router) HandleEndpoint(ep *Endpoint, conn Conn, msg []byte, out Sink) {
	var env envelope
	class, out, k, ok := r.receive(&ep.Peer, conn, msg, &env, out)
	if !ok {
		return
	}
	switch class {
	case ClassEndpointMessage:
		r.endpointMessage(ep, msg, &env, out, k)
	case ClassEndpointStats:
		r.endpointStats(ep, msg, &env, out, k)
	case ClassClientHello:
		r.sendServerHello(conn, out)
	case ClassLastNChangedEvent:
		var m routing.LastNChangedEvent
		if decode(msg, &m, k, nil) && r.hooks.LastN != nil {
			r.hooks.LastN(PublicEndpoint(ep), &m)
		}
	case ClassReceiverVideoConstraints:
		var m routing.ReceiverVideoConstraints
		if r.decodeConstraints(ep, msg, &m, k) && r.hooks.ReceiverVideoConstraints != nil {
			r.hooks.ReceiverVideoConstraints(PublicEndpoint(ep), &m)
		}
	case ClassReceiverAudioSubscription:
		var m routing.ReceiverAudioSubscription
		if decode(msg, &m, k, func() error { return validateReceiverAudioSubscription(&m) }) && r.hooks.ReceiverAudioSubscription != nil {
			r.hooks.ReceiverAudioSubscription(PublicEndpoint(ep), &m)
		}
	case ClassSourceVideoTypeMessage:
		var m routing.SourceVideoTypeMessage
		if decode(msg, &m, k, func() error { return validateSourceVideoType(&m) }) {
			m.EndpointID = ep.id
			r.sourceVideoType(ep.conf, nil, &m, out)
		}
	case ClassVideoTypeMessage:
		var v videoTypeMessage
		if decode(msg, &v, k, nil) {
			m := routing.SourceVideoTypeMessage{ColibriClass: "SourceVideoTypeMessage",
				SourceName: ep.id + "-v0", VideoType: v.VideoType, EndpointID: ep.id}
			if err := validateSourceVideoType(&m); err != nil {
				k.drop(DropInvalidFields)
				return
			}
			r.sourceVideoType(ep.conf, nil, &m, out)
		}
	default:
		k.drop(DropUnexpectedClass)
	}
}

// receive is the common start of handling a message: count it, check that
// conn is the current socket of p, classify msg (filling env) and count its
// class in p.Received. It returns the sink to use and its counters.
func (r *Router) receive(p *Peer, conn Conn, msg []byte, env *envelope, out Sink) (Class, Sink, *Counters, bool) {
	if out == nil {
		out = r.sink
	}
	k := r.counters(out)
	k.received.Add(1)
	if !p.current(conn) {
		k.drop(DropNotCurrent)
		return ClassUnknown, out, k, false
	}
	class, ok := classify(msg, env, k)
	if ok {
		p.Received.Add(class)
	}
	return class, out, k, ok
}

// mayFanOut reports whether a local endpoint may send EndpointMessage or
// EndpointStats now: not a visitor, in a live conference.
func mayFanOut(ep *Endpoint, k *Counters) bool {
	if ep.visitor {
		k.drop(DropVisitor)
		return false
	}
	if ep.conf.expired.Load() {
		k.drop(DropExpired)
		return false
	}
	return true
}

// decode decodes a consumed message strictly and validates it; k counts
// a drop.
func decode(msg []byte, v any, k *Counters, validate func() error) bool {
	if err := decodeStrict(msg, v); err != nil {
		k.drop(DropInvalidFields)
		return false
	}
	if validate != nil {
		if err := validate(); err != nil {
			k.drop(DropInvalidFields)
			return false
		}
	}
	return true
}

// endpointMessage routes an EndpointMessage from a local endpoint: from is
// rewritten; to "" (or blank) goes to every other local endpoint and every
// relay, otherwise to the one local or relayed target.
func (r *Router) endpointMessage(ep *Endpoint, msg []byte, env *envelope, out Sink, k *Counters) {
	if env.toKind != '"' {
		k.drop(DropInvalidFields) // "to" is required and must be a string
		return
	}
	if !mayFanOut(ep, k) {
		return
	}
	to := env.to.of(msg)
	m := ep.conf.state.Load()
	t := r.getTargets(out)
	defer r.putTargets(t)
	if isBlank(to) {
		for _, rl := range m.relays { // first: see relays' comment in router.go
			r.addPeer(t, &rl.Peer)
		}
		for _, dst := range m.endpoints {
			if dst != ep {
				r.addPeer(t, &dst.Peer)
			}
		}
	} else {
		target := string(to) // not escaped: ids never need escapes
		if env.escaped {
			target = decodeKey(to)
		}
		if dst := m.byID[target]; dst != nil {
			r.addPeer(t, &dst.Peer)
		} else if rl := m.remote[target]; rl != nil {
			r.addPeer(t, &rl.Peer)
		} else {
			k.drop(DropUnknownTarget)
			return
		}
	}
	r.sendRewritten(ep, msg, env, ClassEndpointMessage, t, out)
}

// endpointStats fans EndpointStats out to the other local endpoints that
// want them (statsfilter.go), and to every relay.
func (r *Router) endpointStats(ep *Endpoint, msg []byte, env *envelope, out Sink, k *Counters) {
	if !mayFanOut(ep, k) {
		return
	}
	m := ep.conf.state.Load()
	t := r.getTargets(out)
	defer r.putTargets(t)
	for _, rl := range m.relays { // first: see relays' comment in router.go
		r.addPeer(t, &rl.Peer)
	}
	r.addStatsReceivers(t, ep.conf, m, ep, ep.id)
	r.sendRewritten(ep, msg, env, ClassEndpointStats, t, out)
}

// sendRewritten encodes msg with from = ep once and delivers it to conns.
func (r *Router) sendRewritten(ep *Endpoint, msg []byte, env *envelope, class Class, t *targets, out Sink) {
	if t.empty() {
		return
	}
	// The rewritten message is at most msg with the new member ("from":"id",).
	f := wsproto.NewSharedFrameFunc(wsproto.OpText, len(msg)+len(ep.id)+10, func(dst []byte) []byte {
		return appendWithFrom(dst, msg, env, ep.id)
	})
	r.deliver(out, f, class, t)
	f.Release()
}

// addPeer adds p to the receivers of a message: its socket; or, when it
// has none, the closed socket that still holds its traffic (a ghost, which
// keeps what reaches it in order); or, for an endpoint that never had a
// socket, its mailbox. Without any of them (mailboxes are off, or p is a
// relay that is not resuming) the delivery is dropped and counted here.
// The transport counts what it queues (Peer.Sent) and what it drops.
func (r *Router) addPeer(t *targets, p *Peer) {
	// One load: the socket and the ghost are one pointer, so a redial
	// never falls between them (TestResumeRelayAlwaysHasATarget).
	if cn := p.target(); cn != nil {
		t.conns = append(t.conns, cn)
		return
	}
	if p.kind == PeerEndpoint && p.conf.table.lim.Mailbox.Bytes > 0 {
		t.boxes = append(t.boxes, p)
		return
	}
	p.Dropped.Add(1)
	t.k.drop(DropNoConnection)
}

// sourceVideoType hands m to the embedder and forwards it to relays (all of
// them for a local source, other meshes only for one that came over from).
func (r *Router) sourceVideoType(c *Conference, from *Relay, m *routing.SourceVideoTypeMessage, out Sink) {
	if h := r.hooks.SourceVideoType; h != nil {
		h(PublicConference(c), PublicRelay(from), m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return
	}
	t := r.getTargets(out)
	defer r.putTargets(t)
	for _, rl := range c.state.Load().relays {
		if from == nil || rl.meshID != from.meshID {
			r.addPeer(t, &rl.Peer)
		}
	}
	if t.empty() {
		return
	}
	f := newFrame(b)
	r.deliver(out, f, ClassSourceVideoTypeMessage, t)
	f.Release()
}

// isBlank reports whether s is empty or only white space, Jitsi's broadcast test.
func isBlank(s []byte) bool {
	for _, c := range s {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}
