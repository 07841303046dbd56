package route

import (
	"bytes"
	"github.com/colibri-bus/colibri/routing"
)

// HandleRelay routes one text message received on conn, the socket of relay
// rl (reference section 5). A relay is another bridge: its "from" is trusted.
// Broadcasts go to the local endpoints and to relays of other meshes only, so
// that in a full mesh nothing is delivered twice; unicasts reach only a local
// endpoint (there is no multi-hop forwarding).
func (r *Router) HandleRelay(rl *Relay, conn Conn, msg []byte, out Sink) {
	var env envelope
	if out == nil {
		out = r.sink
	}
	k := r.counters(out)
	k.received.Add(1)
	if !rl.current(conn) {
		k.drop(DropNotCurrent)
		return
	}
	class, ok := classify(msg, &env, k)
	if s, seq := conn.(Sequenced); seq && !sequence(s, class, msg, k) {
		return
	}
	if !ok {
		return
	}
	rl.Received.Add(class)
	c := rl.conf
	if c.expired.Load() {
		k.drop(DropExpired)
		return
	}
	switch class {
	case ClassEndpointMessage:
		if env.toKind != '"' {
			k.drop(DropInvalidFields)
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
			k.drop(DropUnknownTarget)
			return
		}
		t := r.getTargets(out)
		r.addPeer(t, &dst.Peer)
		r.sendVerbatim(msg, class, t, out)
		r.putTargets(t)
	case ClassEndpointStats:
		sender, ok := trustedFrom(c, msg, &env, k)
		if !ok {
			return
		}
		r.relayStats(rl, msg, sender, out)
	case ClassEndpointConnectivityStatusChangeEvent, ClassSyntheticSourceSendingChangeEvent:
		r.relayFanout(rl, msg, class, nil, out)
	case ClassSourceVideoTypeMessage:
		var m routing.SourceVideoTypeMessage
		if !decode(msg, &m, k, func() error { return validateSourceVideoType(&m) }) {
			return
		}
		if c.state.Load().remote[m.EndpointID] != rl {
			k.drop(DropUnknownTarget)
			return
		}
		r.sourceVideoType(c, rl, &m, out)
	case ClassAddReceiver:
		var m routing.AddReceiver
		if decode(msg, &m, k, func() error { return validateConstraints(&m.VideoConstraints, "videoConstraints") }) &&
			r.hooks.AddReceiver != nil {
			r.hooks.AddReceiver(PublicRelay(rl), &m)
		}
	case ClassClientHello:
		r.sendServerHello(conn, out)
	case ClassServerHello:
		// The other bridge's greeting: nothing to do.
	default:
		k.drop(DropUnexpectedClass)
	}
}

// trustedFrom returns the "from" of a relayed message, which must name an
// endpoint the conference knows.
func trustedFrom(c *Conference, msg []byte, env *envelope, k *Counters) (string, bool) {
	id, ok := env.fromValue(msg)
	if !ok {
		k.drop(DropInvalidFields)
		return "", false
	}
	if !c.HasEndpoint(id) {
		k.drop(DropUnknownTarget)
		return "", false
	}
	return id, true
}

// relayFanout sends a relayed message verbatim to the local endpoints
// (filtered by want, if set) and to relays of meshes other than rl's.
func (r *Router) relayFanout(rl *Relay, msg []byte, class Class, want func(*Endpoint) bool, out Sink) {
	m := rl.conf.state.Load()
	t := r.getTargets(out)
	defer r.putTargets(t)
	for _, other := range m.relays { // first: see relays' comment in router.go
		if other != rl && other.meshID != rl.meshID {
			r.addPeer(t, &other.Peer)
		}
	}
	for _, dst := range m.endpoints {
		if want == nil || want(dst) {
			r.addPeer(t, &dst.Peer)
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

// controlNumber returns the value of the one number member a RelayAck
// ("received") or a RelaySkip ("next") carries: the bridge builds them as
// {"colibriClass":"RelayAck","received":N}. A RelayAck comes every
// ackEvery messages on a busy link: decoding it with encoding/json was
// most of the extension's cost on the receiving side.
func controlNumber(msg []byte, class Class) (uint64, bool) {
	key := `"received"`
	if class == ClassRelaySkip {
		key = `"next"`
	}
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(msg[i+len(key):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return 0, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	n, digits := uint64(0), 0
	for _, c := range rest {
		if c < '0' || c > '9' {
			break
		}
		d := uint64(c - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false // past uint64
		}
		n = n*10 + d
		digits++
	}
	return n, digits > 0
}

// sequence applies the resume extension to one message read on s and
// reports whether it is to be routed: the extension's own messages are
// consumed, hellos are not numbered, anything else is numbered.
func sequence(s Sequenced, class Class, msg []byte, k *Counters) bool {
	switch class {
	case ClassServerHello, ClassClientHello:
		return true
	case ClassRelayAck, ClassRelaySkip:
		n, ok := controlNumber(msg, class)
		switch {
		case !ok:
			k.drop(DropInvalidFields)
		case class == ClassRelayAck:
			s.Acked(n)
		default:
			s.Skip(n)
		}
		return false
	}
	return s.Accept()
}

// fromValue returns the string value of msg's "from" member, which scan
// recorded in env, and whether there is one.
func (env *envelope) fromValue(msg []byte) (string, bool) {
	if !env.hasFrom {
		return "", false
	}
	val := msg[env.from.start:env.from.end]
	// val is `"from"<ws>:<ws>"id"`: take the last string.
	end := len(val) - 1
	if end < 1 || val[end] != '"' {
		return "", false
	}
	start := end - 1
	for start >= 0 && val[start] != '"' {
		start--
	}
	return string(val[start+1 : end]), true
}
