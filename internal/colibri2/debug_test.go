package colibri2_test

import (
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/colibri2"
)

func TestDebug(t *testing.T) {
	h := startBridge(t, func(c *config.Config) {
		c.Relay.Enabled, c.Relay.RelayID = true, "jvb-test"
	}, nil)
	const remoteSecret = "RemoteSecretRemoteSecret"
	conf := h.create(map[string]any{"meeting-id": "m1", "name": "standup", "create": true,
		"endpoints": []map[string]any{{"id": "a", "create": true}, {"id": "b", "create": true}, {"id": "v", "create": true, "muc-role": "visitor"}},
		"relays": []map[string]any{
			{"id": "jvb-2", "create": true, "mesh-id": "0", "endpoints": []map[string]any{{"id": "r2"}, {"id": "r1"}}},
			// Dialled by this bridge: a closed port, so it never connects.
			{"id": "jvb-3", "create": true, "mesh-id": "1", "transport": map[string]any{"transport": map[string]any{
				"web-sockets": []string{"ws://127.0.0.1:1/colibri-relay-ws/x/c0ffee/jvb-test?pwd=" + remoteSecret}}}},
		},
	})
	secrets := []string{remoteSecret}
	tc := h.b.Table().Conference(conf.ID)
	for _, ep := range tc.Endpoints() {
		secrets = append(secrets, ep.Password())
	}
	for _, r := range tc.Relays() {
		secrets = append(secrets, r.Password())
	}
	if len(secrets) != 6 || conf.URLs["jvb-3"] != "active" || pwdOf(t, conf.URLs["jvb-2"]) != tc.Relay("jvb-2").Password() {
		t.Fatalf("URLs %v: want endpoints a, b, v, relay jvb-2 and jvb-3 active", conf.URLs)
	}
	before := time.Now()
	a := h.dial("a", conf.URLs["a"])
	b := h.dial("b", conf.URLs["b"])
	a.Send(endpointMessage("b", `{"x":1}`))
	b.Recv()
	a.Send(`{"colibriClass":"EndpointStats"}`)
	b.Recv()

	var st colibri2.DebugState
	eventually(t, "a's messages to be counted", func() bool {
		h.getJSON("/debug?full=true", &st)
		c := st.Conferences[conf.ID]
		return c != nil && c.Endpoints["a"].Transport.Received["EndpointStats"] == 1
	})
	if st.ServerID != "default-id" || st.RelayID != "jvb-test" || st.Health != "ok" || st.Drain || st.ShuttingDown {
		t.Errorf("state header: %+v", st)
	}
	c := st.Conferences[conf.ID]
	if c.MeetingID != "m1" || c.Name != "standup" || c.EndpointCount != 3 || c.ConnectedCount != 2 ||
		c.RelayCount != 2 || c.RelayedEndpointCount != 2 {
		t.Errorf("conference: %+v", c)
	}
	ea := c.Endpoints["a"]
	if !ea.Connected || ea.ConnectedSince == nil || ea.ConnectedSince.Before(before.Add(-time.Second)) || ea.Kind != "endpoint" {
		t.Errorf("a: connected %v since %v kind %q", ea.Connected, ea.ConnectedSince, ea.Kind)
	}
	if got := ea.Transport; got.Received["EndpointMessage"] != 1 || got.Sent["ServerHello"] != 1 {
		t.Errorf("a's counts: %+v", got)
	}
	if got := c.Endpoints["b"].Transport; got.Sent["EndpointMessage"] != 1 || got.Sent["EndpointStats"] != 1 {
		t.Errorf("b's counts: %+v", got)
	}
	if ra := ea.RemoteAddress; ra != "" && ra != a.Conn.LocalAddr().String() {
		t.Errorf("a's remote address %q, want the client's %s", ra, a.Conn.LocalAddr())
	}
	if v := c.Endpoints["v"]; v.Connected || v.ConnectedSince != nil || !v.Visitor {
		t.Errorf("v: %+v", v)
	}
	r2 := c.Relays["jvb-2"]
	if r2.MeshID != "0" || r2.Dials || r2.Connected || strings.Join(r2.RelayedEndpoints, ",") != "r1,r2" || r2.Kind != "relay" {
		t.Errorf("jvb-2: %+v", r2)
	}
	r3 := c.Relays["jvb-3"]
	if !r3.Dials || r3.RemoteURL != "ws://127.0.0.1:1/colibri-relay-ws/x/c0ffee/jvb-test" || r3.MeshID != "1" {
		t.Errorf("jvb-3: %+v", r3)
	}

	// Without full, no message counts.
	var brief colibri2.DebugState
	h.getJSON("/debug", &brief)
	if tr := brief.Conferences[conf.ID].Endpoints["a"].Transport; tr != nil {
		t.Errorf("GET /debug without full has message counts: %+v", tr)
	}

	// One conference, by id or by meeting-id; one endpoint; one relay.
	var one colibri2.DebugConference
	h.getJSON("/debug/"+conf.ID, &one)
	if one.ID != conf.ID || one.Endpoints["a"].Transport == nil {
		t.Errorf("GET /debug/%s: %+v", conf.ID, one)
	}
	h.getJSON("/debug/m1", &one)
	if one.ID != conf.ID {
		t.Errorf("GET /debug/m1: conference %s, want %s", one.ID, conf.ID)
	}
	var ep colibri2.DebugEndpoint
	h.getJSON("/debug/"+conf.ID+"/a", &ep)
	if ep.ID != "a" || !ep.Connected || ep.Transport.Received["EndpointMessage"] != 1 {
		t.Errorf("GET /debug/%s/a: %+v", conf.ID, ep)
	}
	var rl colibri2.DebugRelay
	h.getJSON("/debug/"+conf.ID+"/jvb-2", &rl)
	if rl.ID != "jvb-2" || rl.Kind != "relay" || rl.Transport == nil {
		t.Errorf("GET /debug/%s/jvb-2: %+v", conf.ID, rl)
	}
	for _, p := range []string{"/debug/0000000000000000", "/debug/" + conf.ID + "/nobody", "/debug/nope/a"} {
		if resp, body := h.do("GET", p, ""); resp.StatusCode != 404 || !strings.Contains(body, `"error"`) {
			t.Errorf("GET %s: %d %s, want 404 with an error", p, resp.StatusCode, body)
		}
	}

	// No secret anywhere.
	for _, p := range []string{"/debug", "/debug?full=true", "/debug/" + conf.ID, "/debug/" + conf.ID + "/a",
		"/debug/" + conf.ID + "/jvb-2", "/debug/" + conf.ID + "/jvb-3", "/colibri/stats", "/metrics"} {
		_, body := h.do("GET", p, "")
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("GET %s shows a pwd: %s", p, body)
			}
		}
	}
}
