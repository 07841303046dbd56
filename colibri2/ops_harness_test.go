package colibri2_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/gorilla/websocket"
)

// wait bounds every blocking step of these tests; a step that needs it has
// failed.
const wait = 5 * time.Second

// opsBridge is a real bridge on loopback ports chosen by the kernel.
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
	cfg := config.Default()
	cfg.Public.Host, cfg.Public.Port = "127.0.0.1", 0
	cfg.Private.Port = 0
	if mutate != nil {
		mutate(cfg)
	}
	b := bridge.New(cfg, opts)
	if err := b.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	// Advertise the listener actually bound, as a deployment's domain does.
	cfg.WebSockets.Domains = []string{b.PublicAddr()}
	cfg.WebSockets.RelayDomains = []string{b.PublicAddr()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return &opsBridge{t: t, b: b, rest: "http://" + b.PrivateAddr(), ws: b.PublicAddr()}
}

// do sends a request to the private server and returns the response with
// its body read.
func (h *opsBridge) do(method, path, body string, header ...string) (*http.Response, string) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.rest+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{Timeout: wait, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
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

// client is a gorilla/websocket client of the bridge.
type client struct {
	t    *testing.T
	name string
	c    *websocket.Conn
}

// dial connects to u and requires ServerHello first.
func (h *opsBridge) dial(name, u string) *client {
	h.t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		h.t.Fatalf("dial %s: %v (status %d)", name, err, status)
	}
	h.t.Cleanup(func() { c.Close() })
	cl := &client{t: h.t, name: name, c: c}
	if m := cl.recv(); m["colibriClass"] != "ServerHello" {
		h.t.Fatalf("%s: first message %v, want ServerHello", name, m)
	}
	return cl
}

// dialStatus attempts an upgrade and returns the HTTP status.
func (h *opsBridge) dialStatus(u string) int {
	h.t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil {
		c.Close()
		return 101
	}
	if resp == nil {
		h.t.Fatalf("dial %s: %v", u, err)
	}
	return resp.StatusCode
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("%s send: %v", c.name, err)
	}
}

func (c *client) recv() map[string]any {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(wait))
	_, raw, err := c.c.ReadMessage()
	if err != nil {
		c.t.Fatalf("%s recv: %v", c.name, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		c.t.Fatalf("%s: invalid JSON %q: %v", c.name, raw, err)
	}
	return m
}

// recvClose reads until the bridge closes and returns the close frame.
func (c *client) recvClose() *websocket.CloseError {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(wait))
	for {
		_, _, err := c.c.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			c.t.Fatalf("%s: connection ended without a close frame: %v", c.name, err)
		}
		return ce
	}
}

// eventually polls cond until it holds or wait passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

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
