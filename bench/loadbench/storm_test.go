package loadbench

import (
	"testing"

	"github.com/colibri-bus/colibri/bench/internal/load"
)

// BenchmarkBroadcastStorm is S2 in closed loop: 50 conferences of 40
// endpoints (2,000 connections), every endpoint broadcasts 200-byte
// EndpointMessages to the 39 others with 8 outstanding. One op is one
// message from every endpoint: 2,000 messages, 78,000 deliveries.
func BenchmarkBroadcastStorm(b *testing.B) {
	br := startBridge(b, nil)
	measure(b, 2000*39, load.Config{Scenario: "S2", Confs: 50, Endpoints: 40, Window: 8}, br)
}
