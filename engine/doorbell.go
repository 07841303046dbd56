package engine

import (
	"context"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// doorbell starts a loop's next round of the inbound share. It is a
// socket pair: one end is enrolled into the loop like a connection, and a
// byte written to the other makes it readable. The loop then sees it with
// the other sockets of its next poll, so a backlog resumes after the
// loop's fresh input has had its turn.
//
// gnet offers no such hook: its tasks (Execute, Conn.Wake) run until the
// task queue is empty before the loop polls again, so a backlog resumed
// from a task would be routed whole while every other socket waited.
type doorbell struct {
	l     *loop
	gc    gnet.Conn // the enrolled end, once open
	wfd   int       // the end we write to
	rung  bool      // a byte is in flight
	ready bool
}

// openBell enrolls a doorbell into l. It does not wait: the bell works
// once gnet has opened it (OnOpen), and the sweep stands in until then.
func (l *loop) openBell() {
	if l.bell != nil || l.e.stopping.Load() {
		return
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err != nil {
		return
	}
	nc, err := fdConn(fds[0], "doorbell")
	if err != nil {
		unix.Close(fds[1])
		return
	}
	b := &doorbell{l: l, wfd: fds[1]}
	res, err := l.el.Enroll(gnet.NewContext(context.Background(), b), nc)
	if err != nil {
		nc.Close()
		unix.Close(fds[1])
		return
	}
	l.bell = b
	// gnet registers the bell later, from its worker pool. If that fails
	// (the engine stops first), nothing else would close our end: wait for
	// the outcome once, and let the sweep try again.
	go func() {
		if r := <-res; r.Err != nil {
			forget := gnet.RunnableFunc(func(context.Context) error {
				if l.bell == b {
					l.bell = nil
				}
				return unix.Close(b.wfd)
			})
			if l.el.Execute(context.Background(), forget) != nil {
				unix.Close(b.wfd) // the loop is gone
			}
		}
	}()
}

// open is OnOpen of the enrolled end.
func (b *doorbell) open(gc gnet.Conn) {
	b.gc, b.ready = gc, true
	if len(b.l.backlog) > 0 {
		b.ring()
	}
}

// ring makes the bell readable, once per round. It reports false while
// the bell is not enrolled yet.
func (b *doorbell) ring() bool {
	if !b.ready {
		return false
	}
	if b.rung {
		return true
	}
	b.rung = true
	one := [1]byte{1}
	_, _ = unix.Write(b.wfd, one[:]) // EAGAIN: a byte is waiting already
	return true
}

// answer is OnTraffic of the enrolled end: the next round starts.
func (b *doorbell) answer() {
	b.gc.Discard(-1)
	b.rung = false
	b.l.resume()
}

// closed is OnClose of the enrolled end (the engine stops).
func (b *doorbell) closed() {
	unix.Close(b.wfd)
	b.ready = false
	if b.l.bell == b {
		b.l.bell = nil
	}
}
