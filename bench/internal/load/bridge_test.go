package load_test

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/load"
	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// startBridge starts the real bridge in this process on its defaults,
// except for the listeners: loopback, ports chosen by the kernel
// (testbridge.Start).
func startBridge(t *testing.T) *bridge.Bridge {
	t.Helper()
	return testbridge.Start(t, nil, testbridge.Options{}).B
}

// TestLoadAgainstBridge runs short scenarios of the generator against the
// bridge it benchmarks, on the bridge's defaults, and requires every run to
// be complete: each window message delivered to every receiver exactly
// once, from verified. This checks that the generator and the bridge agree
// on the contract, not how fast either is.
func TestLoadAgainstBridge(t *testing.T) {
	b := startBridge(t)
	for _, tc := range []struct {
		name string
		cfg  load.Config
	}{
		{"S2", load.Config{Scenario: "S2", Confs: 4, Endpoints: 10, Rate: 400}},
		{"S3", load.Config{Scenario: "S3", Endpoints: 100, Rate: 100}},
		// 1 KiB messages: the bridge compresses broadcasts from 512 bytes on
		// (wsproto.CompressMinSize), so the generator inflates what it gets.
		{"S2-deflate", load.Config{Scenario: "S2", Confs: 4, Endpoints: 10, Rate: 400, Deflate: true, Size: 1024}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.Server = "bridge-in-process"
			c.REST, c.WSAddr = []string{b.PrivateAddr()}, []string{b.PublicAddr()}
			c.Duration, c.Warmup = time.Second, 200*time.Millisecond
			c.VerifyFrom, c.Quiet, c.Procs = true, true, 1
			log := io.Discard
			if testing.Verbose() {
				log = os.Stderr
			}
			r, err := load.Run(c, log)
			if err != nil {
				t.Fatal(err)
			}
			if testing.Verbose() {
				r.PrintTable(os.Stderr)
			}
			if r.Incomplete {
				t.Fatalf("incomplete run: %s", r.IncompleteReason)
			}
			if r.SentWindow == 0 || r.DeliveredWindow != r.ExpectedWindow || r.Duplicates != 0 || r.Misrouted != 0 {
				t.Fatalf("sent %d, delivered %d of %d, %d duplicates, %d misrouted",
					r.SentWindow, r.DeliveredWindow, r.ExpectedWindow, r.Duplicates, r.Misrouted)
			}
			if want := r.SentWindow * uint64(r.Endpoints-1); r.ExpectedWindow != want {
				t.Fatalf("expected %d deliveries, want sent x receivers = %d", r.ExpectedWindow, want)
			}
			if c.Deflate && r.Inflated == 0 {
				t.Fatal("-deflate: no compressed message received")
			}
			if r.FromBad != 0 || r.FromMissing != 0 {
				t.Fatalf("from: %d wrong, %d missing", r.FromBad, r.FromMissing)
			}
		})
	}
}

// TestSessionAgainstBridge runs each scenario a Session supports for a
// fixed count against the bridge and requires the count to be exact:
// every sender sent n messages, each reached every receiver once, and
// the run ended on the last delivery.
func TestSessionAgainstBridge(t *testing.T) {
	b := startBridge(t)
	for _, tc := range []struct {
		name string
		cfg  load.Config
		n    int
	}{
		{"S2", load.Config{Scenario: "S2", Confs: 3, Endpoints: 5, Window: 4}, 20},
		{"S3", load.Config{Scenario: "S3", Endpoints: 50, Class: "EndpointMessage", Window: 8}, 30},
		{"S6", load.Config{Scenario: "S6", Endpoints: 2}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.REST, c.WSAddr = []string{b.PrivateAddr()}, []string{b.PublicAddr()}
			c.VerifyFrom, c.Quiet = true, true
			s, err := load.Prepare(c, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Connect(); err != nil {
				t.Fatal(err)
			}
			r, err := s.Send(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if r.Incomplete {
				t.Fatalf("incomplete: %s", r.IncompleteReason)
			}
			senders := r.Confs * r.Senders
			if c.Scenario == "S6" {
				senders = 1
			}
			if want := uint64(senders * tc.n); r.SentWindow != want {
				t.Fatalf("sent %d, want %d", r.SentWindow, want)
			}
			if want := r.SentWindow * uint64(r.Endpoints-1); r.DeliveredWindow != want || r.DeliveriesPerSec <= 0 {
				t.Fatalf("delivered %d of %d at %v/s", r.DeliveredWindow, want, r.DeliveriesPerSec)
			}
			if _, err := s.Send(1); err == nil {
				t.Fatal("a second Send succeeded")
			}
		})
	}
}
