package route

import (
	"fmt"
	"github.com/colibri-bus/colibri/routing"
	"testing"

	"github.com/colibri-bus/colibri/wsproto"
)

// nullSink counts deliveries and keeps nothing, so that the benchmark
// measures routing alone.
type nullSink struct{ n int }

func (s *nullSink) Deliver(_ *wsproto.SharedFrame, _ Class, to []Conn) { s.n += len(to) }

type nopConn struct{}

func (nopConn) Close(uint16, string) {}

func benchConference(b *testing.B, size int) (*Router, *Endpoint, Conn, *nullSink) {
	sink := &nullSink{}
	r := NewRouter(routing.Hooks{}, sink, nil)
	c, _ := NewTable(TableLimits{}).CreateConference("m", "n")
	var first *Endpoint
	var firstConn Conn
	for i := 0; i < size; i++ {
		ep, _ := c.CreateEndpoint(fmt.Sprintf("ep%d", i), routing.EndpointOptions{})
		cn := &nopConn{}
		ep.Attach(cn)
		if i == 0 {
			first, firstConn = ep, cn
		}
	}
	return r, first, firstConn, sink
}

// BenchmarkRouteEndpointMessage routes a 200-byte broadcast in a conference
// of 40: classify, rewrite from, encode once, hand 39 receivers to the sink.
func BenchmarkRouteEndpointMessage(b *testing.B) {
	for _, kind := range []string{"broadcast", "unicast"} {
		b.Run(kind, func(b *testing.B) {
			r, ep, cn, _ := benchConference(b, 40)
			to := ""
			if kind == "unicast" {
				to = "ep7"
			}
			msg := []byte(`{"colibriClass":"EndpointMessage","to":"` + to + `","from":"x","msgPayload":{"type":"e2e-ping","id":12345,"pad":"` +
				"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" + `"}}`)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				r.HandleEndpoint(ep, cn, msg, nil)
			}
		})
	}
}

func BenchmarkScan(b *testing.B) {
	msg := []byte(`{"colibriClass":"EndpointStats","bitrate":{"upload":812,"download":1540},"connectionQuality":100,"jvbRTT":23,"packetLoss":{"total":0,"upload":0,"download":0},"serverRegion":"eu-1"}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	var env envelope
	for i := 0; i < b.N; i++ {
		if err := scan(msg, &env); err != nil {
			b.Fatal(err)
		}
	}
}

// countedSink is nullSink on a loop: it brings the loop's counters.
type countedSink struct {
	nullSink
	k *Counters
}

func (s *countedSink) Counters() *Counters { return s.k }

// BenchmarkRouteParallel routes the 200-byte broadcast of
// BenchmarkRouteEndpointMessage through one router from every goroutine
// of b.RunParallel, each a loop of its own: its own conference of 40, its
// own sink and counters, as an engine's loops route their own sockets.
// ns/op falls with -cpu as far as the loops share no written memory:
// go test -run '^$' -bench RouteParallel -cpu 1,2 ./internal/route
func BenchmarkRouteParallel(b *testing.B) {
	r := NewRouter(routing.Hooks{}, &nullSink{}, nil)
	table := NewTable(TableLimits{})
	type loop struct {
		ep   *Endpoint
		conn Conn
		sink *countedSink
	}
	loops := make(chan loop, 64)
	for i := 0; i < cap(loops); i++ {
		c, _ := table.CreateConference(fmt.Sprintf("m%d", i), "n")
		l := loop{sink: &countedSink{k: r.NewCounters()}}
		for j := 0; j < 40; j++ {
			ep, _ := c.CreateEndpoint(fmt.Sprintf("ep%d", j), routing.EndpointOptions{})
			cn := &nopConn{}
			ep.Attach(cn)
			if j == 0 {
				l.ep, l.conn = ep, cn
			}
		}
		loops <- l
	}
	msg := []byte(`{"colibriClass":"EndpointMessage","to":"","from":"x","msgPayload":{"type":"e2e-ping","id":12345,"pad":"` +
		"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" + `"}}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		l := <-loops
		for pb.Next() {
			r.HandleEndpoint(l.ep, l.conn, msg, l.sink)
		}
	})
	b.StopTimer()
	if r.Stats().Received() != uint64(b.N) {
		b.Fatalf("routed %d of %d", r.Stats().Received(), b.N)
	}
}
