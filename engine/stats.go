package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"sync/atomic"
)

// counts are the engine's counters of connections; every field is safe
// for concurrent use. Stats is their snapshot.
type counts struct {
	Conns       atomic.Int64 // TCP connections in any state
	Handshaking atomic.Int64 // connections before the upgrade
	Open        atomic.Int64 // WebSockets (open or closing)
	Endpoints   atomic.Int64 // endpoint WebSockets attached
	Relays      atomic.Int64 // relay WebSockets attached

	PingsSent            atomic.Uint64
	Replaced             atomic.Uint64 // sockets replaced by a newer one
	AuthFailures         atomic.Uint64 // 403s
	HandshakeTimeouts    atomic.Uint64
	IdleClosed           atomic.Uint64
	SlowClosed           atomic.Uint64 // closed for staying over the outbound budget
	ProtocolErrors       atomic.Uint64
	TLSHandshakeFailures atomic.Uint64

	CloseNormal   atomic.Uint64 // close status 1000, 1001 or 1005 (Jitsi's "normal")
	CloseAbnormal atomic.Uint64 // any other status, 1006 when no close frame

	Rejects [6]atomic.Uint64 // handshake rejections: 400, 403, 404, 405, 431/426, 503
}

// Stats is a snapshot of the engine's counters of connections. Gauges are
// int64, counts since start uint64. Application sockets are in Conns,
// Handshaking and Open, not in Endpoints or Relays.
type Stats struct {
	Conns       int64 // TCP connections in any state
	Handshaking int64 // connections before the upgrade
	Open        int64 // WebSockets (open or closing)
	Endpoints   int64 // Colibri endpoint WebSockets attached
	Relays      int64 // Colibri relay WebSockets attached

	PingsSent            uint64
	Replaced             uint64 // Colibri sockets replaced by a newer one
	AuthFailures         uint64 // 403s of the Colibri paths
	HandshakeTimeouts    uint64
	IdleClosed           uint64
	SlowClosed           uint64 // closed for staying over the outbound budget
	ProtocolErrors       uint64
	TLSHandshakeFailures uint64

	CloseNormal   uint64 // close status 1000, 1001 or 1005 (Jitsi's "normal")
	CloseAbnormal uint64 // any other status, 1006 when no close frame

	// Rejects counts handshake rejections by status, in the order of
	// RejectStatuses.
	Rejects [6]uint64
}

// Stats returns a snapshot of the engine's counters. Each field is read
// atomically; the fields are not read at one instant.
func (e *Engine) Stats() Stats {
	k := &e.stats
	s := Stats{
		Conns: k.Conns.Load(), Handshaking: k.Handshaking.Load(), Open: k.Open.Load(),
		Endpoints: k.Endpoints.Load(), Relays: k.Relays.Load(),
		PingsSent: k.PingsSent.Load(), Replaced: k.Replaced.Load(), AuthFailures: k.AuthFailures.Load(),
		HandshakeTimeouts: k.HandshakeTimeouts.Load(), IdleClosed: k.IdleClosed.Load(),
		SlowClosed: k.SlowClosed.Load(), ProtocolErrors: k.ProtocolErrors.Load(),
		TLSHandshakeFailures: k.TLSHandshakeFailures.Load(),
		CloseNormal:          k.CloseNormal.Load(), CloseAbnormal: k.CloseAbnormal.Load(),
	}
	for i := range k.Rejects {
		s.Rejects[i] = k.Rejects[i].Load()
	}
	return s
}

// peers returns the gauge of attached sockets of kind.
func (s *counts) peers(kind route.PeerKind) *atomic.Int64 {
	if kind == route.PeerRelay {
		return &s.Relays
	}
	return &s.Endpoints
}

func (s *counts) countClose(code uint16) {
	switch code {
	case 1000, 1001, 1005:
		s.CloseNormal.Add(1)
	default:
		s.CloseAbnormal.Add(1)
	}
}

// RejectStatuses names the slots of Stats.Rejects.
var RejectStatuses = [6]string{"400", "403", "404", "405", "4xx", "503"}

func (s *counts) countReject(status int) {
	i := 4
	switch status {
	case 400:
		i = 0
	case 403:
		i = 1
	case 404:
		i = 2
	case 405:
		i = 3
	case 503:
		i = 5
	}
	s.Rejects[i].Add(1)
}

// QueuedBytes returns the bytes held for writing across all connections:
// what the sockets did not take yet, refreshed at each enqueue, flush and
// sweep. Pending bytes of the current loop round are not counted: they are
// bounded per connection and flushed within the round.
func (e *Engine) QueuedBytes() int64 { return e.globalOut.Load() }
