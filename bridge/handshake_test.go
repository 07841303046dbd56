package bridge_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// rawRequest writes req on a new TCP connection and returns the response.
func (h *harness) rawRequest(req string) (*http.Response, string) {
	h.t.Helper()
	c, err := net.Dial("tcp", h.ws)
	if err != nil {
		h.t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, req); err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		h.t.Fatalf("reading response to %q: %v", strings.SplitN(req, "\r\n", 2)[0], err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(body)
}

func upgrade(path string, extra ...string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + strings.Join(extra, "") + "\r\n"
}

func TestHandshakeOutcomes(t *testing.T) {
	h := startBridge(t, nil)
	u, _ := url.Parse(h.conference("m1", "ep1")["ep1"])
	good := u.Path + "?" + u.RawQuery
	confID := strings.Split(u.Path, "/")[3]
	pwd := u.Query().Get("pwd")

	cases := []struct {
		name   string
		req    string
		status int
	}{
		{"ok", upgrade(good), 101},
		{"pwd not first", upgrade(u.Path + "?x=1&pwd=" + pwd), 101},
		{"bad prefix", upgrade("/colibri-wss/default-id/" + confID + "/ep1?pwd=" + pwd), 404},
		{"bare prefix", upgrade("/colibri-ws"), 404},
		{"too few segments", upgrade("/colibri-ws/default-id/" + confID + "?pwd=" + pwd), 404},
		{"server-id mismatch", upgrade("/colibri-ws/jvb2/" + confID + "/ep1?pwd=" + pwd), 404},
		{"unknown conference", upgrade("/colibri-ws/default-id/0000000000000000/ep1?pwd=" + pwd), 403},
		{"unknown endpoint", upgrade("/colibri-ws/default-id/" + confID + "/nobody?pwd=" + pwd), 403},
		{"wrong pwd", upgrade(u.Path + "?pwd=" + strings.Repeat("x", 24)), 403},
		{"missing pwd", upgrade(u.Path), 403},
		{"unknown relay", upgrade("/colibri-relay-ws/default-id/" + confID + "/jvb9?pwd=" + pwd), 403},
		{"plain GET", "GET " + good + " HTTP/1.1\r\nHost: localhost\r\n\r\n", 405},
		{"plain GET elsewhere", "GET /index.html HTTP/1.1\r\nHost: localhost\r\n\r\n", 404},
		{"bad key", strings.Replace(upgrade(good), "dGhlIHNhbXBsZSBub25jZQ==", "short", 1), 400},
		{"bad version", strings.Replace(upgrade(good), "Version: 13", "Version: 8", 1), 426},
		{"POST upgrade", strings.Replace(upgrade(good), "GET", "POST", 1), 400},
		{"header too large", upgrade(good, "X-Pad: "+strings.Repeat("a", 9000)+"\r\n"), 431},
	}
	bodies403 := map[string]bool{}
	for _, c := range cases {
		resp, body := h.rawRequest(c.req)
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (body %q)", c.name, resp.StatusCode, c.status, body)
		}
		if c.status == 403 {
			bodies403[body] = true
		}
		if c.status == 426 && resp.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Errorf("426 without Sec-WebSocket-Version: 13")
		}
		if c.status == 101 && resp.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
			t.Errorf("101 with accept %q", resp.Header.Get("Sec-WebSocket-Accept"))
		}
	}
	if len(bodies403) != 1 {
		t.Errorf("403 bodies differ: %v", bodies403)
	}
}

// A client may send its first frame in the same packet as the upgrade.
func TestPipelinedFirstFrame(t *testing.T) {
	h := startBridge(t, nil)
	urls := h.conference("m1", "a", "b")
	b := h.dialHello("b", urls["b"])
	u, _ := url.Parse(urls["a"])
	c, err := net.Dial("tcp", h.ws)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	frame := maskedText(`{"colibriClass":"EndpointMessage","to":"b","msgPayload":{"p":1}}`)
	io.WriteString(c, upgrade(u.Path+"?"+u.RawQuery)+string(frame))
	if m := b.recv(); m["from"] != "a" {
		t.Fatalf("b got %v", m)
	}
}

// maskedText encodes a single masked text frame (payload < 126 bytes).
func maskedText(s string) []byte {
	mask := [4]byte{1, 2, 3, 4}
	out := []byte{0x81, 0x80 | byte(len(s)), mask[0], mask[1], mask[2], mask[3]}
	for i := 0; i < len(s); i++ {
		out = append(out, s[i]^mask[i%4])
	}
	return out
}
