// Package rawgnet is the limit peer: a raw gnet v2 WebSocket server that
// upgrades with wsproto's handshake codec, answers the same REST subset (via bench/peers/internal/hub),
// and forwards each text message as one pre-encoded frame to the other
// connections of the conference (or to the named "to"), coalescing each
// receiver's frames and flushing them once per event-loop round. It does
// no JSON work at all: no parsing, and no "from" rewrite unless Config.From
// asks for one (then the bytes on the wire are the bridge's). It shows how fast
// the transport alone can go on this machine.
package rawgnet

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/colibri-bus/colibri/bench/peers/internal/hub"
	"github.com/panjf2000/gnet/v2"
)

// Config says where the server listens.
type Config struct {
	WSAddr    string // host:port of the WebSocket listener
	RESTAddr  string // host:port of the REST listener
	Advertise string // host:port put in URLs (default WSAddr)
	ServerID  string
	Loops     int // event loops (default 1)
	// From puts "from":"<sender's endpoint id>" first in each forwarded
	// message, as the bridge does, so that both send the same bytes. Still
	// no parsing: the message is taken to be a JSON object without "from".
	From bool
}

// Server is a running rawgnet peer.
type Server struct {
	cfg   Config
	hub   *hub.Hub
	eng   gnet.Engine
	rest  *http.Server
	boot  chan struct{}
	done  chan error
	loops sync.Map // gnet.EventLoop -> *loopState
}

// Start listens on both addresses and returns once they accept connections.
func Start(cfg Config) (*Server, error) {
	if cfg.ServerID == "" {
		cfg.ServerID = "default-id"
	}
	if cfg.Advertise == "" {
		cfg.Advertise = cfg.WSAddr
	}
	if cfg.Loops <= 0 {
		cfg.Loops = 1
	}
	s := &Server{cfg: cfg, boot: make(chan struct{}), done: make(chan error, 1)}
	s.hub = hub.New(cfg.ServerID, cfg.Advertise, hub.NopSink{})
	rest, err := s.hub.ServeREST(cfg.RESTAddr)
	if err != nil {
		return nil, err
	}
	s.rest = rest
	go func() {
		s.done <- gnet.Run(&handler{s: s}, "tcp://"+cfg.WSAddr,
			gnet.WithNumEventLoop(cfg.Loops), gnet.WithMulticore(cfg.Loops > 1),
			gnet.WithReusePort(cfg.Loops > 1), gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithLogger(nopLogger{}))
	}()
	select {
	case <-s.boot:
		return s, nil
	case err := <-s.done:
		s.rest.Close()
		if err == nil {
			err = errors.New("rawgnet: engine stopped during boot")
		}
		return nil, err
	}
}

// Stop shuts both listeners down.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.eng.Stop(ctx)
	_ = s.rest.Close()
}

// Wait blocks until the engine stops.
func (s *Server) Wait() error { return <-s.done }

// nopLogger silences gnet, whose default logger writes to stdout.
type nopLogger struct{}

func (nopLogger) Debugf(string, ...any) {}
func (nopLogger) Infof(string, ...any)  {}
func (nopLogger) Warnf(string, ...any)  {}
func (nopLogger) Errorf(string, ...any) {}
func (nopLogger) Fatalf(string, ...any) {}
