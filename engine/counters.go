package engine

import (
	"github.com/colibri-bus/colibri/internal/route"
	"sync/atomic"
)

// counters are a loop's counts of its hot path. Only the loop adds to
// them, so the atomic adds never contend; readers sum them over the loops.
type counters struct {
	_             [128]byte     // off the line, and its prefetched pair, of the loop's other fields
	received      atomic.Uint64 // text messages read and routed
	sent          atomic.Uint64 // text frames queued for writing
	dropped       [route.NumDropReasons]atomic.Uint64
	backlogClosed atomic.Uint64 // senders closed for an inbound backlog over its bound
	_             [128]byte     // keep the next loop's fields off these lines
}

func (k *counters) drop(d route.DropReason) { k.dropped[d].Add(1) }

// Traffic is a snapshot of the engine's hot-path counters, summed over
// its loops.
type Traffic struct {
	MessagesReceived uint64 // Colibri text messages read and routed, and application messages read
	MessagesSent     uint64 // Colibri text frames queued for writing (ServerHello included), and application messages
	// Dropped counts the frames the engine decided not to queue, by
	// routing.DropReason name: a receiver's socket closing, a slow
	// receiver, binary messages. The router counts its own drops.
	Dropped map[string]uint64
	// BacklogClosed counts senders closed with 1008 because more of their
	// input waited unparsed than Limits.InboundBacklog allows.
	BacklogClosed uint64
}

// Traffic sums the loops' counters.
func (e *Engine) Traffic() Traffic {
	var t Traffic
	var dropped [route.NumDropReasons]uint64
	for _, l := range *e.loopList.Load() {
		k := &l.count
		t.MessagesReceived += k.received.Load()
		t.MessagesSent += k.sent.Load()
		t.BacklogClosed += k.backlogClosed.Load()
		for i := range dropped {
			dropped[i] += k.dropped[i].Load()
		}
	}
	t.Dropped = make(map[string]uint64, len(dropped))
	for i, v := range dropped {
		t.Dropped[route.DropReason(i).String()] = v
	}
	return t
}
