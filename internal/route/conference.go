package route

import (
	"github.com/colibri-bus/colibri/routing"
	"sync"
	"sync/atomic"
	"time"
)

// Conference is one conference on this bridge: its local endpoints, its
// relays to other bridges, and the endpoints reached through them.
//
// Membership is a copy-on-write snapshot: routing reads it with one atomic
// load and no lock; joins and leaves copy it under the conference mutex.
// Conferences hold tens to hundreds of endpoints and membership changes are
// rare next to messages, so the copy is cheap where it happens.
type Conference struct {
	id, meetingID, name string
	table               *Table
	created             time.Time

	mu      sync.Mutex
	state   atomic.Pointer[members]
	expired atomic.Bool
}

// members is an immutable snapshot of a conference's membership.
type members struct {
	endpoints []*Endpoint          // local endpoints, in join order
	byID      map[string]*Endpoint // local endpoints by id
	relays    []*Relay
	relayByID map[string]*Relay
	remote    map[string]*Relay // relayed (remote) endpoint id -> its relay
}

// ID returns the bridge's hex conference id (the one in WebSocket URLs).
func (c *Conference) ID() string { return c.id }

// MeetingID returns the colibri2 meeting-id.
func (c *Conference) MeetingID() string { return c.meetingID }

// Name returns the conference name given at creation.
func (c *Conference) Name() string { return c.name }

// Created returns the creation time.
func (c *Conference) Created() time.Time { return c.created }

// Expired reports whether the conference has been expired.
func (c *Conference) Expired() bool { return c.expired.Load() }

// Endpoint returns the local endpoint with id, or nil.
func (c *Conference) Endpoint(id string) *Endpoint { return c.state.Load().byID[id] }

// Relay returns the relay with id, or nil.
func (c *Conference) Relay(id string) *Relay { return c.state.Load().relayByID[id] }

// Endpoints returns the local endpoints. The slice is shared: do not modify it.
func (c *Conference) Endpoints() []*Endpoint { return c.state.Load().endpoints }

// Relays returns the relays. The slice is shared: do not modify it.
func (c *Conference) Relays() []*Relay { return c.state.Load().relays }

// RelayOf returns the relay through which the remote endpoint id is reached, or nil.
func (c *Conference) RelayOf(endpointID string) *Relay { return c.state.Load().remote[endpointID] }

// HasEndpoint reports whether id is a local or a relayed endpoint.
func (c *Conference) HasEndpoint(id string) bool {
	m := c.state.Load()
	return m.byID[id] != nil || m.remote[id] != nil
}

// clone returns a modifiable deep copy of the snapshot's containers.
func (m *members) clone() *members {
	n := &members{
		endpoints: append([]*Endpoint(nil), m.endpoints...),
		byID:      make(map[string]*Endpoint, len(m.byID)+1),
		relays:    append([]*Relay(nil), m.relays...),
		relayByID: make(map[string]*Relay, len(m.relayByID)+1),
		remote:    make(map[string]*Relay, len(m.remote)),
	}
	for k, v := range m.byID {
		n.byID[k] = v
	}
	for k, v := range m.relayByID {
		n.relayByID[k] = v
	}
	for k, v := range m.remote {
		n.remote[k] = v
	}
	return n
}

// CreateEndpoint adds a local endpoint with a fresh URL secret.
func (c *Conference) CreateEndpoint(id string, opt routing.EndpointOptions) (*Endpoint, error) {
	eps, err := c.CreateEndpoints([]string{id}, []routing.EndpointOptions{opt})
	if err != nil {
		return nil, err
	}
	return eps[0], nil
}

// ExpireEndpoint removes a local endpoint and closes its socket with 1001
// "endpoint closed". It reports whether the endpoint existed.
func (c *Conference) ExpireEndpoint(id string) bool {
	c.mu.Lock()
	m := c.state.Load()
	ep := m.byID[id]
	if ep == nil {
		c.mu.Unlock()
		return false
	}
	n := m.clone()
	delete(n.byID, id)
	n.endpoints = removeEndpoint(n.endpoints, ep)
	ep.expired = true
	c.state.Store(n)
	conn := ep.Conn()
	c.mu.Unlock()
	if conn != nil {
		conn.Close(1001, ReasonEndpointClosed)
	}
	ep.freeMail()
	if fn := c.table.endpointExpired; fn != nil {
		fn(ep)
	}
	return true
}

// freeMail drops what the peer's mailbox holds, and what reaches it
// later: it expired.
func (p *Peer) freeMail() {
	p.mailbox().clear(&p.conf.table.Mail)
}

func removeEndpoint(list []*Endpoint, ep *Endpoint) []*Endpoint {
	for i, e := range list {
		if e == ep {
			return append(list[:i], list[i+1:]...)
		}
	}
	return list
}

// expireAll marks the conference expired and closes every socket.
func (c *Conference) expireAll() {
	c.mu.Lock()
	c.expired.Store(true)
	m := c.state.Load()
	var conns []Conn
	var reasons []string
	for _, ep := range m.endpoints {
		ep.expired = true
		if cn := ep.Conn(); cn != nil {
			conns = append(conns, cn)
			reasons = append(reasons, ReasonEndpointClosed)
		}
	}
	for _, r := range m.relays {
		r.expired = true
		if cn := r.Conn(); cn != nil {
			conns = append(conns, cn)
			reasons = append(reasons, ReasonRelayClosed)
		}
	}
	c.state.Store(&members{})
	c.mu.Unlock()
	for i, cn := range conns {
		cn.Close(1001, reasons[i])
	}
	for _, ep := range m.endpoints {
		ep.freeMail()
	}
	for _, r := range m.relays {
		r.stopDialer()
		r.Link.forget()
	}
	if fn := c.table.endpointExpired; fn != nil {
		for _, ep := range m.endpoints {
			fn(ep)
		}
	}
}

// Endpoint is a local conference endpoint: one browser or client, reached
// over /colibri-ws/{server-id}/{conf-id}/{endpoint-id}.
type Endpoint struct {
	Peer
	visitor bool
}

// Visitor reports whether the endpoint is a visitor.
func (e *Endpoint) Visitor() bool { return e.visitor }

// ClassCounters counts messages by class. The zero value is ready.
//
// The first class counted has a word of its own; a table for the others is
// allocated when a second class is counted. An idle endpoint has been sent
// its ServerHello and nothing else, so it costs two words, not a table
// (idle connections are most of a bridge, issue 22).
type ClassCounters struct {
	first atomic.Uint64 // the first class, plus one, above firstShift; its count below
	p     atomic.Pointer[classTable]
}

// firstShift leaves 56 bits for the first class's count.
const firstShift = 56

// classTable is one peer's counts. Two peers' tables are written by the
// loops of their sockets, which may differ: the table fills whole pairs of
// cache lines, so the allocator never puts two tables on one line.
type classTable struct {
	n [numClasses]atomic.Uint64
	_ [(cacheLine - numClasses*8%cacheLine) % cacheLine]byte
}

// Add counts one message of class c.
func (cc *ClassCounters) Add(c Class) { cc.AddN(c, 1) }

// AddN counts n messages of class c.
func (cc *ClassCounters) AddN(c Class, n uint64) {
	tag := uint64(c+1) << firstShift
	f := cc.first.Load()
	if f == 0 {
		if cc.first.CompareAndSwap(0, tag|n) {
			return
		}
		f = cc.first.Load()
	}
	if f>>firstShift == tag>>firstShift {
		cc.first.Add(n) // the tag is never rewritten, so the add cannot race it
		return
	}
	t := cc.p.Load()
	if t == nil {
		cc.p.CompareAndSwap(nil, new(classTable))
		t = cc.p.Load()
	}
	t.n[c].Add(n)
}

// Map returns the non-zero counts keyed by class name.
func (cc *ClassCounters) Map() map[string]uint64 {
	out := make(map[string]uint64)
	if f := cc.first.Load(); f != 0 {
		out[Class(f>>firstShift-1).String()] = f & (1<<firstShift - 1)
	}
	t := cc.p.Load()
	if t == nil {
		return out
	}
	for i := range t.n {
		if v := t.n[i].Load(); v != 0 {
			out[Class(i).String()] = v
		}
	}
	return out
}
