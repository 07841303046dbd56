package routing

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Relay is a link from this bridge to another bridge in the same conference
// (Jitsi's secure Octo), carried over /colibri-relay-ws. Its id is the remote
// bridge's relay-id. Endpoints of the remote bridge are reached through it.
type Relay struct {
	port
	id      string
	conf    *Conference
	meshID  string
	created time.Time

	mu   sync.Mutex
	url  string // remote URL this side dials; "" when this side is dialled
	stop func() // stops the dialer, set by the transport

	Received ClassCounters
	Sent     ClassCounters
	Dropped  atomic.Uint64
}

// ID returns the relay id (the remote bridge's relay-id).
func (r *Relay) ID() string { return r.id }

// MeshID returns the mesh the link belongs to.
func (r *Relay) MeshID() string { return r.meshID }

// Conference returns the relay's conference.
func (r *Relay) Conference() *Conference { return r.conf }

// Created returns when the relay was created.
func (r *Relay) Created() time.Time { return r.created }

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

// Attach makes conn the relay's current socket; see Endpoint.Attach.
func (r *Relay) Attach(conn Conn) (old Conn, err error) { return r.conf.attach(&r.port, conn) }

// Detach clears the current socket if it is still conn.
func (r *Relay) Detach(conn Conn) bool { return detach(&r.port, conn) }

// IsCurrent reports whether conn is the relay's current socket.
func (r *Relay) IsCurrent(conn Conn) bool { return isCurrent(&r.port, conn) }

// Expired reports whether the relay has been expired.
func (r *Relay) Expired() bool {
	r.conf.mu.Lock()
	defer r.conf.mu.Unlock()
	return r.expired
}

// CreateRelay adds a relay with id (the remote bridge's relay-id) in meshID.
func (c *Conference) CreateRelay(id, meshID string) (*Relay, error) {
	if !validID(id) {
		return nil, fmt.Errorf("relay %q: %w", id, ErrInvalidID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.expired.Load() {
		return nil, ErrExpired
	}
	m := c.state.Load()
	if m.relayByID[id] != nil {
		return nil, fmt.Errorf("relay %q: %w", id, ErrExists)
	}
	r := &Relay{id: id, conf: c, meshID: meshID, created: time.Now()}
	r.pwd = NewPassword()
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
	c.notifyExpired("relay", id)
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
		return fmt.Errorf("relay %q: %w", id, ErrNotFound)
	}
	for _, ep := range add {
		if !validID(ep) {
			return fmt.Errorf("relayed endpoint %q: %w", ep, ErrInvalidID)
		}
		if m.byID[ep] != nil || (m.remote[ep] != nil && m.remote[ep] != r) {
			return fmt.Errorf("relayed endpoint %q: %w", ep, ErrExists)
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
	return nil
}
