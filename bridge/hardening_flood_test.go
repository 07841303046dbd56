package bridge_test

import (
	"encoding/json"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/routing"
	"github.com/gorilla/websocket"
)

// TestInboundFlood: one endpoint sends as fast as its socket allows while
// two others hold a paced conversation. The flooder's messages beyond its
// burst and rate are dropped and counted, exactly; the conversation loses
// nothing; and what reaches the others from the flooder stays within the
// token bucket.
func TestInboundFlood(t *testing.T) {
	const (
		rate  = 200 // messages per second per endpoint
		burst = 50
		turns = 60 // conversation turns, every 25 ms: 40/s, under the rate
	)
	h := startBridge(t, func(c *config.Config) {
		c.Limits.InboundRate, c.Limits.InboundQueue = rate, burst
	})
	urls := h.conference("flood", "flooder", "a", "b")
	flooder := h.dialHello("flooder", urls["flooder"])
	a, b := h.dialHello("a", urls["a"]), h.dialHello("b", urls["b"])
	rs := h.b.Router().Stats()
	conf := h.b.Table().ConferenceByMeeting("flood")

	// a and b count the flood and pass the conversation on.
	type inbox struct {
		fromFlooder atomic.Int64
		talk        chan int
	}
	boxes := map[*client]*inbox{a: {talk: make(chan int, turns)}, b: {talk: make(chan int, turns)}}
	for cl, box := range boxes {
		go func(cl *client, box *inbox) {
			defer close(box.talk)
			for {
				cl.c.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, raw, err := cl.c.ReadMessage()
				if err != nil {
					return
				}
				var m struct {
					From       string
					MsgPayload struct{ Turn *int }
				}
				if json.Unmarshal(raw, &m) != nil {
					continue
				}
				switch {
				case m.From == "flooder":
					box.fromFlooder.Add(1)
				case m.MsgPayload.Turn != nil:
					box.talk <- *m.MsgPayload.Turn
				}
			}
		}(cl, box)
	}

	// The conversation: paced turns, each a unicast answered by the next.
	turn := 0
	converse := func(n int) (median, worst time.Duration) {
		t.Helper()
		var took []time.Duration
		tk := time.NewTicker(25 * time.Millisecond)
		defer tk.Stop()
		for k := 0; k < n; k++ {
			<-tk.C
			from, to := a, b
			if turn%2 == 1 {
				from, to = b, a
			}
			t0 := time.Now()
			from.send(msg(to.name, `{"turn":`+strconv.Itoa(turn)+`}`))
			select {
			case got, ok := <-boxes[to].talk:
				if !ok || got != turn {
					t.Fatalf("turn %d: %s got %d (open %v)", turn, to.name, got, ok)
				}
			case <-time.After(wait):
				t.Fatalf("turn %d: %s got nothing", turn, to.name)
			}
			took = append(took, time.Since(t0))
			turn++
		}
		slices.Sort(took)
		return took[len(took)/2], took[len(took)-1]
	}
	quietMedian, quietWorst := converse(20)

	// The flood: batches written straight to the socket until told to stop.
	before := rs.Dropped(routing.DropInboundFlood)
	stop := make(chan struct{})
	sent := make(chan int)
	floodStart := time.Now()
	go func() {
		n := 0
		frame := []byte(msg("", `{"flood":true}`))
		for {
			select {
			case <-stop:
				sent <- n
				return
			default:
			}
			for i := 0; i < 64; i++ {
				if err := flooder.c.WriteMessage(websocket.TextMessage, frame); err != nil {
					sent <- n
					return
				}
				n++
			}
		}
	}()
	floodMedian, floodWorst := converse(turns)
	close(stop)
	total := <-sent

	// Every flood message is either delivered (to both a and b) or counted.
	waitFor(t, "flood drained", func() bool {
		dropped := rs.Dropped(routing.DropInboundFlood) - before
		return int(dropped)+int(boxes[a].fromFlooder.Load()) == total &&
			boxes[a].fromFlooder.Load() == boxes[b].fromFlooder.Load()
	})
	elapsed := time.Since(floodStart) // the bucket refilled until the last was routed
	admitted := boxes[a].fromFlooder.Load()
	dropped := rs.Dropped(routing.DropInboundFlood) - before
	maxAdmitted := int64(burst + rate*elapsed.Seconds() + 1)
	t.Logf("flooder sent %d messages in %v: %d admitted (bucket allows %d), %d dropped; "+
		"conversation turn median/worst %v/%v before the flood, %v/%v during it",
		total, elapsed.Round(time.Millisecond), admitted, maxAdmitted, dropped,
		quietMedian.Round(time.Microsecond), quietWorst.Round(time.Microsecond),
		floodMedian.Round(time.Microsecond), floodWorst.Round(time.Microsecond))
	if admitted > maxAdmitted {
		t.Errorf("%d flood messages admitted, the bucket allows %d", admitted, maxAdmitted)
	}
	if total < 10*int(maxAdmitted) {
		t.Errorf("the flooder sent only %d messages: not a flood, the test measured nothing", total)
	}
	for _, id := range []string{"a", "b"} {
		if d := conf.Endpoint(id).Dropped.Load(); d != 0 {
			t.Errorf("%s: %d drops", id, d)
		}
	}
	// The flooder is still connected: flooding is dropped, not punished.
	// (Its bucket refills at the rate; two tokens take 2/rate.)
	time.Sleep(2 * time.Second / rate)
	flooder.send(`{"colibriClass":"ClientHello"}`)
	if m := flooder.recv(); m["colibriClass"] != "ServerHello" {
		t.Errorf("flooder got %v, want ServerHello", m)
	}
}
