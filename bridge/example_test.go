package bridge_test

import (
	"context"
	"fmt"
	"net/url"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/routing"
	"github.com/gorilla/websocket"
)

// An SFU embeds the bus: it creates a conference and an endpoint, learns
// what the client asks for through hooks, and tells the conference who the
// dominant speaker is.
func Example() {
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port = "127.0.0.1", 0 // any free port
	lastN := make(chan int, 1)
	b := bridge.New(cfg, bridge.Options{
		NoPrivateServer: true, // the SFU drives the table directly
		Hooks: routing.Hooks{
			// Hooks run on the event loop: hand the value over, never block.
			LastN: func(ep routing.Endpoint, m *routing.LastNChangedEvent) { lastN <- m.LastN },
		},
	})
	if err := b.Start(); err != nil {
		panic(err)
	}
	defer b.Stop(context.Background())

	conf, _ := b.Table().CreateConference("meeting-1", "standup")
	ep, _ := conf.CreateEndpoint("79f0273d", routing.EndpointOptions{})

	// The SFU signals this URL to the client (in Jingle); here we dial it.
	u, _ := url.Parse(b.EndpointURLs(ep)[0])
	u.Host = b.PublicAddr()
	ws, _, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		panic(err)
	}
	defer ws.Close()
	_, hello, _ := ws.ReadMessage()
	fmt.Println(string(hello))

	ws.WriteMessage(websocket.TextMessage, []byte(`{"colibriClass":"LastNChangedEvent","lastN":5}`))
	fmt.Println("client wants lastN =", <-lastN)

	n, _ := b.Router().SendToConference(conf,
		[]byte(`{"colibriClass":"DominantSpeakerEndpointChangeEvent","dominantSpeakerEndpoint":"79f0273d","previousSpeakers":[],"silence":false}`),
		nil, true)
	_, event, _ := ws.ReadMessage()
	fmt.Println(n, string(event))
	// Output:
	// {"colibriClass":"ServerHello"}
	// client wants lastN = 5
	// 1 {"colibriClass":"DominantSpeakerEndpointChangeEvent","dominantSpeakerEndpoint":"79f0273d","previousSpeakers":[],"silence":false}
}
