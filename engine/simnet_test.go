package engine

import (
	"context"
	"errors"
	"net"

	"github.com/panjf2000/gnet/v2"
)

// The simulation's network and reactor: what gnet and the kernel do for
// the engine, as plain data the scheduler (sim_test.go) steps through. The
// engine's own code runs unchanged on top: OnOpen, OnTraffic and OnClose
// are called as gnet calls them, on the loop that owns the socket, one
// step at a time.

var (
	errSimReset  = errors.New("sim: connection reset by peer")
	errSimClosed = errors.New("sim: use of closed connection")
	errSimPipe   = errors.New("sim: broken pipe")
)

// simLoop is a gnet event loop. gnet queues a task on its urgent queue
// unless that holds its threshold already, and then on a second queue
// that runs after it: tasks can overtake each other, and the inbox
// (inbox.go) must not care. urgentCap is the threshold, drawn per run.
type simLoop struct {
	gnet.EventLoop // nil: the engine calls nothing else of it

	s         *sim
	idx       int
	l         *loop
	urgent    []func()
	low       []func()
	urgentCap int
}

// Execute queues r as gnet's LowPriority trigger does.
func (sl *simLoop) Execute(ctx context.Context, r gnet.Runnable) error {
	sl.trigger(func() { _ = r.Run(ctx) })
	return nil
}

func (sl *simLoop) trigger(f func()) {
	if len(sl.urgent) >= sl.urgentCap {
		sl.low = append(sl.low, f)
		return
	}
	sl.urgent = append(sl.urgent, f)
}

// runTask runs the next task: the urgent queue first.
func (sl *simLoop) runTask() bool {
	var f func()
	switch {
	case len(sl.urgent) > 0:
		f, sl.urgent = sl.urgent[0], sl.urgent[1:]
	case len(sl.low) > 0:
		f, sl.low = sl.low[0], sl.low[1:]
	default:
		return false
	}
	f()
	return true
}

func (sl *simLoop) tasks() int { return len(sl.urgent) + len(sl.low) }

// simBell is the loop's doorbell: a ring becomes a round of the loop
// (resume) that the scheduler runs as a step of its own, after other
// events of the loop, as the real bell's byte is read after a poll.
type simBell struct {
	l    *loop
	rung bool
}

func (b *simBell) ring() bool {
	b.rung = true
	return true
}

// simConn is one TCP connection as gnet and the kernel hold it on the
// bridge's side. in is what arrived from the client and the engine has
// not consumed (gnet's inbound buffer); out is what the engine wrote and
// the kernel did not take (gnet's outbound buffer); kern is what the
// kernel took and the client has not read, at most kcap bytes.
type simConn struct {
	gnet.Conn // nil: a method the engine is not expected to call panics

	s      *sim
	sl     *simLoop
	id     int
	ctx    any
	client *simSocket

	in   []byte
	out  []byte
	kern []byte
	kcap int

	order  int    // when the bridge first wrote to it (its 101): the order in which sockets attached
	wire   []byte // sent by the client, not arrived yet
	opened bool   // OnOpen ran
	closed bool   // OnClose ran: gnet forgot the socket
	queued bool   // a Close task is queued
	shutWr bool   // the engine shut the write side
	reset  bool   // the client reset the connection; the loop has not seen it yet
	fin    bool   // the bridge's end of stream follows kern
}

func (sc *simConn) Context() any              { return sc.ctx }
func (sc *simConn) SetContext(v any)          { sc.ctx = v }
func (sc *simConn) EventLoop() gnet.EventLoop { return sc.sl }
func (sc *simConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10000 + sc.id}
}
func (sc *simConn) Fd() int               { return -1 }
func (sc *simConn) InboundBuffered() int  { return len(sc.in) }
func (sc *simConn) OutboundBuffered() int { return len(sc.out) }

// Peek returns the first n bytes of the inbound buffer (all for n < 0).
func (sc *simConn) Peek(n int) ([]byte, error) {
	if n < 0 || n > len(sc.in) {
		n = len(sc.in)
	}
	return sc.in[:n:n], nil
}

// Discard consumes n bytes of the inbound buffer (all for n < 0).
func (sc *simConn) Discard(n int) (int, error) {
	if n < 0 || n > len(sc.in) {
		n = len(sc.in)
	}
	sc.in = sc.in[n:]
	sc.client.consumed += n
	return n, nil
}

// Write is gnet's write on the loop: behind bytes gnet holds already it
// only queues; otherwise the kernel takes what fits and gnet keeps the
// rest. A write to a reset connection fails, and gnet closes the socket
// inside the call (OnClose runs before Write returns).
func (sc *simConn) Write(p []byte) (int, error) {
	if sc.closed {
		return 0, errSimClosed
	}
	if sc.order == 0 {
		sc.s.writes++
		sc.order = sc.s.writes
	}
	if sc.reset || sc.shutWr {
		err := errSimReset
		if !sc.reset {
			err = errSimPipe
		}
		sc.closeNow(err)
		return 0, err
	}
	if len(sc.out) > 0 {
		sc.out = append(sc.out, p...)
		return len(p), nil
	}
	k := min(len(p), sc.kcap-len(sc.kern))
	sc.kern = append(sc.kern, p[:k]...)
	sc.out = append(sc.out, p[k:]...)
	return len(p), nil
}

// CloseWrite shuts the write side: gnet can send nothing more.
func (sc *simConn) CloseWrite() error {
	sc.shutWr = true
	sc.out = nil
	sc.fin = true
	return nil
}

// Close queues the close as gnet does (a LowPriority trigger).
func (sc *simConn) Close() error {
	if sc.closed || sc.queued {
		return nil
	}
	sc.queued = true
	sc.sl.trigger(func() { sc.closeNow(nil) })
	return nil
}

// closeNow is gnet's loop.close: OnClose, then one try to send what gnet
// holds (what the kernel does not take is gone), then the end of stream.
func (sc *simConn) closeNow(err error) {
	if sc.closed || !sc.opened {
		return
	}
	sc.closed = true
	sc.s.e.onClose(sc, err)
	if !sc.reset && !sc.shutWr {
		k := min(len(sc.out), sc.kcap-len(sc.kern))
		sc.kern = append(sc.kern, sc.out[:k]...)
	}
	sc.out = nil
	sc.fin = true
}

// writable moves what gnet holds into the kernel as far as it has room:
// gnet's write on a writable event.
func (sc *simConn) writable() {
	if sc.closed || sc.reset || len(sc.out) == 0 {
		return
	}
	k := min(len(sc.out), sc.kcap-len(sc.kern))
	sc.kern = append(sc.kern, sc.out[:k]...)
	sc.out = sc.out[k:]
	if len(sc.out) == 0 {
		sc.out = nil
	}
}

// readable delivers up to n bytes of the wire and runs OnTraffic, or
// closes the socket for a reset or the client's end of stream.
func (sc *simConn) readable(n int) {
	if sc.closed {
		return
	}
	if sc.reset {
		sc.closeNow(errSimReset)
		return
	}
	n = min(n, len(sc.wire))
	sc.in = append(sc.in, sc.wire[:n]...)
	sc.wire = sc.wire[n:]
	if n == 0 && sc.client.finSent {
		sc.closeNow(nil)
		return
	}
	if sc.s.e.onTraffic(sc) == gnet.Close {
		sc.closeNow(nil)
	}
}
