package routing

import "fmt"

// Bridge-originated messages: the embedder (an SFU) tells endpoints about
// dominant speakers, forwarded sources, connectivity and bandwidth. These
// calls are safe from any goroutine; they go through the router's own sink.

// SendToEndpoint sends msg, a JSON object with a known colibriClass, to one
// local endpoint. It returns ErrNotFound if the endpoint has no socket now
// (Jitsi drops such messages too; the state is re-sent on connect).
func (r *Router) SendToEndpoint(ep *Endpoint, msg []byte) error {
	class, err := r.check(msg)
	if err != nil {
		return err
	}
	cn := ep.Conn()
	if cn == nil {
		ep.Dropped.Add(1)
		r.stats.drop(DropNoConnection)
		return fmt.Errorf("endpoint %q has no socket: %w", ep.id, ErrNotFound)
	}
	one := [1]Conn{cn}
	r.sendVerbatim(msg, class, one[:], r.sink)
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
	m := c.state.Load()
	conns := r.getConns()
	defer r.putConns(conns)
	for _, dst := range m.endpoints {
		if dst != except {
			*conns = r.appendEndpoint(*conns, dst)
		}
	}
	if relays {
		for _, rl := range m.relays {
			*conns = r.appendRelay(*conns, rl)
		}
	}
	n := len(*conns)
	r.sendVerbatim(msg, class, *conns, r.sink)
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
