package bridge_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/engine"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/gorilla/websocket"
)

// upperApp serves /app/...: it answers each text message in upper case.
type upperApp struct{ paths chan string }

func (a upperApp) Accept(r *engine.Request) (engine.Handler, int) {
	a.paths <- r.Path()
	if !strings.HasPrefix(r.Path(), "/app/") {
		return nil, http.StatusForbidden
	}
	return a, 0
}

func (upperApp) OnOpen(*engine.Socket) {}

func (upperApp) OnMessage(s *engine.Socket, op wsproto.OpCode, p []byte) {
	s.Send(op, []byte(strings.ToUpper(string(p))))
}

func (upperApp) OnClose(*engine.Socket, uint16, string) {}

// TestAppBesideColibri: with an Application, the Colibri paths behave as
// without one (authenticated, ServerHello first, 404 and 403 refusals that
// never reach the Application), and every other path reaches it, on the
// same port.
func TestAppBesideColibri(t *testing.T) {
	app := upperApp{paths: make(chan string, 16)}
	h := startBridgeWith(t, nil, bridge.Options{App: app})
	urls := h.conference("m1", "a", "b")
	a := h.dialHello("a", urls["a"])
	b := h.dialHello("b", urls["b"])
	a.send(msg("b", `{"n":1}`))
	if m := b.recv(); m["from"] != "a" {
		t.Fatalf("b got %v, want a's message", m)
	}

	u, _ := url.Parse(urls["a"])
	refused := map[string]int{
		"/colibri-ws/other-id/" + strings.Join(strings.Split(u.Path, "/")[3:], "/") + "?" + u.RawQuery: 404,
		"/colibri-ws":                             404,
		"/colibri-ws/default-id/x":                404,
		u.Path + "?pwd=wrong":                     403,
		"/colibri-relay-ws/default-id/x/y/?pwd=1": 403,
	}
	for path, want := range refused {
		_, resp, err := websocket.DefaultDialer.Dial("ws://"+h.ws+path, nil)
		if err == nil || resp == nil || resp.StatusCode != want {
			t.Errorf("%s: %v, want %d", path, err, want)
		}
	}
	select {
	case p := <-app.paths:
		t.Fatalf("the Application was offered the Colibri path %s", p)
	default:
	}

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+h.ws+"/app/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	if p := <-app.paths; p != "/app/x" {
		t.Fatalf("Application offered %q, want /app/x", p)
	}
	ws.SetReadDeadline(time.Now().Add(wait))
	ws.WriteMessage(websocket.TextMessage, []byte("hi"))
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "HI" {
		t.Fatalf("app socket: %q %v", p, err)
	}
	if _, resp, err := websocket.DefaultDialer.Dial("ws://"+h.ws+"/other", nil); err == nil || resp.StatusCode != 403 {
		t.Fatalf("refused by the Application: %v, want 403", err)
	}
	<-app.paths
	if s := h.b.Engine().Stats(); s.Endpoints != 2 || s.Open != 3 {
		t.Fatalf("stats %+v: want 2 endpoints of 3 open sockets", s)
	}
}
