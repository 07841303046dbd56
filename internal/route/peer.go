package route

import (
	"crypto/subtle"
	"github.com/colibri-bus/colibri/routing"
	"sync/atomic"
	"time"

	"github.com/colibri-bus/colibri/wsproto"
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
	// route is where the peer's traffic goes: its open socket, or its
	// ghost, the last socket after it closed while it holds the peer's
	// traffic (deliveries still go to it, through its event loop and in
	// order, and it keeps them: an endpoint's mailbox, a relay's replay
	// window) until the next socket takes them over (Attach). One pointer
	// for both, so that a router always finds one of them between two
	// sockets.
	route atomic.Pointer[connRef]
	since atomic.Int64
	box   atomic.Pointer[Mailbox] // an endpoint's mailbox, made on first use

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

// connRef is a peer's route: a socket, open or a ghost.
type connRef struct {
	c     Conn
	ghost bool
}

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
	if r := p.route.Load(); r != nil && !r.ghost {
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

// Attach makes conn the peer's current socket. It returns the previous
// holder of the peer's traffic: the open socket conn replaces (open true;
// the caller closes it with 1000 "replaced"), a closed socket that still
// holds the peer's traffic (a ghost, see DetachGhost), or nil. Frames may still
// be on their way to prev through its event loop: the caller hands what
// prev holds over to conn once they have arrived. Attach fails with
// ErrExpired if the peer was expired meanwhile.
func (p *Peer) Attach(conn Conn) (prev Conn, open bool, err error) {
	c := p.conf
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.expired {
		return nil, false, routing.ErrExpired
	}
	old := p.route.Swap(&connRef{c: conn})
	p.since.Store(time.Now().UnixNano())
	if old == nil {
		return nil, false, nil
	}
	return old.c, !old.ghost, nil
}

// Detach clears the current socket if it is still conn; the close of a
// socket that was already replaced changes nothing. It reports whether
// conn was current.
func (p *Peer) Detach(conn Conn) bool {
	return p.leave(conn, nil)
}

// leave replaces conn, if it is the open socket, with next.
func (p *Peer) leave(conn Conn, next *connRef) bool {
	for {
		cur := p.route.Load()
		if cur == nil || cur.ghost || cur.c != conn {
			return false
		}
		if p.route.CompareAndSwap(cur, next) {
			p.since.Store(0)
			return true
		}
	}
}

// DetachGhost is Detach for a socket that keeps the peer's traffic after
// it closed: if conn was current, it becomes the peer's ghost, and routing
// keeps delivering to it (in order, through its event loop) until the next
// socket attaches. It returns false when conn was replaced meanwhile.
func (p *Peer) DetachGhost(conn Conn) bool {
	return p.leave(conn, &connRef{c: conn, ghost: true})
}

// Ghost returns the closed socket that holds the peer's traffic, or nil.
func (p *Peer) Ghost() Conn {
	if r := p.route.Load(); r != nil && r.ghost {
		return r.c
	}
	return nil
}

// target returns where a delivery to p goes: its open socket or its
// ghost, or nil.
func (p *Peer) target() Conn {
	if r := p.route.Load(); r != nil {
		return r.c
	}
	return nil
}

// mailbox returns the endpoint's mailbox, making it on first use.
func (p *Peer) mailbox() *Mailbox {
	if b := p.box.Load(); b != nil {
		return b
	}
	p.box.CompareAndSwap(nil, new(Mailbox))
	return p.box.Load()
}

// Mailbox returns the messages and bytes held for the endpoint.
func (p *Peer) Mailbox() (messages, bytes int) {
	if b := p.box.Load(); b != nil {
		return b.Len()
	}
	return 0, 0
}

// MailDropped returns how many messages the endpoint's mailbox dropped
// (full, aged, superseded or expired).
func (p *Peer) MailDropped() uint64 {
	if b := p.box.Load(); b != nil {
		return b.lost.Load()
	}
	return 0
}

// PutMail puts msg (copied) at the tail of the endpoint's mailbox: the
// transport keeps there a frame for the endpoint that its socket cannot
// write (it is closing, or its ghost).
func (p *Peer) PutMail(msg []byte, class Class) {
	t := p.conf.table
	p.mailbox().put(msg, class, t.now(), t.lim.Mailbox, &t.Mail)
}

// Recover puts msgs, a dead socket's unsent messages in order, at the head
// of the endpoint's mailbox; they are counted as recovered. The mailbox
// owns msgs afterwards.
func (p *Peer) Recover(msgs []Mail) {
	t := p.conf.table
	t.Mail.Recovered.Add(uint64(len(msgs)))
	p.mailbox().prepend(msgs, t.now(), t.lim.Mailbox, &t.Mail)
}

// TakeMail empties the endpoint's mailbox and returns what is young enough
// to deliver, in order. The caller queues them on the new socket, right
// after ServerHello, and counts them with Delivered.
func (p *Peer) TakeMail() []Mail {
	b := p.box.Load()
	if b == nil {
		return nil
	}
	t := p.conf.table
	return b.take(t.now(), t.lim.Mailbox, &t.Mail)
}

// Delivered counts n mailbox messages queued on a new socket.
func (p *Peer) Delivered(n int) { p.conf.table.Mail.Delivered.Add(uint64(n)) }

// post puts f's message in the mailbox of p, which had no socket and no
// ghost when the router looked; if one attached meanwhile, it goes to that
// socket instead. The check and the put are one step under the mailbox's
// lock, and the new socket takes the mailbox after it attached, under the
// same lock: a message is either taken with the mailbox or sent to the
// socket, never left behind.
func (r *Router) post(p *Peer, f *wsproto.SharedFrame, class Class, out Sink) {
	b := p.mailbox()
	b.mu.Lock()
	cn := p.target()
	if cn == nil {
		t := p.conf.table
		t.Mail.Queued.Add(1)
		m := newMail(f.Payload(), class, t.now())
		b.insert(m, false, m.at, t.lim.Mailbox, &t.Mail)
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	one := [1]Conn{cn}
	out.Deliver(f, class, one[:])
}

// current reports whether conn is the peer's current socket. Text from
// any other socket is dropped.
func (p *Peer) current(conn Conn) bool {
	cur := p.route.Load()
	return cur != nil && !cur.ghost && cur.c == conn
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
