package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"sync/atomic"
)

// Stats are the engine's counters; every field is safe for concurrent use.
type Stats struct {
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

// peers returns the gauge of attached sockets of kind.
func (s *Stats) peers(kind route.PeerKind) *atomic.Int64 {
	if kind == route.PeerRelay {
		return &s.Relays
	}
	return &s.Endpoints
}

func (s *Stats) countClose(code uint16) {
	switch code {
	case 1000, 1001, 1005:
		s.CloseNormal.Add(1)
	default:
		s.CloseAbnormal.Add(1)
	}
}

// RejectStatuses names the slots of Stats.Rejects.
var RejectStatuses = [6]string{"400", "403", "404", "405", "4xx", "503"}

func (s *Stats) countReject(status int) {
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
