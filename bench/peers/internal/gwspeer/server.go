// Package gwspeer is the bench peer on lxzan/gws: gws's read loop per
// connection hands text messages to routing.Router, and routed messages
// go out through a gws Broadcaster (frame encoded once, written through
// each connection's own async write queue). permessage-deflate is on, as
// the bridge's enable-compression is by default: negotiated with clients
// that offer it, without context takeover (so the Broadcaster compresses a
// message once for every receiver that negotiated it), and every message
// compressed (Threshold 1; gws's default skips messages under 512 bytes).
package gwspeer

import (
	"github.com/colibri-bus/colibri/internal/route"
	"net/http"

	"github.com/colibri-bus/colibri/bench/peers/internal/hub"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/lxzan/gws"
)

// Server is a running gws peer.
type Server struct {
	hub *hub.Hub
	srv *hub.Servers
	up  *gws.Upgrader
}

// conn is one endpoint socket.
type conn struct {
	s  *gws.Conn
	ep *route.Endpoint
}

const sessionKey = "c"

// Start listens on both addresses.
func Start(o hub.Options) (*Server, error) {
	o.Defaults()
	s := &Server{}
	s.hub = hub.New(o.ServerID, o.Advertise, sink{})
	s.up = gws.NewUpgrader(&handler{s: s}, &gws.ServerOption{
		ParallelEnabled:  false,
		ReadBufferSize:   4096,
		CheckUtf8Enabled: false,
		PermessageDeflate: gws.PermessageDeflate{
			Enabled:               true,
			Threshold:             1,
			ServerContextTakeover: false,
			ClientContextTakeover: false,
		},
	})
	srv, err := s.hub.Listen(o, s.serveWS)
	if err != nil {
		return nil, err
	}
	s.srv = srv
	return s, nil
}

// Stop closes the listeners.
func (s *Server) Stop() { s.srv.Stop() }

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	ep := s.hub.Admit(w, r)
	if ep == nil {
		return
	}
	socket, err := s.up.Upgrade(w, r)
	if err != nil {
		return
	}
	c := &conn{s: socket, ep: ep}
	socket.Session().Store(sessionKey, c)
	if !s.hub.Attach(ep, c, sink{}) {
		c.Close(wsproto.CloseGoingAway, route.ReasonEndpointClosed)
		return
	}
	go socket.ReadLoop()
}

// Close implements routing.Conn.
func (c *conn) Close(code uint16, reason string) {
	go func() { _ = c.s.WriteClose(code, []byte(reason)) }()
}

type handler struct {
	gws.BuiltinEventHandler
	s *Server
}

func connOf(socket *gws.Conn) *conn {
	v, _ := socket.Session().Load(sessionKey)
	c, _ := v.(*conn)
	return c
}

func (h *handler) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

func (h *handler) OnClose(socket *gws.Conn, _ error) {
	if c := connOf(socket); c != nil {
		c.ep.Detach(c)
	}
}

func (h *handler) OnMessage(socket *gws.Conn, m *gws.Message) {
	defer m.Close()
	if m.Opcode != gws.OpcodeText {
		return
	}
	if c := connOf(socket); c != nil {
		h.s.hub.Router.HandleEndpoint(c.ep, c, m.Bytes(), sink{})
	}
}

// sink encodes each routed message once with a gws Broadcaster.
type sink struct{}

func (sink) Deliver(f *wsproto.SharedFrame, _ route.Class, to []route.Conn) {
	b := gws.NewBroadcaster(gws.OpcodeText, append([]byte(nil), f.Payload()...))
	for _, rc := range to {
		if c, ok := rc.(*conn); ok {
			_ = b.Broadcast(c.s)
		}
	}
	_ = b.Close()
}
