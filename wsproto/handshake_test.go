package wsproto

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

const chromeRequest = "GET /colibri-ws/default-id/8f2e1c/ep1?pwd=abcDEF123 HTTP/1.1\r\n" +
	"Host: localhost:9090\r\n" +
	"Connection: Upgrade\r\n" +
	"Pragma: no-cache\r\n" +
	"Cache-Control: no-cache\r\n" +
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0.0.0 Safari/537.36\r\n" +
	"Upgrade: websocket\r\n" +
	"Origin: https://meet.example.com\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"Accept-Encoding: gzip, deflate, br\r\n" +
	"Accept-Language: en-US,en;q=0.9\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
	"\r\n"

func TestHeaderEnd(t *testing.T) {
	req := []byte(chromeRequest + "\x81\x85")
	if got := HeaderEnd(req); got != len(chromeRequest) {
		t.Fatalf("HeaderEnd = %d, want %d", got, len(chromeRequest))
	}
	for i := 0; i < len(chromeRequest); i++ {
		if got := HeaderEnd([]byte(chromeRequest[:i])); got != 0 {
			t.Fatalf("HeaderEnd of a %d-byte prefix = %d, want 0", i, got)
		}
	}
}

func TestParseRequestBrowser(t *testing.T) {
	var r Request
	if err := ParseRequest([]byte(chromeRequest), &r); err != nil {
		t.Fatal(err)
	}
	want := Request{
		Method: "GET", Path: "/colibri-ws/default-id/8f2e1c/ep1", RawQuery: "pwd=abcDEF123", Proto: "HTTP/1.1",
		Host: "localhost:9090", Upgrade: true, ConnectionUpgrade: true, Version: "13",
		Key: "dGhlIHNhbXBsZSBub25jZQ==", Extensions: "permessage-deflate; client_max_window_bits",
		Origin:    "https://meet.example.com",
		hostCount: 1, keyCount: 1, versionCount: 1,
	}
	if r != want {
		t.Fatalf("parsed\n%+v\nwant\n%+v", r, want)
	}
	if !r.IsUpgradeAttempt() {
		t.Fatal("browser request is not an upgrade attempt")
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Firefox sends "Connection: keep-alive, Upgrade"; header names arrive in
// any case; repeated extension and X-Forwarded-For headers are joined.
func TestParseRequestVariants(t *testing.T) {
	req := "GET / HTTP/1.1\r\n" +
		"host: h\r\n" +
		"connection: keep-alive, Upgrade\r\n" +
		"UPGRADE: WebSocket\r\n" +
		"sec-websocket-version:13\r\n" +
		"sec-websocket-key: \t dGhlIHNhbXBsZSBub25jZQ==  \r\n" +
		"Sec-WebSocket-Extensions: x-foo\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate\r\n" +
		"X-Forwarded-For: 10.0.0.1\r\n" +
		"X-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n" +
		"\r\n"
	var r Request
	if err := ParseRequest([]byte(req), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	if r.Extensions != "x-foo, permessage-deflate" || r.XForwardedFor != "10.0.0.1, 10.0.0.2, 10.0.0.3" || r.Key != "dGhlIHNhbXBsZSBub25jZQ==" {
		t.Fatalf("parsed %+v", r)
	}
	if _, ok := NegotiateDeflate(r.Extensions); !ok {
		t.Fatal("deflate offer after another extension not found")
	}
}

func TestParseRequestMalformed(t *testing.T) {
	tests := []struct {
		name, req string
	}{
		{"no request line CRLF", "GET / HTTP/1.1\n\r\n"},
		{"one-word request line", "GET\r\n\r\n"},
		{"two-word request line", "GET /\r\n\r\n"},
		{"bad version", "GET / HTTP/1.1x\r\n\r\n"},
		{"lower-case version", "GET / http/1.1\r\n\r\n"},
		{"space in target", "GET /a b HTTP/1.1\r\n\r\n"},
		{"empty method", " / HTTP/1.1\r\n\r\n"},
		{"header without colon", "GET / HTTP/1.1\r\nHost\r\n\r\n"},
		{"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n"},
		{"obsolete folding", "GET / HTTP/1.1\r\nHost: h\r\n x\r\n\r\n"},
		{"bare LF in headers", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"},
		{"control character in value", "GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n"},
		{"no final blank line", "GET / HTTP/1.1\r\nHost: h\r\n"},
	}
	for _, tc := range tests {
		var r Request
		err := ParseRequest([]byte(tc.req), &r)
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != 400 {
			t.Errorf("%s: err = %v, want *HTTPError 400", tc.name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	base := map[string]string{
		"Host":                  "h",
		"Upgrade":               "websocket",
		"Connection":            "Upgrade",
		"Sec-WebSocket-Version": "13",
		"Sec-WebSocket-Key":     "dGhlIHNhbXBsZSBub25jZQ==",
	}
	build := func(line string, edit func(h map[string]string), extra string) string {
		h := map[string]string{}
		for k, v := range base {
			h[k] = v
		}
		if edit != nil {
			edit(h)
		}
		var b strings.Builder
		b.WriteString(line + "\r\n")
		for _, k := range []string{"Host", "Upgrade", "Connection", "Sec-WebSocket-Version", "Sec-WebSocket-Key"} {
			if v, ok := h[k]; ok {
				b.WriteString(k + ": " + v + "\r\n")
			}
		}
		b.WriteString(extra + "\r\n")
		return b.String()
	}
	del := func(k string) func(map[string]string) { return func(h map[string]string) { delete(h, k) } }
	set := func(k, v string) func(map[string]string) { return func(h map[string]string) { h[k] = v } }
	tests := []struct {
		name    string
		req     string
		upgrade bool
		status  int
	}{
		{"valid", build("GET / HTTP/1.1", nil, ""), true, 0},
		{"HTTP/2.0 line", build("GET / HTTP/2.0", nil, ""), true, 0},
		{"POST", build("POST / HTTP/1.1", nil, ""), true, 400},
		{"HTTP/1.0", build("GET / HTTP/1.0", nil, ""), true, 400},
		{"no Host", build("GET / HTTP/1.1", del("Host"), ""), true, 400},
		{"two Hosts", build("GET / HTTP/1.1", nil, "Host: other\r\n"), true, 400},
		{"no Upgrade", build("GET / HTTP/1.1", del("Upgrade"), ""), true, 400},
		{"Upgrade: h2c", build("GET / HTTP/1.1", set("Upgrade", "h2c"), ""), true, 400},
		{"no Connection", build("GET / HTTP/1.1", del("Connection"), ""), true, 400},
		{"Connection: close", build("GET / HTTP/1.1", set("Connection", "close"), ""), true, 400},
		{"no key", build("GET / HTTP/1.1", del("Sec-WebSocket-Key"), ""), true, 400},
		{"short key", build("GET / HTTP/1.1", set("Sec-WebSocket-Key", "dGhlIHNhbXBsZQ=="), ""), true, 400},
		{"key not base64", build("GET / HTTP/1.1", set("Sec-WebSocket-Key", "!!!!!!!!!!!!!!!!!!!!!!=="), ""), true, 400},
		{"two keys", build("GET / HTTP/1.1", nil, "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n"), true, 400},
		{"version 8", build("GET / HTTP/1.1", set("Sec-WebSocket-Version", "8"), ""), true, 426},
		{"no version", build("GET / HTTP/1.1", del("Sec-WebSocket-Version"), ""), true, 426},
		{"key only", build("GET / HTTP/1.1", del("Upgrade"), ""), true, 400},
		{"plain GET", "GET /about/health HTTP/1.1\r\nHost: h\r\n\r\n", false, 400},
	}
	for _, tc := range tests {
		var r Request
		if err := ParseRequest([]byte(tc.req), &r); err != nil {
			t.Fatalf("%s: ParseRequest: %v", tc.name, err)
		}
		if r.IsUpgradeAttempt() != tc.upgrade {
			t.Errorf("%s: IsUpgradeAttempt = %v, want %v", tc.name, r.IsUpgradeAttempt(), tc.upgrade)
		}
		err := r.Validate()
		if tc.status == 0 {
			if err != nil {
				t.Errorf("%s: Validate = %v, want nil", tc.name, err)
			}
			continue
		}
		var he *HTTPError
		if !errors.As(err, &he) || he.Status != tc.status {
			t.Errorf("%s: Validate = %v, want status %d", tc.name, err, tc.status)
			continue
		}
		if tc.status == 426 && he.Header != "Sec-WebSocket-Version: 13\r\n" {
			t.Errorf("%s: 426 header %q", tc.name, he.Header)
		}
	}
}

// The 101 response must be accepted by an independent client: net/http's
// response reader and gobwas/ws's accept check (by way of its dialer's
// exported pieces: the accept value of RFC 6455's example).
func TestAppendUpgradeResponse(t *testing.T) {
	d := Deflate{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 15}
	resp := AppendUpgradeResponse(nil, "dGhlIHNhbXBsZSBub25jZQ==", &d)
	hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if hr.StatusCode != 101 || hr.Header.Get("Sec-WebSocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" ||
		!strings.EqualFold(hr.Header.Get("Upgrade"), "websocket") || !strings.EqualFold(hr.Header.Get("Connection"), "upgrade") {
		t.Fatalf("response %q", resp)
	}
	if got := hr.Header.Get("Sec-WebSocket-Extensions"); got != "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15" {
		t.Fatalf("extensions %q", got)
	}
	if plain := AppendUpgradeResponse(nil, "dGhlIHNhbXBsZSBub25jZQ==", nil); bytes.Contains(plain, []byte("Extensions")) {
		t.Fatal("extension header without deflate")
	}
}

func TestAppendHTTPResponse(t *testing.T) {
	for _, status := range []int{400, 403, 404, 405, 426, 431, 503} {
		resp := AppendHTTPResponse(nil, status, "Sec-WebSocket-Version: 13\r\n", "nope\n")
		hr, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(resp)), nil)
		if err != nil {
			t.Fatalf("%d: %v", status, err)
		}
		body, _ := io.ReadAll(hr.Body)
		if hr.StatusCode != status || hr.Status != itoa(status)+" "+http.StatusText(status) || string(body) != "nope\n" ||
			hr.Header.Get("Content-Type") != "text/plain; charset=utf-8" || !hr.Close ||
			hr.Header.Get("Sec-WebSocket-Version") != "13" {
			t.Fatalf("%d: %q", status, resp)
		}
	}
	resp := AppendHeaderTooLarge(nil)
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 431 Request Header Fields Too Large\r\n")) {
		t.Fatalf("431: %q", resp)
	}
}

// The request AppendClientRequest builds must be accepted by gobwas/ws's
// server-side upgrader, and ParseResponse must accept gobwas's answer.
func TestClientHandshakeAgainstGobwas(t *testing.T) {
	key := NewKey()
	req := AppendClientRequest(nil, "example.org:9090", "/colibri-relay-ws/s/c/r?pwd=x", key, false)
	var out bytes.Buffer
	rw := struct {
		io.Reader
		io.Writer
	}{bytes.NewReader(req), &out}
	if _, err := ws.Upgrade(rw); err != nil {
		t.Fatalf("gobwas rejects our request: %v", err)
	}
	resp := append(out.Bytes(), 0x81, 0x02, 'h', 'i')
	n, d, err := ParseResponse(resp, key, false)
	if err != nil || d != nil || n != out.Len() {
		t.Fatalf("ParseResponse of gobwas's answer: n=%d d=%v err=%v", n, d, err)
	}
	var r Reader
	r.Init(Client, 0, nil)
	if _, m, ok, err := r.Next(resp[n:]); err != nil || !ok || string(m.Payload) != "hi" {
		t.Fatalf("frame after the handshake: %v", err)
	}
}

func TestParseResponse(t *testing.T) {
	key := "dGhlIHNhbXBsZSBub25jZQ=="
	ok101 := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	tests := []struct {
		name    string
		resp    string
		offered bool
		deflate bool
		err     error
		status  int
	}{
		{name: "plain", resp: ok101 + "\r\n"},
		{name: "deflate", resp: ok101 + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n\r\n", offered: true, deflate: true},
		{name: "deflate, server window", resp: ok101 + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n\r\n", offered: true, deflate: true},
		{name: "offered, declined", resp: ok101 + "\r\n", offered: true},
		{name: "not offered", resp: ok101 + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n", err: ErrUnexpectedExt},
		{name: "unknown extension", resp: ok101 + "Sec-WebSocket-Extensions: x-foo\r\n\r\n", offered: true, err: ErrUnexpectedExt},
		{name: "context takeover kept", resp: ok101 + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n", offered: true, err: ErrBadDeflateResponse},
		{name: "client window not offered", resp: ok101 + "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=9\r\n\r\n", offered: true, err: ErrBadDeflateResponse},
		{name: "bad accept", resp: strings.Replace(ok101, "s3pP", "AAAA", 1) + "\r\n", err: ErrBadAccept},
		{name: "no upgrade", resp: strings.Replace(ok101, "Upgrade: websocket\r\n", "", 1) + "\r\n", err: ErrNoUpgrade},
		{name: "subprotocol", resp: ok101 + "Sec-WebSocket-Protocol: chat\r\n\r\n", err: ErrSubprotocol},
		{name: "403", resp: "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", status: 403},
		{name: "garbage status", resp: "HTTP/1.1 1x1 Nope\r\n\r\n", err: ErrBadStatusLine},
	}
	for _, tc := range tests {
		buf := []byte(tc.resp + "\x81\x00")
		n, d, err := ParseResponse(buf, key, tc.offered)
		if tc.status != 0 {
			var he *HTTPError
			if !errors.As(err, &he) || he.Status != tc.status {
				t.Errorf("%s: err = %v, want status %d", tc.name, err, tc.status)
			}
			continue
		}
		if err != tc.err {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && (n != len(tc.resp) || (d != nil) != tc.deflate) {
			t.Errorf("%s: n = %d (want %d), deflate = %v", tc.name, n, len(tc.resp), d)
		}
		if n0, _, err := ParseResponse(buf[:len(tc.resp)-1], key, tc.offered); n0 != 0 || err != nil {
			t.Errorf("%s: incomplete response gave n=%d err=%v", tc.name, n0, err)
		}
	}
}

// A Request built by hand (as engine tests may) is judged on its exported
// fields.
func TestValidateHandBuilt(t *testing.T) {
	r := Request{
		Method: "GET", Path: "/", Proto: "HTTP/1.1", Host: "h",
		Upgrade: true, ConnectionUpgrade: true, Version: "13", Key: "dGhlIHNhbXBsZSBub25jZQ==",
	}
	if !r.IsUpgradeAttempt() {
		t.Fatal("not an upgrade attempt")
	}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	r.Upgrade = false
	if !r.IsUpgradeAttempt() {
		t.Fatal("a key alone is an upgrade attempt")
	}
}
