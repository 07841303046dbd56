package bridge_test

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/colibri2"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/gorilla/websocket"
)

// harness is a real bridge on loopback ports chosen by the kernel
// (testbridge.Start), under the names this package's tests use.
type harness struct {
	t    *testing.T
	b    *bridge.Bridge
	rest string // http://127.0.0.1:port
	ws   string // 127.0.0.1:port

	started time.Time
}

// wait bounds every blocking read in these tests; a read that needs it
// has failed.
const wait = testbridge.Wait

func startBridge(t *testing.T, mutate func(*config.Config)) *harness {
	t.Helper()
	return startBridgeWith(t, mutate, bridge.Options{})
}

// startBridgeWith is startBridge with an embedder's options (hooks, an
// Application).
func startBridgeWith(t *testing.T, mutate func(*config.Config), opts bridge.Options) *harness {
	t.Helper()
	checkLeaks(t) // first: its cleanup runs after every other
	return newHarness(t, testbridge.Start(t, mutate, testbridge.Options{Bridge: opts}))
}

// newHarness wraps tb, started by t.
func newHarness(t *testing.T, tb *testbridge.Bridge) *harness {
	return &harness{t: t, b: tb.B, rest: tb.REST, ws: tb.WS, started: time.Now()}
}

// do sends a REST request and returns the status and body.
func (h *harness) do(method, path, body string) (int, []byte) {
	h.t.Helper()
	resp, b := testbridge.Do(h.t, h.rest, method, path, body)
	return resp.StatusCode, b
}

// conference creates a conference with endpoints and returns each
// endpoint's advertised URL with the host replaced by the real listener.
func (h *harness) conference(meeting string, ids ...string) map[string]string {
	h.t.Helper()
	var eps []map[string]any
	for _, id := range ids {
		eps = append(eps, map[string]any{"id": id, "create": true})
	}
	body, _ := json.Marshal(map[string]any{"meeting-id": meeting, "name": meeting, "create": true, "endpoints": eps})
	status, resp := h.do("POST", "/colibri/v2/conferences", string(body))
	if status != 200 {
		h.t.Fatalf("create %s: %d %s", meeting, status, resp)
	}
	return h.urls(resp)
}

func (h *harness) urls(resp []byte) map[string]string {
	h.t.Helper()
	var r colibri2.ConferenceResponse
	if err := json.Unmarshal(resp, &r); err != nil {
		h.t.Fatalf("response %s: %v", resp, err)
	}
	out := r.EndpointURLs()
	if len(out) != len(r.Endpoints) {
		h.t.Fatalf("an endpoint has no web-sockets URL: %s", resp)
	}
	for id, u := range out {
		out[id] = h.local(u)
	}
	return out
}

// local points an advertised URL at the listener actually bound.
func (h *harness) local(advertised string) string {
	u, err := url.Parse(advertised)
	if err != nil {
		h.t.Fatal(err)
	}
	u.Host = h.ws
	return u.String()
}

// client is the shared WebSocket test client (testbridge.Client) under
// the names this package's tests use.
type client struct {
	*testbridge.Client
	t    *testing.T
	name string
	c    *websocket.Conn
}

// newClient wraps tc, dialled by t.
func newClient(t *testing.T, tc *testbridge.Client) *client {
	return &client{Client: tc, t: t, name: tc.Name, c: tc.Conn}
}

func (h *harness) dial(name, u string) *client {
	h.t.Helper()
	return newClient(h.t, testbridge.Dial(h.t, name, u))
}

// dialHello dials and checks that ServerHello is the first message.
func (h *harness) dialHello(name, u string) *client {
	h.t.Helper()
	return newClient(h.t, testbridge.DialHello(h.t, name, u))
}

func (c *client) send(s string) {
	c.t.Helper()
	c.Send(s)
}

// recv reads the next text message as JSON.
func (c *client) recv() map[string]any {
	c.t.Helper()
	return c.Recv()
}

func (c *client) recvRaw() []byte {
	c.t.Helper()
	return c.RecvRaw()
}

// recvClose reads until the bridge closes and returns the close frame.
func (c *client) recvClose() *websocket.CloseError {
	c.t.Helper()
	return c.RecvClose()
}

// waitFor polls cond until it holds or wait passes.
var waitFor = testbridge.WaitFor

func msg(to, payload string) string {
	return `{"colibriClass":"EndpointMessage","to":"` + to + `","msgPayload":` + payload + `}`
}

func mustJSON(v any) string {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(v)
	return strings.TrimSpace(b.String())
}
