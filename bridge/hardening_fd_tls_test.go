package bridge_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/gorilla/websocket"
)

// tlsFloodBridge starts cmd/bridge limited to 1,024 descriptors with a
// plain port and a TLS port (PEM certificate) and one conference; it
// returns the process, its stderr, the endpoint URLs on the TLS port (in
// the order of eps), the plain and TLS addresses and the CA pool.
type tlsFlood struct {
	proc            *testbridge.Process
	rest            string
	plain, tlsAddr  string
	pool            *x509.CertPool
	urls            map[string]string // endpoint -> wss URL
	limit, capConns int
}

func startTLSFloodBridge(t *testing.T, eps ...string) *tlsFlood {
	t.Helper()
	bin := testbridge.Binary(t, false)
	dir := t.TempDir()
	certFile, keyFile, pool := writeCert(t, dir)
	pub, tlsPort, priv := freePort(t), freePort(t), freePort(t)
	conf := filepath.Join(dir, "jvb.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`videobridge {
  http-servers {
    public { host = 127.0.0.1, port = %d, tls-port = %d, cert-file = "%s", key-file = "%s" }
    private { host = 127.0.0.1, port = %d }
  }
  websockets { domain = "127.0.0.1:%d", tls = true }
}`, pub, tlsPort, certFile, keyFile, priv, tlsPort)), 0o644)
	const limit = 1024
	cmd := exec.Command("sh", "-c", fmt.Sprintf(`ulimit -n %d && exec "$0" --config "$1"`, limit), bin, conf)
	f := &tlsFlood{rest: fmt.Sprintf("http://127.0.0.1:%d", priv),
		plain: fmt.Sprintf("127.0.0.1:%d", pub), tlsAddr: fmt.Sprintf("127.0.0.1:%d", tlsPort), pool: pool,
		urls: map[string]string{}, limit: limit,
		// engine/fdguard.go: backlog and margin are limit/16 each for
		// small limits.
		capConns: limit - limit/16 - limit/16}
	f.proc = testbridge.StartHealthy(t, "bridge", cmd, f.rest, func(string) {}) // stdout unread, as gnet's
	var list []string
	for _, e := range eps {
		list = append(list, `{"id":"`+e+`","create":true}`)
	}
	status, body := rawDo(f.rest, "POST", "/colibri/v2/conferences",
		`{"meeting-id":"m","create":true,"endpoints":[`+strings.Join(list, ",")+`]}`)
	if status != 200 {
		t.Fatalf("create: %d %s", status, body)
	}
	for i, u := range urlsOf(body) {
		if !strings.HasPrefix(u, "wss://"+f.tlsAddr+"/") {
			t.Fatalf("advertised %s, want wss://%s/...", u, f.tlsAddr)
		}
		f.urls[eps[i]] = u
	}
	return f
}

func (f *tlsFlood) dialer() *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: wait,
		TLSClientConfig: &tls.Config{RootCAs: f.pool, ServerName: "localhost"}}
}

// plainURL is u on the plain port.
func (f *tlsFlood) plainURL(u string) string {
	pu, _ := url.Parse(u)
	pu.Scheme, pu.Host = "ws", f.plain
	return pu.String()
}

// fds counts the bridge process's open descriptors.
func (f *tlsFlood) fds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", f.proc.Cmd.Process.Pid))
	if err != nil {
		t.Fatalf("reading the bridge's descriptors: %v", err)
	}
	return len(ents)
}

// TestTLSDescriptorExhaustion: the descriptor guard counts a TLS connection
// as the three descriptors it holds (its TCP socket and a socket pair,
// engine/tls.go). A bridge limited to 1,024 descriptors (cap 896) is sent
// 600 wss connections that complete the TLS and WebSocket handshakes and
// are held. Each holds three descriptors: at most (896 - the two talkers'
// 6) / 3 = 296 of them are admitted and the rest are closed before the TLS
// handshake; the process keeps its reserve; two wss clients connected
// before the flood keep talking; a plain connection at the cap is answered
// 503 and gnet's acceptor survives; after the flood a new client connects.
// A guard that counted a TLS connection once would admit them until
// socketpair(2) and accept(2) fail with EMFILE.
func TestTLSDescriptorExhaustion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/bridge")
	}
	const n, workers = 600, 8
	eps := []string{"a", "b", "late", "plain"}
	for i := 0; i < n; i++ {
		eps = append(eps, fmt.Sprintf("f%d", i)) // one endpoint each: no replacing
	}
	f := startTLSFloodBridge(t, eps...)
	d := f.dialer()
	dial := func(u string) (*websocket.Conn, error) {
		c, _, err := d.Dial(u, nil)
		return c, err
	}
	talkerOf := func(id string) *talker {
		c, err := dial(f.urls[id])
		if err != nil {
			t.Fatalf("wss dial %s: %v", id, err)
		}
		t.Cleanup(func() { c.Close() })
		tk := &talker{c: c, id: id}
		tk.read(t) // ServerHello
		return tk
	}
	a, b := talkerOf("a"), talkerOf("b")
	before := f.fds(t)

	// The flood: wss connections, each to its own endpoint, held open.
	var refused atomic.Int64
	var firstErr atomic.Value
	held := holdOpen(n, workers, func(i int) (*websocket.Conn, error) {
		return dial(f.urls[fmt.Sprintf("f%d", i)])
	}, func(err error) {
		refused.Add(1) // closed before the TLS handshake
		firstErr.CompareAndSwap(nil, err.Error())
	})
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	atCap := f.fds(t)
	t.Logf("%d wss connections held, %d refused (first: %v); the bridge holds %d descriptors (%d before the flood), limit %d",
		len(held), refused.Load(), firstErr.Load(), atCap, before, f.limit)
	// serveTLS checks the cap before the TLS handshake and the pair is
	// counted after it, so the handshakes in flight at the cap (one per
	// dialling worker) may pass together.
	maxTLS := (f.capConns-2*3)/3 + workers
	if len(held) > maxTLS {
		t.Errorf("%d wss connections admitted, want at most %d: three descriptors each under a cap of %d, plus %d in flight",
			len(held), maxTLS, f.capConns, workers)
	}
	if refused.Load() == 0 {
		t.Error("no wss connection was refused: the flood did not reach the cap, the test measured nothing")
	}
	// The reserve is kept: the backlog's share of descriptors is still free.
	if reserve := f.limit / 16; atCap > f.limit-reserve {
		t.Errorf("the bridge holds %d of %d descriptors: under %d left, the reserve is gone", atCap, f.limit, reserve)
	}
	// Through the flood, the clients connected before it still talk.
	a.talk(t, b)
	b.talk(t, a)
	// A plain connection at the cap is answered 503, and the acceptor lives.
	// The last wss connection was refused with fewer than its three
	// descriptors left, so up to two plain ones may still fit.
	var plains []*websocket.Conn
	for i := 0; ; i++ {
		pc, resp, err := websocket.DefaultDialer.Dial(f.plainURL(f.urls["plain"]), nil)
		if err == nil {
			plains = append(plains, pc)
			if i < 2 {
				continue
			}
			t.Error("three plain WebSockets connected at the cap")
			break
		}
		if resp == nil || resp.StatusCode != 503 {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Errorf("a plain connection at the cap: %v (status %d), want 503", err, status)
		}
		break
	}
	for _, pc := range plains {
		pc.Close()
	}

	// The flood ends; new clients connect, wss and plain.
	for _, c := range held {
		c.Close()
	}
	held = nil
	waitFor(t, "a new wss client connects", func() bool {
		c, err := dial(f.urls["late"])
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	waitFor(t, "a new plain client connects", func() bool {
		c, _, err := websocket.DefaultDialer.Dial(f.plainURL(f.urls["plain"]), nil)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	a.talk(t, b)
	out := f.proc.Output()
	for _, bad := range []string{"Accept() failed", "exiting due to error", "TLS pipe", "TLS accept failed", "too many open files"} {
		if strings.Contains(out, bad) {
			t.Errorf("bridge log has %q:\n%s", bad, out)
			break
		}
	}
}

// TestTLSHandshakesInFlightAreCounted: TCP connections to the TLS port that
// never send a ClientHello each hold a descriptor in the bridge for up to
// the handshake timeout (10 s by default). 1,100 of them against a limit
// of 1,024: the guard must keep its reserve (refuse them, or count them),
// the wss clients connected before keep talking, and a plain connection is
// answered (101 or 503), not lost to an acceptor that failed with EMFILE.
//
// This was a bug: the guard counted a TLS connection only once its socket
// pair existed, so serveTLS admitted every connection still in its TLS
// handshake without counting it. The silent connections take every descriptor, the next
// plain connection makes gnet's accept(2) fail with EMFILE, and gnet shuts
// the whole engine down ("main reactor is exiting due to error"): every
// client is dropped with 1006.
func TestTLSHandshakesInFlightAreCounted(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs cmd/bridge")
	}
	f := startTLSFloodBridge(t, "a", "b", "plain")
	d := f.dialer()
	talkerOf := func(id string) *talker {
		c, _, err := d.Dial(f.urls[id], nil)
		if err != nil {
			t.Fatalf("wss dial %s: %v", id, err)
		}
		t.Cleanup(func() { c.Close() })
		tk := &talker{c: c, id: id}
		tk.read(t) // ServerHello
		return tk
	}
	a, b := talkerOf("a"), talkerOf("b")

	const n = 1100
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	dialErrs := 0
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", f.tlsAddr, 200*time.Millisecond)
		if err != nil {
			dialErrs++
			continue
		}
		held = append(held, c) // and never a ClientHello
	}
	// Wait until the bridge has taken every completed handshake off the TLS
	// listener's accept queue, or has stopped accepting (EMFILE).
	_, port, _ := net.SplitHostPort(f.tlsAddr)
	waitFor(t, "the TLS accept queue drained or accepting stopped", func() bool {
		return acceptQueue(t, port) == 0 || strings.Contains(f.proc.Output(), "TLS accept failed")
	})
	fds := f.fds(t)
	t.Logf("%d silent TLS connections held (%d dials failed); the bridge holds %d of %d descriptors", len(held), dialErrs, fds, f.limit)
	if reserve := f.limit / 16; fds > f.limit-reserve {
		t.Errorf("the bridge holds %d of %d descriptors: under %d left, the reserve is gone", fds, f.limit, reserve)
	}
	a.talk(t, b)
	b.talk(t, a)
	pc, resp, err := websocket.DefaultDialer.Dial(f.plainURL(f.urls["plain"]), nil)
	switch {
	case err == nil:
		pc.Close()
	case resp != nil && resp.StatusCode == 503:
	default:
		t.Errorf("a plain connection while silent TLS connections are held: %v, want 101 or 503", err)
	}
	a.talk(t, b) // after the plain accept: the engine is still up
	out := f.proc.Output()
	for _, bad := range []string{"Accept() failed", "exiting due to error", "too many open files"} {
		if strings.Contains(out, bad) {
			t.Errorf("bridge log has %q:\n%.3000s", bad, out)
			break
		}
	}
}

// acceptQueue returns the number of connections waiting in the accept
// queue of the loopback listener on port (/proc/net/tcp: a LISTEN socket's
// rx_queue).
func acceptQueue(t *testing.T, port string) int {
	t.Helper()
	raw, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	want := fmt.Sprintf(":%04X", p)
	for _, line := range strings.Split(string(raw), "\n")[1:] {
		fs := strings.Fields(line)
		if len(fs) < 5 || !strings.HasSuffix(fs[1], want) || fs[3] != "0A" {
			continue
		}
		_, rx, _ := strings.Cut(fs[4], ":")
		n, _ := strconv.ParseInt(rx, 16, 64)
		return int(n)
	}
	t.Fatalf("no listener on port %s in /proc/net/tcp", port)
	return 0
}
