package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/colibri2"
	"github.com/colibri-bus/colibri/config"
	"github.com/gorilla/websocket"
)

// harness is a real bridge on loopback ports chosen by the kernel.
type harness struct {
	t    *testing.T
	b    *bridge.Bridge
	rest string // http://127.0.0.1:port
	ws   string // 127.0.0.1:port

	started time.Time
}

// wait bounds every blocking read in these tests; a read that needs it
// has failed.
const wait = 5 * time.Second

func startBridge(t *testing.T, mutate func(*config.Config)) *harness {
	t.Helper()
	return startBridgeWith(t, mutate, bridge.Options{})
}

// startBridgeWith is startBridge with options (an Application).
func startBridgeWith(t *testing.T, mutate func(*config.Config), opts bridge.Options) *harness {
	t.Helper()
	checkLeaks(t) // first: its cleanup runs after every other
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
	h := &harness{t: t, b: b, rest: "http://" + b.PrivateAddr(), ws: b.PublicAddr(), started: time.Now()}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		defer func() { t.Logf("stop took %v", time.Since(start)) }()
		if err := b.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return h
}

// do sends a REST request and returns the status and body.
func (h *harness) do(method, path, body string) (int, []byte) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.rest+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
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

// client is a gorilla/websocket client of the bridge.
type client struct {
	t    *testing.T
	name string
	c    *websocket.Conn
}

func (h *harness) dial(name, u string) *client {
	h.t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		h.t.Fatalf("dial %s: %v (status %d)", name, err, status)
	}
	cl := &client{t: h.t, name: name, c: c}
	h.t.Cleanup(func() { c.Close() })
	return cl
}

// dialHello dials and checks that ServerHello is the first message.
func (h *harness) dialHello(name, u string) *client {
	h.t.Helper()
	cl := h.dial(name, u)
	if m := cl.recv(); m["colibriClass"] != "ServerHello" {
		h.t.Fatalf("%s: first message %v, want ServerHello", name, m)
	}
	return cl
}

func (c *client) send(s string) {
	c.t.Helper()
	if err := c.c.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("%s send: %v", c.name, err)
	}
}

// recv reads the next text message as JSON.
func (c *client) recv() map[string]any {
	c.t.Helper()
	raw := c.recvRaw()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		c.t.Fatalf("%s: invalid JSON %q: %v", c.name, raw, err)
	}
	return m
}

func (c *client) recvRaw() []byte {
	c.t.Helper()
	c.c.SetReadDeadline(time.Now().Add(wait))
	typ, raw, err := c.c.ReadMessage()
	if err != nil {
		c.t.Fatalf("%s recv: %v", c.name, err)
	}
	if typ != websocket.TextMessage {
		c.t.Fatalf("%s: message type %d", c.name, typ)
	}
	return raw
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

func msg(to, payload string) string {
	return `{"colibriClass":"EndpointMessage","to":"` + to + `","msgPayload":` + payload + `}`
}

func mustJSON(v any) string {
	var b bytes.Buffer
	json.NewEncoder(&b).Encode(v)
	return strings.TrimSpace(b.String())
}
