package route

import (
	"fmt"
	"github.com/colibri-bus/colibri/routing"
)

// Bridge-originated messages: the embedder (an SFU) tells endpoints about
// dominant speakers, forwarded sources, connectivity and bandwidth. These
// calls are safe from any goroutine and never make the transport wait for
// the caller: the message is checked and encoded on the caller's
// goroutine, then routed on the transport's own (Runner), where a socket
// taking over a peer's traffic already fences everything routed before it.

// A Runner runs the router's off-loop sends on the transport's goroutines.
// A Sink that is not a Runner has them run on the caller's goroutine: its
// transport moves no traffic between sockets.
type Runner interface {
	// Run runs fn on the transport's goroutine, after every fn it was
	// given before, without waiting for it to run. fn gets the sink of
	// that goroutine: on an event loop, the loop's own, which queues on
	// the loop's sockets directly, as routing there does (a handover's
	// fence counts on it).
	Run(fn func(out Sink))
}

// SendToEndpoint sends msg, a JSON object with a known colibriClass, to one
// local endpoint. It returns ErrNotFound if the endpoint has no socket now
// (Jitsi drops such messages too; the state is re-sent on connect, so it is
// not kept in the endpoint's mailbox either). A message accepted goes where
// the endpoint's routed traffic goes when it is routed: its socket, or
// what keeps that socket's traffic.
func (r *Router) SendToEndpoint(ep *Endpoint, msg []byte) error {
	class, err := r.check(msg)
	if err != nil {
		return err
	}
	if ep.Conn() == nil {
		ep.Dropped.Add(1)
		r.stats.off.drop(DropNoConnection)
		return fmt.Errorf("endpoint %q has no socket: %w", ep.id, routing.ErrNotFound)
	}
	f := newFrame(msg)
	r.run(func(out Sink) {
		t := r.getTargets(out)
		r.addPeer(t, &ep.Peer)
		r.deliver(out, f, class, t)
		r.putTargets(t)
		f.Release()
	})
	return nil
}

// SendToConference sends msg to every local endpoint of c except except
// (which may be nil), and to every relay when relays is true. It returns
// the number of endpoints and relays it was for when called.
func (r *Router) SendToConference(c *Conference, msg []byte, except *Endpoint, relays bool) (int, error) {
	class, err := r.check(msg)
	if err != nil {
		return 0, err
	}
	m := c.state.Load()
	n := len(m.endpoints)
	if except != nil && m.byID[except.id] == except {
		n--
	}
	if relays {
		n += len(m.relays)
	}
	f := newFrame(msg)
	r.run(func(out Sink) {
		m := c.state.Load()
		t := r.getTargets(out)
		if relays { // first: see relays' comment in router.go
			for _, rl := range m.relays {
				r.addPeer(t, &rl.Peer)
			}
		}
		for _, dst := range m.endpoints {
			if dst != except {
				r.addPeer(t, &dst.Peer)
			}
		}
		r.deliver(out, f, class, t)
		r.putTargets(t)
		f.Release()
	})
	return n, nil
}

// run runs fn through the sink when it is a Runner, else at once.
func (r *Router) run(fn func(out Sink)) {
	if rn, ok := r.sink.(Runner); ok {
		rn.Run(fn)
		return
	}
	fn(r.sink)
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

// ClassOf returns the class of msg, a message the bridge built, or
// ClassUnknown.
func ClassOf(msg []byte) Class {
	var env envelope
	if scan(msg, &env) != nil || !env.hasClass {
		return ClassUnknown
	}
	return env.classOf(msg)
}
