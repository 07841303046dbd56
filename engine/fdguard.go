package engine

import (
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// The descriptor guard.
//
// gnet v2.9.7 stops the whole engine when accept(2) fails with anything but
// EAGAIN, EINTR, ECONNRESET or ECONNABORTED: acceptor_unix.go returns
// ErrAcceptSocket, the main reactor's poller returns it, and the engine
// shuts down, closing every connection. EMFILE is such an error, so a peer
// that opens TCP connections until the process runs out of descriptors
// would take the public listener down for good (measured: with 256
// descriptors, 125 idle connections did it).
//
// The engine therefore keeps a reserve of descriptors. gnet accepts on its
// own goroutine and opens each connection on an event loop later, so a
// refusal in OnOpen comes with a lag: clients complete their handshakes in
// the kernel whether or not anyone accepts, and a flood arriving faster
// than the loops can close connections outruns any fixed reserve (measured:
// 700 connections past the cap with four dialling goroutines). So at the
// cap the engine stops the kernel from completing new handshakes on the
// listener: a classic BPF filter that drops every packet is attached to the
// listening socket (clients' SYNs go unanswered and are retried), and it is
// removed by the timer sweep once the connections fall below the cap
// again. Until then only what the accept queue already holds arrives, and
// each of those is answered 503 and closed. The reserve is the backlog,
// lowered to guardBacklog, plus a margin for everything else (the REST
// server, relay dials, TLS socket pairs, the runtime): with the box's
// limit of 20,000 the cap is 19,488 connections.
const (
	guardBacklog = 256
	guardMargin  = 256
)

// fdRefusal is the answer to a connection past the cap.
var fdRefusal = wsproto.AppendHTTPResponse(nil, 503, "Retry-After: 5\r\n", "too many connections\n")

// guardDescriptors sets fdCap from RLIMIT_NOFILE and lowers the listen
// backlog of the plain listener. Small limits (tests) scale both down.
func (e *Engine) guardDescriptors() {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil || rl.Cur == unix.RLIM_INFINITY || rl.Cur > 1<<24 {
		return
	}
	limit := int64(rl.Cur)
	backlog := min(guardBacklog, limit/16)
	if fd, err := e.eng.Dup(); err == nil {
		// listen(2) on a listening socket only changes its backlog.
		_ = unix.Listen(fd, int(backlog))
		unix.Close(fd)
	}
	e.fdCap.Store(limit - backlog - min(guardMargin, limit/16))
}

// admit counts a connection just opened and reports whether it may stay.
// One past the cap is not counted: OnOpen answers it fdRefusal and closes
// it, and the listener stops accepting. Connections the engine enrolled
// itself (relay dials, TLS) are never refused here. The count is taken
// before the check, so that loops opening connections at once cannot both
// take the last place.
func (e *Engine) admit(gc gnet.Conn) bool {
	n := e.stats.Conns.Add(1) // our own count: of two loops at the cap, one passes
	limit := e.fdCap.Load()
	if limit <= 0 || gc.Context() != nil || n+e.tlsDescriptors() <= limit {
		return true
	}
	e.stats.Conns.Add(-1)
	e.stats.countReject(503)
	if e.fdPaused.CompareAndSwap(false, true) {
		e.setAcceptFilter(true)
	}
	return false
}

// resumeAccepts removes the drop filter once the connections fell below
// the cap by a margin (from the timer sweep).
func (e *Engine) resumeAccepts() {
	limit := e.fdCap.Load()
	if e.fdPaused.Load() && e.descriptors() < limit-min(guardMargin, limit/16) &&
		e.fdPaused.CompareAndSwap(true, false) {
		e.setAcceptFilter(false)
	}
}

// descriptors estimates the descriptors the connections hold: one per TCP
// connection, two more per TLS connection (its socket pair), and three
// per TLS connection still in its handshake: the one it holds and the two
// it will need once it is enrolled.
func (e *Engine) descriptors() int64 {
	return e.stats.Conns.Load() + e.tlsDescriptors()
}

// tlsDescriptors is what TLS connections hold or reserve besides their gnet
// connection: a socket pair each, and three for one still in its handshake.
func (e *Engine) tlsDescriptors() int64 { return 2*e.tlsOpen.Load() + 3*e.tlsShake.Load() }

// dropAll is a classic BPF program that accepts no packet.
var dropAll = []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}

// setAcceptFilter attaches or removes dropAll on the listening socket.
func (e *Engine) setAcceptFilter(on bool) {
	fd, err := e.eng.Dup()
	if err != nil {
		return
	}
	defer unix.Close(fd)
	if on {
		err = unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER,
			&unix.SockFprog{Len: uint16(len(dropAll)), Filter: &dropAll[0]})
		e.log.Warn("descriptor reserve reached: new connections wait until some close",
			"connections", e.stats.Conns.Load(), "cap", e.fdCap.Load(), "err", errString(err))
		return
	}
	err = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0)
	e.log.Info("descriptor reserve available again: accepting", "connections", e.stats.Conns.Load(), "err", errString(err))
}
