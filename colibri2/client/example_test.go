package client_test

import (
	"context"
	"fmt"
	"time"

	"github.com/colibri-bus/colibri/colibri2/client"
	"github.com/gorilla/websocket"
)

// A controller (Jicofo's job in Jitsi) spreads one conference over three
// bridges and wires the full relay mesh; then a broadcast from one endpoint
// reaches every other endpoint once, wherever it is.
func ExamplePlaceMesh() {
	var bridges []client.Bridge
	var running []*testBridge
	for i, name := range []string{"jvb1", "jvb2", "jvb3"} {
		b, err := startTestBridge(name) // a real bridge on loopback
		if err != nil {
			panic(err)
		}
		defer b.stop()
		running = append(running, b)
		bridges = append(bridges, client.Bridge{
			Client:    client.New(b.PrivateAddr(), nil), // the private REST server
			RelayID:   name,                             // its videobridge.relay.relay-id
			Endpoints: []string{fmt.Sprintf("ep%d", i+1)},
		})
	}

	ctx := context.Background()
	p, err := client.PlaceMesh(ctx, "standup", bridges, client.MeshOptions{
		// The bridges advertise localhost:9090; dial where they listen.
		DialURL: func(dialler, dialled int, u string) string { return running[dialled].local(u) },
	})
	if err != nil {
		panic(err)
	}
	defer client.ExpireMesh(ctx, "standup", bridges)
	if err := relaysUp(running, 2, 5*time.Second); err != nil {
		panic(err)
	}

	// Each client dials the URL the controller handed it.
	var ws []*websocket.Conn
	for _, id := range []string{"ep1", "ep2", "ep3"} {
		u := running[p.BridgeOf[id]].local(p.URLs[id])
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			panic(err)
		}
		defer c.Close()
		c.ReadMessage() // ServerHello
		ws = append(ws, c)
	}
	ws[0].WriteMessage(websocket.TextMessage, []byte(`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"hi":1}}`))
	for i, c := range ws[1:] {
		_, m, _ := c.ReadMessage()
		fmt.Printf("ep%d on %s: %s\n", i+2, bridges[i+1].RelayID, m)
	}
	// Output:
	// ep2 on jvb2: {"from":"ep1","colibriClass":"EndpointMessage","to":"","msgPayload":{"hi":1}}
	// ep3 on jvb3: {"from":"ep1","colibriClass":"EndpointMessage","to":"","msgPayload":{"hi":1}}
}
