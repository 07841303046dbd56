package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"sync"

	"github.com/colibri-bus/colibri/wsproto"
)

// inbox carries frames to a loop's connections from other goroutines (the
// other loops, REST calls, an embedder), in the order they were put.
//
// gnet's tasks do not keep that order under load: a task is queued on the
// urgent queue unless that already holds 1,024, and then on a second queue
// that runs later, so a frame handed over as its own task could overtake
// the one before it (a flood test showed receivers on the other loop
// getting message 1306 before 1284). An inbox is a locked list that one
// task drains whole: however the drain tasks are ordered among
// themselves, each takes everything put before it.
type inbox struct {
	mu        sync.Mutex
	items     []inboxItem
	conns     []*conn // the receivers of all items, item by item
	scheduled bool    // a drain task is queued

	spareItems []inboxItem
	spareConns []*conn
}

// inboxItem is one frame and its receivers, conns[start:end], or a
// control step of a handover (run), which must keep its place among the
// frames.
type inboxItem struct {
	f          *wsproto.SharedFrame
	class      route.Class
	start, end int
	run        func()
}

// put appends f for conns and reports whether the caller must schedule a
// drain (none is queued yet). The inbox owns the caller's reference on f.
func (in *inbox) put(f *wsproto.SharedFrame, class route.Class, conns []*conn) bool {
	in.mu.Lock()
	start := len(in.conns)
	in.conns = append(in.conns, conns...)
	in.items = append(in.items, inboxItem{f: f, class: class, start: start, end: len(in.conns)})
	schedule := !in.scheduled
	in.scheduled = true
	in.mu.Unlock()
	return schedule
}

// putControl appends run, to be called in order with the frames; it
// reports whether the caller must schedule a drain.
func (in *inbox) putControl(run func()) bool {
	in.mu.Lock()
	n := len(in.conns)
	in.items = append(in.items, inboxItem{run: run, start: n, end: n})
	schedule := !in.scheduled
	in.scheduled = true
	in.mu.Unlock()
	return schedule
}

// claim promises a drain by the caller, on the loop, before it returns to
// gnet: puts until then schedule none (appconn.go calls it around an
// application's handler, whose sends then need no task and no wake-up).
func (in *inbox) claim() {
	in.mu.Lock()
	in.scheduled = true
	in.mu.Unlock()
}

// drain hands every frame put so far to deliver, receiver by receiver, in
// order, and releases the inbox's references.
func (in *inbox) drain(deliver func(c *conn, f *wsproto.SharedFrame, class route.Class)) {
	in.mu.Lock()
	items, conns := in.items, in.conns
	in.items, in.conns = in.spareItems[:0], in.spareConns[:0]
	in.spareItems, in.spareConns = nil, nil
	in.scheduled = false
	in.mu.Unlock()
	for i := range items {
		it := &items[i]
		if it.run != nil {
			it.run()
			*it = inboxItem{}
			continue
		}
		for _, c := range conns[it.start:it.end] {
			deliver(c, it.f, it.class)
		}
		it.f.Release()
		*it = inboxItem{}
	}
	clear(conns)
	in.mu.Lock()
	if in.spareItems == nil {
		in.spareItems, in.spareConns = items[:0], conns[:0]
	}
	in.mu.Unlock()
}

// dropNoLoop counts a frame for a loop that is gone.
func dropNoLoop(c *conn, _ *wsproto.SharedFrame, _ route.Class) {
	c.dropped(route.DropNoConnection)
}
