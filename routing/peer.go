package routing

import (
	"crypto/subtle"
	"sync/atomic"
	"time"
)

// PeerKind says what a Peer is.
type PeerKind uint8

// Kinds of peer. PeerNone is the zero value, for paths that name neither.
const (
	PeerNone PeerKind = iota
	PeerEndpoint
	PeerRelay
)

// String returns "endpoint", "relay" or "none".
func (k PeerKind) String() string {
	switch k {
	case PeerEndpoint:
		return "endpoint"
	case PeerRelay:
		return "relay"
	}
	return "none"
}

// Peer is what a local endpoint and a relay share: an id in a conference,
// a URL secret, at most one current socket, and the counters of its
// traffic. Endpoint and Relay embed it; the transport holds a *Peer for
// each socket and needs nothing else to attach, route and count.
type Peer struct {
	kind    PeerKind
	id      string
	conf    *Conference
	created int64 // unix nanoseconds
	pwd     string
	expired bool // guarded by the conference's mutex
	conn    atomic.Pointer[connRef]
	since   atomic.Int64

	ep    *Endpoint // the owner, when kind is PeerEndpoint
	relay *Relay    // the owner, when kind is PeerRelay

	// Received counts the messages read from the peer's sockets, by
	// class, once the router accepted them. Sent counts the frames the
	// transport queued for its sockets, by class; Dropped the frames meant
	// for it that were not queued (no socket, a closing socket, a slow
	// reader). A frame is counted in exactly one of Sent and Dropped.
	Received ClassCounters
	Sent     ClassCounters
	Dropped  atomic.Uint64
	// BacklogClosed counts the peer's sockets the transport closed with
	// 1008 for leaving more unparsed input than its bound.
	BacklogClosed atomic.Uint64
}

type connRef struct{ c Conn }

func newPeer(kind PeerKind, id string, conf *Conference) Peer {
	return Peer{kind: kind, id: id, conf: conf, created: time.Now().UnixNano(), pwd: NewPassword()}
}

// Kind returns PeerEndpoint or PeerRelay.
func (p *Peer) Kind() PeerKind { return p.kind }

// ID returns the endpoint id, or the relay id (the remote bridge's relay-id).
func (p *Peer) ID() string { return p.id }

// Conference returns the peer's conference.
func (p *Peer) Conference() *Conference { return p.conf }

// Created returns when the peer was created.
func (p *Peer) Created() time.Time { return time.Unix(0, p.created) }

// Endpoint returns the endpoint the peer is, or nil for a relay.
func (p *Peer) Endpoint() *Endpoint { return p.ep }

// Relay returns the relay the peer is, or nil for an endpoint.
func (p *Peer) Relay() *Relay { return p.relay }

// Conn returns the current socket, or nil.
func (p *Peer) Conn() Conn {
	if r := p.conn.Load(); r != nil {
		return r.c
	}
	return nil
}

// Password returns the URL secret.
func (p *Peer) Password() string { return p.pwd }

// CheckPassword compares pwd with the secret in constant time.
func (p *Peer) CheckPassword(pwd string) bool {
	return subtle.ConstantTimeCompare([]byte(pwd), []byte(p.pwd)) == 1
}

// ConnectedSince returns when the current socket attached, or the zero time.
func (p *Peer) ConnectedSince() time.Time {
	if ns := p.since.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

// Attach makes conn the peer's current socket and returns the socket it
// replaces, which the caller closes with 1000 "replaced". It fails with
// ErrExpired if the peer was expired meanwhile.
func (p *Peer) Attach(conn Conn) (old Conn, err error) {
	c := p.conf
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.expired {
		return nil, ErrExpired
	}
	prev := p.conn.Swap(&connRef{c: conn})
	p.since.Store(time.Now().UnixNano())
	if prev == nil {
		return nil, nil
	}
	return prev.c, nil
}

// Detach clears the current socket if it is still conn; the close of a
// socket that was already replaced changes nothing. It reports whether
// conn was current.
func (p *Peer) Detach(conn Conn) bool {
	for {
		cur := p.conn.Load()
		if cur == nil || cur.c != conn {
			return false
		}
		if p.conn.CompareAndSwap(cur, nil) {
			p.since.Store(0)
			return true
		}
	}
}

// current reports whether conn is the peer's current socket. Text from
// any other socket is dropped.
func (p *Peer) current(conn Conn) bool {
	cur := p.conn.Load()
	return cur != nil && cur.c == conn
}

// Peer returns the local endpoint (kind PeerEndpoint) or the relay (kind
// PeerRelay) with id, or nil.
func (c *Conference) Peer(kind PeerKind, id string) *Peer {
	m := c.state.Load()
	switch kind {
	case PeerEndpoint:
		if ep := m.byID[id]; ep != nil {
			return &ep.Peer
		}
	case PeerRelay:
		if r := m.relayByID[id]; r != nil {
			return &r.Peer
		}
	}
	return nil
}
