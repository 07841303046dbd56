package interop

import (
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"
)

// CutProxy is a TCP proxy on 127.0.0.1 whose connections a test can cut
// the way a network does: Cut resets both sides of every current
// connection (SO_LINGER 0, so each end gets a RST and no WebSocket close
// frame), and Hold refuses new connections (accepted and reset at once)
// until Release, so a client that retries by itself cannot get back before
// the test lets it. Otherwise it forwards bytes both ways unchanged and
// passes half-closes on, so a WebSocket closing handshake crosses it
// intact. Safe for concurrent use; closed at test cleanup.
type CutProxy struct {
	// Addr is the proxy's host:port (127.0.0.1, a free port).
	Addr string

	t      testing.TB
	target string
	ln     net.Listener
	wg     sync.WaitGroup

	mu       sync.Mutex
	pairs    map[*cutPair]struct{}
	held     bool
	closed   bool
	accepted int
}

// cutPair is one proxied connection: the client's (down) and the one the
// proxy dialled to the target (up, nil while dialling).
type cutPair struct {
	down, up *net.TCPConn
	cut      bool
}

// StartCutProxy listens on 127.0.0.1:0 and forwards every connection to
// target (host:port). It is closed, and every connection reset, at cleanup.
func StartCutProxy(t testing.TB, target string) *CutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &CutProxy{Addr: ln.Addr().String(), t: t, target: target, ln: ln, pairs: map[*cutPair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// URL returns raw (a ws:// URL) with its host:port replaced by the proxy's:
// the same path and query, so the same endpoint and pwd, through the proxy.
func (p *CutProxy) URL(raw string) string {
	p.t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		p.t.Fatal(err)
	}
	u.Host = p.Addr
	return u.String()
}

// Cut resets every current connection pair, both sides, and returns how
// many it cut. New connections are proxied as before (unless held).
func (p *CutProxy) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pr := range p.pairs {
		pr.cut = true
		reset(pr.down)
		if pr.up != nil {
			reset(pr.up)
		}
		delete(p.pairs, pr)
		n++
	}
	return n
}

// Hold makes the proxy reset every new connection as soon as it is
// accepted, without dialling the target, until Release.
func (p *CutProxy) Hold() {
	p.mu.Lock()
	p.held = true
	p.mu.Unlock()
}

// Release ends Hold: new connections are proxied again.
func (p *CutProxy) Release() {
	p.mu.Lock()
	p.held = false
	p.mu.Unlock()
}

// Accepted returns how many connections the proxy has accepted so far,
// held ones included.
func (p *CutProxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Close stops listening, resets every connection and waits for the
// proxy's goroutines to end (bounded).
func (p *CutProxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.ln.Close()
	p.Cut()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		p.t.Errorf("cut proxy %s: goroutines still running %v after Close", p.Addr, stopTimeout)
	}
}

func (p *CutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.t.Logf("cut proxy %s: accept: %v", p.Addr, err)
			}
			return
		}
		down := c.(*net.TCPConn)
		p.mu.Lock()
		p.accepted++
		if p.held || p.closed {
			p.mu.Unlock()
			reset(down)
			continue
		}
		pr := &cutPair{down: down}
		p.pairs[pr] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go p.serve(pr)
	}
}

// serve dials the target for pr and copies both ways until both directions
// end. An error in either direction (a reset, or Cut) resets both sides.
func (p *CutProxy) serve(pr *cutPair) {
	defer p.wg.Done()
	c, err := net.DialTimeout("tcp", p.target, eventTimeout)
	p.mu.Lock()
	if err != nil || pr.cut {
		delete(p.pairs, pr)
		p.mu.Unlock()
		reset(pr.down)
		if c != nil {
			reset(c.(*net.TCPConn))
		}
		return
	}
	up := c.(*net.TCPConn)
	pr.up = up
	p.mu.Unlock()

	errc := make(chan error, 2)
	pipe := func(dst, src *net.TCPConn) {
		_, err := io.Copy(dst, src)
		if err == nil {
			err = dst.CloseWrite() // src ended cleanly: pass the half-close on
		}
		errc <- err
	}
	go pipe(up, pr.down)
	go pipe(pr.down, up)
	if err := <-errc; err != nil {
		reset(pr.down)
		reset(up)
	}
	<-errc
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
	pr.down.Close()
	up.Close()
}

// reset closes c with SO_LINGER 0: the kernel sends a RST and discards
// whatever it had not sent yet.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}
