package route

import (
	"sync"
	"sync/atomic"
)

// DropReason says why a message, or one delivery of it, was dropped.
type DropReason uint8

// Reasons for dropping. The router counts what it decides; the transport
// decides DropBinary, DropSlowReceiver and DropNoConnection for a socket
// that is closing, and counts those in its own counters. Each drop is
// counted once, by the side that decided it.
const (
	DropInvalidJSON DropReason = iota
	DropDuplicateKey
	DropUnknownClass
	DropUnexpectedClass // a known class not accepted in this direction
	DropInvalidFields   // a consumed message whose fields fail validation
	DropUnknownTarget   // unicast to an endpoint the conference does not have
	DropVisitor         // EndpointMessage or EndpointStats from a visitor
	DropNotCurrent      // text on a socket that was replaced
	DropExpired         // the conference or endpoint has been expired
	DropNoConnection    // a receiver with no socket at the moment
	DropBinary          // binary messages are not part of the protocol
	DropSlowReceiver    // a receiver's outbound queue was over budget
	numDropReasons
)

var dropNames = [numDropReasons]string{
	"invalid_json", "duplicate_key", "unknown_class", "unexpected_class",
	"invalid_fields", "unknown_target", "visitor", "not_current_socket",
	"expired", "no_connection", "binary", "slow_receiver",
}

// String returns the reason's snake_case name, used in stats and metrics.
func (d DropReason) String() string {
	if d < numDropReasons {
		return dropNames[d]
	}
	return "unknown"
}

// NumDropReasons is the number of drop reasons, for arrays indexed by them.
const NumDropReasons = int(numDropReasons)

// cacheLine is the span two loops' counters keep apart: a 64-byte line,
// doubled for the adjacent-line prefetcher, which moves lines in pairs.
const cacheLine = 128

// Counters are the router's counters of one goroutine that routes, an
// event loop: only it adds to them, so no two loops write one cache line
// for a message. Stats sums them when read. The transport gets a loop's
// from Router.NewCounters and hands them over with its sink (Counted).
type Counters struct {
	_         [cacheLine]byte
	received  atomic.Uint64 // text messages received on endpoint and relay sockets
	delivered atomic.Uint64 // frames handed to the transport (one per receiver)
	dropped   [numDropReasons]atomic.Uint64
	fanOut    Histogram // the number of receivers of each routed message
	// RouteNanos is the time to route one message (classify, rewrite,
	// encode, hand to the sink), sampled by the transport; nanoseconds.
	RouteNanos Histogram
	_          [cacheLine]byte
}

func (k *Counters) drop(d DropReason) { k.dropped[d].Add(1) }

// Counted is a Sink that brings the counters of the goroutine it serves.
// The router counts a message routed through it there; through any other
// sink, in counters shared by every such caller.
type Counted interface {
	Counters() *Counters
}

// Stats are the router's counters: one Counters per loop, and one for
// callers off the loops. Reads sum them; every method is safe for
// concurrent use, and the sums are not taken at one instant.
type Stats struct {
	off    Counters // sends from off the loops, sinks that are not Counted
	mu     sync.Mutex
	shards atomic.Pointer[[]*Counters]
}

// newCounters returns counters for one loop and adds them to the sums.
func (s *Stats) newCounters() *Counters {
	k := new(Counters)
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []*Counters{&s.off}
	if p := s.shards.Load(); p != nil {
		list = *p
	}
	list = append(list[:len(list):len(list)], k)
	s.shards.Store(&list)
	return k
}

// each calls fn with every shard, the off-loop one first.
func (s *Stats) each(fn func(k *Counters)) {
	p := s.shards.Load()
	if p == nil {
		fn(&s.off)
		return
	}
	for _, k := range *p {
		fn(k)
	}
}

// Received returns the text messages received on endpoint and relay sockets.
func (s *Stats) Received() uint64 {
	var n uint64
	s.each(func(k *Counters) { n += k.received.Load() })
	return n
}

// Delivered returns the frames handed to the transport, one per receiver.
func (s *Stats) Delivered() uint64 {
	var n uint64
	s.each(func(k *Counters) { n += k.delivered.Load() })
	return n
}

// Dropped returns the count for reason d.
func (s *Stats) Dropped(d DropReason) uint64 {
	var n uint64
	s.each(func(k *Counters) { n += k.dropped[d].Load() })
	return n
}

// DroppedByReason returns every drop count keyed by reason name.
func (s *Stats) DroppedByReason() map[string]uint64 {
	var sum [numDropReasons]uint64
	s.each(func(k *Counters) {
		for i := range sum {
			sum[i] += k.dropped[i].Load()
		}
	})
	out := make(map[string]uint64, numDropReasons)
	for i, v := range sum {
		out[DropReason(i).String()] = v
	}
	return out
}

// FanOut returns the number of receivers of each routed message, summed
// over the loops into a new histogram.
func (s *Stats) FanOut() *Histogram {
	h := new(Histogram)
	s.each(func(k *Counters) { h.merge(&k.fanOut) })
	return h
}

// RouteNanos returns the sampled time to route one message, summed over
// the loops into a new histogram; nanoseconds.
func (s *Stats) RouteNanos() *Histogram {
	h := new(Histogram)
	s.each(func(k *Counters) { h.merge(&k.RouteNanos) })
	return h
}
