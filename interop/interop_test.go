package interop

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/colibri-bus/colibri/internal/testbridge"
)

func TestMain(m *testing.M) { testbridge.Main(m) }

// connectHello connects socket id and checks what every colibri-ws client
// sees first: the socket opens and ServerHello is the first message.
func connectHello(t *testing.T, c *Client, id, u string, deflate bool) Event {
	t.Helper()
	c.Connect(id, u, deflate)
	open := c.WaitOpen(id)
	if first := c.WaitMessage(id); first.Class() != "ServerHello" {
		t.Fatalf("%s: first message on %s is %s, want ServerHello", c.name, id, first.Raw)
	}
	return open
}

// endpointMessage is an EndpointMessage as lib-jitsi-meet sends it, with a
// spoofed from that the bridge must overwrite.
func endpointMessage(to, payload string) string {
	return `{"colibriClass":"EndpointMessage","from":"spoofed","to":"` + to + `","msgPayload":` + payload + `}`
}

// checkEndpointMessage checks that e is the EndpointMessage with payload
// (byte for byte) from sender, addressed to.
func checkEndpointMessage(t *testing.T, e Event, from, to, payload string) {
	t.Helper()
	m := e.JSON()
	if m == nil || m["colibriClass"] != "EndpointMessage" {
		t.Fatalf("want an EndpointMessage, got %s", e.Raw)
	}
	if m["from"] != from {
		t.Errorf("from = %v, want %q (the bridge rewrites it): %s", m["from"], from, e.Data)
	}
	if m["to"] != to {
		t.Errorf("to = %v, want %q: %s", m["to"], to, e.Data)
	}
	if !strings.Contains(e.Data, `"msgPayload":`+payload) {
		t.Errorf("msgPayload not passed verbatim: want %s in %s", payload, e.Data)
	}
	if strings.Count(e.Data, `"from"`) != 1 {
		t.Errorf("want exactly one from field: %s", e.Data)
	}
}

// exerciseRouting runs the colibri-ws basics with three sockets a, b and c
// of one client on the advertised URLs of conf: ServerHello, unicast,
// broadcast (no echo, nobody else gets a unicast) and EndpointStats fan-out.
func exerciseRouting(t *testing.T, c *Client, conf *Conference, deflate bool) {
	t.Helper()
	for _, id := range []string{"a", "b", "c"} {
		connectHello(t, c, conf.Socket(id), conf.URLs[id], deflate)
	}
	s := conf.Socket

	// unicast a -> b
	p1 := `{"n":1,"text":"héllo ☃","nested":{"list":[1,2.5,"x"],"null":null}}`
	c.SendText(s("a"), endpointMessage("b", p1))
	checkEndpointMessage(t, c.WaitMessage(s("b"), "EndpointMessage"), "a", "b", p1)

	// broadcast a -> everyone else; c's next EndpointMessage must be the
	// broadcast (so the unicast did not reach it)
	p2 := `{"n":2}`
	c.SendText(s("a"), endpointMessage("", p2))
	checkEndpointMessage(t, c.WaitMessage(s("b"), "EndpointMessage"), "a", "", p2)
	checkEndpointMessage(t, c.WaitMessage(s("c"), "EndpointMessage"), "a", "", p2)

	// c -> a unicast: a's next EndpointMessage is it, so a's broadcast was
	// not echoed back to a
	p3 := `{"n":3}`
	c.SendText(s("c"), endpointMessage("a", p3))
	checkEndpointMessage(t, c.WaitMessage(s("a"), "EndpointMessage"), "c", "a", p3)

	// EndpointStats from b reach a and c with from = b
	stats := `{"colibriClass":"EndpointStats","bitrate":{"upload":100,"download":200},"connectionQuality":98.5,"jvbRTT":31}`
	c.SendText(s("b"), stats)
	for _, id := range []string{"a", "c"} {
		m := c.WaitMessage(s(id), "EndpointStats").JSON()
		if m["from"] != "b" || m["connectionQuality"] != 98.5 {
			t.Errorf("%s got EndpointStats %v, want from b with connectionQuality 98.5", id, m)
		}
	}
}

// largeMessage is a compressible EndpointMessage of about size bytes (under
// the bridge's 64 KiB message limit).
func largeMessage(to string, size int) (msg, payload string) {
	var b strings.Builder
	b.WriteString(`{"blob":"`)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "colibri-%d ", i%10)
	}
	b.WriteString(`"}`)
	payload = b.String()
	return endpointMessage(to, payload), payload
}

// largeRoundTrip sends a large compressible message from -> to and
// checks that it arrives intact; it returns how many bytes the receiver
// read from its socket for it (rx of the message event minus rx of the
// previous message event) and the payload's size.
func largeRoundTrip(t *testing.T, c *Client, conf *Conference, from, to string) (wire, size int) {
	t.Helper()
	// a small message first: the baseline for rx
	c.SendText(conf.Socket(from), endpointMessage(to, `{"mark":true}`))
	before := c.WaitMessage(conf.Socket(to), "EndpointMessage")
	if before.Rx <= 0 {
		t.Fatalf("client does not report rx: %s", before.Raw)
	}
	msg, payload := largeMessage(to, 32<<10)
	c.SendText(conf.Socket(from), msg)
	got := c.WaitMessage(conf.Socket(to), "EndpointMessage")
	checkEndpointMessage(t, got, from, to, payload)
	return int(got.Rx - before.Rx), len(payload)
}

// mustParse parses a URL.
func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// checkAdvertised checks that every URL of conf points at nginx (the
// bridges advertise the proxy's address, as in the seed) with the bridge's
// server-id.
func checkAdvertised(t *testing.T, conf *Conference, nginx *Nginx, serverID string) {
	t.Helper()
	for id, raw := range conf.URLs {
		u := mustParse(t, raw)
		if u.Scheme != "ws" || u.Host != nginx.Addr || !strings.HasPrefix(u.Path, "/colibri-ws/"+serverID+"/") {
			t.Errorf("endpoint %s: URL %s, want ws://%s/colibri-ws/%s/...", id, raw, nginx.Addr, serverID)
		}
	}
}

// waitAccessLog polls nginx's access log until it has n lines for path
// prefix with status, bounded (nginx writes a WebSocket's line when the
// connection ends).
func waitAccessLog(t *testing.T, n *Nginx, prefix string, status, count int) {
	t.Helper()
	got := 0
	if !testbridge.Until(eventTimeout, func() bool {
		got = 0
		for _, l := range strings.Split(n.AccessLog(), "\n") {
			if strings.Contains(l, "GET "+prefix) && strings.Contains(l, fmt.Sprintf("\" %d ", status)) {
				got++
			}
		}
		return got >= count
	}) {
		t.Fatalf("nginx access log: %d lines for %s with %d, want %d:\n%s", got, prefix, status, count, n.AccessLog())
	}
}

// exerciseRelay runs messages across a relay: endpoints r1 and r2 on jvb1,
// s1 on jvb2, all connected through nginx with one client. Broadcasts and
// unicasts cross the relay once each, with the sender's from, and nothing
// comes back to its sender.
func exerciseRelay(t *testing.T, c *Client, d *Deployment, meeting string, deflate bool) {
	t.Helper()
	p := d.LinkRelay(meeting, []string{"r1", "r2"}, []string{"s1"})
	checkAdvertised(t, p.On1, d.Nginx, "jvb1")
	checkAdvertised(t, p.On2, d.Nginx, "jvb2")
	s := p.On1.Socket // meeting/ep: one meeting, distinct endpoint ids
	for _, id := range []string{"r1", "r2"} {
		connectHello(t, c, s(id), p.On1.URLs[id], deflate)
	}
	connectHello(t, c, s("s1"), p.On2.URLs["s1"], deflate)

	// broadcast on jvb1: r2 locally, s1 across the relay
	c.SendText(s("r1"), endpointMessage("", `{"relay":1}`))
	checkEndpointMessage(t, c.WaitMessage(s("r2"), "EndpointMessage"), "r1", "", `{"relay":1}`)
	checkEndpointMessage(t, c.WaitMessage(s("s1"), "EndpointMessage"), "r1", "", `{"relay":1}`)

	// unicast jvb2 -> jvb1 and back
	c.SendText(s("s1"), endpointMessage("r2", `{"relay":2}`))
	checkEndpointMessage(t, c.WaitMessage(s("r2"), "EndpointMessage"), "s1", "r2", `{"relay":2}`)
	c.SendText(s("r2"), endpointMessage("s1", `{"relay":3}`))
	checkEndpointMessage(t, c.WaitMessage(s("s1"), "EndpointMessage"), "r2", "s1", `{"relay":3}`)

	// broadcast on jvb2: both endpoints of jvb1 get it; r1's next message
	// is it, so r1's own broadcast did not come back over the relay and
	// the unicast to r2 did not reach r1
	c.SendText(s("s1"), endpointMessage("", `{"relay":4}`))
	checkEndpointMessage(t, c.WaitMessage(s("r1"), "EndpointMessage"), "s1", "", `{"relay":4}`)
	checkEndpointMessage(t, c.WaitMessage(s("r2"), "EndpointMessage"), "s1", "", `{"relay":4}`)

	// EndpointStats cross the relay with the sender's from
	c.SendText(s("s1"), `{"colibriClass":"EndpointStats","connectionQuality":77.5}`)
	for _, id := range []string{"r1", "r2"} {
		if m := c.WaitMessage(s(id), "EndpointStats").JSON(); m["from"] != "s1" || m["connectionQuality"] != 77.5 {
			t.Errorf("%s got EndpointStats %v, want from s1", id, m)
		}
	}
}

// exerciseProtocol checks the WebSocket details a strict client notices,
// with sockets a and b: Ping answered by Pong, a message in several frames
// (compressed if deflate), junk dropped without closing the socket, a
// client-initiated close echoed, and a message over the 64 KiB limit
// closed with 1009 by the bridge.
func exerciseProtocol(t *testing.T, c *Client, bridge *Bridge, conf *Conference, deflate bool) {
	t.Helper()
	s := conf.Socket
	for _, id := range []string{"a", "b"} {
		connectHello(t, c, s(id), conf.URLs[id], deflate)
	}

	// Ping -> Pong with the same payload
	c.Send(map[string]any{"op": "ping", "id": s("a"), "data": "are you there"})
	if e := c.Wait(s("a"), func(e Event) bool { return e.Ev == "pong" || e.Ev == "error" }, eventTimeout); e.Ev != "pong" || e.Data != "are you there" {
		t.Errorf("ping: %s, want a pong with the ping's payload", e.Raw)
	}

	// one message in three frames (the first over 1 KiB, so a compressing
	// client compresses it)
	msg, payload := largeMessage("b", 3000)
	third := len([]rune(msg)) / 3
	r := []rune(msg)
	c.Send(map[string]any{"op": "send", "id": s("a"), "fragments": []string{string(r[:third]), string(r[third : 2*third]), string(r[2*third:])}})
	checkEndpointMessage(t, c.WaitMessage(s("b"), "EndpointMessage"), "a", "b", payload)

	// junk is dropped, the socket stays open and routing goes on
	for _, junk := range []string{
		`not json`,
		`{"colibriClass":"NoSuchClass","to":"b"}`,
		`{"colibriClass":"EndpointMessage","to":"b","to":"a","msgPayload":{"dup":true}}`,
		`{"to":"b","msgPayload":{"noclass":true}}`,
	} {
		c.SendText(s("a"), junk)
	}
	c.SendText(s("a"), endpointMessage("b", `{"after":"junk"}`))
	if e := c.WaitMessage(s("b")); !strings.Contains(e.Data, `{"after":"junk"}`) {
		t.Errorf("b's next message after a's junk: %s, want the valid one (junk forwarded?)", e.Raw)
	}

	// a close from the client is answered with a close frame of the same code
	c.Close(s("b"), 1000)
	if e := c.WaitClose(s("b")); e.Code != 1000 {
		t.Errorf("client-initiated close: %s, want the bridge to echo 1000", e.Raw)
	}

	// over the message limit (64 KiB, counted decompressed): the bridge
	// closes with 1009
	mark := bridge.LogMark()
	big, _ := largeMessage("b", 70<<10)
	c.SendText(s("a"), big)
	e := c.WaitClose(s("a"))
	bridge.WaitLog(mark, "websocket closed", "conf="+conf.ID, "id=a", "code=1009")
	if e.Code != 1009 {
		// The bridge lingers after a protocol-error close (it discards what
		// the peer still sends and half-closes), so the rest of the
		// oversized message cannot turn the close into a reset that nginx
		// would report to the client as 1006.
		t.Errorf("a 70 KiB message: the bridge closed with 1009, the client behind nginx saw %s", e.Raw)
	}
}

// TestOversizeMessageDirect: a client connected straight to the bridge
// gets close 1009 for a message over 64 KiB, compressed or not.
func TestOversizeMessageDirect(t *testing.T) {
	t.Parallel()
	b := StartBridge(t, BridgeParams{})
	for _, start := range []func(testing.TB) *Client{StartNodeWS, StartPython} {
		c := start(t)
		for _, deflate := range []bool{false, true} {
			conf := b.CreateConference(fmt.Sprintf("big-%s-%v", c.name, deflate), "a", "b")
			connectHello(t, c, conf.Socket("a"), conf.URLs["a"], deflate)
			big, _ := largeMessage("b", 70<<10)
			c.SendText(conf.Socket("a"), big)
			if e := c.WaitClose(conf.Socket("a")); e.Code != 1009 || e.Reason != "message too big" {
				t.Errorf("%s (deflate %v): a 70 KiB message: %s, want close 1009", c.name, deflate, e.Raw)
			}
		}
		c.Exit()
	}
}
