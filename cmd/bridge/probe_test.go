package main

import (
	"bufio"
	"bytes"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// wait bounds every blocking step of these tests.
const wait = 10 * time.Second

// testBridge is a real bridge on loopback that advertises its real address
// (testbridge.Start).
type testBridge struct {
	b    *bridge.Bridge
	rest string
}

func startBridge(t *testing.T, mutate func(*config.Config)) *testBridge {
	t.Helper()
	tb := testbridge.Start(t, mutate, testbridge.Options{Advertise: true})
	return &testBridge{b: tb.B, rest: tb.REST}
}

// rest sends a colibri2 request and returns the first web-sockets URL of
// endpoint id.
func (tb *testBridge) rest2(t *testing.T, method, path, body, id string) string {
	t.Helper()
	resp, raw := testbridge.Do(t, tb.rest, method, path, body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	if id == "" {
		return ""
	}
	u, err := urlFromResponse(raw, "endpoints", id)
	if err != nil {
		t.Fatalf("%s %s: %v in %s", method, path, err, raw)
	}
	return u
}

// endpointURL creates meeting with endpoint id and returns its URL.
func (tb *testBridge) endpointURL(t *testing.T, meeting, id string) string {
	t.Helper()
	return tb.rest2(t, "POST", "/colibri/v2/conferences",
		`{"meeting-id":"`+meeting+`","create":true,"endpoints":[{"id":"`+id+`","create":true}]}`, id)
}

// probe runs `bridge probe args...` in process.
func probe(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := probeMain(args, &out, &errOut)
	t.Logf("bridge probe %s -> exit %d\n%s%s", strings.Join(redactAll(args), " "), code, out.String(), errOut.String())
	return code, out.String()
}

func redactAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = redact(a)
	}
	return out
}

// expect runs the probe and requires the exit code and every want in the output.
func expect(t *testing.T, code int, want []string, args ...string) string {
	t.Helper()
	got, out := probe(t, args...)
	if got != code {
		t.Errorf("exit %d, want %d", got, code)
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	return out
}

func TestProbeHealthy(t *testing.T) {
	tb := startBridge(t, nil)
	u := tb.endpointURL(t, "m1", "ep1")
	out := expect(t, probeOK, []string{"101 Switching Protocols", `{"colibriClass":"ServerHello"}`, "OK "},
		"--listen", "200ms", u)
	if strings.Contains(out, pwdOf(u)) {
		t.Errorf("the output shows the pwd")
	}
	// The URL looked up through REST; creates nothing.
	expect(t, probeOK, []string{"rest ", "endpoint ep1 of meeting m1", "OK "},
		"--rest", tb.rest, "--meeting", "m1", "--endpoint", "ep1", "--listen", "100ms")
	if n := tb.b.Table().Len(); n != 1 {
		t.Errorf("%d conferences after the REST probe, want 1", n)
	}
	expect(t, probeREST, []string{"no conference with meeting-id nope"},
		"--rest", tb.rest, "--meeting", "nope", "--endpoint", "ep1")
	expect(t, probeREST, []string{`endpoint "nobody"`},
		"--rest", tb.rest, "--meeting", "m1", "--endpoint", "nobody")
}

func pwdOf(raw string) string {
	u, _ := url.Parse(raw)
	return u.Query().Get("pwd")
}

func TestProbeForbiddenAndNotFound(t *testing.T) {
	tb := startBridge(t, nil)
	u := tb.endpointURL(t, "m1", "ep1")
	parsed, _ := url.Parse(u)
	parts := strings.Split(parsed.Path, "/") // "", colibri-ws, default-id, conf, ep1
	unknownConf := strings.Replace(u, parts[3], "0000000000000000", 1)
	expect(t, probeForbidden, []string{"403", "stale"}, unknownConf)
	expect(t, probeForbidden, []string{"403"}, strings.Replace(u, "pwd=", "pwd=x", 1))
	expect(t, probeNotFound, []string{"server-id-mismatch", `is not "jvb9"`}, strings.Replace(u, "/default-id/", "/jvb9/", 1))
	expect(t, probeNotFound, []string{"invalid-path"}, "ws://"+parsed.Host+"/colibri-ws/default-id/"+parts[3]+"?pwd=x")
}

func TestProbeMisroutedToWebApp(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><html><body>Jitsi Meet</body></html>")
	}))
	defer web.Close()
	expect(t, probeMisrouted, []string{"proxy-misrouted", "HTML", "location"},
		"ws://"+web.Listener.Addr().String()+"/colibri-ws/jvb1/c0ffee/ep1?pwd=x")
}

func TestProbeStatuses(t *testing.T) {
	var status atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := int(status.Load())
		if code == 302 {
			w.Header().Set("Location", "https://example.org/")
		}
		w.WriteHeader(code)
		io.WriteString(w, "nope")
	}))
	defer srv.Close()
	u := "ws://" + srv.Listener.Addr().String() + "/colibri-ws/jvb1/c0ffee/ep1?pwd=x"
	for _, c := range []struct {
		status int
		code   int
		want   string
	}{
		{405, probeNoUpgrade, "upgrade-lost"},
		{502, probeHTTP, "cannot reach the bridge"},
		{503, probeHTTP, "shutting down"},
		{302, probeHTTP, "redirect"},
		{418, probeHTTP, "http-418"},
		{404, probeNotFound, "no route for server-id \"jvb1\""},
	} {
		status.Store(int64(c.status))
		expect(t, c.code, []string{c.want}, u)
	}
}

// TestProbeNetworkFailures covers DNS, refused and timed-out connections,
// and a port that never answers HTTP.
func TestProbeNetworkFailures(t *testing.T) {
	expect(t, probeDNS, []string{"no such host"}, "ws://no-such-host.invalid/colibri-ws/a/b/c?pwd=x")

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	expect(t, probeRefused, []string{"tcp-refused", closed}, "ws://"+closed+"/colibri-ws/a/b/c?pwd=x")

	full := fullBacklog(t)
	expect(t, probeUnreachable, []string{"tcp-timeout"}, "--timeout", "300ms", "ws://"+full+"/colibri-ws/a/b/c?pwd=x")

	silent := silentServer(t)
	expect(t, probeHTTP, []string{"no-http-answer"}, "--timeout", "300ms", "ws://"+silent+"/colibri-ws/a/b/c?pwd=x")
}

// fullBacklog returns the address of a listener whose accept queue is full
// (backlog 0 holds one connection, which this fills): the kernel drops
// further SYNs, so a connect times out.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the queue: connect until one attempt times out.
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			if !isTimeout(err) {
				t.Fatalf("filling the backlog of %s: %v", addr, err)
			}
			return addr
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Fatalf("the backlog of %s never filled", addr)
	return ""
}

// testServer accepts connections on loopback and hands each to serve; the
// listener and every connection close when the test ends.
func testServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			serve(c)
		}
	}()
	return ln.Addr().String()
}

// silentServer accepts connections and never writes.
func silentServer(t *testing.T) string {
	return testServer(t, func(net.Conn) {})
}

// upgradeOnly accepts the WebSocket upgrade and then sends nothing: a
// WebSocket service that is not a Colibri bridge.
func upgradeOnly(t *testing.T) string {
	return testServer(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			c.Close()
			return
		}
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Accept: "+acceptFor(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
	})
}

func TestProbeNoServerHello(t *testing.T) {
	addr := upgradeOnly(t)
	expect(t, probeNoHello, []string{"101 Switching Protocols", "no-server-hello"},
		"--hello-wait", "300ms", "ws://"+addr+"/colibri-ws/jvb1/c0ffee/ep1?pwd=x")
}

func TestProbePings(t *testing.T) {
	tb := startBridge(t, func(c *config.Config) { c.WebSockets.KeepalivePingInterval = 100 * time.Millisecond })
	expect(t, probeOK, []string{"ping ", "first ping after"},
		"--ping-wait", "5s", "--listen", "50ms", tb.endpointURL(t, "m1", "ep1"))

	quiet := startBridge(t, func(c *config.Config) { c.WebSockets.SendKeepalivePings = false })
	expect(t, probeNoPing, []string{"no-ping", "send-keepalive-pings"},
		"--ping-wait", "300ms", "--listen", "50ms", quiet.endpointURL(t, "m1", "ep1"))
}

// TestProbeClosedDuringListen expires the endpoint while the probe listens.
func TestProbeClosedDuringListen(t *testing.T) {
	tb := startBridge(t, nil)
	u := tb.endpointURL(t, "m1", "ep1")
	conf := tb.b.Table().ConferenceByMeeting("m1")
	go func() {
		testbridge.Until(wait, func() bool { return conf.Endpoint("ep1").Connected() })
		conf.ExpireEndpoint("ep1")
	}()
	expect(t, probeClosed, []string{"1001", "endpoint closed", "expired"}, "--listen", "20s", u)
}

func TestProbeTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, "authentication failed\n")
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshakes are the test
	srv.StartTLS()
	defer srv.Close()
	u := "wss://" + srv.Listener.Addr().String() + "/colibri-ws/jvb1/c0ffee/ep1?pwd=x"
	expect(t, probeTLS, []string{"tls", "authority"}, u)
	expect(t, probeForbidden, []string{"not verified: --insecure", "403"}, "--insecure", u)

	ca := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(ca, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	expect(t, probeForbidden, []string{"TLS 1.3", "certificate for example.com, *.example.com, 127.0.0.1", "403"}, "--ca", ca, u)

	// wss to a plain port.
	tb := startBridge(t, nil)
	plain := strings.Replace(tb.endpointURL(t, "m1", "ep1"), "ws://", "wss://", 1)
	expect(t, probeTLS, []string{"tls"}, "--timeout", "500ms", plain)
}

func TestProbeUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"http://x", "ws://y"},
		{"ftp://x/colibri-ws/a/b/c"},
		{"--rest", "http://127.0.0.1:1"},
		{"--rest", "http://127.0.0.1:1", "--meeting", "m", "--endpoint", "e", "--relay", "r"},
		{"--no-such-flag", "ws://x"},
	} {
		if code, _ := probe(t, args...); code != probeUsage {
			t.Errorf("%q: exit %d, want %d", args, code, probeUsage)
		}
	}
	if code, _ := probe(t, "-h"); code != probeOK {
		t.Errorf("-h: exit %d, want 0", code)
	}
	// Flags after the URL work too.
	expect(t, probeRefused, nil, "ws://127.0.0.1:1/colibri-ws/a/b/c", "--timeout", "1s")
}

// TestProbeRelay probes a relay's colibri-relay-ws URL looked up through
// REST; a relay this bridge dials itself has no URL to probe.
func TestProbeRelay(t *testing.T) {
	tb := startBridge(t, func(c *config.Config) { c.Relay.Enabled, c.Relay.RelayID = true, "jvb-1" })
	tb.b.Config().WebSockets.RelayDomains = tb.b.Config().WebSockets.Domains
	tb.rest2(t, "POST", "/colibri/v2/conferences", `{"meeting-id":"m1","create":true,"relays":[
		{"id":"jvb-2","create":true,"mesh-id":"0"},
		{"id":"jvb-3","create":true,"transport":{"transport":{"web-sockets":["ws://127.0.0.1:1/colibri-relay-ws/x/y/jvb-1?pwd=z"]}}}]}`, "")
	expect(t, probeOK, []string{"relay jvb-2 of meeting m1", "/colibri-relay-ws/default-id/", `{"colibriClass":"ServerHello"}`},
		"--rest", tb.rest, "--meeting", "m1", "--relay", "jvb-2", "--listen", "100ms")
	expect(t, probeREST, []string{`dials relay jvb-3 itself`}, "--rest", tb.rest, "--meeting", "m1", "--relay", "jvb-3")
}
