// Package bridge assembles a complete Colibri WebSocket bridge from a
// config: the conference table, the router, the public WebSocket engine and
// the private REST server. It is the API for embedding the bus in an SFU:
//
//	b := bridge.New(config.Default(), bridge.Options{Hooks: hooks})
//	if err := b.Start(); err != nil { ... }
//	defer b.Stop(ctx)
//	conf, _ := b.Table().CreateConference(meetingID, "")
//	ep, _ := conf.CreateEndpoint("ep1", routing.EndpointOptions{})
//	urls := b.EndpointURLs(ep) // what the endpoint connects to
//	b.Router().SendToEndpoint(ep, msg)
//
// Conferences and endpoints may also come from the REST API (Jicofo's
// colibri2), which the bridge serves on its private port. The messages
// the bridge consumes reach the embedder through routing.Hooks;
// docs/embedding.md is the guide.
package bridge

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/colibri-bus/colibri/internal/route"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/engine"
	"github.com/colibri-bus/colibri/internal/colibri2"
	"github.com/colibri-bus/colibri/internal/seam"
	"github.com/colibri-bus/colibri/routing"
)

// Options customise a bridge beyond its config.
type Options struct {
	// Hooks receive consumed client messages; see routing.Hooks.
	Hooks routing.Hooks
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// App serves the WebSocket upgrades of the public port whose path is
	// not a Colibri one (an SFU's own signalling socket), on the same
	// reactor, with the same budgets; nil refuses them with 404. See
	// engine.Application.
	App engine.Application
	// NoPrivateServer skips the REST listener (an embedder that drives the
	// table directly).
	NoPrivateServer bool
}

// Bridge is one running bridge.
type Bridge struct {
	cfg    *config.Config
	table  *route.Table
	engine *engine.Engine
	colib  seam.Colibri
	api    *colibri2.Server
	ops    *colibri2.Ops
	log    *slog.Logger
	opts   Options
	done   chan struct{}
	once   sync.Once
}

// New builds a bridge; nothing listens until Start.
func New(cfg *config.Config, opts Options) *Bridge {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := route.NewTable(route.LimitsOf(cfg.Limits))
	if h := opts.Hooks.EndpointExpired; h != nil {
		t.OnEndpointExpired(func(ep *route.Endpoint) { h(route.PublicEndpoint(ep)) })
	}
	e := engine.New(cfg, engine.Options{App: opts.App, Logger: log})
	col := seam.ServeColibri(e, t, opts.Hooks)
	col.Router().SetStatsFilter(cfg.StatsFilterThreshold)
	b := &Bridge{cfg: cfg, table: t, engine: e, colib: col, log: log, opts: opts, done: make(chan struct{})}
	b.api = colibri2.New(cfg, t, col.Router(), col, log)
	b.ops = b.api.EnableOps(engineOps{e}, b.requestStop)
	return b
}

// Start opens the public WebSocket listener(s) and the private server.
func (b *Bridge) Start() error {
	if err := b.engine.Start(); err != nil {
		return err
	}
	if !b.opts.NoPrivateServer && b.cfg.Private.Port >= 0 {
		if err := b.api.Start(); err != nil {
			b.engine.Stop(context.Background())
			return err
		}
	}
	b.log.Info("bridge started", "public", b.engine.Addr(), "tls", b.engine.TLSAddr(), "private", b.api.Addr(),
		"server-id", b.cfg.WebSockets.ServerID)
	return nil
}

// Stop closes every WebSocket with 1001, waits for the closing handshakes
// until ctx ends, and stops both servers.
func (b *Bridge) Stop(ctx context.Context) error {
	b.ops.SetShuttingDown()
	b.requestStop()
	err := b.engine.Stop(ctx)
	return errors.Join(err, b.api.Shutdown(ctx))
}

// Config returns the bridge's configuration.
func (b *Bridge) Config() *config.Config { return b.cfg }

// Table returns the conference table.
func (b *Bridge) Table() routing.Table { return route.PublicTable(b.table) }

// Router returns the router, for the embedder's messages.
func (b *Bridge) Router() routing.Router { return route.PublicRouter(b.colib.Router()) }

// Engine returns the WebSocket engine.
func (b *Bridge) Engine() *engine.Engine { return b.engine }

// Handle registers h for pattern on the private server, beside the REST
// API, before Start (an SFU's own operations endpoints).
func (b *Bridge) Handle(pattern string, h http.Handler) { b.api.Handle(pattern, h) }

// PublicAddr returns the plain WebSocket listener's address.
func (b *Bridge) PublicAddr() string { return b.engine.Addr() }

// PrivateAddr returns the REST listener's address.
func (b *Bridge) PrivateAddr() string { return b.api.Addr() }

// EndpointURLs returns the WebSocket URLs advertised for ep, one per domain.
func (b *Bridge) EndpointURLs(ep routing.Endpoint) []string {
	return b.cfg.EndpointURLs(ep.Conference().ID(), ep.ID(), ep.Password())
}

// DialRelay makes the bridge dial r at url (the other bridge's
// colibri-relay-ws URL, with its pwd) and redial it until r expires. It
// does nothing for a handle the bridge did not make.
func (b *Bridge) DialRelay(r routing.Relay, url string) {
	if rec := route.RelayOf(r); rec != nil {
		b.colib.DialRelay(rec, url)
	}
}

// Done is closed once a stop was requested: POST /colibri/shutdown, or Stop.
// After a REST shutdown, the bridge's owner must call Stop (cmd/bridge does).
func (b *Bridge) Done() <-chan struct{} { return b.done }

func (b *Bridge) requestStop() { b.once.Do(func() { close(b.done) }) }

// engineOps adapts the engine to what colibri2's operations endpoints read.
type engineOps struct{ *engine.Engine }

func (e engineOps) SocketStats() colibri2.SocketStats {
	s := e.Stats()
	tr := e.Traffic()
	ts := colibri2.SocketStats{
		Conns: s.Conns, Handshaking: s.Handshaking, Open: s.Open,
		Endpoints: s.Endpoints, Relays: s.Relays, QueuedBytes: e.QueuedBytes(),
		MessagesReceived: tr.MessagesReceived, MessagesSent: tr.MessagesSent,
		Dropped: tr.Dropped, BacklogClosed: tr.BacklogClosed,
		PingsSent: s.PingsSent, Replaced: s.Replaced, AuthFailures: s.AuthFailures,
		HandshakeTimeouts: s.HandshakeTimeouts, IdleClosed: s.IdleClosed,
		SlowClosed: s.SlowClosed, ProtocolErrors: s.ProtocolErrors,
		TLSFailures: s.TLSHandshakeFailures,
		CloseNormal: s.CloseNormal, CloseAbnormal: s.CloseAbnormal,
		Rejects: make(map[string]uint64, len(s.Rejects)),
	}
	for i, status := range engine.RejectStatuses {
		ts.Rejects[status] = s.Rejects[i]
	}
	return ts
}
