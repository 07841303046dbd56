package loadbench

import (
	"testing"

	"github.com/colibri-bus/colibri/bench/internal/load"
)

// BenchmarkFanout1000 is one conference of 1,001 endpoints in which one
// sender broadcasts 200-byte EndpointMessages to the 1,000 others, with
// 16 outstanding (S3's shape, with the message every receiver gets
// unfiltered). One op is one message: 1,000 deliveries.
func BenchmarkFanout1000(b *testing.B) {
	br := startBridge(b, nil)
	measure(b, 1000, load.Config{Scenario: "S3", Confs: 1, Endpoints: 1001, Senders: 1,
		Class: "EndpointMessage", Window: 16}, br)
}
