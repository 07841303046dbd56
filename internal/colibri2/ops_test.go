package colibri2_test

import (
	"net/http"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/routing"
)

func TestHealth(t *testing.T) {
	h := startBridge(t, nil, nil)
	resp, body := h.do("GET", "/about/health", "")
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("healthy: %d %q %q, want 200, empty body, application/json", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}

	h.do("POST", "/colibri/drain/enable", "")
	resp, body = h.do("GET", "/about/health", "")
	if resp.StatusCode != 503 || !strings.Contains(body, "draining") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("draining: %d %q %q, want 503 text naming the drain", resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
	h.do("POST", "/colibri/drain/disable", "")
	if resp, _ := h.do("GET", "/about/health", ""); resp.StatusCode != 200 {
		t.Fatalf("after drain off: %d, want 200", resp.StatusCode)
	}
}

// TestHealthStalledLoop blocks an event loop (a hook runs on it) and
// requires health to name the stall, then to recover.
func TestHealthStalledLoop(t *testing.T) {
	block := make(chan struct{})
	entered := make(chan struct{}, 1)
	hooks := routing.Hooks{LastN: func(routing.Endpoint, *routing.LastNChangedEvent) {
		entered <- struct{}{}
		<-block
	}}
	h := startBridgeWith(t, func(c *config.Config) {
		// A 10 ms tick, so the stall threshold is its floor, 2 s; pings
		// every 40 ms show that the loop has swept at least once.
		c.WebSockets.KeepalivePingInterval = 40 * time.Millisecond
	}, bridge.Options{Hooks: hooks})
	defer close(block)
	conf := h.conference("m1", "blocker")
	c := h.dial("blocker", conf.URLs["blocker"])
	pinged := make(chan struct{}, 1)
	c.Conn.SetPingHandler(func(string) error {
		select {
		case pinged <- struct{}{}:
		default:
		}
		return nil
	})
	go func() {
		for {
			if _, _, err := c.Conn.ReadMessage(); err != nil {
				return
			}
		}
	}()
	select {
	case <-pinged: // the loop's heartbeat is set: a stall from now on shows
	case <-time.After(wait):
		t.Fatal("no ping")
	}
	c.Send(`{"colibriClass":"LastNChangedEvent","lastN":3}`)
	select {
	case <-entered:
	case <-time.After(wait):
		t.Fatal("the hook never ran")
	}
	var body string
	eventually(t, "health to report the stalled loop", func() bool {
		var resp *http.Response
		resp, body = h.do("GET", "/about/health", "")
		return resp.StatusCode == 503
	})
	if !strings.Contains(body, "event loop has not run") {
		t.Errorf("health: %q, want the stalled loop named", body)
	}
	block <- struct{}{}
	eventually(t, "health to recover", func() bool {
		resp, _ := h.do("GET", "/about/health", "")
		return resp.StatusCode == 200
	})
}

func TestVersion(t *testing.T) {
	h := startBridge(t, nil, nil)
	var v map[string]string
	h.getJSON("/about/version", &v)
	if v["name"] != "colibri-bus" || v["version"] == "" || v["os"] != runtime.GOOS || len(v) != 3 {
		t.Fatalf("version = %v, want name colibri-bus, a version, os %s", v, runtime.GOOS)
	}
}

// jitsiStatsKeys are the /colibri/stats keys Jitsi serves that this bus
// serves too (reference section 7).
var jitsiStatsKeys = []string{
	"conferences", "endpoints", "local_endpoints", "octo_endpoints", "total_relays", "participants",
	"largest_conference", "total_colibri_web_socket_messages_received", "total_colibri_web_socket_messages_sent",
	"drain", "graceful_shutdown", "shutting_down", "healthy", "current_timestamp", "version",
}

func TestStats(t *testing.T) {
	h := startBridge(t, func(c *config.Config) {
		c.Relay.Enabled, c.Relay.RelayID = true, "jvb-test"
	}, nil)
	conf := h.create(map[string]any{"meeting-id": "m1", "create": true,
		"endpoints": []map[string]any{{"id": "a", "create": true}, {"id": "b", "create": true}},
		"relays":    []map[string]any{{"id": "jvb-2", "create": true, "mesh-id": "0", "endpoints": []map[string]any{{"id": "r1"}}}},
	})
	h.conference("m2", "c")
	a := h.dial("a", conf.URLs["a"])
	b := h.dial("b", conf.URLs["b"])
	a.Send(endpointMessage("b", `{"n":1}`))
	b.Recv()
	a.Send(`not json`)
	if got := h.dialStatus(strings.Replace(conf.URLs["a"], "pwd=", "pwd=x", 1)); got != 403 {
		t.Fatalf("wrong pwd: %d, want 403", got)
	}

	var s map[string]any
	eventually(t, "the invalid message to be counted", func() bool {
		h.getJSON("/colibri/stats", &s)
		return s["dropped_invalid_json"] == 1.0
	})
	for _, k := range jitsiStatsKeys {
		if _, ok := s[k]; !ok {
			t.Errorf("stats lack Jitsi's key %q", k)
		}
	}
	want := map[string]any{
		"conferences": 2.0, "endpoints": 4.0, "local_endpoints": 3.0, "octo_endpoints": 1.0, "participants": 4.0,
		"total_relays": 1.0, "largest_conference": 3.0, "relay_id": "jvb-test",
		"drain": false, "graceful_shutdown": false, "shutting_down": false, "healthy": true,
		"endpoints_connected": 2.0, "connections_open": 2.0, "relays_connected": 0.0,
		"handshake_rejected_403": 1.0, "dropped_messages": 1.0,
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("stats[%q] = %v, want %v", k, s[k], v)
		}
	}
	// a sent 2 messages; b got ServerHello and a's message, a its ServerHello.
	if s["total_colibri_web_socket_messages_received"].(float64) < 2 || s["total_colibri_web_socket_messages_sent"].(float64) < 3 {
		t.Errorf("message totals received %v, sent %v; want at least 2 and 3",
			s["total_colibri_web_socket_messages_received"], s["total_colibri_web_socket_messages_sent"])
	}
	if ts, _ := s["current_timestamp"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$`).MatchString(ts) {
		t.Errorf("current_timestamp %q, want yyyy-MM-dd HH:mm:ss.SSS", ts)
	}
	for _, k := range []string{"connections_handshaking", "outbound_queued_bytes", "pings_sent", "idle_closed",
		"slow_closed", "tls_handshake_failures", "colibri_web_socket_close_normal", "colibri_web_socket_close_abnormal", "dropped_slow_receiver",
		"handshake_rejected_404"} {
		if _, ok := s[k].(float64); !ok {
			t.Errorf("stats[%q] = %v, want a number", k, s[k])
		}
	}
}

func TestStatsWithoutRelays(t *testing.T) {
	h := startBridge(t, nil, nil)
	var s map[string]any
	h.getJSON("/colibri/stats", &s)
	if _, ok := s["relay_id"]; ok {
		t.Errorf("relay_id present with relays disabled: %v", s["relay_id"])
	}
}

func TestDrain(t *testing.T) {
	h := startBridge(t, nil, nil)
	h.conference("before", "a")
	var d map[string]bool
	h.getJSON("/colibri/drain", &d)
	if d["drain"] {
		t.Fatal("draining at start")
	}
	if resp, body := h.do("POST", "/colibri/drain/enable", ""); resp.StatusCode != 200 || !strings.Contains(body, `"drain":true`) {
		t.Fatalf("enable: %d %s", resp.StatusCode, body)
	}
	h.getJSON("/colibri/drain", &d)
	if !d["drain"] {
		t.Fatal("GET /colibri/drain after enable: false")
	}
	resp, body := h.do("POST", "/colibri/v2/conferences", `{"meeting-id":"after","create":true}`)
	if resp.StatusCode != 503 {
		t.Fatalf("new conference while draining: %d %s, want 503", resp.StatusCode, body)
	}
	// Existing conferences go on.
	resp, body = h.do("PATCH", "/colibri/v2/conferences/before", `{"endpoints":[{"id":"b","create":true}]}`)
	if resp.StatusCode != 200 {
		t.Fatalf("new endpoint in an existing conference while draining: %d %s, want 200", resp.StatusCode, body)
	}
	var s map[string]any
	h.getJSON("/colibri/stats", &s)
	if s["drain"] != true || s["healthy"] != false {
		t.Errorf("stats while draining: drain %v healthy %v", s["drain"], s["healthy"])
	}
	h.do("POST", "/colibri/drain/disable", "")
	h.getJSON("/colibri/drain", &d)
	if d["drain"] {
		t.Fatal("still draining after disable")
	}
	h.conference("after", "a")
}

func TestDashboardServed(t *testing.T) {
	h := startBridge(t, nil, nil)
	for _, p := range []string{"/", "/dashboard"} {
		resp, _ := h.do("GET", p, "")
		if resp.StatusCode != 302 || resp.Header.Get("Location") != "/dashboard/" {
			t.Errorf("GET %s: %d to %q, want 302 to /dashboard/", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp, body := h.do("GET", "/dashboard/", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `<script src="app.js"`) ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /dashboard/: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' ws: wss:") {
		t.Errorf("CSP %q does not allow the try-it WebSockets", csp)
	}
	for file, ct := range map[string]string{"app.js": "text/javascript", "style.css": "text/css"} {
		resp, _ := h.do("GET", "/dashboard/"+file, "")
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) {
			t.Errorf("GET /dashboard/%s: %d %q, want 200 %s", file, resp.StatusCode, resp.Header.Get("Content-Type"), ct)
		}
	}
	if resp, _ := h.do("GET", "/dashboard/nothing.js", ""); resp.StatusCode != 404 {
		t.Errorf("GET /dashboard/nothing.js: %d, want 404", resp.StatusCode)
	}
}

func TestOpsMethods(t *testing.T) {
	h := startBridge(t, nil, nil)
	for _, c := range []struct{ method, path string }{
		{"POST", "/about/health"}, {"GET", "/colibri/drain/enable"}, {"GET", "/colibri/shutdown"}, {"DELETE", "/debug"},
	} {
		if resp, _ := h.do(c.method, c.path, ""); resp.StatusCode != 405 {
			t.Errorf("%s %s: %d, want 405", c.method, c.path, resp.StatusCode)
		}
	}
}
