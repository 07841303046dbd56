package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/testbridge"
)

// No message lost across a reconnect (issue 15): while an endpoint has no
// open socket, the bridge keeps what is addressed to it in a mailbox and
// delivers it, in order, on the endpoint's next socket right after
// ServerHello. These tests break b's TCP connection the way a network does
// (a CutProxy resets both sides; no close frame), wait until the bridge's
// /debug shows b disconnected (what the kernel had accepted on a dead socket
// may be lost, so nothing is sent before the bridge knows), let a send b a
// numbered series, and let b come back on the same URL: with
// lib-jitsi-meet's BridgeChannel by its own retry, with Node ws and
// python3-websockets (which have no reconnect of their own) by a second
// connect. b must read the whole series once, in order, no gap and no
// duplicate, after ServerHello on the new socket. The "split" variant sends
// the first half before the cut (read on the old socket) and the rest while
// b is down: old socket then new socket must read the series once, in
// order. The bridge runs on its defaults (256 KiB, 30 s mailboxes); only
// ports are configured. a connects directly, b through the proxy.

// reconnectSeries is the series' length: 200 EndpointMessages of under 100
// bytes each, far below the default mailbox's 256 KiB.
const reconnectSeries = 200

// reconnectPeer is what the series needs of one client: a's sending, and
// b's reading, cutting and coming back.
type reconnectPeer struct {
	// send has a send an EndpointMessage to b with payload (a JSON object).
	send func(payload string)
	// fence has a send a LastNChangedEvent, which the bridge consumes and
	// counts after routing everything a sent before it.
	fence func()
	// next returns b's next message on its current socket (failing the
	// test if that socket closes first).
	next func() Event
	// waitClosed waits until b's client has seen its socket end.
	waitClosed func()
	// reconnect waits until b is on a new socket through the proxy, the
	// same URL, and has read ServerHello first on it.
	reconnect func()
	// received returns every message event of b's sockets, old then new.
	received func() []Event
}

// checkReconnectSeries runs one series from a to b across a cut of b's
// connection: the first `before` messages while b is connected, the rest
// while the bridge knows b is down. It fails the test unless b read
// 0..reconnectSeries-1 exactly once and in order across its old and new
// sockets, and checks the bridge's mailbox counters.
func checkReconnectSeries(t *testing.T, br *Bridge, conf *Conference, proxy *CutProxy, p reconnectPeer, before int) {
	t.Helper()
	stats0 := bridgeStats(t, br)
	var got []int
	read := func(until func(n int, end bool) bool) {
		t.Helper()
		for {
			e := p.next()
			n, end, ok := seriesNumber(e)
			if !ok {
				t.Fatalf("b read %s during the series, want only a's EndpointMessages", e.Raw)
			}
			if !end {
				got = append(got, n)
			}
			if until(n, end) {
				return
			}
		}
	}

	// before the cut: b reads these on its first socket, live
	for i := 0; i < before; i++ {
		p.send(fmt.Sprintf(`{"n":%d}`, i))
	}
	if before > 0 {
		read(func(n int, _ bool) bool { return len(got) == before })
	}

	// the cut: no close frame either way; the proxy refuses b's retries
	// until the series has been routed
	proxy.Hold()
	if n := proxy.Cut(); n != 1 {
		t.Fatalf("the proxy cut %d connections, want b's one", n)
	}
	p.waitClosed()
	waitEndpointConnected(t, br, conf.ID, "b", false)

	fences := br.ReceivedCounts(conf.ID, "a")["LastNChangedEvent"]
	for i := before; i < reconnectSeries; i++ {
		p.send(fmt.Sprintf(`{"n":%d}`, i))
	}
	p.fence()
	waitReceived(t, br, conf.ID, "a", "LastNChangedEvent", fences+1)
	if endpointConnected(t, br, conf.ID, "b") {
		t.Fatal("b was connected again before the series was routed (the proxy holds it off)")
	}

	// b comes back on the same URL; ServerHello first, then the mailbox,
	// then what a sends after the reconnect (the end marker)
	proxy.Release()
	p.reconnect()
	p.send(`{"end":true}`)
	read(func(_ int, end bool) bool { return end })

	// everything b's client received, read by the test or not: the same
	// numbers (nothing slipped past the waits above)
	var all []int
	for _, e := range p.received() {
		if n, end, ok := seriesNumber(e); ok && !end {
			all = append(all, n)
		}
	}
	if fmt.Sprint(all) != fmt.Sprint(got) {
		t.Errorf("b's client received %d messages of the series, the test read %d", len(all), len(got))
	}
	if desc := describeSeries(all, reconnectSeries); desc != "" {
		t.Errorf("b read %d messages of the series across its old and new sockets (%d before the cut, %d while down), "+
			"want 0..%d once each, in order: %s", len(all), before, reconnectSeries-before, reconnectSeries-1, desc)
	}

	// the counters: every message sent while b was down was queued and
	// delivered from b's mailbox, and none was dropped for want of a socket
	stats1 := bridgeStats(t, br)
	t.Logf("stats deltas: mailbox_queued %v, mailbox_delivered %v, dropped_no_connection %v",
		statDelta(stats0, stats1, "mailbox_queued"), statDelta(stats0, stats1, "mailbox_delivered"),
		statDelta(stats0, stats1, "dropped_no_connection"))
	down := float64(reconnectSeries - before)
	if _, ok := stats1["mailbox_delivered"]; !ok {
		t.Errorf("/colibri/stats has no mailbox_delivered")
	} else if d := statDelta(stats0, stats1, "mailbox_delivered"); d < down {
		t.Errorf("mailbox_delivered grew by %v, want at least the %v messages sent while b was down", d, down)
	}
	if d := statDelta(stats0, stats1, "dropped_no_connection"); d != 0 {
		t.Errorf("dropped_no_connection grew by %v during the series, want 0", d)
	}
}

// seriesNumber reads one message of the series: an EndpointMessage from a
// to b with payload {"n":N} or the end marker {"end":true}.
func seriesNumber(e Event) (n int, end, ok bool) {
	var m struct {
		ColibriClass string `json:"colibriClass"`
		From, To     string
		MsgPayload   struct {
			N   *int `json:"n"`
			End bool `json:"end"`
		} `json:"msgPayload"`
	}
	if json.Unmarshal([]byte(e.Data), &m) != nil || m.ColibriClass != "EndpointMessage" || m.From != "a" || m.To != "b" {
		return 0, false, false
	}
	if m.MsgPayload.End {
		return 0, true, true
	}
	if m.MsgPayload.N == nil {
		return 0, false, false
	}
	return *m.MsgPayload.N, false, true
}

// describeSeries returns "" if got is 0..total-1, else what is wrong with
// it: the numbers missing, read twice, and the first out of order.
func describeSeries(got []int, total int) string {
	count := make([]int, total)
	var bad []string
	var outside []int
	firstDisorder := -1
	for i, n := range got {
		if n < 0 || n >= total {
			outside = append(outside, n)
			continue
		}
		count[n]++
		if firstDisorder < 0 && i > 0 && n <= got[i-1] {
			firstDisorder = i
		}
	}
	var missing, twice []int
	for n, c := range count {
		if c == 0 {
			missing = append(missing, n)
		} else if c > 1 {
			twice = append(twice, n)
		}
	}
	if len(missing) > 0 {
		bad = append(bad, fmt.Sprintf("%d missing (%s)", len(missing), ranges(missing)))
	}
	if len(twice) > 0 {
		bad = append(bad, fmt.Sprintf("%d read more than once (%s)", len(twice), ranges(twice)))
	}
	if len(outside) > 0 {
		bad = append(bad, fmt.Sprintf("outside the series: %v", outside))
	}
	if firstDisorder >= 0 {
		bad = append(bad, fmt.Sprintf("out of order: n=%d read after n=%d", got[firstDisorder], got[firstDisorder-1]))
	}
	return strings.Join(bad, "; ")
}

// ranges writes ascending numbers as "0-99, 150, 160-199".
func ranges(ns []int) string {
	var parts []string
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ns[i]))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ns[i], ns[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// endpointConnected returns GET /debug/{conf}/{id}'s connected flag.
func endpointConnected(t *testing.T, br *Bridge, confID, id string) bool {
	t.Helper()
	status, raw := br.Do("GET", "/debug/"+confID+"/"+id, nil)
	var st struct {
		Connected bool `json:"connected"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &st) != nil {
		t.Fatalf("bridge %s: GET /debug/%s/%s: %d %s", br.ServerID, confID, id, status, raw)
	}
	return st.Connected
}

// waitEndpointConnected polls /debug until endpoint id's connected flag is
// want, bounded.
func waitEndpointConnected(t *testing.T, br *Bridge, confID, id string, want bool) {
	t.Helper()
	if !testbridge.Until(eventTimeout, func() bool { return endpointConnected(t, br, confID, id) == want }) {
		t.Fatalf("bridge %s: endpoint %s of %s: connected is not %v within %v", br.ServerID, id, confID, want, eventTimeout)
	}
}

// waitReceived polls /debug until the bridge has counted at least n
// messages of class from endpoint id, bounded.
func waitReceived(t *testing.T, br *Bridge, confID, id, class string, n uint64) {
	t.Helper()
	var got map[string]uint64
	if !testbridge.Until(eventTimeout, func() bool {
		got = br.ReceivedCounts(confID, id)
		return got[class] >= n
	}) {
		t.Fatalf("bridge %s: %d %s received from %s within %v, want %d", br.ServerID, got[class], class, id, eventTimeout, n)
	}
}

// bridgeStats returns GET /colibri/stats.
func bridgeStats(t *testing.T, br *Bridge) map[string]any {
	t.Helper()
	status, raw := br.Do("GET", "/colibri/stats", nil)
	var stats map[string]any
	if status != http.StatusOK || json.Unmarshal(raw, &stats) != nil {
		t.Fatalf("bridge %s: /colibri/stats: %d %s", br.ServerID, status, raw)
	}
	return stats
}

// statDelta returns how much the numeric stat key grew (0 if absent).
func statDelta(before, after map[string]any, key string) float64 {
	b, _ := before[key].(float64)
	a, _ := after[key].(float64)
	return a - b
}

// messageEvents returns the message events of the client's sockets ids,
// socket by socket.
func messageEvents(c *Client, ids ...string) []Event {
	var out []Event
	for _, id := range ids {
		for _, e := range c.Events(id) {
			if e.Ev == "message" {
				out = append(out, e)
			}
		}
	}
	return out
}

// wsReconnectPeer is the series' peer for a client of the line protocol
// with no reconnect of its own (Node ws, python3-websockets): a on one
// socket straight to the bridge, b through the proxy; after the cut the
// test connects b again, a new socket on the same URL.
func wsReconnectPeer(t *testing.T, c *Client, conf *Conference, proxy *CutProxy) reconnectPeer {
	t.Helper()
	a, b := conf.Socket("a"), conf.Socket("b")
	bURL := proxy.URL(conf.URLs["b"])
	connectHello(t, c, a, conf.URLs["a"], true)
	connectHello(t, c, b, bURL, true)
	return reconnectPeer{
		send:  func(payload string) { c.SendText(a, endpointMessage("b", payload)) },
		fence: func() { c.SendText(a, `{"colibriClass":"LastNChangedEvent","lastN":5}`) },
		next:  func() Event { t.Helper(); return c.WaitMessage(b) },
		waitClosed: func() {
			t.Helper()
			if e := c.WaitClose(b); e.Code != 1006 {
				t.Errorf("b: close %s after the cut, want 1006 (no close frame)", e.Raw)
			}
		},
		reconnect: func() {
			t.Helper()
			b += "#2" // the new socket; same URL
			connectHello(t, c, b, bURL, true)
		},
		received: func() []Event { return messageEvents(c, conf.Socket("b"), conf.Socket("b")+"#2") },
	}
}

// runWSReconnect runs both variants for a client without its own reconnect.
func runWSReconnect(t *testing.T, c *Client, prefix string) {
	br := StartBridge(t, BridgeParams{})
	for _, v := range []struct {
		name   string
		before int
	}{{"down", 0}, {"split", reconnectSeries / 2}} {
		t.Run(v.name, func(t *testing.T) {
			c := c.For(t)
			conf := br.CreateConference(prefix+"-"+v.name, "a", "b")
			proxy := StartCutProxy(t, "127.0.0.1:"+strconv.Itoa(br.PublicPort))
			checkReconnectSeries(t, br, conf, proxy, wsReconnectPeer(t, c, conf, proxy), v.before)
		})
	}
}

// TestReconnectNodeWS: npm's ws. b's connection is cut, the test connects b
// again on the same URL once the bridge knows it is gone, and b reads
// everything a sent meanwhile, once and in order, right after ServerHello
// ("down"); with half the series read before the cut, old and new socket
// together read it once and in order ("split").
func TestReconnectNodeWS(t *testing.T) {
	t.Parallel()
	runWSReconnect(t, StartNodeWS(t), "node-reconnect")
}

// TestReconnectPython: the same with python3-websockets.
func TestReconnectPython(t *testing.T) {
	t.Parallel()
	runWSReconnect(t, StartPython(t), "py-reconnect")
}

// TestReconnectBridgeChannel: lib-jitsi-meet's BridgeChannel, unmodified,
// reconnects by itself: after the cut (close 1006) it retries the same URL
// a second later, then two seconds after that. The proxy refuses retries
// until the series has been routed while the bridge knows b is down; the
// retry after that opens b's new socket, on which ServerHello comes first
// and then the whole series, once and in order ("down"); with half of it
// read on the old socket, both together read it once in order ("split").
func TestReconnectBridgeChannel(t *testing.T) {
	t.Parallel()
	br := StartBridge(t, BridgeParams{})
	c := StartBridgeChannel(t)
	for _, v := range []struct {
		name   string
		before int
	}{{"down", 0}, {"split", reconnectSeries / 2}} {
		t.Run(v.name, func(t *testing.T) {
			conf := br.CreateConference("bc-reconnect-"+v.name, "a", "b")
			proxy := StartCutProxy(t, "127.0.0.1:"+strconv.Itoa(br.PublicPort))
			a := openBC(t, c, conf, "a")
			// b's BridgeChannel gets the proxy's URL: its retries use it too
			bconf := *conf
			bconf.URLs = map[string]string{"b": proxy.URL(conf.URLs["b"])}
			b := openBC(t, c, &bconf, "b")
			var cutAt time.Time
			attempts := 0
			checkReconnectSeries(t, br, conf, proxy, reconnectPeer{
				send: func(payload string) {
					var v map[string]any
					if err := json.Unmarshal([]byte(payload), &v); err != nil {
						t.Fatal(err)
					}
					a.call("sendMessage", "b", v)
				},
				fence: func() { a.call("sendSetLastNMessage", 5) },
				next:  func() Event { t.Helper(); return b.c.WaitMessage(b.id) },
				waitClosed: func() {
					t.Helper()
					e := b.c.WaitClose(b.id)
					if e.Code != 1006 {
						t.Errorf("b: close %s after the cut, want 1006 (no close frame)", e.Raw)
					}
					cutAt = e.At
				},
				reconnect: func() {
					t.Helper()
					// BridgeChannel's own retries, all on the URL it was given;
					// waitOpen checks ServerHello is the new socket's first message
					var open Event
					for open.Ev != "open" {
						open = b.c.Wait(b.id, func(e Event) bool { return e.Ev == "attempt" || e.Ev == "open" }, eventTimeout)
						if open.Ev == "attempt" {
							attempts++
							if open.URL != bconf.URLs["b"] {
								t.Errorf("b retried %s, not its URL %s", open.URL, bconf.URLs["b"])
							}
						}
					}
					t.Logf("b: socket open again %v after the cut, at retry %d", open.At.Sub(cutAt).Round(time.Millisecond), attempts)
					b.c.Wait(b.id, func(e Event) bool { return e.Ev == "bc" && e.Name == evOpen }, eventTimeout)
					if first := b.c.WaitMessage(b.id); first.Class() != "ServerHello" {
						t.Fatalf("b: first message on the new socket %s, want ServerHello", first.Raw)
					}
				},
				received: func() []Event { return messageEvents(c, b.id) },
			}, v.before)
			a.call("close")
			b.call("close")
		})
	}
}
