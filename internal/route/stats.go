package route

import "sync/atomic"

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

// Stats are the router's global counters. All methods are safe for
// concurrent use.
type Stats struct {
	Received  atomic.Uint64 // text messages received on endpoint and relay sockets
	Delivered atomic.Uint64 // frames handed to the transport (one per receiver)
	dropped   [numDropReasons]atomic.Uint64

	// FanOut is the number of receivers of each routed message.
	FanOut Histogram
	// RouteNanos is the time to route one message (classify, rewrite,
	// encode, hand to the sink), sampled on one message in 16 by the
	// transport; nanoseconds.
	RouteNanos Histogram
}

func (s *Stats) drop(d DropReason) { s.dropped[d].Add(1) }

// Dropped returns the count for reason d.
func (s *Stats) Dropped(d DropReason) uint64 { return s.dropped[d].Load() }

// DroppedByReason returns every drop count keyed by reason name.
func (s *Stats) DroppedByReason() map[string]uint64 {
	out := make(map[string]uint64, numDropReasons)
	for i := range s.dropped {
		out[DropReason(i).String()] = s.dropped[i].Load()
	}
	return out
}
