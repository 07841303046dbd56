package engine

import (
	"context"
	"sync/atomic"

	"github.com/panjf2000/gnet/v2"
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
	drainTask gnet.Runnable
}

type queuedSend struct {
	run  func()
	next *queuedSend
}

func (q *sendQueue) init() {
	q.drainTask = gnet.RunnableFunc(func(context.Context) error { q.drain(); return nil })
}

// push adds run and reports whether the caller must schedule a drain.
func (q *sendQueue) push(run func()) bool {
	s := &queuedSend{run: run}
	for {
		s.next = q.head.Load()
		if q.head.CompareAndSwap(s.next, s) {
			break
		}
	}
	return !q.scheduled.Swap(true)
}

// drain routes every send pushed so far, oldest first. A push that lands
// after the swap schedules a drain of its own.
func (q *sendQueue) drain() {
	q.scheduled.Store(false)
	var first *queuedSend
	for s := q.head.Swap(nil); s != nil; {
		next := s.next
		s.next, first = first, s
		s = next
	}
	for s := first; s != nil; s = s.next {
		s.run()
	}
}

// run runs fn, an embedder's send (route.Runner), on the first loop, after
// every send before it; it never waits. With no loop yet there is no
// socket either (nothing to fence), and fn runs at once.
func (e *Engine) run(fn func()) {
	loops := *e.loopList.Load()
	if len(loops) == 0 {
		fn()
		return
	}
	l := loops[0]
	push := func() {
		if e.sends.push(fn) {
			l.scheduleSends()
		}
	}
	if d := e.inFlight; d != nil {
		d(push) // the simulation preempts the embedder before its push
		return
	}
	push()
}

// scheduleSends queues the drain of the engine's sends on l.
func (l *loop) scheduleSends() {
	q := &l.e.sends
	if err := l.el.Execute(context.Background(), q.drainTask); err != nil {
		q.drain() // engine shutting down: the sends find no loop and are counted dropped
	}
}
