package engine

import (
	"context"
	"fmt"
	"testing"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/routing"
	"github.com/panjf2000/gnet/v2"
)

// writeLog records the order in which a loop's sockets are written.
type writeLog []string

// loggedConn is a socket that the kernel always takes whole; log, if
// set, records its writes.
type loggedConn struct {
	gnet.Conn // nil: a method the write path is not expected to call panics
	name      string
	log       *writeLog
}

func (w *loggedConn) Write(p []byte) (int, error) {
	if w.log != nil {
		*w.log = append(*w.log, w.name)
	}
	return len(p), nil
}

func (w *loggedConn) OutboundBuffered() int { return 0 }

// taskLoop is an event loop that keeps the tasks it is given.
type taskLoop struct {
	gnet.EventLoop
	tasks []gnet.Runnable
}

func (t *taskLoop) Execute(_ context.Context, r gnet.Runnable) error {
	t.tasks = append(t.tasks, r)
	return nil
}

// run runs the tasks queued so far, as the loop does after its sockets.
func (t *taskLoop) run() {
	for i, r := range t.tasks {
		_ = r.Run(context.Background())
		t.tasks[i] = nil
	}
	t.tasks = t.tasks[:0]
}

// TestRelayWrittenFirst routes a broadcast from one of 200 endpoints on a
// loop with a relay through the real router and the loop's sink, then
// runs the round's flush: the relay's socket is the first written, before
// the local fan-out, so the other bridge starts its own fan-out at once.
func TestRelayWrittenFirst(t *testing.T) {
	const locals = 200
	cfg := config.Default()
	e := New(cfg, Options{})
	table := route.NewTable(route.LimitsOf(cfg.Limits))
	serveColibri(e, table, routing.Hooks{})
	el := &taskLoop{}
	l := newLoop(e, el, 0)
	var log writeLog
	open := func(p *route.Peer, name string) *conn {
		c := &conn{loop: l, gc: &loggedConn{name: name, log: &log}, state: stOpen, kind: p.Kind(), peer: p}
		l.add(c)
		if _, _, err := p.Attach(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	conf, _ := table.CreateConference("m", "n")
	var sender *conn
	for i := 0; i < locals; i++ {
		ep, _ := conf.CreateEndpoint(fmt.Sprintf("e%d", i), routing.EndpointOptions{})
		if c := open(&ep.Peer, ep.ID()); i == 0 {
			sender = c
		}
	}
	rl, _ := conf.CreateRelay("jvb2", "0")
	open(&rl.Peer, "relay")

	e.router.Handle(sender.peer, sender, []byte(`{"colibriClass":"EndpointMessage","to":"","msgPayload":{}}`), l)
	el.run()
	if len(log) != locals {
		t.Fatalf("%d sockets written, want %d", len(log), locals)
	}
	if log[0] != "relay" {
		t.Errorf("the relay was write %d of the round, want the first: %v", index(log, "relay")+1, log[:3])
	}
}

func index(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}
