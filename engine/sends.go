package engine

import (
	"context"
	"sync/atomic"

	"github.com/colibri-bus/colibri/internal/route"
)

// An embedder's sends (route.Router's SendToEndpoint, SendToConference)
// are checked and encoded on the embedder's goroutine and routed on the
// first loop, in the order they were made. Routed there, a send is behind
// the fence of any handover that starts later (handover.go), and a
// handover that started earlier swapped its socket in before the send
// looks its receivers up: nothing is lost or reordered, and no loop ever
// waits for an embedder's goroutine. The way onto the loop takes no lock:
// a push is one compare-and-swap, the wake-up is gnet's lock-free task
// queue.

// sendQueue is the list of sends not yet routed, newest first.
type sendQueue struct {
	head      atomic.Pointer[queuedSend]
	scheduled atomic.Bool // a drain is on its way to the loop
}

type queuedSend struct {
	run  func(out route.Sink)
	next *queuedSend
}

// push adds run and reports whether the caller must schedule a drain.
func (q *sendQueue) push(run func(out route.Sink)) bool {
	s := &queuedSend{run: run}
	for {
		s.next = q.head.Load()
		if q.head.CompareAndSwap(s.next, s) {
			break
		}
	}
	return !q.scheduled.Swap(true)
}

// drain routes every send pushed so far, oldest first, through out. A
// push that lands after the swap schedules a drain of its own.
func (q *sendQueue) drain(out route.Sink) {
	q.scheduled.Store(false)
	var first *queuedSend
	for s := q.head.Swap(nil); s != nil; {
		next := s.next
		s.next, first = first, s
		s = next
	}
	for s := first; s != nil; s = s.next {
		s.run(out)
	}
}

// run runs fn, an embedder's send (route.Runner), on the first loop, after
// every send before it; it never waits. With no loop yet there is no
// socket either (nothing to fence), and fn runs at once.
func (e *Engine) run(fn func(out route.Sink)) {
	loops := *e.loopList.Load()
	if len(loops) == 0 {
		fn(colibri{e})
		return
	}
	l := loops[0]
	if d := e.inFlight; d != nil {
		d(func() { l.pushSend(fn) }) // the simulation preempts the embedder before its push
		return
	}
	l.pushSend(fn)
}

// pushSend puts fn on the engine's sends and, if none is on its way, a
// drain on l.
func (l *loop) pushSend(fn func(out route.Sink)) {
	if l.e.sends.push(fn) {
		l.scheduleSends()
	}
}

// scheduleSends queues the drain of the engine's sends on l, where they
// are routed through l itself: its sockets get them directly, as a message
// routed on l, and the others through their loops' inboxes.
func (l *loop) scheduleSends() {
	if err := l.el.Execute(context.Background(), l.sendsTask); err != nil {
		l.e.sends.drain(colibri{l.e}) // engine shutting down: the sends find no loop and are counted dropped
	}
}
