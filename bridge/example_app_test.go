package bridge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/engine"
	"github.com/colibri-bus/colibri/routing"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/gorilla/websocket"
)

// signalling is an SFU's own signalling WebSocket: JSON requests on
// /signal, each answered on the socket. Its methods run on the event
// loop: they answer at once and never block.
type signalling struct{}

func (signalling) Accept(r *engine.Request) (engine.Handler, int) {
	if r.Path() != "/signal" {
		return nil, http.StatusNotFound
	}
	return signalling{}, 0
}

func (signalling) OnOpen(*engine.Socket) {}

func (signalling) OnMessage(s *engine.Socket, op wsproto.OpCode, p []byte) {
	var req struct{ Type, SDP string }
	if op != wsproto.OpText || json.Unmarshal(p, &req) != nil || req.Type != "offer" {
		s.Close(wsproto.CloseUnsupportedData, "expected a JSON offer")
		return
	}
	answer, _ := json.Marshal(map[string]string{"type": "answer", "sdp": "answer to " + req.SDP})
	s.Send(wsproto.OpText, answer)
}

func (signalling) OnClose(*engine.Socket, uint16, string) {}

// An SFU serves its own JSON signalling WebSocket beside colibri-ws, on
// one engine: the same port, event loops, budgets and flow control.
func Example_signalling() {
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port = "127.0.0.1", 0 // any free port
	b := bridge.New(cfg, bridge.Options{NoPrivateServer: true, App: signalling{}})
	if err := b.Start(); err != nil {
		panic(err)
	}
	defer b.Stop(context.Background())

	// The browser signals on the SFU's socket...
	sig, _, err := websocket.DefaultDialer.Dial("ws://"+b.PublicAddr()+"/signal", nil)
	if err != nil {
		panic(err)
	}
	defer sig.Close()
	sig.WriteJSON(map[string]string{"type": "offer", "sdp": "v=0"})
	_, answer, _ := sig.ReadMessage()
	fmt.Println(string(answer))

	// ...and opens its bridge channel, on the same port.
	conf, _ := b.Table().CreateConference("meeting-1", "standup")
	ep, _ := conf.CreateEndpoint("79f0273d", routing.EndpointOptions{})
	u, _ := url.Parse(b.EndpointURLs(ep)[0])
	u.Host = b.PublicAddr()
	ws, _, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_, hello, _ := ws.ReadMessage()
	fmt.Println(string(hello))

	// Paths the application does not serve are refused with its status.
	_, resp, _ := websocket.DefaultDialer.Dial("ws://"+b.PublicAddr()+"/other", nil)
	fmt.Println(resp.StatusCode)
	// Output:
	// {"sdp":"answer to v=0","type":"answer"}
	// {"colibriClass":"ServerHello"}
	// 404
}
