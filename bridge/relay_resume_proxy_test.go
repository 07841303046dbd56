package bridge_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// resumeProxy is a TCP proxy between a relay's dialler and the dialled
// bridge, for breaking the link on purpose and watching what crosses it.
// Every accepted connection gets its own upstream connection (a pair). The
// ways to break a pair:
//
//   - Cut resets both sides (SO_LINGER 0): each bridge sees a TCP reset and
//     what was in flight in the proxy and the kernels is lost, as when a
//     middlebox loses its state;
//   - Abandon resets only the dialler's side: the dialled bridge's socket
//     stays open, what it writes is read and thrown away, so that it
//     still thinks the socket works when the dialler's next one arrives;
//   - Hold keeps what the dialler writes in the proxy instead of passing
//     it on (ReleaseHeld writes it upstream later, to a socket that may
//     have been replaced meanwhile);
//   - Pause stops reading what the dialler writes: its socket backs up, as
//     for a peer that stops reading.
//
// Refuse makes the proxy reset every new connection at once, so that the
// link stays down.
//
// The dialled side can be bounded too (StopUpAt, for an endpoint's
// socket: the mailbox tests): each new pair then dials with a given dialer
// (a small receive buffer and segment size on the proxy's socket, so that
// the kernels hold little), keeps a copy of what it read from the dialled
// bridge, reads at most a given number of bytes, forwards them and stops
// reading, so that the bridge's socket backs up; CutUp then resets the
// dialled side and closes the dialler's in order, after what was
// forwarded. The proxy then knows exactly which bytes the dialler got and
// which the bridge's socket had handed to the kernel without their
// reaching the proxy. Each pair taps both directions: the HTTP head (the
// upgrade request, the 101 response) and the colibriClass of every text
// message, parsed from the WebSocket frames (the dialler does not offer
// compression, so the payloads are plain). Safe for concurrent use; closed
// at the test's cleanup.
type resumeProxy struct {
	t      testing.TB
	ln     *net.TCPListener
	target string
	wg     sync.WaitGroup

	mu      sync.Mutex
	pairs   []*proxyPair // every pair, in accept order
	refuse  bool
	refused int
	closed  bool
	// For new pairs (StopUpAt): how to dial the target (nil: a plain
	// dial), and how many bytes to read from it at most (0: no bound;
	// the pair then keeps a copy of what it read).
	upDialer *net.Dialer
	upStop   int
}

// proxyPair is one forwarded connection: down is the dialler's, up the
// dialled bridge's.
type proxyPair struct {
	down, up *net.TCPConn

	mu        sync.Mutex
	wake      *sync.Cond
	dead      bool // reset, or ended
	paused    bool
	hold      bool
	held      []byte
	abandoned bool
	toDialled tap // what the dialler wrote
	toDialler tap // what the dialled bridge wrote

	// The dialled side's bound (StopUpAt): read at most upStop bytes
	// from it (0: no bound); upRead were read (kept in upCopy when
	// bounded), upForwarded of them written to the dialler.
	upStop      int
	upRead      int
	upForwarded int
	upCopy      []byte
}

func startResumeProxy(t testing.TB, target string) *resumeProxy {
	t.Helper()
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	p := &resumeProxy{t: t, ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's address, 127.0.0.1:port.
func (p *resumeProxy) Addr() string { return p.ln.Addr().String() }

func (p *resumeProxy) accept() {
	defer p.wg.Done()
	for {
		down, err := p.ln.AcceptTCP()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse := p.refuse || p.closed
		if refuse {
			p.refused++
		}
		p.mu.Unlock()
		if refuse {
			resetTCP(down)
			continue
		}
		p.mu.Lock()
		d, stop := p.upDialer, p.upStop
		p.mu.Unlock()
		if d == nil {
			d = &net.Dialer{Timeout: wait}
		}
		c, err := d.Dial("tcp", p.target)
		if err != nil {
			resetTCP(down)
			continue
		}
		pr := &proxyPair{down: down, up: c.(*net.TCPConn), upStop: stop}
		pr.wake = sync.NewCond(&pr.mu)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			pr.reset()
			continue
		}
		p.pairs = append(p.pairs, pr)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.forwardDown(pr)
		go p.forwardUp(pr)
	}
}

// forwardDown copies what the dialler writes to the dialled bridge.
func (p *resumeProxy) forwardDown(pr *proxyPair) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		pr.mu.Lock()
		for pr.paused && !pr.dead {
			pr.wake.Wait()
		}
		dead := pr.dead
		pr.mu.Unlock()
		if dead {
			return
		}
		n, err := pr.down.Read(buf)
		if n > 0 {
			pr.mu.Lock()
			pr.toDialled.feed(buf[:n])
			hold := pr.hold
			if hold {
				pr.held = append(pr.held, buf[:n]...)
			}
			pr.mu.Unlock()
			if !hold {
				if _, werr := pr.up.Write(buf[:n]); werr != nil {
					pr.fail()
					return
				}
			}
		}
		if err != nil {
			pr.mu.Lock()
			abandoned := pr.abandoned
			pr.mu.Unlock()
			switch {
			case abandoned: // the dialler's side is gone on purpose; up stays
			case errors.Is(err, io.EOF):
				pr.up.CloseWrite() // pass the half-close on
			default:
				pr.fail()
			}
			return
		}
	}
}

// forwardUp copies what the dialled bridge writes to the dialler, or
// throws it away once the pair is abandoned.
func (p *resumeProxy) forwardUp(pr *proxyPair) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		pr.mu.Lock()
		for pr.upStop > 0 && pr.upRead >= pr.upStop && !pr.dead {
			pr.wake.Wait() // read all it may: the bridge's socket backs up
		}
		room, dead := len(buf), pr.dead
		if pr.upStop > 0 {
			room = min(room, pr.upStop-pr.upRead)
		}
		pr.mu.Unlock()
		if dead && pr.upStop > 0 {
			return
		}
		n, err := pr.up.Read(buf[:room])
		pr.mu.Lock()
		abandoned := pr.abandoned
		if n > 0 {
			pr.toDialler.feed(buf[:n])
			pr.upRead += n
			if pr.upStop > 0 {
				pr.upCopy = append(pr.upCopy, buf[:n]...)
			}
		}
		pr.mu.Unlock()
		if n > 0 && !abandoned {
			if _, werr := pr.down.Write(buf[:n]); werr != nil {
				pr.mu.Lock()
				abandoned = pr.abandoned
				pr.mu.Unlock()
				if !abandoned {
					pr.fail()
					return
				}
			} else {
				pr.mu.Lock()
				pr.upForwarded += n
				pr.mu.Unlock()
			}
		}
		if err != nil {
			switch {
			case abandoned:
				pr.up.Close() // the dialled bridge closed its old socket
				pr.mu.Lock()
				pr.dead = true
				pr.wake.Broadcast()
				pr.mu.Unlock()
			case errors.Is(err, io.EOF):
				pr.down.CloseWrite()
			default:
				pr.fail()
			}
			return
		}
	}
}

// fail resets both sides, as a middlebox does when one of them resets.
func (pr *proxyPair) fail() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.abandoned {
		return
	}
	pr.resetLocked()
}

func (pr *proxyPair) reset() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.resetLocked()
}

func (pr *proxyPair) resetLocked() {
	pr.dead = true
	pr.wake.Broadcast()
	resetTCP(pr.down)
	resetTCP(pr.up)
}

// live returns the pairs not reset or ended.
func (p *resumeProxy) live() []*proxyPair {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*proxyPair
	for _, pr := range p.pairs {
		pr.mu.Lock()
		if !pr.dead && !pr.abandoned {
			out = append(out, pr)
		}
		pr.mu.Unlock()
	}
	return out
}

// Cut resets every live pair, both sides, and returns how many.
func (p *resumeProxy) Cut() int {
	prs := p.live()
	for _, pr := range prs {
		pr.reset()
	}
	return len(prs)
}

// Abandon resets the dialler's side of every live pair; the dialled side
// stays open and what it writes is discarded. It returns the pairs.
func (p *resumeProxy) Abandon() []*proxyPair {
	prs := p.live()
	for _, pr := range prs {
		pr.mu.Lock()
		pr.abandoned = true
		resetTCP(pr.down)
		pr.mu.Unlock()
	}
	return prs
}

// Hold keeps, from now on, what the dialler writes on the live pairs in
// the proxy, and returns those pairs.
func (p *resumeProxy) Hold() []*proxyPair {
	prs := p.live()
	for _, pr := range prs {
		pr.mu.Lock()
		pr.hold = true
		pr.mu.Unlock()
	}
	return prs
}

// Pause stops reading what the dialler writes on the live pairs, and
// returns those pairs.
func (p *resumeProxy) Pause() []*proxyPair {
	prs := p.live()
	for _, pr := range prs {
		pr.mu.Lock()
		pr.paused = true
		pr.mu.Unlock()
	}
	return prs
}

// StopUpAt makes each new pair dial the target with d (nil: a plain
// dial), read at most n bytes from it (the 101 response included), keep a
// copy of them (UpRead) and forward them, and then stop reading, so that
// the dialled bridge's socket backs up. Set it before the dialler
// connects.
func (p *resumeProxy) StopUpAt(n int, d *net.Dialer) {
	p.mu.Lock()
	p.upStop, p.upDialer = n, d
	p.mu.Unlock()
}

// UpRead returns a copy of what the pair read from the dialled bridge (a
// pair bounded by StopUpAt), and how much of it was forwarded.
func (pr *proxyPair) UpRead() (read []byte, forwarded int) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return append([]byte(nil), pr.upCopy...), pr.upForwarded
}

// CutUp resets the dialled side of the pair (the bridge sees a TCP reset;
// what its kernel and the proxy's held for the dialler is lost) and
// closes the dialler's side in order: the dialler reads what the proxy
// forwarded, then the end of the stream.
func (pr *proxyPair) CutUp() {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	pr.dead = true
	pr.wake.Broadcast()
	resetTCP(pr.up)
	pr.down.Close()
}

// Refuse turns the resetting of new connections on or off.
func (p *resumeProxy) Refuse(on bool) {
	p.mu.Lock()
	p.refuse = on
	p.mu.Unlock()
}

// Pairs returns every pair so far.
func (p *resumeProxy) Pairs() []*proxyPair {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*proxyPair(nil), p.pairs...)
}

// Held returns how many bytes the pair holds back.
func (pr *proxyPair) Held() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return len(pr.held)
}

// ReleaseHeld writes what the pair held to the dialled bridge's socket,
// and reports whether the write went through.
func (pr *proxyPair) ReleaseHeld() bool {
	pr.mu.Lock()
	b := pr.held
	pr.held, pr.hold = nil, false
	pr.mu.Unlock()
	_, err := pr.up.Write(b)
	return err == nil
}

// Heads returns the upgrade request and the response the pair carried.
func (pr *proxyPair) Heads() (request, response string) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return string(pr.toDialled.head), string(pr.toDialler.head)
}

// Classes returns the counts of the text messages' classes the dialler
// wrote (toDialled) and the dialled bridge wrote (toDialler).
func (pr *proxyPair) Classes() (toDialled, toDialler map[string]int) {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	cp := func(m map[string]int) map[string]int {
		out := map[string]int{}
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return cp(pr.toDialled.classes), cp(pr.toDialler.classes)
}

// proxyClasses sums Classes over every pair.
func (p *resumeProxy) proxyClasses() (toDialled, toDialler map[string]int) {
	toDialled, toDialler = map[string]int{}, map[string]int{}
	for _, pr := range p.Pairs() {
		d, l := pr.Classes()
		for k, v := range d {
			toDialled[k] += v
		}
		for k, v := range l {
			toDialler[k] += v
		}
	}
	return toDialled, toDialler
}

func (p *resumeProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	prs := p.pairs
	p.mu.Unlock()
	for _, pr := range prs {
		pr.mu.Lock()
		pr.abandoned = false
		pr.resetLocked()
		pr.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
		p.t.Errorf("resumeProxy: forwarders still running %v after close", wait)
	}
}

// resetTCP closes c with SO_LINGER 0: the kernel sends RST, not FIN, and
// discards what was unsent.
func resetTCP(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// tap follows one direction of a WebSocket connection: the HTTP head, then
// frames, counting the colibriClass of each text message ("(invalid)" for
// one that is not JSON; control frames as "#ping", "#pong", "#close").
type tap struct {
	head     []byte
	headDone bool
	buf      []byte
	classes  map[string]int
}

func (tp *tap) feed(b []byte) {
	if tp.classes == nil {
		tp.classes = map[string]int{}
	}
	if !tp.headDone {
		tp.head = append(tp.head, b...)
		i := bytes.Index(tp.head, []byte("\r\n\r\n"))
		if i < 0 {
			return
		}
		b = append([]byte(nil), tp.head[i+4:]...)
		tp.head, tp.headDone = tp.head[:i+4], true
	}
	tp.buf = append(tp.buf, b...)
	for {
		n, op, payload, ok := parseFrame(tp.buf)
		if !ok {
			return
		}
		switch op {
		case 0x1:
			var m struct {
				ColibriClass string `json:"colibriClass"`
			}
			if json.Unmarshal(payload, &m) != nil {
				tp.classes["(invalid)"]++
			} else {
				tp.classes[m.ColibriClass]++
			}
		case 0x0:
			tp.classes["#continuation"]++
		case 0x8:
			tp.classes["#close"]++
		case 0x9:
			tp.classes["#ping"]++
		case 0xA:
			tp.classes["#pong"]++
		default:
			tp.classes["#other"]++
		}
		tp.buf = tp.buf[n:]
	}
}

// parseFrame reads one whole frame at the start of b: its length, opcode
// and unmasked payload.
func parseFrame(b []byte) (n int, op byte, payload []byte, ok bool) {
	if len(b) < 2 {
		return 0, 0, nil, false
	}
	op = b[0] & 0x0f
	masked := b[1]&0x80 != 0
	l := uint64(b[1] & 0x7f)
	h := 2
	switch l {
	case 126:
		if len(b) < 4 {
			return 0, 0, nil, false
		}
		l, h = uint64(binary.BigEndian.Uint16(b[2:4])), 4
	case 127:
		if len(b) < 10 {
			return 0, 0, nil, false
		}
		l, h = binary.BigEndian.Uint64(b[2:10]), 10
	}
	var key []byte
	if masked {
		if len(b) < h+4 {
			return 0, 0, nil, false
		}
		key, h = b[h:h+4], h+4
	}
	if uint64(len(b)-h) < l {
		return 0, 0, nil, false
	}
	payload = append([]byte(nil), b[h:h+int(l)]...)
	for i := range payload {
		if key != nil {
			payload[i] ^= key[i%4]
		}
	}
	return h + int(l), op, payload, true
}

// hasResumeHeader reports whether an HTTP head carries the extension's
// header (any case).
func hasResumeHeader(head string) bool {
	for _, line := range strings.Split(head, "\r\n") {
		if k, _, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), "X-Colibri-Relay-Resume") {
			return true
		}
	}
	return false
}
