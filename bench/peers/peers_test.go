// Package peers_test runs the load generator against every bench peer on
// loopback for a tiny scenario: it checks that every broadcast reached
// every other endpoint with the right "from", that unicast ping-pong and
// REST churn work. It asserts counts, never timings.
package peers_test

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/load"
	"github.com/colibri-bus/colibri/bench/peers/internal/gorillapeer"
	"github.com/colibri-bus/colibri/bench/peers/internal/gwspeer"
	"github.com/colibri-bus/colibri/bench/peers/internal/hub"
	"github.com/colibri-bus/colibri/bench/peers/internal/nbiopeer"
	"github.com/colibri-bus/colibri/bench/peers/internal/rawgnet"
)

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

type peer struct {
	name    string
	rewrite bool // routes through routing.Router, which rewrites "from"
	start   func(ws, rest string) (hub.Stopper, error)
}

var peers = []peer{
	{"rawgnet", false, func(ws, rest string) (hub.Stopper, error) {
		return rawgnet.Start(rawgnet.Config{WSAddr: ws, RESTAddr: rest})
	}},
	{"gorilla", true, func(ws, rest string) (hub.Stopper, error) {
		return gorillapeer.Start(hub.Options{WSAddr: ws, RESTAddr: rest})
	}},
	{"gws", true, func(ws, rest string) (hub.Stopper, error) {
		return gwspeer.Start(hub.Options{WSAddr: ws, RESTAddr: rest})
	}},
	{"nbio", true, func(ws, rest string) (hub.Stopper, error) {
		return nbiopeer.Start(hub.Options{WSAddr: ws, RESTAddr: rest})
	}},
}

func run(t *testing.T, c load.Config) *load.Result {
	t.Helper()
	c.Quiet = true
	c.Warmup = 0
	c.Drain = 5 * time.Second
	r, err := load.Run(c, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if r.ConnectFailures != 0 || r.ConnsLost != 0 || r.WriteErrors != 0 {
		t.Fatalf("connect failures %d, lost %d, write errors %d", r.ConnectFailures, r.ConnsLost, r.WriteErrors)
	}
	return r
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func TestPeers(t *testing.T) {
	for _, p := range peers {
		t.Run(p.name, func(t *testing.T) {
			ws, rest := freeAddr(t), freeAddr(t)
			s, err := p.start(ws, rest)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Stop()

			// Broadcast storm at a low fixed rate (so no server queue can
			// overflow): every message reaches the two others.
			r := run(t, load.Config{Scenario: "S2", Server: p.name, REST: []string{rest},
				Confs: 2, Endpoints: 3, Rate: 600, Duration: 200 * time.Millisecond, VerifyFrom: p.rewrite})
			if r.SentWindow == 0 || r.DeliveredWindow != r.ExpectedWindow {
				t.Fatalf("S2: sent %d, delivered %d of %d", r.SentWindow, r.DeliveredWindow, r.ExpectedWindow)
			}
			if r.FromBad != 0 || r.FromMissing != 0 {
				t.Fatalf("S2: %d deliveries with a wrong from, %d without", r.FromBad, r.FromMissing)
			}

			// Unicast ping-pong: every ping answered.
			r = run(t, load.Config{Scenario: "S4", Server: p.name, REST: []string{rest},
				Confs: 2, Window: 1, Duration: 200 * time.Millisecond, VerifyFrom: p.rewrite})
			if r.Latency.Count == 0 || r.DeliveredWindow != r.ExpectedWindow || r.FromBad != 0 {
				t.Fatalf("S4: rtt samples %d, delivered %d of %d, from bad %d",
					r.Latency.Count, r.DeliveredWindow, r.ExpectedWindow, r.FromBad)
			}

			// Churn: create, connect, hello, disconnect, expire.
			r = run(t, load.Config{Scenario: "S6", Server: p.name, REST: []string{rest},
				Endpoints: 2, Rate: 20, Duration: 200 * time.Millisecond})
			if r.Cycles == 0 || r.CycleFails != 0 {
				t.Fatalf("S6: %d cycles, %d failed", r.Cycles, r.CycleFails)
			}
		})
	}
}
