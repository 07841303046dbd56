package colibri2

import (
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Sockets is what the operations endpoints read from the WebSocket
// transport. The bridge adapts its engine to it, so that colibri2 never
// imports the engine. Every method must be safe for concurrent use and
// cheap: they run on each request and each Prometheus scrape.
type Sockets interface {
	// SocketStats returns a snapshot of the transport's counters.
	SocketStats() SocketStats
	// Stalled reports whether some event loop has not run for longer than max.
	Stalled(max time.Duration) bool
	// TickInterval returns how often the event loops sweep their timers.
	TickInterval() time.Duration
}

// SocketStats is a snapshot of the WebSocket transport's counters.
type SocketStats struct {
	Conns       int64 // TCP connections in any state
	Handshaking int64 // connections before the upgrade
	Open        int64 // WebSockets open or closing
	Endpoints   int64 // endpoint WebSockets attached
	Relays      int64 // relay WebSockets attached
	QueuedBytes int64 // outbound bytes waiting in the transport's buffers

	MessagesReceived  uint64 // text messages read
	MessagesSent      uint64 // text messages queued for writing, ServerHello included
	PingsSent         uint64
	Replaced          uint64 // sockets replaced by a newer one (close 1000 "replaced")
	AuthFailures      uint64 // handshakes answered 403
	HandshakeTimeouts uint64
	IdleClosed        uint64
	SlowClosed        uint64 // closed for staying over the outbound budget
	ProtocolErrors    uint64
	TLSFailures       uint64 // TLS handshakes that failed on the TLS listener
	CloseNormal       uint64 // close status 1000, 1001 or 1005
	CloseAbnormal     uint64 // any other status; 1006 when no close frame came

	// Dropped counts, by routing.DropReason name, the frames the transport
	// decided not to queue (a receiver closing, a slow receiver, binary
	// messages); the router's own drops are counted apart.
	Dropped map[string]uint64
	// BacklogClosed counts senders closed with 1008 because more of their
	// input waited unparsed than limits.inbound-backlog allows.
	BacklogClosed uint64

	// Rejects counts handshake rejections by HTTP status ("400", "403", ...).
	Rejects map[string]uint64
}

// Ops serves the operations endpoints of the private server: health,
// version, stats, metrics, debug, drain, shutdown and the dashboard.
type Ops struct {
	s        *Server
	t        Sockets
	log      *slog.Logger
	shutdown func()
	started  time.Time
	version  string

	graceful     atomic.Bool // a shutdown was requested with graceful-shutdown
	shuttingDown atomic.Bool // a shutdown is under way
	shutdownOnce sync.Once

	registry *prometheus.Registry
}

// EnableOps registers the operations endpoints on s and returns their
// state. t must not be nil. shutdown is called once, from a request
// goroutine, when POST /colibri/shutdown is accepted; it must not block
// (the bridge closes its Done channel and its owner calls Stop). Call it
// before Start.
func (s *Server) EnableOps(t Sockets, shutdown func()) *Ops {
	o := &Ops{s: s, t: t, log: s.log, shutdown: shutdown, started: time.Now(), version: Version()}
	o.registry = newRegistry(o)
	s.mux.HandleFunc("GET /about/health", o.handleHealth)
	s.mux.HandleFunc("GET /about/version", o.handleVersion)
	s.mux.HandleFunc("GET /colibri/stats", o.handleStats)
	s.mux.Handle("GET /metrics", o.metricsHandler())
	s.mux.HandleFunc("GET /debug", o.handleDebug)
	s.mux.HandleFunc("GET /debug/{conf}", o.handleDebug)
	s.mux.HandleFunc("GET /debug/{conf}/{id}", o.handleDebug)
	s.mux.HandleFunc("GET /colibri/drain", o.handleDrainState)
	s.mux.HandleFunc("POST /colibri/drain/enable", o.handleDrain(true))
	s.mux.HandleFunc("POST /colibri/drain/disable", o.handleDrain(false))
	if s.cfg.REST.Enabled {
		// As Jitsi: shutdown needs the REST API on (rest.shutdown.enabled
		// and apis.rest.enabled there).
		s.mux.HandleFunc("POST /colibri/shutdown", o.handleShutdown)
	}
	o.registerDashboard(s.mux)
	return o
}

// Registry returns the Prometheus registry behind GET /metrics, for an
// embedder that adds its own collectors.
func (o *Ops) Registry() *prometheus.Registry { return o.registry }

// SetShuttingDown marks the bridge as shutting down: health turns 503, new
// conferences are refused and stats report shutting_down. The bridge calls
// it when Stop begins, whatever started the stop (signal or REST).
func (o *Ops) SetShuttingDown() {
	o.shuttingDown.Store(true)
	o.s.table.SetDraining(true)
}

// ShuttingDown reports whether a shutdown is under way.
func (o *Ops) ShuttingDown() bool { return o.shuttingDown.Load() }

// unhealthy returns why the bridge is not healthy, "" when it is. A loop
// counts as stalled after three timer sweeps, and never before two seconds,
// so that a busy loop on a loaded machine is not reported.
func (o *Ops) unhealthy() string {
	switch {
	case o.shuttingDown.Load():
		return "shutting down"
	case o.s.table.Draining():
		return "draining"
	}
	if max := max(3*o.t.TickInterval(), 2*time.Second); o.t.Stalled(max) {
		return "an event loop has not run for more than " + max.String()
	}
	return ""
}

// noStore marks an answer as live state that caches must not keep.
func noStore(w http.ResponseWriter) { w.Header().Set("Cache-Control", "no-store") }
