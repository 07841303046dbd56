package bridge_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/colibri-bus/colibri/config"
)

func relayBridge(t *testing.T, relayID string) *harness {
	return startBridge(t, func(c *config.Config) {
		c.Relay.Enabled, c.Relay.RelayID = true, relayID
		c.WebSockets.ServerID = relayID
	})
}

// relayURL extracts relays[0]'s first web-sockets entry.
func relayURL(t *testing.T, resp []byte) string {
	t.Helper()
	var r struct {
		Relays []struct {
			Transport struct {
				Transport struct {
					WebSockets []string `json:"web-sockets"`
				} `json:"transport"`
			} `json:"transport"`
		} `json:"relays"`
	}
	if err := json.Unmarshal(resp, &r); err != nil || len(r.Relays) == 0 || len(r.Relays[0].Transport.Transport.WebSockets) == 0 {
		t.Fatalf("no relay URL in %s (%v)", resp, err)
	}
	return r.Relays[0].Transport.Transport.WebSockets[0]
}

// link creates meeting on every bridge with its local endpoints and a full
// mesh of relays: bridge i dials bridge j for i < j. It returns each
// endpoint's URL.
func link(t *testing.T, meeting string, bridges []*harness, ids [][]string) map[string]string {
	t.Helper()
	urls := map[string]string{}
	relayID := func(i int) string { return bridges[i].b.Config().Relay.RelayID }
	others := func(i int) []map[string]any {
		var eps []map[string]any
		for k, list := range ids {
			if k != i {
				for _, id := range list {
					eps = append(eps, map[string]any{"id": id})
				}
			}
		}
		return eps
	}
	// Create the conference everywhere, with passive relays toward lower
	// bridges so that their URLs exist before anyone dials.
	passive := map[[2]int]string{} // (dialled, dialler) -> URL on dialled
	for j := range bridges {
		var eps []map[string]any
		for _, id := range ids[j] {
			eps = append(eps, map[string]any{"id": id, "create": true})
		}
		body := map[string]any{"meeting-id": meeting, "create": true, "endpoints": eps}
		status, resp := bridges[j].do("POST", "/colibri/v2/conferences", mustJSON(body))
		if status != 200 {
			t.Fatalf("create on bridge %d: %d %s", j, status, resp)
		}
		for id, u := range bridges[j].urls(resp) {
			urls[id] = u
		}
		for i := 0; i < j; i++ {
			rel := map[string]any{"id": relayID(i), "create": true, "mesh-id": "0", "endpoints": endpointsOf(ids[i])}
			status, resp := bridges[j].do("PATCH", "/colibri/v2/conferences/"+meeting, mustJSON(map[string]any{"relays": []any{rel}}))
			if status != 200 {
				t.Fatalf("passive relay on %d: %d %s", j, status, resp)
			}
			passive[[2]int{j, i}] = bridges[j].local(relayURL(t, resp))
		}
	}
	for i := range bridges {
		for j := i + 1; j < len(bridges); j++ {
			rel := map[string]any{"id": relayID(j), "create": true, "mesh-id": "0", "endpoints": endpointsOf(ids[j]),
				"transport": map[string]any{"transport": map[string]any{"web-sockets": []string{passive[[2]int{j, i}]}}}}
			status, resp := bridges[i].do("PATCH", "/colibri/v2/conferences/"+meeting, mustJSON(map[string]any{"relays": []any{rel}}))
			if status != 200 {
				t.Fatalf("active relay on %d: %d %s", i, status, resp)
			}
			if got := relayURL(t, resp); got != "active" {
				t.Errorf("dialling side reports %q, want active", got)
			}
		}
	}
	_ = others
	for i, h := range bridges {
		want := int64(len(bridges) - 1)
		waitFor(t, fmt.Sprintf("bridge %d relays up", i), func() bool { return h.b.Engine().Stats().Relays == want })
	}
	return urls
}

func endpointsOf(ids []string) []map[string]any {
	var out []map[string]any
	for _, id := range ids {
		out = append(out, map[string]any{"id": id})
	}
	return out
}

func TestRelayTwoBridges(t *testing.T) {
	a, b := relayBridge(t, "jvb1"), relayBridge(t, "jvb2")
	urls := link(t, "m1", []*harness{a, b}, [][]string{{"a1", "a2"}, {"b1"}})
	a1, a2 := a.dialHello("a1", urls["a1"]), a.dialHello("a2", urls["a2"])
	b1 := b.dialHello("b1", urls["b1"])

	// Broadcast crosses the relay once, with the sender's from.
	a1.send(msg("", `{"n":1}`))
	if m := b1.recv(); m["from"] != "a1" {
		t.Errorf("b1 got %v", m)
	}
	if m := a2.recv(); m["from"] != "a1" {
		t.Errorf("a2 got %v", m)
	}
	// Unicast to a remote endpoint goes through the relay only.
	b1.send(msg("a2", `{"n":2}`))
	if m := a2.recv(); m["from"] != "b1" || m["msgPayload"].(map[string]any)["n"] != 2.0 {
		t.Errorf("a2 got %v", m)
	}
	// Nothing was delivered twice: the next messages are fresh markers.
	b1.send(msg("", `{"n":3}`))
	for _, cl := range []*client{a1, a2} {
		if m := cl.recv(); m["msgPayload"].(map[string]any)["n"] != 3.0 {
			t.Errorf("%s got %v, want the n=3 broadcast", cl.name, m)
		}
	}
	a2.send(msg("b1", `{"n":4}`))
	if m := b1.recv(); m["msgPayload"].(map[string]any)["n"] != 4.0 {
		t.Errorf("b1 got %v, want n=4 (a duplicate of n=1?)", m)
	}
	// Exactly once, to quiescence: a mixed series of broadcasts and
	// unicasts in both directions, then marker rounds; every client has
	// read each message meant for it once, and nothing else (a late copy of
	// n=1..4 or of the series would show up here).
	clients := []*client{a1, a2, b1}
	names, byName := clientNames(clients)
	series := mixedSeries(names, 10)
	sendSeries(byName, series)
	compareDeliveries(t, drainRounds(t, clients, 2), expectDeliveries(names, series))
	// Expiring the relay closes it with 1001 relay_closed and the dialler
	// does not come back.
	status, resp := b.do("PATCH", "/colibri/v2/conferences/m1", `{"relays":[{"id":"jvb1","expire":true}]}`)
	if status != 200 {
		t.Fatalf("expire relay: %d %s", status, resp)
	}
	waitFor(t, "relays down", func() bool {
		return a.b.Engine().Stats().Relays == 0 && b.b.Engine().Stats().Relays == 0
	})
}

func TestRelayFullMeshOfThree(t *testing.T) {
	hs := []*harness{relayBridge(t, "jvb1"), relayBridge(t, "jvb2"), relayBridge(t, "jvb3")}
	ids := [][]string{{"x1", "x2"}, {"y1"}, {"z1"}}
	urls := link(t, "mesh", hs, ids)
	var clients []*client
	for i, list := range ids {
		for _, id := range list {
			clients = append(clients, hs[i].dialHello(id, urls[id]))
		}
	}
	sender := clients[0]
	sender.send(msg("", `{"n":1}`))
	for _, cl := range clients[1:] {
		if m := cl.recv(); m["from"] != "x1" || m["msgPayload"].(map[string]any)["n"] != 1.0 {
			t.Errorf("%s got %v", cl.name, m)
		}
	}
	// Exactly once: a second broadcast is the next thing everyone reads.
	sender.send(msg("", `{"n":2}`))
	for _, cl := range clients[1:] {
		if m := cl.recv(); m["msgPayload"].(map[string]any)["n"] != 2.0 {
			t.Errorf("%s got %v, want n=2 (n=1 delivered twice?)", cl.name, m)
		}
	}
	// Exactly once, to quiescence: every endpoint broadcasts and unicasts
	// to every other, then three marker rounds (one per bridge: a copy
	// looping through the third bridge is read too); each client read each
	// message meant for it once and nothing else.
	names, byName := clientNames(clients)
	series := mixedSeries(names, 5)
	sendSeries(byName, series)
	compareDeliveries(t, drainRounds(t, clients, len(hs)), expectDeliveries(names, series))
}
