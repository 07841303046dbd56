package colibri2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"github.com/colibri-bus/colibri/internal/route"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/colibri-bus/colibri/config"
)

// Server is the bridge's private HTTP server: the colibri2 REST API and the
// operations endpoints registered on it.
type Server struct {
	cfg    *config.Config
	table  *route.Table
	router *route.Router
	dialer RelayDialer
	log    *slog.Logger
	mux    *http.ServeMux
	srv    *http.Server
	ln     net.Listener
}

// New builds the server. dialer may be nil when relays are disabled.
func New(cfg *config.Config, table *route.Table, router *route.Router, dialer RelayDialer, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, table: table, router: router, dialer: dialer, log: log, mux: http.NewServeMux()}
	if cfg.REST.Enabled {
		s.mux.HandleFunc("POST /colibri/v2/conferences", s.handleCreate)
		s.mux.HandleFunc("PATCH /colibri/v2/conferences/{meeting}", s.handleModify)
	}
	return s
}

// Handle registers another handler on the private server (operations).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the server's handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.mux }

// Start listens on the private host:port and serves in the background.
func (s *Server) Start() error {
	addr := net.JoinHostPort(s.cfg.Private.Host, itoa(s.cfg.Private.Port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("private server stopped", "err", err)
		}
	}()
	return nil
}

// Addr returns the listening address once started.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops the server, waiting for requests in flight until ctx ends
// or restGrace passes, whichever is first; then it closes what is left.
// net/http treats a connection that has not sent a request yet as busy for
// 5 s, and REST calls are short: waiting longer only delays the exit.
func (s *Server) Shutdown(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	grace, cancel := context.WithTimeout(ctx, restGrace)
	defer cancel()
	if err := s.srv.Shutdown(grace); err != nil {
		return s.srv.Close()
	}
	return nil
}

// restGrace bounds how long Shutdown waits for REST requests in flight.
const restGrace = time.Second

func itoa(v int) string {
	if v < 0 {
		return "-" + itoa(-v)
	}
	if v < 10 {
		return string(rune('0' + v))
	}
	return itoa(v/10) + string(rune('0'+v%10))
}

// iceUfrag and icePwd give each endpoint stable ICE-looking credentials.
// This bus has no ICE agent; they are derived from the WebSocket secret by a
// one-way hash, so they reveal nothing of it.
func iceUfrag(id string) string   { return hash("ufrag|" + id)[:14] }
func icePwd(secret string) string { return hash("icepwd|" + secret)[:26] }

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
