package wsproto

import (
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// echoServer runs this package's server side over conn, the way the engine
// does with gnet's buffers: accumulate the header, answer the upgrade, then
// parse frames from whatever bytes have arrived and echo every message
// (compressed when the client negotiated compression), answer pings, and
// echo the close. It returns the close code it received.
func echoServer(t *testing.T, conn net.Conn) (uint16, error) {
	// Writes go through a queue, as the engine's outbound buffer does, so
	// that a reply never blocks reading (net.Pipe does not buffer).
	queue := make(chan []byte, 64)
	written := make(chan struct{})
	go func() {
		for b := range queue {
			conn.Write(b)
		}
		conn.Close()
		close(written)
	}()
	defer func() { close(queue); <-written }()
	send := func(b []byte) { queue <- append([]byte(nil), b...) }
	buf := make([]byte, 0, 1<<20)
	read := func() error {
		if len(buf) == cap(buf) {
			t.Error("buffer full")
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		return err
	}
	var end int
	for end = HeaderEnd(buf); end == 0; end = HeaderEnd(buf) {
		if err := read(); err != nil {
			return 0, err
		}
	}
	var req Request
	if err := ParseRequest(buf[:end], &req); err != nil {
		return 0, err
	}
	if err := req.Validate(); err != nil {
		return 0, err
	}
	var dp *Deflate
	if d, ok := NegotiateDeflate(req.Extensions); ok {
		dp = &d
	}
	send(AppendUpgradeResponse(nil, req.Key, dp))
	buf = append(buf[:0], buf[end:]...)
	var r Reader
	r.Init(Server, 1<<20, dp)
	defer r.Release()
	var out []byte
	for {
		n, m, ok, err := r.Next(buf)
		if err != nil {
			send(AppendClose(nil, err.(*CloseError).Code, ""))
			return 0, err
		}
		if n == 0 {
			if err := read(); err != nil {
				return 0, err
			}
			continue
		}
		if ok {
			out = out[:0]
			switch m.Op {
			case OpText, OpBinary:
				if dp != nil {
					out, err = AppendCompressedFrame(out, m.Op, m.Payload)
					if err != nil {
						return 0, err
					}
				} else {
					out = AppendFrame(out, m.Op, true, m.Payload)
				}
			case OpPing:
				out = AppendFrame(out, OpPong, true, m.Payload)
			case OpClose:
				code := m.Code
				if code == CloseNoStatus {
					code = CloseNormal
				}
				send(AppendClose(nil, code, string(m.Payload)))
				return m.Code, nil
			}
			if len(out) > 0 {
				send(out)
			}
		}
		buf = append(buf[:0], buf[n:]...)
	}
}

// gorilla/websocket as the client, with and without permessage-deflate:
// handshake, text and binary messages of several sizes (gorilla fragments
// those above its 4 KiB write buffer), a ping, and the closing handshake.
func TestInteropGorillaClient(t *testing.T) {
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "deflate"
		}
		t.Run(name, func(t *testing.T) {
			client, server := net.Pipe()
			done := make(chan error, 1)
			var closeCode uint16
			go func() {
				var err error
				closeCode, err = echoServer(t, server)
				done <- err
			}()
			d := websocket.Dialer{
				NetDialContext:    func(context.Context, string, string) (net.Conn, error) { return client, nil },
				EnableCompression: compress,
				WriteBufferSize:   4096,
			}
			c, resp, err := d.Dial("ws://bridge.example/colibri-ws/default-id/c/e?pwd=x", nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if got := resp.Header.Get("Sec-WebSocket-Extensions") != ""; got != compress {
				t.Fatalf("extension negotiated = %v, want %v", got, compress)
			}
			c.EnableWriteCompression(compress)
			for _, n := range []int{0, 1, 125, 126, 4000, 70000} {
				for _, typ := range []int{websocket.TextMessage, websocket.BinaryMessage} {
					p := []byte(repeatTo(`{"colibriClass":"EndpointMessage","to":"","msgPayload":{"é":1}}`, n))
					if n > 0 && typ == websocket.TextMessage {
						p = bytes.ToValidUTF8(p, nil)
					}
					if err := c.WriteMessage(typ, p); err != nil {
						t.Fatal(err)
					}
					gt, got, err := c.ReadMessage()
					if err != nil || gt != typ || !bytes.Equal(got, p) {
						t.Fatalf("echo of %d bytes: type %d, %d bytes, %v", len(p), gt, len(got), err)
					}
				}
			}
			pong := make(chan string, 1)
			c.SetPongHandler(func(s string) error { pong <- s; return nil })
			// net.Pipe does not buffer: read the pong (ReadMessage runs the
			// pong handler) before writing anything else.
			if err := c.WriteControl(websocket.PingMessage, []byte("are you there"), noDeadline); err != nil {
				t.Fatal(err)
			}
			if err := c.WriteMessage(websocket.TextMessage, []byte("after ping")); err != nil {
				t.Fatal(err)
			}
			if _, got, err := c.ReadMessage(); err != nil || string(got) != "after ping" {
				t.Fatalf("echo after ping: %q %v", got, err)
			}
			if err := c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "bye")); err != nil {
				t.Fatal(err)
			}
			_, _, err = c.ReadMessage()
			if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4000 || ce.Text != "bye" {
				t.Fatalf("close echo: %v", err)
			}
			if got := <-pong; got != "are you there" {
				t.Fatalf("pong %q", got)
			}
			if err := <-done; err != nil || closeCode != 4000 {
				t.Fatalf("server: close %d, %v", closeCode, err)
			}
		})
	}
}

// A protocol violation from the client ends in the close code the Reader
// chose, which gorilla reports.
func TestInteropGorillaClientViolation(t *testing.T) {
	client, server := net.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := echoServer(t, server)
		done <- err
	}()
	d := websocket.Dialer{NetDialContext: func(context.Context, string, string) (net.Conn, error) { return client, nil }}
	c, _, err := d.Dial("ws://bridge.example/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("\xff", 3))); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != int(CloseInvalidPayload) {
		t.Fatalf("client saw %v, want close 1007", err)
	}
	var serr *CloseError
	if err := <-done; err == nil || !errors.As(err, &serr) || serr.Code != CloseInvalidPayload {
		t.Fatalf("server: %v", err)
	}
}

var noDeadline = time.Time{}
