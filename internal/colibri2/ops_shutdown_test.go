package colibri2_test

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/gorilla/websocket"
)

// TestShutdownREST drives POST /colibri/shutdown in process: the bridge
// reports it, refuses new conferences, closes Done; Stop then closes every
// WebSocket with 1001 within the shutdown timeout.
func TestShutdownREST(t *testing.T) {
	const timeout = 3 * time.Second
	h := startBridge(t, func(c *config.Config) { c.Limits.ShutdownTimeout = timeout }, nil)
	c1 := h.conference("m1", "a", "b")
	c2 := h.conference("m2", "c")
	clients := []*client{h.dial("a", c1.URLs["a"]), h.dial("b", c1.URLs["b"]), h.dial("c", c2.URLs["c"])}

	if resp, body := h.do("POST", "/colibri/shutdown", `{"graceful-shutdown": "yes"}`); resp.StatusCode != 400 {
		t.Fatalf("bad body: %d %s, want 400", resp.StatusCode, body)
	}
	select {
	case <-h.b.Done():
		t.Fatal("Done closed by a rejected request")
	default:
	}
	resp, body := h.do("POST", "/colibri/shutdown", `{"graceful-shutdown": true}`)
	if resp.StatusCode != 200 {
		t.Fatalf("shutdown: %d %s", resp.StatusCode, body)
	}
	select {
	case <-h.b.Done():
	case <-time.After(wait):
		t.Fatal("Done not closed after POST /colibri/shutdown")
	}
	if resp, body := h.do("GET", "/about/health", ""); resp.StatusCode != 503 || !strings.Contains(body, "shutting down") {
		t.Errorf("health while shutting down: %d %q", resp.StatusCode, body)
	}
	var s map[string]any
	h.getJSON("/colibri/stats", &s)
	if s["shutting_down"] != true || s["graceful_shutdown"] != true || s["drain"] != true {
		t.Errorf("stats while shutting down: shutting_down %v graceful_shutdown %v drain %v",
			s["shutting_down"], s["graceful_shutdown"], s["drain"])
	}
	if resp, _ := h.do("POST", "/colibri/v2/conferences", `{"meeting-id":"late","create":true}`); resp.StatusCode != 503 {
		t.Errorf("new conference while shutting down: %d, want 503", resp.StatusCode)
	}
	if resp, _ := h.do("POST", "/colibri/drain/disable", ""); resp.StatusCode != 409 {
		t.Errorf("drain off while shutting down: %d, want 409", resp.StatusCode)
	}
	if resp, _ := h.do("POST", "/colibri/shutdown", ``); resp.StatusCode != 200 {
		t.Errorf("a second shutdown request: %d, want 200", resp.StatusCode)
	}

	stopAndCheck(t, h, clients, timeout)
}

// stopAndCheck runs Stop while every client reads, then requires that each
// saw close 1001 and that Stop returned within timeout.
func stopAndCheck(t *testing.T, h *opsBridge, clients []*client, timeout time.Duration) {
	t.Helper()
	codes := make([]*websocket.CloseError, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Conn.SetReadDeadline(time.Now().Add(wait))
			for {
				_, _, err := c.Conn.ReadMessage()
				if err != nil {
					codes[i], _ = err.(*websocket.CloseError)
					return
				}
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if err := h.b.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
	took := time.Since(start)
	wg.Wait()
	for i, ce := range codes {
		if ce == nil || ce.Code != 1001 {
			t.Errorf("%s: close %v, want 1001", clients[i].Name, ce)
		}
	}
	if took >= timeout {
		t.Errorf("stop took %v, over the %v shutdown timeout", took, timeout)
	}
	t.Logf("stop took %v", took)
	if c, err := net.DialTimeout("tcp", h.ws, time.Second); err == nil {
		c.Close()
		t.Error("the public port still accepts connections after Stop")
	}
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(h.rest, "http://"), time.Second); err == nil {
		c.Close()
		t.Error("the private port still accepts connections after Stop")
	}
}

// TestStopClosesWith1001 is the signal path in process: Stop without a
// REST request.
func TestStopClosesWith1001(t *testing.T) {
	const timeout = 3 * time.Second
	h := startBridge(t, nil, nil)
	c1 := h.conference("m1", "a", "b")
	clients := []*client{h.dial("a", c1.URLs["a"]), h.dial("b", c1.URLs["b"])}
	stopAndCheck(t, h, clients, timeout)
	select {
	case <-h.b.Done():
	default:
		t.Error("Done still open after Stop")
	}
}
