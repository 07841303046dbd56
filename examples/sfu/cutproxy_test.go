package main

import (
	"bytes"
	"io"
	"net"
	"sync"
	"testing"
)

// cutProxy forwards TCP connections to the bus so that a test can cut one
// the way a network does: Cut resets both sides (SO_LINGER 0: a RST, no
// WebSocket close frame). Hold makes it reset new connections at once
// until Release, so a client retrying by itself stays out until the test
// lets it in.
type cutProxy struct {
	addr string
	ln   net.Listener

	mu     sync.Mutex
	target string
	held   bool
	pairs  map[*proxyPair]struct{}
	wg     sync.WaitGroup
}

// proxyPair is one proxied connection and the request line its client
// sent first (the WebSocket upgrade's, with the endpoint's path).
type proxyPair struct {
	down, up *net.TCPConn
	request  string
}

func startCutProxy(t *testing.T) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{addr: ln.Addr().String(), ln: ln, pairs: map[*proxyPair]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// setTarget sets where connections go (the bus's address).
func (p *cutProxy) setTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

func (p *cutProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		down := c.(*net.TCPConn)
		p.mu.Lock()
		held, target := p.held, p.target
		p.mu.Unlock()
		if held {
			reset(down)
			continue
		}
		p.wg.Add(1)
		go p.serve(down, target)
	}
}

func (p *cutProxy) serve(down *net.TCPConn, target string) {
	defer p.wg.Done()
	c, err := net.Dial("tcp", target)
	if err != nil {
		reset(down)
		return
	}
	up := c.(*net.TCPConn)
	first := make([]byte, 4096)
	n, err := down.Read(first)
	if err != nil {
		reset(down)
		reset(up)
		return
	}
	line, _, _ := bytes.Cut(first[:n], []byte("\r\n"))
	pr := &proxyPair{down: down, up: up, request: string(line)}
	p.mu.Lock()
	p.pairs[pr] = struct{}{}
	p.mu.Unlock()
	if _, err := up.Write(first[:n]); err != nil {
		p.drop(pr)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src *net.TCPConn) {
		defer wg.Done()
		io.Copy(dst, src)
		dst.CloseWrite()
	}
	go pipe(up, down)
	go pipe(down, up)
	wg.Wait()
	p.drop(pr)
}

func (p *cutProxy) drop(pr *proxyPair) {
	p.mu.Lock()
	delete(p.pairs, pr)
	p.mu.Unlock()
	pr.down.Close()
	pr.up.Close()
}

// cut resets both sides of every connection whose request line contains
// match, and returns how many it cut.
func (p *cutProxy) cut(match string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for pr := range p.pairs {
		if bytes.Contains([]byte(pr.request), []byte(match)) {
			reset(pr.down)
			reset(pr.up)
			delete(p.pairs, pr)
			n++
		}
	}
	return n
}

func (p *cutProxy) hold(on bool) {
	p.mu.Lock()
	p.held = on
	p.mu.Unlock()
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for pr := range p.pairs {
		reset(pr.down)
		reset(pr.up)
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// reset closes c with a RST.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}
