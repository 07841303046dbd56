package engine

import (
	"context"
	"github.com/colibri-bus/colibri/internal/route"
	"sync/atomic"

	"github.com/colibri-bus/colibri/wsproto"
	"github.com/panjf2000/gnet/v2"
)

// loop is the engine's record of one gnet event loop. Every field is owned
// by the loop's goroutine; other goroutines reach it only through execute,
// and read only count.
type loop struct {
	e     *Engine
	el    gnet.EventLoop
	index int
	conns []*conn // every open connection of the loop, for timers and shutdown

	dirty     []*conn // connections with bytes pending, flushed once per round
	flushSet  bool    // a flush task is queued
	flushTask gnet.Runnable
	bufs      spares // free pending buffers (outbound.go)
	// writing is the Write in progress on one of the loop's sockets: its
	// bytes, which OnClose within the Write takes back (keep.go). One
	// loop writes to one socket at a time, so it is the loop's, not each
	// socket's.
	writing struct {
		c *conn
		b []byte
	}

	// in holds the frames other goroutines deliver to this loop's
	// connections, in the order they were delivered; drainTask routes them.
	in        inbox
	drainTask gnet.Runnable
	sendsTask gnet.Runnable // routes the embedder's sends on this loop (sends.go)

	// The inbound share (read.go): round numbers the loop's rounds;
	// backlog holds the connections with complete input left for the next
	// one, which the doorbell starts.
	round      uint64
	backlog    []*conn
	spare      []*conn
	bell       ringer
	deliveries uint64 // every delivery this loop's sink saw: the cost of routing

	// groups collects, during one Deliver, the receivers on other loops.
	groups    []remoteGroup
	heartbeat atomic.Int64 // time of the last sweep; read by the health check
	count     counters
	// routed are the router's counters of this loop (route.Counted):
	// nil when the engine serves no Colibri.
	routed *route.Counters
}

// ringer starts a round of its loop (resume) once the loop has polled its
// sockets again: the doorbell, or the simulation's.
type ringer interface {
	// ring asks for the round; false means it cannot (the caller starts
	// one itself). Rings before the round starts are one.
	ring() bool
}

// remoteGroup is the receivers of one Deliver that live on another loop.
type remoteGroup struct {
	to    *loop
	conns []*conn
}

func newLoop(e *Engine, el gnet.EventLoop, index int) *loop {
	l := &loop{e: e, el: el, index: index, round: 1}
	if e.router != nil {
		l.routed = e.router.NewCounters()
	}
	// A loop that blocks before its first sweep must show as stalled too.
	l.heartbeat.Store(e.now())
	l.flushTask = gnet.RunnableFunc(func(context.Context) error { l.flush(); return nil })
	l.drainTask = gnet.RunnableFunc(func(context.Context) error { l.in.drain((*conn).enqueue); return nil })
	l.sendsTask = gnet.RunnableFunc(func(context.Context) error { e.sends.drain(l); return nil })
	return l
}

// execute runs f on the loop's goroutine.
func (l *loop) execute(f func()) {
	_ = l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error { f(); return nil }))
}

// add registers c for timers and shutdown.
func (l *loop) add(c *conn) {
	c.slot = int32(len(l.conns))
	l.conns = append(l.conns, c)
}

// remove forgets c (swap-delete).
func (l *loop) remove(c *conn) {
	i := int(c.slot)
	if i < 0 || i >= len(l.conns) || l.conns[i] != c {
		return
	}
	last := len(l.conns) - 1
	l.conns[i] = l.conns[last]
	l.conns[i].slot = int32(i)
	l.conns[last] = nil
	l.conns = l.conns[:last]
	c.slot = -1
}

// wait puts c in the backlog for the next round and rings the doorbell,
// which starts that round once the loop has polled its sockets again.
func (l *loop) wait(c *conn) {
	c.waiting = true
	if c.listed {
		return
	}
	c.listed = true
	l.backlog = append(l.backlog, c)
	if l.bell != nil {
		l.bell.ring()
	}
}

// resume starts a round: every connection in the backlog gets its share
// again and routes what it has waiting.
func (l *loop) resume() {
	l.round++
	list := l.backlog
	l.backlog, l.spare = l.spare[:0], nil
	for i, c := range list {
		list[i] = nil
		c.listed = false
		if !c.waiting || c.forgotten() {
			continue
		}
		if c.readFrames() == gnet.Close {
			c.gc.Close()
		}
	}
	l.spare = list[:0]
}

// markDirty schedules c's pending bytes for the end of this loop round.
func (l *loop) markDirty(c *conn) {
	if !c.dirty {
		l.addDirty(c)
	}
}

// addDirty lists c, not yet dirty, for the round's flush.
func (l *loop) addDirty(c *conn) {
	c.dirty = true
	l.dirty = append(l.dirty, c)
	if !l.flushSet {
		l.flushSet = true
		_ = l.el.Execute(context.Background(), l.flushTask)
	}
}

// flush writes every dirty connection's pending bytes with one write each.
// It runs as a task, after the loop has handled the round's readable
// sockets, so frames produced in one round leave together.
func (l *loop) flush() {
	l.flushSet = false
	for i, c := range l.dirty {
		l.dirty[i] = nil
		c.dirty = false
		c.flushPending()
	}
	l.dirty = l.dirty[:0]
}

// sweep applies the connection timers of the loop. It also starts a round
// for a backlog the doorbell did not (it is not enrolled yet, or gone).
func (l *loop) sweep(now int64) {
	l.heartbeat.Store(l.e.now())
	l.bufs.sweep()
	if l.bell == nil {
		l.openBell()
	}
	if len(l.backlog) > 0 && (l.bell == nil || !l.bell.ring()) {
		l.resume()
	}
	for i := len(l.conns) - 1; i >= 0; i-- {
		if i < len(l.conns) {
			l.conns[i].checkTimers(now)
		}
	}
}

// Deliver queues f on every connection in to (routing.Sink). Receivers on
// this loop get the frame copied into their pending buffer now; receivers
// on other loops get it through each loop's inbox, once per loop, not once
// per receiver.
// It must run on l's goroutine.
func (l *loop) Deliver(f *wsproto.SharedFrame, class route.Class, to []route.Conn) {
	l.deliveries += uint64(len(to))
	for _, rc := range to {
		c := rc.(*conn)
		if c.loop != l {
			g := l.groupFor(c.loop)
			g.conns = append(g.conns, c)
			continue
		}
		// enqueue's hot path, in line: an open socket queues the frame.
		if c.state != stOpen || !c.write(f, class) {
			c.enqueue(f, class)
		}
	}
	for i := range l.groups {
		g := &l.groups[i]
		if len(g.conns) > 0 {
			g.to.deliverRemote(f, class, g.conns)
			clear(g.conns)
			g.conns = g.conns[:0]
		}
	}
}

// Counters returns the router's counters of l (route.Counted).
func (l *loop) Counters() *route.Counters { return l.routed }

func (l *loop) groupFor(to *loop) *remoteGroup {
	for i := range l.groups {
		if l.groups[i].to == to {
			return &l.groups[i]
		}
	}
	l.groups = append(l.groups, remoteGroup{to: to})
	return &l.groups[len(l.groups)-1]
}

// deliverRemote hands f to l (from any goroutine) for conns, which live
// on l, through l's inbox. It takes a reference on f that l releases.
func (l *loop) deliverRemote(f *wsproto.SharedFrame, class route.Class, conns []*conn) {
	f.Retain()
	if d := l.e.inFlight; d != nil {
		cs := append([]*conn(nil), conns...)
		d(func() { l.schedule(l.in.put(f, class, cs)) })
		return
	}
	l.schedule(l.in.put(f, class, conns))
}

// control runs f on l's goroutine in order with the frames other
// goroutines put on l's inbox before it (handover.go).
func (l *loop) control(f func()) {
	if d := l.e.inFlight; d != nil {
		d(func() { l.schedule(l.in.putControl(f)) })
		return
	}
	l.schedule(l.in.putControl(f))
}

// schedule queues the drain of l's inbox when a put asked for it.
func (l *loop) schedule(drain bool) {
	if !drain {
		return
	}
	if err := l.el.Execute(context.Background(), l.drainTask); err != nil {
		l.in.drain(dropNoLoop) // engine shutting down: the frames go with the loop
	}
}

// deliver is the engine's sink for messages that originate off the loops
// (REST calls, an embedder's goroutines): every receiver's loop gets one task.
func (e *Engine) deliver(f *wsproto.SharedFrame, class route.Class, to []route.Conn) {
	var groups []remoteGroup // in the order of to's first receiver on each loop
	for _, rc := range to {
		c := rc.(*conn)
		i := 0
		for i < len(groups) && groups[i].to != c.loop {
			i++
		}
		if i == len(groups) {
			groups = append(groups, remoteGroup{to: c.loop})
		}
		groups[i].conns = append(groups[i].conns, c)
	}
	for _, g := range groups {
		g.to.deliverRemote(f, class, g.conns)
	}
}
