package loadbench

import (
	"testing"

	"github.com/colibri-bus/colibri/bench/internal/load"
	"github.com/colibri-bus/colibri/config"
)

// BenchmarkRelayHop is S5: the broadcast storm's 50 conferences of 40
// spread over two bridges in this process, their endpoints alternating
// between them, each conference's two halves linked by a relay (bridge
// jvb-a dials jvb-b's colibri-relay-ws URL, with the resume extension
// on, as by default). Each broadcast reaches 19 receivers on its own
// bridge and 20 across the relay. One op is one message from every
// endpoint: 2,000 messages, 78,000 deliveries.
func BenchmarkRelayHop(b *testing.B) {
	relay := func(id string) func(*config.Config) {
		return func(c *config.Config) { c.Relay.Enabled, c.Relay.RelayID = true, id }
	}
	a, z := startBridge(b, relay("jvb-a")), startBridge(b, relay("jvb-b"))
	measure(b, 2000*39, load.Config{Scenario: "S5", Confs: 50, Endpoints: 40, Window: 8,
		RelayIDs: []string{"jvb-a", "jvb-b"}}, a, z)
}
