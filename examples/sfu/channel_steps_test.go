package main

// The bridge channel steps of TestSFU: messages between pages, and a
// reconnect across a cut.

import (
	"fmt"
	"time"
)

type message struct {
	From    string         `json:"from"`
	Payload map[string]any `json:"payload"`
}

func (x *sfuTest) messages(page string) []message {
	var m []message
	x.b.eval(page, `sfu.messages`, &m)
	return m
}

// endpointMessage: a unicast from b reaches c, a broadcast from a reaches
// b and c, and b's EndpointStats reach a and c, each with from set by the
// bridge.
func (x *sfuTest) endpointMessage() {
	x.b.eval("b", fmt.Sprintf(`sfu.send(%q, {type: "hello", n: 1})`, x.ids["c"]), nil)
	x.b.eval("a", `sfu.send("", {type: "everyone", n: 2})`, nil)
	for _, w := range []struct {
		page, from string
		n          float64
	}{{"c", "b", 1}, {"c", "a", 2}, {"b", "a", 2}} {
		waitFor(x.t, 5*time.Second, fmt.Sprintf("%s gets message %v from %s", w.page, w.n, w.from), func() (bool, string) {
			got := x.messages(w.page)
			for _, m := range got {
				if m.Payload["n"] == w.n {
					return m.From == x.ids[w.from], fmt.Sprintf("from %q, want %q", m.From, x.ids[w.from])
				}
			}
			return false, fmt.Sprintf("%v", got)
		})
	}
	// EndpointStats from b reach a and c, from set by the bridge
	x.b.eval("b", `sfu.sendStats({connectionQuality: 98.5, jvbRTT: 12})`, nil)
	for _, p := range []string{"a", "c"} {
		waitFor(x.t, 5*time.Second, p+" gets b's EndpointStats", func() (bool, string) {
			var got []struct {
				From  string
				Stats map[string]any
			}
			x.b.eval(p, `sfu.endpointStats`, &got)
			for _, e := range got {
				if e.From == x.ids["b"] && e.Stats["jvbRTT"] == 12.0 && e.Stats["from"] == x.ids["b"] {
					return true, ""
				}
			}
			return false, fmt.Sprintf("%v", got)
		})
	}
	for _, m := range x.messages("a") {
		if m.Payload["n"] == 2.0 {
			x.t.Errorf("a got its own broadcast back: %v", m)
		}
	}
}

// reconnect: c's bridge channel is cut without a close frame while b
// sends it a numbered series; BridgeChannel reconnects by itself, the
// series arrives once and in order, and c's media never stops.
func (x *sfuTest) reconnect() {
	const series = 50
	c := x.ids["c"]
	ep := x.endpoint("c")
	epB := x.endpoint("b")
	var opens0 int
	x.b.eval("c", `sfu.wsOpens`, &opens0)
	before := x.stats("c")

	x.proxy.hold(true)
	if n := x.proxy.cut("/" + c + "?"); n != 1 {
		x.t.Fatalf("the proxy cut %d connections of c, want 1", n)
	}
	waitFor(x.t, 5*time.Second, "c's page and the bus see c's socket gone", func() (bool, string) {
		var closes int
		x.b.eval("c", `sfu.wsCloses`, &closes)
		return closes >= 1 && !ep.Connected(), fmt.Sprintf("page closes %d, bus connected %v", closes, ep.Connected())
	})
	fences := epB.Stats().Received["LastNChangedEvent"]
	x.b.eval("b", fmt.Sprintf(`(() => { for (let i = 0; i < %d; i++) sfu.send(%q, {series: i}); sfu.setLastN(-1); })()`, series, c), nil)
	waitFor(x.t, 5*time.Second, "the bus routed b's series", func() (bool, string) {
		n := epB.Stats().Received["LastNChangedEvent"]
		return n > fences, fmt.Sprintf("b's LastNChangedEvent: %d", n)
	})
	if ep.Connected() {
		x.t.Fatal("c was back before the series was routed (the proxy holds it off)")
	}
	// media goes on while the bridge channel is down
	from := x.others("c", "a", "b", "c")
	waitFor(x.t, 5*time.Second, "c decodes media while its bridge channel is down", func() (bool, string) {
		cur := x.stats("c")
		for _, id := range from {
			if cur[id].FramesDecoded <= before[id].FramesDecoded || cur[id].TotalSamplesReceived <= before[id].TotalSamplesReceived {
				return false, fmt.Sprintf("from %s: %v then %v", id, before[id], cur[id])
			}
		}
		return true, ""
	})

	x.proxy.hold(false)
	waitFor(x.t, 20*time.Second, "c's BridgeChannel reconnects by itself", func() (bool, string) {
		var opens int
		x.b.eval("c", `sfu.wsOpens`, &opens)
		return opens > opens0 && ep.Connected(), fmt.Sprintf("opens %d, bus connected %v", opens, ep.Connected())
	})
	x.b.eval("b", fmt.Sprintf(`sfu.send(%q, {series: "end"})`, c), nil)
	var got []any
	waitFor(x.t, 10*time.Second, "c reads the series and its end", func() (bool, string) {
		got = got[:0]
		for _, m := range x.messages("c") {
			if v, ok := m.Payload["series"]; ok && m.From == x.ids["b"] {
				got = append(got, v)
			}
		}
		return len(got) > 0 && got[len(got)-1] == "end", fmt.Sprintf("%d messages", len(got))
	})
	want := make([]any, 0, series+1)
	for i := range series {
		want = append(want, float64(i))
	}
	want = append(want, "end")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		x.t.Errorf("c read the series %v, want 0..%d once each, in order, then end", got, series-1)
	}
	x.waitGrowing("c", from, true, 5*time.Second)
}
