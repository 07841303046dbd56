package main

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// upgrade writes the WebSocket upgrade request (no extensions, so that
// messages arrive as plain text) and reads the answer. It returns the
// reader positioned on the first frame after a 101.
func (p *prober) upgrade(c net.Conn, u *url.URL) (*bufio.Reader, error) {
	key := newKey()
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	if u.RawQuery != "" {
		path += "?" + u.RawQuery
	}
	req := "GET " + path + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\n" +
		"Upgrade: websocket\r\n" +
		"Connection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + key + "\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"User-Agent: colibri-bus-probe\r\n\r\n"
	c.SetDeadline(time.Now().Add(p.opt.timeout))
	defer c.SetDeadline(time.Time{})
	start := time.Now()
	if _, err := io.WriteString(c, req); err != nil {
		return nil, fail(probeHTTP, "http", "writing the upgrade request: "+err.Error(), "the server closed the connection at once")
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		if isTimeout(err) {
			return nil, fail(probeHTTP, "no-http-answer", "no HTTP answer within "+p.opt.timeout.String(),
				"the port accepts connections but does not answer HTTP: is it the WebSocket port? Over TLS, "+
					"use wss://; behind a proxy, check proxy_pass")
		}
		return nil, fail(probeHTTP, "no-http-answer", "invalid or missing HTTP answer: "+err.Error(),
			"the port does not speak HTTP/1.1 (a TLS port reached with ws://? another service?)")
	}
	elapsed := time.Since(start)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		p.step("http", "%s (%s)%s", resp.Status, ms(elapsed), serverOf(resp))
		return nil, classifyStatus(resp, body, u)
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), acceptFor(key); got != want {
		return nil, fail(probeHTTP, "bad-upgrade", fmt.Sprintf("101 with Sec-WebSocket-Accept %q, want %q", got, want),
			"something between the client and the bridge rewrites the handshake")
	}
	p.step("http", "101 Switching Protocols (%s)%s", ms(elapsed), serverOf(resp))
	if ext := resp.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		return nil, fail(probeHTTP, "bad-upgrade", "the server negotiated "+ext+" although the probe offered none",
			"the server violates RFC 6455 section 9.1")
	}
	return br, nil
}

func serverOf(resp *http.Response) string {
	if s := resp.Header.Get("Server"); s != "" {
		return ", Server: " + s
	}
	return ""
}

// classifyStatus names the failure behind a non-101 answer.
func classifyStatus(resp *http.Response, body []byte, u *url.URL) *failure {
	text := strings.TrimSpace(string(body))
	quoted := fmt.Sprintf("%q", truncate(text, 200))
	ct := resp.Header.Get("Content-Type")
	html := strings.Contains(ct, "html") || looksHTML(text)
	sid := serverIDOf(u)
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		what := fmt.Sprintf("HTTP %d (%s) instead of 101", code, orNone(ct))
		if html {
			what = fmt.Sprintf("HTTP %d with an HTML page instead of 101", code)
		}
		return fail(probeMisrouted, "proxy-misrouted", what,
			"the request reached a web application, not the bridge: the proxy has no location for "+
				prefixOf(u)+sid+"/ (or it does not match), so it fell through to location /. "+
				"Add the seed's location block for this server-id, with the Upgrade headers")
	case code == http.StatusNotFound:
		switch {
		case strings.Contains(text, "server ID mismatch"):
			return fail(probeNotFound, "server-id-mismatch", "HTTP 404 \"server ID mismatch\" from the bridge",
				"the request reached a bridge whose videobridge.websockets.server-id is not \""+sid+"\": the proxy "+
					"routes this server-id to the wrong bridge, or two bridges share a domain without distinct ids")
		case strings.Contains(text, "invalid path"):
			return fail(probeNotFound, "invalid-path", "HTTP 404 \"invalid path\" from the bridge",
				"the path must be /colibri-ws/{server-id}/{conference-id}/{endpoint-id}: check a proxy "+
					"that rewrites the path (proxy_pass with a URI part)")
		}
		return fail(probeNotFound, "not-found", "HTTP 404 "+quoted,
			"the proxy has no route for server-id \""+sid+"\" (one location per server-id, or a catch-all "+
				"^/colibri-ws/([^/]+)/), or websockets are disabled on the bridge")
	case code == http.StatusForbidden:
		return fail(probeForbidden, "forbidden", "HTTP 403 "+quoted,
			"the bridge does not know this conference or endpoint, or the pwd is wrong: the URL is stale (the "+
				"conference ended or the endpoint expired, e.g. after a bridge restart) or was copied wrong. "+
				"Take a fresh URL from the colibri2 response")
	case code == http.StatusMethodNotAllowed, code == http.StatusBadRequest && lostUpgrade(text):
		return fail(probeNoUpgrade, "upgrade-lost", fmt.Sprintf("HTTP %d %s: the bridge saw no WebSocket upgrade", code, quoted),
			"a proxy forwarded the request without its Upgrade and Connection headers; in nginx: "+
				"proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection \"upgrade\";")
	case code == http.StatusBadRequest && strings.Contains(text, "plain HTTP request was sent to HTTPS port"):
		return fail(probeHTTP, "http-400", "HTTP 400: plain HTTP sent to an HTTPS port", "use wss:// for this port")
	case code == http.StatusBadGateway || code == http.StatusGatewayTimeout:
		return fail(probeHTTP, fmt.Sprintf("http-%d", code), fmt.Sprintf("HTTP %d from the proxy", code),
			"the proxy cannot reach the bridge's public port: check proxy_pass host and port and that the bridge runs")
	case code == http.StatusServiceUnavailable:
		return fail(probeHTTP, "http-503", "HTTP 503 "+quoted,
			"the bridge is shutting down or at its connection limit (videobridge.websockets.limits.max-connections)")
	case code >= 300 && code < 400:
		return fail(probeHTTP, fmt.Sprintf("http-%d", code), fmt.Sprintf("HTTP %d redirect to %q", code, resp.Header.Get("Location")),
			"WebSocket clients do not follow redirects: advertise the final URL (scheme and domain)")
	}
	return fail(probeHTTP, fmt.Sprintf("http-%d", resp.StatusCode), fmt.Sprintf("HTTP %d %s", resp.StatusCode, quoted),
		"an unexpected answer to a WebSocket upgrade")
}

// lostUpgrade reports whether a 400 body is the bridge's complaint about a
// request that arrived without the upgrade headers (or as HTTP/1.0, what
// nginx sends without proxy_http_version 1.1).
func lostUpgrade(body string) bool {
	for _, s := range []string{"Upgrade", "Connection", "HTTP version"} {
		if strings.Contains(body, s) {
			return true
		}
	}
	return false
}

func looksHTML(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "<!doctype html") || strings.HasPrefix(s, "<html") || strings.Contains(s, "<body")
}

// serverIDOf returns the server-id segment of a colibri-ws URL.
func serverIDOf(u *url.URL) string {
	parts := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(parts) >= 2 {
		return parts[1]
	}
	return ""
}

func prefixOf(u *url.URL) string {
	if strings.HasPrefix(u.Path, "/colibri-relay-ws/") {
		return "/colibri-relay-ws/"
	}
	return "/colibri-ws/"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func orNone(s string) string {
	if s == "" {
		return "no Content-Type"
	}
	return s
}

func newKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

func acceptFor(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}
