package route

import (
	"fmt"
	"github.com/colibri-bus/colibri/routing"
)

// Bridge-originated messages: the embedder (an SFU) tells endpoints about
// dominant speakers, forwarded sources, connectivity and bandwidth. These
// calls are safe from any goroutine; they go through the router's own sink.

// SendToEndpoint sends msg, a JSON object with a known colibriClass, to one
// local endpoint. It returns ErrNotFound if the endpoint has no socket now
// (Jitsi drops such messages too; the state is re-sent on connect, so it is
// not kept in the endpoint's mailbox either).
func (r *Router) SendToEndpoint(ep *Endpoint, msg []byte) error {
	class, err := r.check(msg)
	if err != nil {
		return err
	}
	r.sendMu.RLock()
	defer r.sendMu.RUnlock()
	cn := ep.Conn()
	if cn == nil {
		ep.Dropped.Add(1)
		r.stats.drop(DropNoConnection)
		return fmt.Errorf("endpoint %q has no socket: %w", ep.id, routing.ErrNotFound)
	}
	t := r.getTargets()
	defer r.putTargets(t)
	t.conns = append(t.conns, cn)
	r.sendVerbatim(msg, class, t, r.sink)
	return nil
}

// SendToConference sends msg to every local endpoint of c except except
// (which may be nil), and to every relay when relays is true. It returns
// the number of sockets it reached.
func (r *Router) SendToConference(c *Conference, msg []byte, except *Endpoint, relays bool) (int, error) {
	class, err := r.check(msg)
	if err != nil {
		return 0, err
	}
	r.sendMu.RLock()
	defer r.sendMu.RUnlock()
	m := c.state.Load()
	t := r.getTargets()
	defer r.putTargets(t)
	for _, dst := range m.endpoints {
		if dst != except {
			r.addPeer(t, &dst.Peer)
		}
	}
	if relays {
		for _, rl := range m.relays {
			r.addPeer(t, &rl.Peer)
		}
	}
	n := len(t.conns) + len(t.boxes)
	r.sendVerbatim(msg, class, t, r.sink)
	return n, nil
}

// check validates a bridge-originated message.
func (r *Router) check(msg []byte) (Class, error) {
	var env envelope
	if err := scan(msg, &env); err != nil {
		return ClassUnknown, err
	}
	if !env.hasClass {
		return ClassUnknown, fmt.Errorf("routing: message has no colibriClass")
	}
	c := env.classOf(msg)
	if c == ClassUnknown {
		return ClassUnknown, fmt.Errorf("routing: unknown colibriClass %q", env.class.of(msg))
	}
	return c, nil
}

// Quiesce waits until every Send call that started before it has handed
// its frames to the sink. A transport taking a peer over from a previous
// socket calls it after the swap: a Send that found the previous socket
// has put its frame on that socket's way before Quiesce returns.
func (r *Router) Quiesce() {
	r.sendMu.Lock()
	r.sendMu.Unlock() //nolint:staticcheck // an empty critical section is the point
}

// ClassOf returns the class of msg, a message the bridge built, or
// ClassUnknown.
func ClassOf(msg []byte) Class {
	var env envelope
	if scan(msg, &env) != nil || !env.hasClass {
		return ClassUnknown
	}
	return env.classOf(msg)
}
