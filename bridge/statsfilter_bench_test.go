package bridge_test

import (
	"fmt"
	"github.com/colibri-bus/colibri/bridge"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkStatsFilter1000 is what the stats filter saves in a real
// conference of 1,000 endpoints on a bridge on its defaults: each endpoint
// stages one other (a ring), then one op is every endpoint sending one
// EndpointStats. Filtered (threshold 20, the default) each message reaches
// the one receiver that staged its sender; unfiltered (the threshold set
// above the conference) it reaches all 999 others. An op ends when every
// expected delivery has been read by the clients; more than expected
// fails the benchmark.
func BenchmarkStatsFilter1000(b *testing.B) {
	const n = 1000
	for _, mode := range []string{"filtered", "unfiltered"} {
		b.Run(mode, func(b *testing.B) {
			t := &testing.T{}
			h := startBridge(t, nil)
			if mode == "unfiltered" {
				bridge.RouterOf(h.b).SetStatsFilter(n)
			}
			var ids []string
			for i := 0; i < n; i++ {
				ids = append(ids, fmt.Sprintf("e%d", i))
			}
			urls := map[string]string{}
			for i := 0; i < n; i += 200 { // batches stay under max-rest-body
				meet := "big"
				if i == 0 {
					for id, u := range h.conference(meet, ids[:200]...) {
						urls[id] = u
					}
					continue
				}
				status, resp := h.do("PATCH", "/colibri/v2/conferences/big", mustJSON(map[string]any{"endpoints": endpointsCreate(ids[i : i+200])}))
				if status != 200 {
					b.Fatalf("add endpoints: %d %s", status, resp)
				}
				for id, u := range h.urls(resp) {
					urls[id] = u
				}
			}
			var got atomic.Int64
			conns := make([]*websocket.Conn, n)
			var wg sync.WaitGroup
			for i, id := range ids {
				c, _, err := websocket.DefaultDialer.Dial(urls[id], nil)
				if err != nil {
					b.Fatalf("dial %s: %v", id, err)
				}
				conns[i] = c
				c.ReadMessage() // ServerHello
				rvc := fmt.Sprintf(`{"colibriClass":"ReceiverVideoConstraints","onStageSources":["e%d-v0"]}`, (i+1)%n)
				c.WriteMessage(websocket.TextMessage, []byte(rvc))
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
						got.Add(1)
					}
				}()
			}
			// Every socket's constraints are handled before its first stats
			// (one socket's messages are handled in order), but the ring needs
			// all of them: sync each socket with a message to itself.
			for i, c := range conns {
				c.WriteMessage(websocket.TextMessage, []byte(msg(ids[i], `"sync"`)))
			}
			waitCount(b, &got, int64(n))
			got.Store(0)
			per := int64(1)
			if mode == "unfiltered" {
				per = n - 1
			}
			stats := []byte(`{"colibriClass":"EndpointStats","bitrate":{"upload":1200,"download":800},"connectionQuality":100,"jvbRTT":12}`)
			b.ResetTimer()
			for op := 0; op < b.N; op++ {
				for _, c := range conns {
					c.WriteMessage(websocket.TextMessage, stats)
				}
				waitCount(b, &got, int64(op+1)*n*per)
			}
			b.StopTimer()
			// Nothing beyond the expected: each socket syncs with itself
			// once more, and the total must be exact.
			for i, c := range conns {
				c.WriteMessage(websocket.TextMessage, []byte(msg(ids[i], `"sync"`)))
			}
			want := int64(b.N)*n*per + n
			waitCount(b, &got, want)
			if g := got.Load(); g != want {
				b.Fatalf("%d messages read, want exactly %d", g, want)
			}
			b.ReportMetric(float64(n*per), "deliveries/op")
			for _, c := range conns {
				c.Close()
			}
			wg.Wait()
			h.b.Stop(b.Context())
		})
	}
}

func endpointsCreate(ids []string) []map[string]any {
	var out []map[string]any
	for _, id := range ids {
		out = append(out, map[string]any{"id": id, "create": true})
	}
	return out
}

// waitCount polls until *got reaches want, failing after a bound. It polls
// a counter the readers advance; no sleep stands in for an event.
func waitCount(b *testing.B, got *atomic.Int64, want int64) {
	deadline := time.Now().Add(60 * time.Second)
	for got.Load() < want {
		if time.Now().After(deadline) {
			b.Fatalf("read %d messages, want %d", got.Load(), want)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
