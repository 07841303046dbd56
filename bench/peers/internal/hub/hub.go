// Package hub wires the project's own bridge core for the bench peers:
// routing.Table and routing.Router (classification, "from" rewrite,
// encode-once fan-out to a Sink) and the colibri2 REST server, configured
// from config.Default. Each peer supplies only the transport (gorilla,
// gws, nbio, raw gnet), so in a side-by-side run only the transport differs.
//
// It must not depend on engine: the peers exist to compare transports
// against it.
package hub

import (
	"context"
	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/routing"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/colibri2"
	"github.com/colibri-bus/colibri/wsproto"
)

// Hub is one peer's bridge core.
type Hub struct {
	Config *config.Config
	Table  *route.Table
	Router *route.Router
	API    *colibri2.Server
}

// New returns a hub whose advertised URLs point at advertise (host:port)
// and whose router delivers through sink.
func New(serverID, advertise string, sink route.Sink) *Hub {
	cfg := config.Default()
	cfg.WebSockets.ServerID = serverID
	cfg.WebSockets.Domains = []string{advertise}
	cfg.WebSockets.RelayDomains = []string{advertise}
	cfg.WebSockets.EnableCompression = false
	t := route.NewTable(route.LimitsOf(cfg.Limits))
	r := route.NewRouter(routing.Hooks{}, sink, nil)
	return &Hub{Config: cfg, Table: t, Router: r, API: colibri2.New(cfg, t, r, nil, nil)}
}

// ServeREST serves the colibri2 API on addr in the background.
func (h *Hub) ServeREST(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h.API.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

// Authenticate checks a /colibri-ws/{server-id}/{conf-id}/{endpoint-id}
// request: it returns the endpoint, or the HTTP status to refuse with
// (404 bad path or other server, 403 unknown conference or endpoint or
// wrong pwd).
func (h *Hub) Authenticate(path, rawQuery string) (*route.Endpoint, int) {
	rest, ok := strings.CutPrefix(path, "/colibri-ws/")
	if !ok {
		return nil, http.StatusNotFound
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[0] != h.Config.WebSockets.ServerID {
		return nil, http.StatusNotFound
	}
	conf := h.Table.Conference(parts[1])
	if conf == nil {
		return nil, http.StatusForbidden
	}
	ep := conf.Endpoint(parts[2])
	if ep == nil || !ep.CheckPassword(pwdOf(rawQuery)) {
		return nil, http.StatusForbidden
	}
	return ep, 0
}

// pwdOf extracts pwd=… from a raw query.
func pwdOf(q string) string {
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if v, ok := strings.CutPrefix(kv, "pwd="); ok {
			return v
		}
	}
	return ""
}

// Attach makes c the endpoint's socket (closing a replaced one with 1000
// "replaced") and sends ServerHello through out. It reports false when
// the endpoint expired meanwhile.
func (h *Hub) Attach(ep *route.Endpoint, c route.Conn, out route.Sink) bool {
	old, _, err := ep.Attach(c)
	if err != nil {
		return false
	}
	if old != nil {
		old.Close(wsproto.CloseNormal, route.ReasonReplaced)
	}
	h.Router.EndpointConnected(ep, c, out)
	return true
}

// NopSink drops everything (for peers that route by themselves).
type NopSink struct{}

// Deliver implements routing.Sink.
func (NopSink) Deliver(*wsproto.SharedFrame, route.Class, []route.Conn) {}

// Options say where a peer listens.
type Options struct {
	WSAddr    string // host:port of the WebSocket listener
	RESTAddr  string // host:port of the REST listener
	Advertise string // host:port put in URLs (default WSAddr)
	ServerID  string // default "default-id"
}

// Defaults fills empty fields.
func (o *Options) Defaults() {
	if o.ServerID == "" {
		o.ServerID = "default-id"
	}
	if o.Advertise == "" {
		o.Advertise = o.WSAddr
	}
}

// Refuse answers a failed WebSocket authentication with status.
func Refuse(w http.ResponseWriter, status int) {
	if status == http.StatusForbidden {
		http.Error(w, "authentication failed", status)
		return
	}
	http.Error(w, http.StatusText(status), status)
}

// Servers are a net/http peer's two listeners: WebSocket and REST.
type Servers struct{ ws, rest *http.Server }

// Listen serves serveWS for /colibri-ws/ on o.WSAddr and the REST API on
// o.RESTAddr, both in the background.
func (h *Hub) Listen(o Options, serveWS http.HandlerFunc) (*Servers, error) {
	ln, err := net.Listen("tcp", o.WSAddr)
	if err != nil {
		return nil, err
	}
	rest, err := h.ServeREST(o.RESTAddr)
	if err != nil {
		ln.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/colibri-ws/", serveWS)
	s := &Servers{ws: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, rest: rest}
	go func() { _ = s.ws.Serve(ln) }()
	return s, nil
}

// Stop closes both listeners, giving open WebSocket handlers a second.
func (s *Servers) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.ws.Shutdown(ctx)
	_ = s.rest.Close()
}

// Admit authenticates a WebSocket request; on failure it answers and
// returns nil.
func (h *Hub) Admit(w http.ResponseWriter, r *http.Request) *route.Endpoint {
	ep, status := h.Authenticate(r.URL.Path, r.URL.RawQuery)
	if ep == nil {
		Refuse(w, status)
	}
	return ep
}
