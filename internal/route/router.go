package route

import (
	"github.com/colibri-bus/colibri/routing"
	"log/slog"
	"sync"

	"github.com/colibri-bus/colibri/wsproto"
)

// Sink delivers routed frames to connections. The transport implements it.
type Sink interface {
	// Deliver queues f on every connection in to. f is shared by all of
	// them: Deliver takes its own references (f.Retain) for writes it keeps
	// past its return and releases them when written; the caller keeps and
	// releases its own. Deliver must not block and must not keep to.
	// class tells a slow receiver's queue what it may drop first.
	Deliver(f *wsproto.SharedFrame, class Class, to []Conn)
}

// Router applies the Colibri routing rules (reference sections 4.4 and 5)
// to text messages received on endpoint and relay sockets.
type Router struct {
	hooks routing.Hooks
	sink  Sink
	log   *slog.Logger
	stats Stats

	serverHello *wsproto.SharedFrame // shared forever
	scratch     sync.Pool            // *targets
	filter      statsFilter          // statsfilter.go
}

// NewRouter returns a router. sink is used for messages that originate
// outside a transport callback (Send*, from any goroutine).
func NewRouter(hooks routing.Hooks, sink Sink, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Router{hooks: hooks, sink: sink, log: log}
	r.serverHello = wsproto.NewSharedFrame(wsproto.OpText, []byte(`{"colibriClass":"ServerHello"}`))
	r.scratch.New = func() any { return &targets{conns: make([]Conn, 0, 64)} }
	return r
}

// Stats returns the router's counters.
func (r *Router) Stats() *Stats { return &r.stats }

// NewCounters returns the counters of one loop of the transport, which
// its sink hands back to the router (Counted). Stats sums them.
func (r *Router) NewCounters() *Counters { return r.stats.newCounters() }

// counters returns the counters of out's goroutine, or the shared ones.
func (r *Router) counters(out Sink) *Counters {
	if c, ok := out.(Counted); ok {
		if k := c.Counters(); k != nil {
			return k
		}
	}
	return &r.stats.off
}

// Relays come first among a message's receivers, wherever a message goes
// to relays and local endpoints: a sink writes in the order it is given
// (the engine flushes its loop's sockets in the order they were first
// queued in the round), so the frame leaves for the other bridges before
// this one's local fan-out, which at thousands of endpoints is most of a
// broadcast's time, and the other bridges' fan-outs run beside it, not
// after it. Each receiver still gets each sender's messages in order: the
// order among the receivers of one message promises nothing, and a relay
// numbers its frames as they are queued on it (resume), in send order.
//
// targets are the receivers of one message: sockets (open, or the ghost of
// a closed one), and the mailboxes of endpoints that never had a socket;
// k are the counters of the goroutine that routes it.
type targets struct {
	conns []Conn
	boxes []*Peer
	k     *Counters
}

func (t *targets) empty() bool { return len(t.conns) == 0 && len(t.boxes) == 0 }

// getTargets returns empty targets for a message routed through out.
func (r *Router) getTargets(out Sink) *targets {
	t := r.scratch.Get().(*targets)
	t.k = r.counters(out)
	return t
}

func (r *Router) putTargets(t *targets) {
	clear(t.conns)
	clear(t.boxes)
	t.conns, t.boxes, t.k = t.conns[:0], t.boxes[:0], nil
	r.scratch.Put(t)
}

// EndpointConnected is called by the transport once conn became ep's
// current socket: ServerHello goes out first, then the embedder's hook runs.
func (r *Router) EndpointConnected(ep *Endpoint, conn Conn, out Sink) {
	r.sendServerHello(conn, out)
	if h := r.hooks.EndpointConnected; h != nil {
		h(PublicEndpoint(ep))
	}
}

// RelayConnected is called by the transport once conn became r's current
// socket. The dialled side sends ServerHello, as Jitsi's passive side does.
func (r *Router) RelayConnected(rl *Relay, conn Conn, dialled bool, out Sink) {
	if dialled {
		r.sendServerHello(conn, out)
	}
	if h := r.hooks.RelayConnected; h != nil {
		h(PublicRelay(rl))
	}
}

// Connected is called by the transport once conn became p's current
// socket: EndpointConnected or RelayConnected by the peer's kind. dialled
// tells a relay which end this bridge is.
func (r *Router) Connected(p *Peer, conn Conn, dialled bool, out Sink) {
	switch p.kind {
	case PeerEndpoint:
		r.EndpointConnected(p.ep, conn, out)
	case PeerRelay:
		r.RelayConnected(p.relay, conn, dialled, out)
	}
}

func (r *Router) sendServerHello(conn Conn, out Sink) {
	if out == nil {
		out = r.sink
	}
	one := [1]Conn{conn}
	out.Deliver(r.serverHello, ClassServerHello, one[:])
	r.counters(out).delivered.Add(1)
}

// classify scans msg and returns its class, or counts the drop in k.
func classify(msg []byte, env *envelope, k *Counters) (Class, bool) {
	if err := scan(msg, env); err != nil {
		if err == routing.ErrDuplicateKey {
			k.drop(DropDuplicateKey)
		} else {
			k.drop(DropInvalidJSON)
		}
		return ClassUnknown, false
	}
	if !env.hasClass {
		k.drop(DropUnknownClass)
		return ClassUnknown, false
	}
	c := env.classOf(msg)
	if c == ClassUnknown {
		k.drop(DropUnknownClass)
		return ClassUnknown, false
	}
	return c, true
}

// classOf returns the class named by msg's colibriClass value, which scan
// recorded in env; a value written with escapes is decoded first.
func (env *envelope) classOf(msg []byte) Class {
	name := env.class.of(msg)
	if env.escaped {
		return classOf([]byte(decodeKey(name)))
	}
	return classOf(name)
}

// newFrame encodes one text frame around payload.
func newFrame(payload []byte) *wsproto.SharedFrame {
	return wsproto.NewSharedFrame(wsproto.OpText, payload)
}

// deliver sends f to t's sockets through out, puts it in t's mailboxes,
// and counts, in t's counters.
func (r *Router) deliver(out Sink, f *wsproto.SharedFrame, c Class, t *targets) {
	k := t.k
	n := len(t.conns) + len(t.boxes)
	if n == 0 {
		return
	}
	if len(t.conns) > 0 {
		out.Deliver(f, c, t.conns)
	}
	for _, p := range t.boxes {
		r.post(p, f, c, out)
	}
	k.delivered.Add(uint64(n))
	k.fanOut.Observe(uint64(n))
}

// appendWithFrom appends msg with its "from" member replaced by
// "from":"<from>", every other byte verbatim; the new member goes first.
// from needs no JSON escaping (ids are validated at creation).
func appendWithFrom(dst, msg []byte, env *envelope, from string) []byte {
	open := 0
	for msg[open] != '{' {
		open++
	}
	dst = append(dst, '{')
	dst = append(dst, `"from":"`...)
	dst = append(dst, from...)
	dst = append(dst, '"')
	rest := msg[open+1:]
	base := open + 1
	if env.hasFrom {
		cutStart, cutEnd := int(env.from.start), int(env.from.end)
		switch {
		case env.fromNext >= 0:
			cutEnd = int(env.fromNext)
		case env.fromPrev >= 0:
			cutStart = int(env.fromPrev)
		}
		others := env.fromNext >= 0 || env.fromPrev >= 0
		if others {
			dst = append(dst, ',')
		}
		dst = append(dst, msg[base:cutStart]...)
		return append(dst, msg[cutEnd:]...)
	}
	if env.lastEnd >= 0 { // other members: keep them after a comma
		dst = append(dst, ',')
	} else { // empty object: only the closing brace remains
		return append(dst, '}')
	}
	return append(dst, rest...)
}
