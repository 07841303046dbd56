package loadbench

import (
	"testing"

	"github.com/colibri-bus/colibri/bench/internal/load"
)

// BenchmarkDeflateStorm is the broadcast storm with every client
// offering permessage-deflate as Chromium does ("permessage-deflate;
// client_max_window_bits") and sending each message compressed; the
// messages are 1 KiB, so that the bridge, which leaves messages under
// 512 bytes uncompressed, compresses each broadcast once for its 39
// receivers, and every receiver inflates it. One op is one message from
// every endpoint: 2,000 messages, 78,000 deliveries.
func BenchmarkDeflateStorm(b *testing.B) {
	br := startBridge(b, nil)
	r := measure(b, 2000*39, load.Config{Scenario: "S2", Confs: 50, Endpoints: 40, Window: 8,
		Deflate: true, Size: 1024}, br)
	if r.Inflated == 0 {
		b.Fatal("no compressed message received: the storm was not compressed")
	}
}

// BenchmarkBroadcastStorm1KiB is BenchmarkDeflateStorm without
// permessage-deflate: the same storm of 1 KiB messages, plain, so that
// the two compare message for message (BenchmarkBroadcastStorm sends
// 200-byte messages).
func BenchmarkBroadcastStorm1KiB(b *testing.B) {
	br := startBridge(b, nil)
	measure(b, 2000*39, load.Config{Scenario: "S2", Confs: 50, Endpoints: 40, Window: 8, Size: 1024}, br)
}

// BenchmarkDeflateStorm200 is BenchmarkBroadcastStorm (200-byte
// messages) with every client offering permessage-deflate as Chromium
// does and sending each message compressed. The bridge inflates every
// client message and, the messages being under wsproto.CompressMinSize,
// broadcasts them uncompressed: the generator has nothing to inflate
// (its compressed frames are built once per sender), so beside
// BenchmarkBroadcastStorm this is the bridge's own cost of deflate.
func BenchmarkDeflateStorm200(b *testing.B) {
	br := startBridge(b, nil)
	r := measure(b, 2000*39, load.Config{Scenario: "S2", Confs: 50, Endpoints: 40, Window: 8, Deflate: true}, br)
	if r.Inflated != 0 {
		b.Fatalf("%d compressed deliveries: the bridge compressed 200-byte broadcasts", r.Inflated)
	}
}
