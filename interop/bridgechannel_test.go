package interop

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// lib-jitsi-meet's event names (service/RTC/RTCEvents).
const (
	evOpen    = "rtc.data_channel_open"
	evMessage = "rtc.endpoint_message_received"
	evStats   = "rtc.endpoint_stats_received"
)

// bc is one BridgeChannel in the Node process.
type bc struct {
	t  *testing.T
	c  *Client
	id string
}

func openBC(t *testing.T, c *Client, conf *Conference, ep string) *bc {
	t.Helper()
	b := &bc{t: t, c: c.For(t), id: conf.Socket(ep)}
	b.c.Send(map[string]any{"op": "open", "id": b.id, "url": conf.URLs[ep]})
	b.waitOpen()
	return b
}

// waitOpen waits for lib-jitsi-meet's DATA_CHANNEL_OPEN and checks that
// the bridge's first message on the new socket is ServerHello.
func (b *bc) waitOpen() Event {
	b.t.Helper()
	// the WebSocket's own open comes first: in Node as in browsers it
	// negotiates permessage-deflate with the bridge
	if ws := b.c.Wait(b.id, func(e Event) bool { return e.Ev == "open" }, eventTimeout); !strings.Contains(ws.Extensions, "permessage-deflate") {
		b.t.Errorf("%s: BridgeChannel's WebSocket negotiated %q, want permessage-deflate", b.id, ws.Extensions)
	}
	e := b.c.Wait(b.id, func(e Event) bool { return e.Ev == "bc" && e.Name == evOpen }, eventTimeout)
	if first := b.c.WaitMessage(b.id); first.Class() != "ServerHello" {
		b.t.Fatalf("%s: first message %s, want ServerHello", b.id, first.Raw)
	}
	return e
}

// call calls a BridgeChannel method and waits for it to return.
func (b *bc) call(method string, args ...any) {
	b.t.Helper()
	if args == nil {
		args = []any{}
	}
	b.c.Send(map[string]any{"op": "call", "id": b.id, "method": method, "args": args})
	e := b.c.Wait(b.id, func(e Event) bool { return e.Ev == "call" || e.Ev == "error" }, eventTimeout)
	if e.Ev == "error" {
		b.t.Fatalf("%s.%s: %s", b.id, method, e.Error)
	}
}

// waitEvent waits for the BridgeChannel event name and returns its args.
func (b *bc) waitEvent(name string) []json.RawMessage {
	b.t.Helper()
	return b.c.Wait(b.id, func(e Event) bool { return e.Ev == "bc" && e.Name == name }, eventTimeout).Args
}

// waitEndpointMessage waits for the next rtc.endpoint_message_received and
// checks its sender and payload.
func (b *bc) waitEndpointMessage(from string, payload map[string]any) {
	b.t.Helper()
	args := b.waitEvent(evMessage)
	var gotFrom string
	var got map[string]any
	if len(args) != 2 || json.Unmarshal(args[0], &gotFrom) != nil || json.Unmarshal(args[1], &got) != nil {
		b.t.Fatalf("%s: %s args %s", b.id, evMessage, args)
	}
	if gotFrom != from || !reflect.DeepEqual(got, payload) {
		b.t.Errorf("%s: endpoint message from %q with %v, want from %q with %v", b.id, gotFrom, got, from, payload)
	}
}

// TestBridgeChannel drives lib-jitsi-meet's BridgeChannel (two of them,
// endpoints a and b) through nginx: every kind of message it sends, the
// events it raises for what it receives, and its own reconnect when nginx
// crashes and comes back while the bridge keeps the conference.
func TestBridgeChannel(t *testing.T) {
	t.Parallel()
	d := StartDeployment(t, DeploymentParams{TwoBridges: true})
	c := StartBridgeChannel(t)
	conf := d.JVB1.CreateConference("bc-meeting", "a", "b")
	checkAdvertised(t, conf, d.Nginx, "jvb1")
	a, b := openBC(t, c, conf, "a"), openBC(t, c, conf, "b")

	t.Run("messages", func(t *testing.T) {
		a, b := &bc{t, a.c.For(t), a.id}, &bc{t, b.c.For(t), b.id}
		// sendMessage: unicast
		a.call("sendMessage", "b", map[string]any{"type": "e2e-ping", "id": 1.0})
		b.waitEndpointMessage("a", map[string]any{"type": "e2e-ping", "id": 1.0})
		// sendMessage: broadcast; b answers, and a's next message is the
		// answer (its own broadcast was not echoed)
		a.call("sendMessage", "", map[string]any{"type": "everyone", "n": 2.0})
		b.waitEndpointMessage("a", map[string]any{"type": "everyone", "n": 2.0})
		b.call("sendMessage", "a", map[string]any{"type": "answer", "n": 3.0})
		a.waitEndpointMessage("b", map[string]any{"type": "answer", "n": 3.0})

		// sendEndpointStatsMessage: b raises rtc.endpoint_stats_received
		a.call("sendEndpointStatsMessage", map[string]any{
			"bitrate": map[string]any{"audio": map[string]any{"upload": 31.0}}, "connectionQuality": 87.5, "jvbRTT": 20.0,
			"maxEnabledResolution": 720.0, "packetLoss": map[string]any{"total": 0.0}, "serverRegion": "eu-1",
		})
		args := b.waitEvent(evStats)
		var from string
		var stats map[string]any
		if len(args) != 2 || json.Unmarshal(args[0], &from) != nil || json.Unmarshal(args[1], &stats) != nil {
			t.Fatalf("%s args %s", evStats, args)
		}
		if from != "a" || stats["connectionQuality"] != 87.5 || stats["serverRegion"] != "eu-1" || stats["from"] != "a" {
			t.Errorf("stats from %q: %v", from, stats)
		}

		// ReceiverVideoConstraints and LastNChangedEvent are for the bridge
		// alone: it consumes them without closing a's socket, and b's next
		// message is the one a sends after them.
		a.call("sendNewReceiverVideoConstraintsMessage", map[string]any{
			"lastN": 20.0, "onStageSources": []any{"b-v0"}, "selectedSources": []any{},
			"defaultConstraints": map[string]any{"maxHeight": 180.0},
			"constraints":        map[string]any{"b-v0": map[string]any{"maxHeight": 720.0}},
		})
		a.call("sendSetLastNMessage", 5)
		a.call("sendMessage", "b", map[string]any{"after": "constraints"})
		next := b.c.WaitMessage(b.id)
		if next.Class() != "EndpointMessage" || !strings.Contains(next.Data, `"after":"constraints"`) {
			t.Errorf("b's next message after a's constraints and lastN: %s", next.Raw)
		}
		b.waitEndpointMessage("a", map[string]any{"after": "constraints"})
		// and the bridge counted them as received from a
		got := d.JVB1.ReceivedCounts(conf.ID, "a")
		for _, class := range []string{"EndpointMessage", "EndpointStats", "ReceiverVideoConstraints", "LastNChangedEvent"} {
			if got[class] == 0 {
				t.Errorf("bridge's /debug counts for a: no %s received (%v)", class, got)
			}
		}
	})

	var relay *RelayPair
	var x1, y1 *bc
	t.Run("relay", func(t *testing.T) {
		// one BridgeChannel on each bridge, both through nginx, the
		// bridges linked by a relay through nginx too
		relay = d.LinkRelay("bc-relay", []string{"x1"}, []string{"y1"})
		x1 = openBC(t, c, relay.On1, "x1")
		y1 = openBC(t, c, relay.On2, "y1")
		x1.call("sendMessage", "", map[string]any{"across": "broadcast"})
		y1.waitEndpointMessage("x1", map[string]any{"across": "broadcast"})
		y1.call("sendMessage", "x1", map[string]any{"across": "unicast"})
		x1.waitEndpointMessage("y1", map[string]any{"across": "unicast"})
		y1.call("sendEndpointStatsMessage", map[string]any{"connectionQuality": 64.0})
		if args := x1.waitEvent(evStats); len(args) != 2 || string(args[0]) != `"y1"` {
			t.Errorf("x1: stats across the relay %s, want from y1", args)
		}
	})

	t.Run("reconnect-through-restarted-nginx", func(t *testing.T) {
		a, b := &bc{t, a.c.For(t), a.id}, &bc{t, b.c.For(t), b.id}
		mark := d.JVB1.LogMark()
		// nginx dies: both proxied connections drop without a close frame
		d.Nginx.Kill()
		closed := map[string]time.Time{}
		for _, x := range []*bc{a, b} {
			e := x.c.WaitClose(x.id)
			if e.Code != 1006 {
				t.Errorf("%s: close %s, want 1006 (abnormal)", x.id, e.Raw)
			}
			closed[x.id] = e.At
		}
		// the bridge sees both sockets end, and keeps the conference
		d.JVB1.WaitLog(mark, "websocket closed", "conf="+conf.ID, "id=a")
		d.JVB1.WaitLog(mark, "websocket closed", "conf="+conf.ID, "id=b")

		// BridgeChannel's first retry comes a second later and fails:
		// nothing listens
		retry1 := map[string]time.Time{}
		for _, x := range []*bc{a, b} {
			retry1[x.id] = x.c.Wait(x.id, func(e Event) bool { return e.Ev == "attempt" }, eventTimeout).At
			if e := x.c.WaitClose(x.id); e.Code != 1006 {
				t.Errorf("%s: failed retry closed with %s", x.id, e.Raw)
			}
		}
		d.Nginx.Restart()
		// the next retry, two seconds after the first, goes through the
		// restarted nginx to the same bridge, same URL, same conference
		for _, x := range []*bc{a, b} {
			retry2 := x.c.Wait(x.id, func(e Event) bool { return e.Ev == "attempt" }, eventTimeout)
			if retry2.URL != conf.URLs[strings.TrimPrefix(x.id, conf.Meeting+"/")] {
				t.Errorf("%s retried %s, not its URL", x.id, retry2.URL)
			}
			x.waitOpen()
			d1, d2 := retry1[x.id].Sub(closed[x.id]), retry2.At.Sub(retry1[x.id])
			t.Logf("%s: retry after %v, then after %v", x.id, d1.Round(time.Millisecond), d2.Round(time.Millisecond))
			// lower bounds only (1 s, then 2 s, with slack for the clock)
			if d1 < 900*time.Millisecond || d2 < 1800*time.Millisecond {
				t.Errorf("%s: retries after %v and %v, want BridgeChannel's backoff of 1 s then 2 s", x.id, d1, d2)
			}
		}
		d.JVB1.WaitLog(mark, "websocket connected", "conf="+conf.ID, "id=a")
		d.JVB1.WaitLog(mark, "websocket connected", "conf="+conf.ID, "id=b")

		// messages flow again, both ways
		a.call("sendMessage", "b", map[string]any{"after": "reconnect"})
		b.waitEndpointMessage("a", map[string]any{"after": "reconnect"})
		b.call("sendEndpointStatsMessage", map[string]any{"connectionQuality": 42.0})
		if args := a.waitEvent(evStats); !strings.Contains(string(args[0]), `"b"`) {
			t.Errorf("stats after reconnect from %s, want b", args[0])
		}
	})

	t.Run("relay-after-nginx-restart", func(t *testing.T) {
		// the nginx crash above also dropped the relay (jvb1 dials jvb2
		// through nginx) and x1's and y1's sockets: the bridge redials the
		// relay and BridgeChannel reconnects, and messages cross again
		if relay == nil || x1 == nil || y1 == nil {
			t.Fatal("the relay subtest did not set up the relay")
		}
		x1, y1 := &bc{t, x1.c.For(t), x1.id}, &bc{t, y1.c.For(t), y1.id}
		x1.waitOpen()
		y1.waitOpen()
		d.JVB1.WaitRelayConnected(relay.On1.ID, d.JVB2.RelayID)
		d.JVB2.WaitRelayConnected(relay.On2.ID, d.JVB1.RelayID)
		x1.call("sendMessage", "", map[string]any{"across": "again"})
		y1.waitEndpointMessage("x1", map[string]any{"across": "again"})
		y1.call("sendMessage", "x1", map[string]any{"back": "again"})
		x1.waitEndpointMessage("y1", map[string]any{"back": "again"})
	})

	t.Run("reconnect-after-replaced", func(t *testing.T) {
		// Another client takes over a's URL: the bridge closes
		// BridgeChannel's socket with 1000 "replaced". That is not a close
		// BridgeChannel asked for, so it retries a second later, and its
		// new socket in turn replaces the other client's.
		a, b := &bc{t, a.c.For(t), a.id}, &bc{t, b.c.For(t), b.id}
		other := StartNodeWS(t)
		connectHello(t, other, "usurper", conf.URLs["a"], true)
		closed := a.c.WaitClose(a.id)
		if closed.Code != 1000 || closed.Reason != "replaced" {
			t.Errorf("a: close %s, want 1000 replaced", closed.Raw)
		}
		attempt := a.c.Wait(a.id, func(e Event) bool { return e.Ev == "attempt" }, eventTimeout)
		a.waitOpen()
		delay := attempt.At.Sub(closed.At)
		t.Logf("a retried %v after being replaced", delay.Round(time.Millisecond))
		if delay < 900*time.Millisecond {
			t.Errorf("a retried after %v, want BridgeChannel's first retry at 1 s", delay)
		}
		if e := other.WaitClose("usurper"); e.Code != 1000 || e.Reason != "replaced" {
			t.Errorf("the other client: close %s, want 1000 replaced", e.Raw)
		}
		a.call("sendMessage", "b", map[string]any{"after": "replaced"})
		b.waitEndpointMessage("a", map[string]any{"after": "replaced"})
	})

	t.Run("bridge-restart", func(t *testing.T) {
		// SIGKILL jvb1 and start it again on the same ports. The new
		// process is a new bridge instance with an empty conference table:
		// BridgeChannel's retries of the old URL are refused (403), as they
		// must be, since conference ids and pwds belong to an instance. The
		// controller creates the conference again and hands out the new
		// URLs (a new Jingle session in Jitsi), and new BridgeChannels work.
		a, b := &bc{t, a.c.For(t), a.id}, &bc{t, b.c.For(t), b.id}
		d.JVB1.Kill()
		for _, x := range []*bc{a, b} {
			if e := x.c.WaitClose(x.id); e.Code != 1006 {
				t.Errorf("%s: close %s when the bridge died, want 1006", x.id, e.Raw)
			}
		}
		d.JVB1.Restart() // binds the same ports at once, live sockets or not
		mark := 0        // the new process's log starts empty
		a.c.Wait(a.id, func(e Event) bool { return e.Ev == "attempt" }, eventTimeout)
		if e := a.c.WaitClose(a.id); e.Code != 1006 {
			t.Errorf("%s: retry against the new instance: %s, want a failed handshake", a.id, e.Raw)
		}
		d.JVB1.WaitLog(mark, "websocket authentication failed", "conf="+conf.ID, "id=a")
		a.call("close")
		b.call("close")

		conf2 := d.JVB1.CreateConference("bc-meeting", "a", "b")
		if conf2.ID == conf.ID || conf2.URLs["a"] == conf.URLs["a"] {
			t.Fatalf("the new instance reused the conference id or URL: %s", conf2.URLs["a"])
		}
		sockets := *conf2
		sockets.Meeting = "bc-meeting-after-restart" // new client socket names only
		a2, b2 := openBC(t, c, &sockets, "a"), openBC(t, c, &sockets, "b")
		a2.call("sendMessage", "b", map[string]any{"after": "restart"})
		b2.waitEndpointMessage("a", map[string]any{"after": "restart"})
	})

	c.Exit()
	for _, e := range c.Events("") {
		if e.Ev == "error" {
			t.Errorf("BridgeChannel client reported: %s", e.Raw)
		}
	}
}
