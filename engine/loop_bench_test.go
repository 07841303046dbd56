package engine

import (
	"fmt"
	"testing"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/routing"
)

// BenchmarkLoopParallel is BenchmarkRouteParallel (internal/route) with
// the engine's sink: every goroutine of b.RunParallel is a loop of one
// engine with a conference of 40 open sockets of its own, and routes a
// 200-byte broadcast through the real router into its sockets' pending
// buffers (counted, numbered, coalesced), flushing them every 8 messages
// as a round would. The sockets' writes cost nothing here: what is left
// is the loop's own work, and whatever memory the loops still share.
//
//	go test ./engine -run '^$' -bench LoopParallel -cpu 1,2
func BenchmarkLoopParallel(b *testing.B) {
	cfg := config.Default()
	e := New(cfg, Options{})
	table := route.NewTable(route.LimitsOf(cfg.Limits))
	serveColibri(e, table, routing.Hooks{})
	type bench struct {
		el     *taskLoop
		l      *loop
		sender *conn
	}
	loops := make(chan bench, 64)
	for i := 0; i < cap(loops); i++ {
		bl := bench{el: &taskLoop{}}
		bl.l = newLoop(e, bl.el, i)
		conf, _ := table.CreateConference(fmt.Sprintf("m%d", i), "n")
		for j := 0; j < 40; j++ {
			ep, _ := conf.CreateEndpoint(fmt.Sprintf("e%d", j), routing.EndpointOptions{})
			c := &conn{loop: bl.l, gc: &loggedConn{}, state: stOpen, kind: route.PeerEndpoint, peer: &ep.Peer}
			bl.l.add(c)
			if _, _, err := ep.Attach(c); err != nil {
				b.Fatal(err)
			}
			if j == 0 {
				bl.sender = c
			}
		}
		loops <- bl
	}
	msg := []byte(`{"colibriClass":"EndpointMessage","to":"","from":"x","msgPayload":{"type":"e2e-ping","id":12345,"pad":"` +
		"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz" + `"}}`)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		bl := <-loops
		for n := 1; pb.Next(); n++ {
			bl.sender.route(msg)
			if n%8 == 0 {
				bl.el.run()
			}
		}
		bl.el.run()
	})
}
