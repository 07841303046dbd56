// Package gorillapeer is the goroutine-per-connection bench peer on
// gorilla/websocket: a read goroutine per connection that hands each text
// message to routing.Router, and a write-pump goroutine per connection
// fed by a bounded channel of gorilla PreparedMessages (each routed
// message is prepared once and shared by its receivers). permessage-deflate
// is on, as the bridge's enable-compression is by default: negotiated with
// clients that offer it, and a PreparedMessage compresses once per message
// for every receiver that negotiated it.
package gorillapeer

import (
	"github.com/colibri-bus/colibri/internal/route"
	"net/http"
	"sync"
	"time"

	"github.com/colibri-bus/colibri/bench/peers/internal/hub"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/gorilla/websocket"
)

// queueLen bounds the messages waiting for one connection's write pump;
// past it messages to that connection are dropped.
const queueLen = 1024

// Server is a running gorilla peer.
type Server struct {
	hub *hub.Hub
	srv *hub.Servers
	up  websocket.Upgrader
}

// conn is one endpoint socket.
type conn struct {
	ws   *websocket.Conn
	out  chan *websocket.PreparedMessage
	done chan struct{}
	once sync.Once
}

// Start listens on both addresses.
func Start(o hub.Options) (*Server, error) {
	o.Defaults()
	s := &Server{up: websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, EnableCompression: true,
		CheckOrigin: func(*http.Request) bool { return true }}}
	s.hub = hub.New(o.ServerID, o.Advertise, sink{})
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
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &conn{ws: ws, out: make(chan *websocket.PreparedMessage, queueLen), done: make(chan struct{})}
	go c.writePump()
	if !s.hub.Attach(ep, c, sink{}) {
		c.Close(wsproto.CloseGoingAway, route.ReasonEndpointClosed)
		return
	}
	for {
		mt, data, err := ws.ReadMessage()
		if err != nil {
			break
		}
		if mt == websocket.TextMessage {
			s.hub.Router.HandleEndpoint(ep, c, data, sink{})
		}
	}
	ep.Detach(c)
	c.Close(wsproto.CloseNormal, "")
}

// writePump writes queued messages until the connection closes.
func (c *conn) writePump() {
	for {
		select {
		case pm := <-c.out:
			if err := c.ws.WritePreparedMessage(pm); err != nil {
				c.Close(wsproto.CloseNormal, "")
				return
			}
		case <-c.done:
			return
		}
	}
}

// Close implements routing.Conn.
func (c *conn) Close(code uint16, reason string) {
	c.once.Do(func() {
		close(c.done)
		go func() {
			_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(int(code), reason),
				time.Now().Add(time.Second))
			_ = c.ws.Close()
		}()
	})
}

// sink prepares each routed message once and queues it on every receiver.
type sink struct{}

func (sink) Deliver(f *wsproto.SharedFrame, _ route.Class, to []route.Conn) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, append([]byte(nil), f.Payload()...))
	if err != nil {
		return
	}
	for _, rc := range to {
		c, ok := rc.(*conn)
		if !ok {
			continue
		}
		select {
		case c.out <- pm:
		default: // slow receiver: drop
		}
	}
}
