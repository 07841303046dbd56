// Package nbiopeer is the bench peer on lesismal/nbio in non-blocking
// mode: nbhttp's poller goroutines parse frames and hand text messages to
// routing.Router; routed frames (encoded once by the router) are written
// as they are to each receiver's nbio connection, which buffers what the
// socket does not take. permessage-deflate is on, as the bridge's
// enable-compression is by default: nbio negotiates it (no context
// takeover) and inflates what such clients send; a receiver that
// negotiated it gets the router's compressed form of the frame, which is
// compressed once per message, as the bridge does.
package nbiopeer

import (
	"context"
	"github.com/colibri-bus/colibri/internal/route"
	"net/http"
	"strings"
	"time"

	"github.com/colibri-bus/colibri/bench/peers/internal/hub"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/nbhttp"
	"github.com/lesismal/nbio/nbhttp/websocket"
)

// Server is a running nbio peer.
type Server struct {
	hub  *hub.Hub
	eng  *nbhttp.Engine
	rest *http.Server
	up   *websocket.Upgrader
}

// conn is one endpoint socket.
type conn struct {
	ws      *websocket.Conn
	ep      *route.Endpoint
	deflate bool // permessage-deflate negotiated
}

// Start listens on both addresses.
func Start(o hub.Options) (*Server, error) {
	o.Defaults()
	logging.SetLevel(logging.LevelNone)
	s := &Server{}
	s.hub = hub.New(o.ServerID, o.Advertise, sink{})
	s.up = websocket.NewUpgrader()
	s.up.EnableCompression(true)
	s.up.CheckOrigin = func(*http.Request) bool { return true }
	s.up.OnMessage(s.onMessage)
	s.up.OnClose(func(ws *websocket.Conn, _ error) {
		if c, ok := ws.Session().(*conn); ok {
			c.ep.Detach(c)
		}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/colibri-ws/", s.serveWS)
	s.eng = nbhttp.NewEngine(nbhttp.Config{
		Network:                 "tcp",
		Addrs:                   []string{o.WSAddr},
		Handler:                 mux,
		IOMod:                   nbhttp.IOModNonBlocking,
		ReleaseWebsocketPayload: true,
	})
	if err := s.eng.Start(); err != nil {
		return nil, err
	}
	rest, err := s.hub.ServeREST(o.RESTAddr)
	if err != nil {
		s.eng.Stop()
		return nil, err
	}
	s.rest = rest
	return s, nil
}

// Stop closes the listeners.
func (s *Server) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.eng.Shutdown(ctx)
	_ = s.rest.Close()
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ep := s.hub.Admit(w, r)
	if ep == nil {
		return
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	// nbio accepts permessage-deflate whenever an offer names it (its
	// Upgrader.commCheck) and does not export the outcome; mirror it.
	c := &conn{ws: ws, ep: ep, deflate: offersDeflate(r.Header)}
	ws.SetSession(c)
	if !s.hub.Attach(ep, c, sink{}) {
		c.Close(wsproto.CloseGoingAway, route.ReasonEndpointClosed)
	}
}

func (s *Server) onMessage(ws *websocket.Conn, mt websocket.MessageType, data []byte) {
	if mt != websocket.TextMessage {
		return
	}
	if c, ok := ws.Session().(*conn); ok {
		s.hub.Router.HandleEndpoint(c.ep, c, data, sink{})
	}
}

// Close implements routing.Conn.
func (c *conn) Close(code uint16, reason string) {
	_ = c.ws.WriteClose(int(code), reason)
	_ = c.ws.Close()
}

// sink writes the router's shared frame bytes to each receiver's nbio
// connection (non-blocking; nbio queues what the socket does not take).
type sink struct{}

func (sink) Deliver(f *wsproto.SharedFrame, _ route.Class, to []route.Conn) {
	b := f.Bytes()
	for _, rc := range to {
		if c, ok := rc.(*conn); ok {
			if z := f.Compressed(); z != nil && c.deflate {
				_, _ = c.ws.Conn.Write(z)
				continue
			}
			_, _ = c.ws.Conn.Write(b)
		}
	}
}

// offersDeflate reports whether a request offers permessage-deflate.
func offersDeflate(h http.Header) bool {
	for _, v := range h.Values("Sec-WebSocket-Extensions") {
		for _, e := range strings.Split(v, ",") {
			name, _, _ := strings.Cut(e, ";")
			if strings.TrimSpace(name) == "permessage-deflate" {
				return true
			}
		}
	}
	return false
}
