package loadbench

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/load"
	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
)

// stall bounds the wait for the next delivery: a run in which none
// arrives for this long has lost something, and fails.
const stall = 10 * time.Second

// startBridge starts a bridge in the benchmark's process on
// testbridge.Config(mutate): the defaults with loopback listeners on ports
// the kernel chooses. The bridge advertises the public listener it bound,
// for endpoints and relays. It is stopped at the benchmark's cleanup,
// bounded by testbridge.Wait.
func startBridge(b *testing.B, mutate func(*config.Config)) *bridge.Bridge {
	b.Helper()
	cfg := testbridge.Config(mutate)
	br := bridge.New(cfg, bridge.Options{})
	if err := br.Start(); err != nil {
		b.Fatalf("start: %v", err)
	}
	cfg.WebSockets.Domains = []string{br.PublicAddr()}
	cfg.WebSockets.RelayDomains = []string{br.PublicAddr()}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testbridge.Wait)
		defer cancel()
		if err := br.Stop(ctx); err != nil {
			b.Errorf("stop: %v", err)
		}
	})
	return br
}

// measure runs one benchmark of the session cfg describes against
// bridges: it prepares and connects the session outside the timer, times
// Send(b.N), and fails the benchmark unless the result is complete (the
// generator's judgement, with its reason) and holds exactly perOp × b.N
// deliveries, perOp being what one op must deliver: messages sent times
// receivers. Only then does it report
//
//   - deliveries/s: distinct deliveries over the time from the first
//     send to the last delivery;
//   - p50-ms, p99-ms: latency from send to receipt (churn: a cycle's
//     time);
//   - B/conn: the live heap (after a collection) that connecting added,
//     per connection: the bridge's per-socket state plus the generator's
//     net.Conn (the generator's buffers are allocated before, goroutine
//     stacks are not heap). For churn, whose connections live one cycle,
//     it is the heap the run left behind per connection opened: what a
//     churned connection leaks, near 0 once b.N is large.
//
// It returns the result for scenario-specific checks and metrics.
func measure(b *testing.B, perOp uint64, cfg load.Config, bridges ...*bridge.Bridge) *load.Result {
	b.Helper()
	for _, br := range bridges {
		cfg.REST = append(cfg.REST, br.PrivateAddr())
		cfg.WSAddr = append(cfg.WSAddr, br.PublicAddr())
	}
	cfg.Server, cfg.VerifyFrom, cfg.Quiet = "bridge-in-process", true, true
	if cfg.Drain == 0 {
		cfg.Drain = stall
	}
	var log testbridge.Buffer
	s, err := load.Prepare(cfg, &log)
	if err != nil {
		b.Fatalf("prepare: %v\n%s", err, log.String())
	}
	defer s.Close()
	heap0 := liveHeap()
	if err := s.Connect(); err != nil {
		b.Fatalf("connect: %v\n%s", err, log.String())
	}
	heap1 := liveHeap()
	b.ResetTimer()
	r, err := s.Send(b.N)
	b.StopTimer()
	if err != nil {
		b.Fatalf("send: %v\n%s", err, log.String())
	}
	if r.Incomplete {
		b.Fatalf("incomplete, no rate: %s\n%s", r.IncompleteReason, log.String())
	}
	if want := perOp * uint64(b.N); r.DeliveredWindow != want || r.ExpectedWindow != want || r.Duplicates != 0 {
		b.Fatalf("delivered %d of %d, want %d x %d = %d (%d duplicates)",
			r.DeliveredWindow, r.ExpectedWindow, perOp, b.N, want, r.Duplicates)
	}
	perConn := float64(int64(heap1)-int64(heap0)) / float64(max(1, s.Conns()))
	if s.Conns() == 0 {
		perConn = float64(int64(liveHeap())-int64(heap1)) / float64(max(1, r.Conns))
	}
	b.ReportMetric(r.DeliveriesPerSec, "deliveries/s")
	b.ReportMetric(r.Latency.P50/1e3, "p50-ms")
	b.ReportMetric(r.Latency.P99/1e3, "p99-ms")
	b.ReportMetric(perConn, "B/conn")
	return r
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
