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
