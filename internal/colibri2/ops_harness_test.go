package colibri2_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"testing"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// wait bounds every blocking step of these tests; a step that needs it has
// failed.
const wait = testbridge.Wait

// opsBridge is a real bridge on loopback ports chosen by the kernel,
// advertising the listener it bound (testbridge.Start).
type opsBridge struct {
	t    *testing.T
	b    *bridge.Bridge
	rest string // http://127.0.0.1:port
	ws   string // 127.0.0.1:port
}

func startBridge(t *testing.T, mutate func(*config.Config), log *slog.Logger) *opsBridge {
	t.Helper()
	return startBridgeWith(t, mutate, bridge.Options{Logger: log})
}

// startBridgeWith is startBridge with bridge options (hooks).
func startBridgeWith(t *testing.T, mutate func(*config.Config), opts bridge.Options) *opsBridge {
	t.Helper()
	tb := testbridge.Start(t, mutate, testbridge.Options{Bridge: opts, Advertise: true})
	return &opsBridge{t: t, b: tb.B, rest: tb.REST, ws: tb.WS}
}

// do sends a request to the private server and returns the response with
// its body read.
func (h *opsBridge) do(method, path, body string, header ...string) (*http.Response, string) {
	h.t.Helper()
	resp, b := testbridge.Do(h.t, h.rest, method, path, body, header...)
	return resp, string(b)
}

// getJSON GETs path, requires 200 and decodes the body into v.
func (h *opsBridge) getJSON(path string, v any) string {
	h.t.Helper()
	resp, body := h.do("GET", path, "")
	if resp.StatusCode != 200 {
		h.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		h.t.Errorf("GET %s: Content-Type %q, want application/json", path, ct)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		h.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
	return body
}

// created is what POST /colibri/v2/conferences returned.
type created struct {
	ID   string            // the bridge's conference id
	URLs map[string]string // endpoint or relay id -> first web-sockets URL
}

// create posts a conference request and requires 200.
func (h *opsBridge) create(req map[string]any) created {
	h.t.Helper()
	body, _ := json.Marshal(req)
	resp, out := h.do("POST", "/colibri/v2/conferences", string(body))
	if resp.StatusCode != 200 {
		h.t.Fatalf("create: %d %s", resp.StatusCode, out)
	}
	return parseCreated(h.t, out)
}

func parseCreated(t *testing.T, out string) created {
	t.Helper()
	type object struct {
		ID        string `json:"id"`
		Transport struct {
			Transport struct {
				WebSockets []string `json:"web-sockets"`
			} `json:"transport"`
		} `json:"transport"`
	}
	var r struct {
		ID        string   `json:"id"`
		Endpoints []object `json:"endpoints"`
		Relays    []object `json:"relays"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("response %s: %v", out, err)
	}
	c := created{ID: r.ID, URLs: map[string]string{}}
	for _, o := range append(r.Endpoints, r.Relays...) {
		if ws := o.Transport.Transport.WebSockets; len(ws) > 0 {
			c.URLs[o.ID] = ws[0]
		}
	}
	return c
}

// conference creates meeting with local endpoints ids.
func (h *opsBridge) conference(meeting string, ids ...string) created {
	h.t.Helper()
	var eps []map[string]any
	for _, id := range ids {
		eps = append(eps, map[string]any{"id": id, "create": true})
	}
	return h.create(map[string]any{"meeting-id": meeting, "name": meeting, "create": true, "endpoints": eps})
}

// client is the shared WebSocket test client.
type client = testbridge.Client

// dial connects to u and requires ServerHello first.
func (h *opsBridge) dial(name, u string) *client {
	h.t.Helper()
	return testbridge.DialHello(h.t, name, u)
}

// dialStatus attempts an upgrade and returns the HTTP status.
func (h *opsBridge) dialStatus(u string) int {
	h.t.Helper()
	return testbridge.DialStatus(h.t, u)
}

// eventually polls cond until it holds or wait passes.
var eventually = testbridge.WaitFor

// pwdOf returns the pwd of a WebSocket URL.
func pwdOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("pwd")
}

func endpointMessage(to, payload string) string {
	return `{"colibriClass":"EndpointMessage","to":"` + to + `","msgPayload":` + payload + `}`
}
