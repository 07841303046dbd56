package route

import (
	"encoding/json"
	"github.com/colibri-bus/colibri/routing"
	"sync"
	"testing"

	"github.com/colibri-bus/colibri/wsproto"
)

// testConn records what a recordingSink delivers to it.
type testConn struct {
	name   string
	mu     sync.Mutex
	got    []string
	closed uint16
	reason string
}

func (c *testConn) Close(code uint16, reason string) {
	c.mu.Lock()
	c.closed, c.reason = code, reason
	c.mu.Unlock()
}

func (c *testConn) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.got
	c.got = nil
	return g
}

// recordingSink decodes each delivered frame's payload into its receivers.
type recordingSink struct{}

func (recordingSink) Deliver(f *wsproto.SharedFrame, _ Class, to []Conn) {
	p := string(f.Payload())
	for _, c := range to {
		tc := c.(*testConn)
		tc.mu.Lock()
		tc.got = append(tc.got, p)
		tc.mu.Unlock()
	}
}

type fixture struct {
	t     *testing.T
	table *Table
	conf  *Conference
	r     *Router
	eps   map[string]*Endpoint
	conns map[string]*testConn
}

func newFixture(t *testing.T, ids ...string) *fixture {
	fx := &fixture{t: t, table: NewTable(TableLimits{}), eps: map[string]*Endpoint{}, conns: map[string]*testConn{}}
	fx.r = NewRouter(routing.Hooks{}, recordingSink{}, nil)
	c, err := fx.table.CreateConference("m1", "room")
	if err != nil {
		t.Fatal(err)
	}
	fx.conf = c
	for _, id := range ids {
		fx.add(id)
	}
	return fx
}

func (fx *fixture) add(id string) {
	ep, err := fx.conf.CreateEndpoint(id, routing.EndpointOptions{})
	if err != nil {
		fx.t.Fatal(err)
	}
	tc := &testConn{name: id}
	if _, _, err := ep.Attach(tc); err != nil {
		fx.t.Fatal(err)
	}
	fx.eps[id], fx.conns[id] = ep, tc
}

func (fx *fixture) send(id, msg string) {
	fx.r.HandleEndpoint(fx.eps[id], fx.conns[id], []byte(msg), nil)
}

func field(t *testing.T, msg, key string) any {
	var m map[string]any
	if err := json.Unmarshal([]byte(msg), &m); err != nil {
		t.Fatalf("delivered invalid JSON %q: %v", msg, err)
	}
	return m[key]
}

func TestBroadcastRewritesFromAndSkipsSender(t *testing.T) {
	fx := newFixture(t, "a", "b", "c")
	fx.send("a", `{"colibriClass":"EndpointMessage","to":"","from":"spoofed","msgPayload":{"x":1},"extra":[1,2]}`)
	if got := fx.conns["a"].take(); len(got) != 0 {
		t.Fatalf("sender got its own broadcast: %q", got)
	}
	for _, id := range []string{"b", "c"} {
		got := fx.conns[id].take()
		if len(got) != 1 {
			t.Fatalf("%s got %d messages, want 1", id, len(got))
		}
		if field(t, got[0], "from") != "a" {
			t.Errorf("%s: from = %v, want a", id, field(t, got[0], "from"))
		}
		want := `{"from":"a","colibriClass":"EndpointMessage","to":"","msgPayload":{"x":1},"extra":[1,2]}`
		if got[0] != want {
			t.Errorf("%s got %s, want %s", id, got[0], want)
		}
	}
}

func TestUnicastAndUnknownTarget(t *testing.T) {
	fx := newFixture(t, "a", "b", "c")
	fx.send("a", `{"colibriClass":"EndpointMessage","to":"c","msgPayload":{}}`)
	if n := len(fx.conns["b"].take()); n != 0 {
		t.Errorf("b got %d messages of a unicast to c", n)
	}
	if got := fx.conns["c"].take(); len(got) != 1 || field(t, got[0], "from") != "a" {
		t.Errorf("c got %q", got)
	}
	fx.send("a", `{"colibriClass":"EndpointMessage","to":"a","msgPayload":{}}`)
	if got := fx.conns["a"].take(); len(got) != 1 {
		t.Errorf("unicast to self: got %q", got)
	}
	before := fx.r.Stats().Dropped(DropUnknownTarget)
	fx.send("a", `{"colibriClass":"EndpointMessage","to":"nobody","msgPayload":{}}`)
	if fx.r.Stats().Dropped(DropUnknownTarget) != before+1 {
		t.Error("unknown target not counted")
	}
}

func TestDropsAreCounted(t *testing.T) {
	fx := newFixture(t, "a", "b")
	cases := []struct {
		msg    string
		reason DropReason
	}{
		{`not json`, DropInvalidJSON},
		{`{"colibriClass":"Nope"}`, DropUnknownClass},
		{`{"msgPayload":{}}`, DropUnknownClass},
		{`{"colibriClass":"EndpointMessage","to":"","to":"b"}`, DropDuplicateKey},
		{`{"colibriClass":"EndpointMessage","msgPayload":{}}`, DropInvalidFields},
		{`{"colibriClass":"ServerHello"}`, DropUnexpectedClass},
		{`{"colibriClass":"LastNChangedEvent","lastN":5,"bogus":1}`, DropInvalidFields},
		{`{"colibriClass":"ReceiverVideoConstraints","defaultConstraints":{"maxHeight":-7}}`, DropInvalidFields},
	}
	for _, c := range cases {
		before := fx.r.Stats().Dropped(c.reason)
		fx.send("a", c.msg)
		if fx.r.Stats().Dropped(c.reason) != before+1 {
			t.Errorf("%s: %s not counted", c.msg, c.reason)
		}
	}
	if got := fx.conns["b"].take(); len(got) != 0 {
		t.Errorf("b received dropped messages: %q", got)
	}
	// The socket stays usable: the next message is routed.
	fx.send("a", `{"colibriClass":"EndpointMessage","to":"b","msgPayload":{}}`)
	if got := fx.conns["b"].take(); len(got) != 1 {
		t.Errorf("message after drops: b got %q", got)
	}
}

func TestClientHelloAndHooks(t *testing.T) {
	fx := newFixture(t, "a")
	var lastN int
	var rvc *routing.ReceiverVideoConstraints
	fx.r.hooks.LastN = func(_ routing.Endpoint, m *routing.LastNChangedEvent) { lastN = m.LastN }
	fx.r.hooks.ReceiverVideoConstraints = func(_ routing.Endpoint, m *routing.ReceiverVideoConstraints) { rvc = m }
	fx.send("a", `{"colibriClass":"ClientHello"}`)
	if got := fx.conns["a"].take(); len(got) != 1 || got[0] != `{"colibriClass":"ServerHello"}` {
		t.Errorf("ClientHello answered with %q", got)
	}
	fx.send("a", `{"colibriClass":"LastNChangedEvent","lastN":7}`)
	if lastN != 7 {
		t.Errorf("LastN hook got %d", lastN)
	}
	fx.send("a", `{"colibriClass":"ReceiverVideoConstraints","lastN":3,"defaultConstraints":{"maxHeight":180},"constraints":{"a-v0":{"maxHeight":720}},"onStageSources":["a-v0"],"assumedBandwidthBps":-1}`)
	if rvc == nil || rvc.DefaultConstraints.MaxHeight != 180 || rvc.Constraints["a-v0"].MaxHeight != 720 {
		t.Errorf("ReceiverVideoConstraints hook got %+v", rvc)
	}
}

func TestStatsFilterHookAndVisitors(t *testing.T) {
	fx := newFixture(t, "a", "b", "c")
	fx.r.hooks.WantsStats = func(rcv routing.Endpoint, sender string) bool { return rcv.ID() != "c" }
	fx.send("a", `{"colibriClass":"EndpointStats","bitrate":{"upload":1}}`)
	if len(fx.conns["b"].take()) != 1 || len(fx.conns["c"].take()) != 0 {
		t.Error("WantsStats hook not applied")
	}
	v, _ := fx.conf.CreateEndpoint("v", routing.EndpointOptions{Visitor: true})
	vc := &testConn{}
	v.Attach(vc)
	fx.r.HandleEndpoint(v, vc, []byte(`{"colibriClass":"EndpointMessage","to":""}`), nil)
	if len(fx.conns["a"].take()) != 0 {
		t.Error("visitor broadcast delivered")
	}
}

func TestReplacedSocketAndExpiry(t *testing.T) {
	fx := newFixture(t, "a", "b")
	old := fx.conns["a"]
	nc := &testConn{}
	prev, _, err := fx.eps["a"].Attach(nc)
	if err != nil || prev != old {
		t.Fatalf("Attach returned %v, %v", prev, err)
	}
	fx.r.HandleEndpoint(fx.eps["a"], old, []byte(`{"colibriClass":"EndpointMessage","to":""}`), nil)
	if len(fx.conns["b"].take()) != 0 {
		t.Error("text from a replaced socket was routed")
	}
	if fx.eps["a"].Detach(old) {
		t.Error("Detach of a replaced socket succeeded")
	}
	if !fx.conf.ExpireEndpoint("b") {
		t.Fatal("ExpireEndpoint(b) = false")
	}
	if c := fx.conns["b"]; c.closed != 1001 || c.reason != "endpoint closed" {
		t.Errorf("expired endpoint closed with %d %q", c.closed, c.reason)
	}
	if _, _, err := fx.eps["b"].Attach(&testConn{}); err != routing.ErrExpired {
		t.Errorf("Attach after expiry: %v", err)
	}
	fx.table.ExpireConference(fx.conf)
	if nc.closed != 1001 {
		t.Errorf("conference expiry closed a with %d", nc.closed)
	}
	if fx.table.Conference(fx.conf.ID()) != nil || fx.table.Len() != 0 {
		t.Error("conference still in the table")
	}
}

func TestRelayRouting(t *testing.T) {
	fx := newFixture(t, "a", "b")
	r1, _ := fx.conf.CreateRelay("jvb2", "0")
	r2, _ := fx.conf.CreateRelay("jvb3", "0")
	r3, _ := fx.conf.CreateRelay("jvb4", "1")
	c1, c2, c3 := &testConn{}, &testConn{}, &testConn{}
	r1.Attach(c1)
	r2.Attach(c2)
	r3.Attach(c3)
	if err := fx.conf.SetRelayEndpoints("jvb2", []string{"x"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := fx.conf.SetRelayEndpoints("jvb3", []string{"x"}, nil); err == nil {
		t.Error("an endpoint behind two relays was accepted")
	}
	// A local broadcast reaches every relay.
	fx.send("a", `{"colibriClass":"EndpointMessage","to":""}`)
	if len(c1.take()) != 1 || len(c2.take()) != 1 || len(c3.take()) != 1 {
		t.Error("local broadcast did not reach every relay once")
	}
	fx.conns["b"].take()
	// A unicast to a relayed endpoint goes through its relay only.
	fx.send("a", `{"colibriClass":"EndpointMessage","to":"x"}`)
	if len(c1.take()) != 1 || len(c2.take()) != 0 {
		t.Error("unicast to relayed endpoint misrouted")
	}
	// From a relay: from is trusted; broadcast to locals and other meshes only.
	fx.r.HandleRelay(r1, c1, []byte(`{"colibriClass":"EndpointMessage","to":"","from":"x"}`), nil)
	if got := fx.conns["a"].take(); len(got) != 1 || field(t, got[0], "from") != "x" {
		t.Errorf("relayed broadcast at a: %q", got)
	}
	if len(c2.take()) != 0 || len(c3.take()) != 1 || len(c1.take()) != 0 {
		t.Error("relayed broadcast: wrong relays")
	}
	fx.conns["b"].take()
	// A relayed unicast only reaches a local endpoint.
	fx.r.HandleRelay(r1, c1, []byte(`{"colibriClass":"EndpointMessage","to":"b","from":"x"}`), nil)
	if len(fx.conns["b"].take()) != 1 || len(fx.conns["a"].take()) != 0 {
		t.Error("relayed unicast misrouted")
	}
	// EndpointStats over a relay need a known from.
	before := fx.r.Stats().Dropped(DropUnknownTarget)
	fx.r.HandleRelay(r1, c1, []byte(`{"colibriClass":"EndpointStats","from":"ghost"}`), nil)
	if fx.r.Stats().Dropped(DropUnknownTarget) != before+1 {
		t.Error("stats from unknown endpoint not dropped")
	}
	// SourceVideoTypeMessage from a local endpoint goes to relays only.
	fx.send("a", `{"colibriClass":"SourceVideoTypeMessage","sourceName":"a-v0","videoType":"DESKTOP"}`)
	if len(fx.conns["b"].take()) != 0 {
		t.Error("SourceVideoTypeMessage reached an endpoint")
	}
	got := c1.take()
	if len(got) != 1 || field(t, got[0], "endpointId") != "a" || field(t, got[0], "videoType") != "desktop" {
		t.Errorf("SourceVideoTypeMessage at relay: %q", got)
	}
	fx.conf.ExpireRelay("jvb2")
	if c1.closed != 1001 || c1.reason != "relay_closed" {
		t.Errorf("relay expiry closed with %d %q", c1.closed, c1.reason)
	}
	if fx.conf.RelayOf("x") != nil {
		t.Error("relayed endpoint survived its relay")
	}
}

func TestPasswords(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		p := NewPassword()
		if len(p) != 24 {
			t.Fatalf("len(%q) = %d", p, len(p))
		}
		for _, c := range p {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				t.Fatalf("password %q has %q", p, c)
			}
		}
		if seen[p] {
			t.Fatal("repeated password")
		}
		seen[p] = true
	}
	fx := newFixture(t, "a")
	ep := fx.eps["a"]
	if !ep.CheckPassword(ep.Password()) || ep.CheckPassword("x") || ep.CheckPassword("") {
		t.Error("CheckPassword")
	}
}
