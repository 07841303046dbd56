package loadbench

import (
	"testing"

	"github.com/colibri-bus/colibri/bench/internal/load"
)

// BenchmarkChurn is S6 run as fast as the bridge allows, 16 cycles at a
// time: a cycle creates a conference of two endpoints through the REST
// API, connects both, waits for both ServerHellos, has the first
// broadcast one message that the second must receive (with its from),
// disconnects both and expires the endpoints and the conference. One op
// is one cycle; deliveries/s is cycles/s, reported as well.
func BenchmarkChurn(b *testing.B) {
	br := startBridge(b, nil)
	r := measure(b, 1, load.Config{Scenario: "S6", Endpoints: 2}, br)
	b.ReportMetric(r.CyclesPerS, "cycles/s")
}
