package route

import (
	"fmt"
	"github.com/colibri-bus/colibri/routing"
	"sync"
	"sync/atomic"
)

// Relay is a link from this bridge to another bridge in the same conference
// (Jitsi's secure Octo), carried over /colibri-relay-ws. Its id is the remote
// bridge's relay-id. Endpoints of the remote bridge are reached through it.
type Relay struct {
	Peer
	meshID string
	// remote counts the endpoints reached through the relay: the
	// transport weighs the relay's share of its loop by it.
	remote atomic.Int32
	// Link is the relay's resume state (replay.go), used when both sides
	// have the extension.
	Link RelayLink

	mu   sync.Mutex
	url  string // remote URL this side dials; "" when this side is dialled
	stop func() // stops the dialer, set by the transport

}

// MeshID returns the mesh the link belongs to.
func (r *Relay) MeshID() string { return r.meshID }

// URL returns the remote URL this side dials, "" if it is the dialled side.
func (r *Relay) URL() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.url
}

// SetDialer records the remote URL and the function that stops dialling it.
// A previous dialer is stopped.
func (r *Relay) SetDialer(url string, stop func()) {
	r.mu.Lock()
	old := r.stop
	r.url, r.stop = url, stop
	r.mu.Unlock()
	if old != nil {
		old()
	}
}

func (r *Relay) stopDialer() {
	r.mu.Lock()
	stop := r.stop
	r.stop = nil
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// Endpoints returns the ids of the remote endpoints reached through r.
func (r *Relay) Endpoints() []string {
	m := r.conf.state.Load()
	var out []string
	for id, rl := range m.remote {
		if rl == r {
			out = append(out, id)
		}
	}
	return out
}

// CreateRelay adds a relay with id (the remote bridge's relay-id) in meshID.
func (c *Conference) CreateRelay(id, meshID string) (*Relay, error) {
	if !validID(id) {
		return nil, fmt.Errorf("relay %q: %w", id, routing.ErrInvalidID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired.Load() {
		return nil, routing.ErrExpired
	}
	m := c.state.Load()
	if m.relayByID[id] != nil {
		return nil, fmt.Errorf("relay %q: %w", id, routing.ErrExists)
	}
	r := &Relay{Peer: newPeer(PeerRelay, id, c), meshID: meshID}
	r.relay = r
	r.Link.id = NewPassword()[:16]
	n := m.clone()
	n.relays = append(n.relays, r)
	n.relayByID[id] = r
	c.state.Store(n)
	return r, nil
}

// ExpireRelay removes a relay, forgets its remote endpoints, stops its
// dialer and closes its socket with 1001 "relay_closed".
func (c *Conference) ExpireRelay(id string) bool {
	c.mu.Lock()
	m := c.state.Load()
	r := m.relayByID[id]
	if r == nil {
		c.mu.Unlock()
		return false
	}
	n := m.clone()
	delete(n.relayByID, id)
	for i, x := range n.relays {
		if x == r {
			n.relays = append(n.relays[:i], n.relays[i+1:]...)
			break
		}
	}
	for epID, x := range n.remote {
		if x == r {
			delete(n.remote, epID)
		}
	}
	r.expired = true
	c.state.Store(n)
	conn := r.Conn()
	c.mu.Unlock()
	r.stopDialer()
	if conn != nil {
		conn.Close(1001, ReasonRelayClosed)
	}
	r.Link.forget()
	return true
}

// SetRelayEndpoints adds and removes the remote endpoints reached through
// relay id. Adding an id that is a local endpoint, or one reached through
// another relay, fails with ErrExists and changes nothing.
func (c *Conference) SetRelayEndpoints(id string, add, remove []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.state.Load()
	r := m.relayByID[id]
	if r == nil {
		return fmt.Errorf("relay %q: %w", id, routing.ErrNotFound)
	}
	for _, ep := range add {
		if !validID(ep) {
			return fmt.Errorf("relayed endpoint %q: %w", ep, routing.ErrInvalidID)
		}
		if m.byID[ep] != nil || (m.remote[ep] != nil && m.remote[ep] != r) {
			return fmt.Errorf("relayed endpoint %q: %w", ep, routing.ErrExists)
		}
	}
	n := m.clone()
	for _, ep := range remove {
		if n.remote[ep] == r {
			delete(n.remote, ep)
		}
	}
	for _, ep := range add {
		n.remote[ep] = r
	}
	c.state.Store(n)
	k := 0
	for _, x := range n.remote {
		if x == r {
			k++
		}
	}
	r.remote.Store(int32(k))
	return nil
}

// Weight is the relay's share of its event loop next to one endpoint's:
// the number of endpoints reached through it, at least 1. A relay carries
// the traffic of a whole bridge, so it is never throttled like one client.
func (r *Relay) Weight() int { return max(int(r.remote.Load()), 1) }
