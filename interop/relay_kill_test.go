package interop

import (
	"net/http"
	"testing"
)

// TestRelaySurvivesKill9 is the seed's two-bridge deployment behind nginx
// with one meeting across both bridges, and one bridge killed with SIGKILL:
//
//  1. The dialling bridge (jvb1) is killed. jvb2 keeps serving its local
//     endpoints. jvb1 is restarted and its conference re-created, with the
//     relay URL jvb2 still advertises; the link comes back with nothing on
//     jvb2's side to do, and traffic flows with no duplicate.
//  2. The dialled bridge (jvb2) is killed. jvb1 keeps serving its local
//     endpoints while its dialler backs off. jvb2 is restarted and its
//     conference re-created: a new bridge instance has a new conference id
//     and secret, so the controller gives jvb1's relay the new URL (a PATCH
//     with the relay's transport), and the link comes back.
func TestRelaySurvivesKill9(t *testing.T) {
	t.Parallel()
	d := StartDeployment(t, DeploymentParams{TwoBridges: true})
	c := StartNodeWS(t)
	p := d.LinkRelay("kill9", []string{"a1", "a2"}, []string{"b1", "b2"})
	for _, id := range []string{"a1", "a2"} {
		connectHello(t, c, p.On1.Socket(id), p.On1.URLs[id], false)
	}
	for _, id := range []string{"b1", "b2"} {
		connectHello(t, c, p.On2.Socket(id), p.On2.URLs[id], false)
	}
	c.SendText(p.On1.Socket("a1"), endpointMessage("", `{"n":1}`))
	for _, s := range []string{p.On1.Socket("a2"), p.On2.Socket("b1"), p.On2.Socket("b2")} {
		checkEndpointMessage(t, c.WaitMessage(s, "EndpointMessage"), "a1", "", `{"n":1}`)
	}

	// 1. kill -9 the dialling bridge.
	d.JVB1.Kill()
	for _, id := range []string{"a1", "a2"} {
		c.WaitClose(p.On1.Socket(id))
	}
	c.SendText(p.On2.Socket("b1"), endpointMessage("b2", `{"n":2}`))
	checkEndpointMessage(t, c.WaitMessage(p.On2.Socket("b2"), "EndpointMessage"), "b1", "b2", `{"n":2}`)

	d.JVB1.Restart()
	relayTo2 := map[string]any{"id": d.JVB2.RelayID, "create": true, "mesh-id": "0",
		"endpoints": []map[string]any{{"id": "b1"}, {"id": "b2"}},
		"transport": map[string]any{"transport": map[string]any{"web-sockets": []string{p.URL}}}}
	on1, ws := d.JVB1.createWithRelay("kill9", []string{"a1", "a2"}, relayTo2)
	if len(ws) != 1 || ws[0] != "active" {
		t.Fatalf("re-created jvb1 relay: web-sockets %v, want [active]", ws)
	}
	d.JVB2.WaitRelayConnected(p.On2.ID, d.JVB1.RelayID) // jvb2 did nothing for this
	for _, id := range []string{"a1", "a2"} {
		connectHello(t, c, on1.Socket(id)+"#2", on1.URLs[id], false)
	}
	c.SendText(p.On2.Socket("b2"), endpointMessage("", `{"n":3}`))
	for _, s := range []string{on1.Socket("a1") + "#2", on1.Socket("a2") + "#2", p.On2.Socket("b1")} {
		checkEndpointMessage(t, c.WaitMessage(s, "EndpointMessage"), "b2", "", `{"n":3}`)
	}
	// Nothing twice: the next message each receiver reads is a new one.
	c.SendText(on1.Socket("a1")+"#2", endpointMessage("", `{"n":4}`))
	for _, s := range []string{on1.Socket("a2") + "#2", p.On2.Socket("b1"), p.On2.Socket("b2")} {
		checkEndpointMessage(t, c.WaitMessage(s, "EndpointMessage"), "a1", "", `{"n":4}`)
	}
	// Exactly once after the restart, to quiescence: a series in both
	// directions across the re-established link, then marker rounds; each
	// socket read each message meant for it once and nothing else (a late
	// copy of n=1..4 included).
	members := []member{{"a1", on1.Socket("a1") + "#2"}, {"a2", on1.Socket("a2") + "#2"},
		{"b1", p.On2.Socket("b1")}, {"b2", p.On2.Socket("b2")}}
	checkExactlyOnce(t, c, members, exactlyOnceSeries(members, 3), 2)

	// 2. kill -9 the dialled bridge.
	d.JVB2.Kill()
	for _, id := range []string{"b1", "b2"} {
		c.WaitClose(p.On2.Socket(id))
	}
	c.SendText(on1.Socket("a1")+"#2", endpointMessage("a2", `{"n":5}`))
	checkEndpointMessage(t, c.WaitMessage(on1.Socket("a2")+"#2", "EndpointMessage"), "a1", "a2", `{"n":5}`)

	d.JVB2.Restart()
	relayTo1 := map[string]any{"id": d.JVB1.RelayID, "create": true, "mesh-id": "0",
		"endpoints": []map[string]any{{"id": "a1"}, {"id": "a2"}}}
	on2, ws2 := d.JVB2.createWithRelay("kill9", []string{"b1", "b2"}, relayTo1)
	if len(ws2) != 1 || ws2[0] == "active" {
		t.Fatalf("re-created jvb2 relay: web-sockets %v, want its own URL", ws2)
	}
	status, raw := d.JVB1.Do("PATCH", "/colibri/v2/conferences/kill9", map[string]any{"relays": []any{
		map[string]any{"id": d.JVB2.RelayID,
			"transport": map[string]any{"transport": map[string]any{"web-sockets": ws2}}}}})
	if status != http.StatusOK {
		t.Fatalf("PATCH jvb1's relay with the new URL: %d %s", status, raw)
	}
	d.JVB1.WaitRelayConnected(on1.ID, d.JVB2.RelayID)
	d.JVB2.WaitRelayConnected(on2.ID, d.JVB1.RelayID)
	for _, id := range []string{"b1", "b2"} {
		connectHello(t, c, on2.Socket(id)+"#2", on2.URLs[id], false)
	}
	c.SendText(on2.Socket("b1")+"#2", endpointMessage("a2", `{"n":6}`))
	checkEndpointMessage(t, c.WaitMessage(on1.Socket("a2")+"#2", "EndpointMessage"), "b1", "a2", `{"n":6}`)
	c.SendText(on1.Socket("a1")+"#2", endpointMessage("", `{"n":7}`))
	for _, s := range []string{on1.Socket("a2") + "#2", on2.Socket("b1") + "#2", on2.Socket("b2") + "#2"} {
		checkEndpointMessage(t, c.WaitMessage(s, "EndpointMessage"), "a1", "", `{"n":7}`)
	}
	// And after the dialled bridge's restart.
	members = []member{{"a1", on1.Socket("a1") + "#2"}, {"a2", on1.Socket("a2") + "#2"},
		{"b1", on2.Socket("b1") + "#2"}, {"b2", on2.Socket("b2") + "#2"}}
	checkExactlyOnce(t, c, members, exactlyOnceSeries(members, 3), 2)
	c.Exit()
}
