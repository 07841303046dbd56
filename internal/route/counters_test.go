package route

import (
	"fmt"
	"maps"
	"runtime/debug"
	"sync"
	"testing"
	"unsafe"

	"github.com/colibri-bus/colibri/routing"

	"github.com/colibri-bus/colibri/wsproto"
)

// loopSink is a transport loop as the router sees it: a sink with its
// own counters, recording the order in which it is given receivers.
type loopSink struct {
	k     *Counters
	order []string // receivers' names, in the order of every Deliver
}

func (s *loopSink) Counters() *Counters { return s.k }

func (s *loopSink) Deliver(f *wsproto.SharedFrame, c Class, to []Conn) {
	recordingSink{}.Deliver(f, c, to)
	for _, cn := range to {
		s.order = append(s.order, cn.(*testConn).name)
	}
}

// TestCountersOfTheLoop routes every kind of message through a loop's
// sink and checks that everything was counted in the loop's counters and
// that the router's own memory, its shared counters included, was not
// written at all: two loops routing at once write no line of the router.
func TestCountersOfTheLoop(t *testing.T) {
	fx := newFixture(t, "a", "b", "c")
	rl, _ := fx.conf.CreateRelay("jvb2", "0")
	rc := &testConn{name: "relay"}
	rl.Attach(rc)
	fx.conf.SetRelayEndpoints("jvb2", []string{"x"}, nil)
	sink := &loopSink{k: fx.r.NewCounters()}
	msgs := []string{
		`{"colibriClass":"EndpointMessage","to":"","msgPayload":{}}`,
		`{"colibriClass":"EndpointMessage","to":"b","msgPayload":{}}`,
		`{"colibriClass":"EndpointMessage","to":"nobody"}`,
		`{"colibriClass":"EndpointStats","bitrate":1}`,
		`{"colibriClass":"ClientHello"}`,
		`{"colibriClass":"Nonsense"}`,
		`{"colibriClass":"EndpointMessage","to":1}`,
		`not json`,
	}
	route := func() {
		for _, m := range msgs {
			fx.r.HandleEndpoint(fx.eps["a"], fx.conns["a"], []byte(m), sink)
		}
		fx.r.HandleRelay(rl, rc, []byte(`{"colibriClass":"EndpointMessage","to":"","from":"x"}`), sink)
		fx.r.HandleEndpoint(fx.eps["a"], &testConn{}, []byte(msgs[0]), sink) // not current
	}
	route() // warm up: the router's pool takes its per-P lists on first use
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	before := routerBytes(fx.r)
	route()
	if after := routerBytes(fx.r); string(after) != string(before) {
		for i := range after {
			if after[i] != before[i] {
				t.Errorf("routing on a loop wrote the router's own memory at offset %d", i)
				break
			}
		}
	}
	k := sink.k
	if n := k.received.Load(); n != 2*uint64(len(msgs)+2) {
		t.Errorf("the loop counted %d received, want %d", n, 2*(len(msgs)+2))
	}
	if k.delivered.Load() == 0 || k.fanOut.count.Load() == 0 {
		t.Error("the loop counted no deliveries")
	}
	for _, d := range []DropReason{DropUnknownTarget, DropUnknownClass, DropInvalidFields, DropInvalidJSON, DropNotCurrent} {
		if k.dropped[d].Load() != 2 {
			t.Errorf("the loop counted %d drops %s, want 2", k.dropped[d].Load(), d)
		}
	}
	s := fx.r.Stats()
	if s.Received() != k.received.Load() || s.Delivered() != k.delivered.Load() ||
		s.FanOut().count.Load() != k.fanOut.count.Load() || s.Dropped(DropNotCurrent) != 2 {
		t.Error("Stats does not sum the loop's counters")
	}
}

// routerBytes copies r's own memory: its fields, its shared counters
// among them.
func routerBytes(r *Router) []byte {
	b := unsafe.Slice((*byte)(unsafe.Pointer(r)), unsafe.Sizeof(*r))
	return append([]byte(nil), b...)
}

// TestStatsSumsLoops: two loops' counters and the shared ones add up in
// Stats, histograms included.
func TestStatsSumsLoops(t *testing.T) {
	r := NewRouter(routing.Hooks{}, recordingSink{}, nil)
	k1, k2 := r.NewCounters(), r.NewCounters()
	k1.received.Add(3)
	k2.received.Add(4)
	r.stats.off.received.Add(5)
	k1.fanOut.Observe(2)
	k2.fanOut.Observe(40)
	k2.RouteNanos.Observe(1000)
	k1.drop(DropVisitor)
	r.stats.off.drop(DropVisitor)
	s := r.Stats()
	if s.Received() != 12 || s.Dropped(DropVisitor) != 2 || s.DroppedByReason()["visitor"] != 2 {
		t.Errorf("sums: received %d, visitor drops %d", s.Received(), s.Dropped(DropVisitor))
	}
	_, cum, sum, count := s.FanOut().Snapshot()
	if count != 2 || sum != 42 || cum[len(cum)-1] != 2 {
		t.Errorf("fan-out: count %d, sum %d, cumulative %v", count, sum, cum)
	}
	if _, _, sum, _ := s.RouteNanos().Snapshot(); sum != 1000 {
		t.Errorf("route nanos: sum %d", sum)
	}
}

// TestCountersPadded: a loop's counters start and end on lines of their
// own, so that no other loop's data shares a cache line (or the pair the
// prefetcher moves) with what a loop writes per message.
func TestCountersPadded(t *testing.T) {
	var k Counters
	first := unsafe.Offsetof(k.received)
	last := unsafe.Offsetof(k.RouteNanos) + unsafe.Sizeof(k.RouteNanos)
	if first < cacheLine || unsafe.Sizeof(k)-last < cacheLine {
		t.Errorf("counters at [%d, %d) of %d bytes: want %d bytes of padding each side", first, last, unsafe.Sizeof(k), cacheLine)
	}
	if n := unsafe.Sizeof(classTable{}); n%cacheLine != 0 {
		t.Errorf("a class table is %d bytes, not whole %d-byte lines", n, cacheLine)
	}
}

// TestRelaysFirst: a message for other bridges goes to their relays
// before any local endpoint, whatever started it, so that it leaves for
// the relays before the local fan-out (relays' comment in router.go).
func TestRelaysFirst(t *testing.T) {
	const locals = 50
	ids := make([]string, locals)
	for i := range ids {
		ids[i] = fmt.Sprintf("e%d", i)
	}
	fx := newFixture(t, ids...)
	relays := map[string]*Relay{}
	for i, mesh := range []string{"0", "1"} {
		id := fmt.Sprintf("jvb%d", i+2)
		rl, _ := fx.conf.CreateRelay(id, mesh)
		rl.Attach(&testConn{name: id})
		fx.conf.SetRelayEndpoints(id, []string{"x" + mesh}, nil)
		relays[id] = rl
	}
	fx.r.SetDominantSpeakers(fx.conf, []string{"e0", "x0"}) // everyone gets their stats
	sink := &loopSink{k: fx.r.NewCounters()}
	check := func(what string, want int) {
		t.Helper()
		if len(sink.order) != want {
			t.Fatalf("%s: %d receivers, want %d", what, len(sink.order), want)
		}
		seenLocal := false
		for _, name := range sink.order {
			relay := relays[name] != nil
			if relay && seenLocal {
				t.Errorf("%s: relay %s after a local endpoint: %v", what, name, sink.order[:min(len(sink.order), 5)])
			}
			seenLocal = seenLocal || !relay
		}
		sink.order = sink.order[:0]
	}
	fx.r.HandleEndpoint(fx.eps["e0"], fx.conns["e0"], []byte(`{"colibriClass":"EndpointMessage","to":""}`), sink)
	check("a local broadcast", locals-1+2)
	fx.r.HandleEndpoint(fx.eps["e0"], fx.conns["e0"], []byte(`{"colibriClass":"EndpointStats"}`), sink)
	check("local EndpointStats", locals-1+2)
	rl := relays["jvb2"]
	fx.r.HandleRelay(rl, rl.Conn(), []byte(`{"colibriClass":"EndpointMessage","to":"","from":"x0"}`), sink)
	check("a relayed broadcast", locals+1)
	fx.r.HandleRelay(rl, rl.Conn(), []byte(`{"colibriClass":"EndpointStats","from":"x0"}`), sink)
	check("relayed EndpointStats", locals+1)
	r := NewRouter(routing.Hooks{}, sink, nil)
	if _, err := r.SendToConference(fx.conf, []byte(`{"colibriClass":"DominantSpeakerEndpointChangeEvent","dominantSpeakerEndpoint":"e1"}`), nil, true); err != nil {
		t.Fatal(err)
	}
	check("SendToConference", locals+2)
}

// TestClassCountersFirstInline: the first class counted needs no table,
// a second one does, and the counts read back whole.
func TestClassCountersFirstInline(t *testing.T) {
	var cc ClassCounters
	if n := testing.AllocsPerRun(100, func() { cc.Add(ClassServerHello) }); n != 0 {
		t.Errorf("counting the first class allocated %v times per add", n)
	}
	if cc.p.Load() != nil {
		t.Fatal("one class counted, and a table was allocated")
	}
	cc.AddN(ClassEndpointMessage, 5)
	cc.AddN(ClassServerHello, 2)
	if cc.p.Load() == nil {
		t.Fatal("a second class counted without a table")
	}
	want := map[string]uint64{"ServerHello": 103, "EndpointMessage": 5}
	if got := cc.Map(); !maps.Equal(got, want) {
		t.Errorf("Map() = %v, want %v", got, want)
	}
}

// TestClassCountersConcurrent: adds racing for the first word and the
// table lose nothing (run under -race in CI).
func TestClassCountersConcurrent(t *testing.T) {
	classes := []Class{ClassEndpointStats, ClassEndpointMessage, ClassServerHello}
	for round := 0; round < 50; round++ {
		var cc ClassCounters
		var wg sync.WaitGroup
		for g := 0; g < 6; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 100; i++ {
					cc.Add(classes[(g+i)%len(classes)])
				}
			}()
		}
		wg.Wait()
		var sum uint64
		for _, v := range cc.Map() {
			sum += v
		}
		if sum != 600 {
			t.Fatalf("round %d: %d counted of 600 (%v)", round, sum, cc.Map())
		}
	}
}
