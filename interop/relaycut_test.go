package interop

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// relayCut is a TCP proxy for breaking a relay's connection on purpose: it
// listens on 127.0.0.1:0, forwards every accepted connection to target (a
// new upstream connection per accepted one), and Cut resets every current
// pair abruptly, both sides with SO_LINGER 0, so that each peer sees a TCP
// reset and whatever was in flight in the proxy and in the kernel's
// buffers is lost, as when a middlebox drops the connection. The listener
// stays up: a redial gets through again at once. An accepted connection
// whose upstream dial fails is reset as well. Safe for concurrent use; it
// is closed (listener and every pair) at the test's cleanup.
type relayCut struct {
	t      testing.TB
	ln     *net.TCPListener
	target string
	wg     sync.WaitGroup

	mu       sync.Mutex
	pairs    map[*relayCutPair]struct{}
	accepted int // connections accepted and forwarded
	refused  int // connections accepted whose upstream dial failed
	cut      int // pairs reset by Cut
	closed   bool
}

type relayCutPair struct{ down, up *net.TCPConn }

// startRelayCut starts a relayCut forwarding to target (host:port).
func startRelayCut(t testing.TB, target string) *relayCut {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &relayCut{t: t, ln: ln, target: target, pairs: map[*relayCutPair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's listening address, 127.0.0.1:port.
func (p *relayCut) Addr() string { return p.ln.Addr().String() }

// Cut resets every current connection pair and returns how many it reset.
func (p *relayCut) Cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pr := range p.pairs {
		pr.reset()
		delete(p.pairs, pr)
		n++
	}
	p.cut += n
	return n
}

// Counts returns how many connections were accepted and forwarded, accepted
// and reset because the target refused, and reset by Cut, so far.
func (p *relayCut) Counts() (accepted, refused, cut int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.refused, p.cut
}

// Active returns the number of connection pairs currently forwarded.
func (p *relayCut) Active() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.pairs)
}

func (p *relayCut) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.AcceptTCP()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go p.forward(down)
	}
}

func (p *relayCut) forward(down *net.TCPConn) {
	defer p.wg.Done()
	c, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		resetTCP(down)
		p.mu.Lock()
		p.refused++
		p.mu.Unlock()
		return
	}
	up := c.(*net.TCPConn)
	pr := &relayCutPair{down: down, up: up}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		pr.reset()
		return
	}
	p.pairs[pr] = struct{}{}
	p.accepted++
	p.mu.Unlock()

	var once sync.WaitGroup
	once.Add(2)
	pipe := func(dst, src *net.TCPConn) {
		defer once.Done()
		_, err := io.Copy(dst, src)
		if err == nil {
			dst.CloseWrite() // src sent FIN: pass the half-close on
			return
		}
		// A reset (or Cut) on one side: reset the other too, as a
		// middlebox that loses its state does.
		p.drop(pr)
	}
	go pipe(up, down)
	pipe(down, up)
	once.Wait()
	p.mu.Lock()
	_, live := p.pairs[pr]
	delete(p.pairs, pr)
	p.mu.Unlock()
	if live {
		pr.down.Close()
		pr.up.Close()
	}
}

// drop resets pr unless Cut already did.
func (p *relayCut) drop(pr *relayCutPair) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, live := p.pairs[pr]; live {
		delete(p.pairs, pr)
		pr.reset()
	}
}

func (pr *relayCutPair) reset() {
	resetTCP(pr.down)
	resetTCP(pr.up)
}

// resetTCP closes c with SO_LINGER 0: the kernel sends RST, not FIN, and
// discards unsent data.
func resetTCP(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close() // an error means it was closed already
}

func (p *relayCut) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for pr := range p.pairs {
		pr.reset()
		delete(p.pairs, pr)
	}
	p.mu.Unlock()
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		p.t.Errorf("relayCut %s: forwarders still running %v after close", p.Addr(), stopTimeout)
	}
}
