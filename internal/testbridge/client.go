package testbridge

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Client is a gorilla/websocket client of a bridge for tests: each call
// fails the test on an error, and each read is bounded by Wait. Its
// methods are for one goroutine at a time; Conn is there for what they do
// not cover.
type Client struct {
	// Name names the client in failures.
	Name string
	// Conn is the WebSocket connection, closed at the test's cleanup.
	Conn *websocket.Conn

	t testing.TB
}

// NewClient returns a Client on c, which it closes at cleanup.
func NewClient(t testing.TB, name string, c *websocket.Conn) *Client {
	t.Cleanup(func() { c.Close() })
	return &Client{Name: name, Conn: c, t: t}
}

// Dial connects to u and fails the test, with the HTTP status if there is
// one, if the upgrade fails.
func Dial(t testing.TB, name, u string) *Client {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", name, err, status)
	}
	return NewClient(t, name, c)
}

// DialHello is Dial that requires ServerHello as the first message.
func DialHello(t testing.TB, name, u string) *Client {
	t.Helper()
	c := Dial(t, name, u)
	if m := c.Recv(); m["colibriClass"] != "ServerHello" {
		t.Fatalf("%s: first message %v, want ServerHello", name, m)
	}
	return c
}

// DialStatus attempts an upgrade to u and returns the HTTP status: 101
// (the connection then closed at once) or the refusal's.
func DialStatus(t testing.TB, u string) int {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(u, nil)
	if err == nil {
		c.Close()
		return 101
	}
	if resp == nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	return resp.StatusCode
}

// Send writes s as a text message.
func (c *Client) Send(s string) {
	c.t.Helper()
	if err := c.Conn.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		c.t.Fatalf("%s send: %v", c.Name, err)
	}
}

// Recv reads the next message, which must be a text message holding a
// JSON object.
func (c *Client) Recv() map[string]any {
	c.t.Helper()
	raw := c.RecvRaw()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		c.t.Fatalf("%s: invalid JSON %q: %v", c.Name, raw, err)
	}
	return m
}

// RecvRaw reads the next message, which must be a text message.
func (c *Client) RecvRaw() []byte {
	c.t.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(Wait))
	typ, raw, err := c.Conn.ReadMessage()
	if err != nil {
		c.t.Fatalf("%s recv: %v", c.Name, err)
	}
	if typ != websocket.TextMessage {
		c.t.Fatalf("%s: message type %d", c.Name, typ)
	}
	return raw
}

// RecvClose reads, discarding messages, until the bridge closes the
// connection, and returns its close frame; an end without one fails the
// test.
func (c *Client) RecvClose() *websocket.CloseError {
	c.t.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(Wait))
	for {
		_, _, err := c.Conn.ReadMessage()
		if err == nil {
			continue
		}
		ce, ok := err.(*websocket.CloseError)
		if !ok {
			c.t.Fatalf("%s: connection ended without a close frame: %v", c.Name, err)
		}
		return ce
	}
}
