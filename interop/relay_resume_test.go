package interop

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/seqcheck"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/gorilla/websocket"
)

// Resumable relay links (issue 15), through the seed's deployment: jvb1 and
// jvb2 behind nginx, one meeting across them, the relay dialled by jvb1.
// jvb1 is given jvb2's advertised relay URL with nginx's host:port replaced
// by a relayCut proxy's (LinkRelayVia), so the relay's TCP path is
// jvb1 -> relayCut -> nginx -> jvb2, and the test can reset it (Cut: RST
// both ways, in-flight bytes lost) or kill and restart nginx under it. The
// four endpoints connect straight to their bridge (the advertised URL with
// the bridge's own public port), so that only the relay is broken.
//
// The stream, at resumeRate messages a second per sender, numbered per
// sender ({"s":"a1","n":i}), then an end marker ({"s":"a1","end":count}):
//
//	a1 (jvb1) unicasts to b1      b1 (jvb2) unicasts to a1
//	a2 (jvb1) broadcasts          b2 (jvb2) broadcasts
//
// so the relay carries unicasts and broadcasts in both directions (about
// 2 x resumeRate each way), and a1 and b1 also get a local stream that never
// crosses the relay.

const (
	resumeRate    = 200  // messages a second per sender
	resumeMinSent = 1000 // per sender before the end marker: five seconds
	resumeBetween = 50   // messages each receiver gets from each sender between two breaks
)

// TestRelayResume: with the extension on (the default) on both bridges, the
// relay's TCP connection is reset three times and nginx is killed and
// restarted once while the stream runs; each time the test waits until
// both bridges report a new relay connection in /debug and the stream
// flows again. At the end every receiver has every message of every sender
// exactly once and in order, across the relay as well as locally;
// /colibri/stats has the four relay_* counters, with relay_replayed (or
// relay_resumes) above 0 and relay_lost 0; no ERROR line, no protocol-error
// close, nothing dropped as an unknown class.
func TestRelayResume(t *testing.T) {
	t.Parallel()
	r := startResumeRig(t, DeploymentParams{TwoBridges: true})
	r.run()
	r.checkDelivery(true)
	r.checkNoError()
	stats := r.stats()
	var replayed, resumes float64
	for _, b := range r.bridges() {
		for _, k := range []string{"relay_resumes", "relay_replayed", "relay_duplicates", "relay_lost"} {
			if _, ok := stats[b][k]; !ok {
				t.Errorf("%s: /colibri/stats has no %s", b.ServerID, k)
			}
		}
		replayed += statNum(stats[b], "relay_replayed")
		resumes += statNum(stats[b], "relay_resumes")
		if v := statNum(stats[b], "relay_lost"); v != 0 {
			t.Errorf("%s: relay_lost = %v, want 0 (the stream is far below relay-replay-bytes and relay-replay-age)", b.ServerID, v)
		}
	}
	if replayed == 0 && resumes == 0 {
		t.Errorf("relay_replayed and relay_resumes are 0 on both bridges after %d breaks of the relay", r.breaks)
	}
}

// TestRelayResumeOff: the same stream and breaks with the extension off on
// one side (videobridge.relay.resume = false in that bridge's jvb.conf;
// jvb1-off: the dialler, jvb2-off: the dialled bridge), the other side on
// its defaults. Today's behaviour, and no error: the link comes back after
// every break and the stream flows again; each receiver's sequence of each
// sender is strictly increasing (no duplicate, order kept); every message
// sent after the last reconnect arrives, and every local one; losses across
// the relay during the breaks are allowed, and the side with the extension
// off counts them as dropped_no_connection. relay_resumes and
// relay_replayed stay 0 on both; the bridge does not warn about the key
// as unknown; no ERROR line, no protocol-error close,
// nothing dropped as an unknown class (no RelayAck reaches the side that
// has the extension off).
func TestRelayResumeOff(t *testing.T) {
	t.Parallel()
	for _, off := range []string{"jvb1", "jvb2"} {
		t.Run(off+"-off", func(t *testing.T) {
			t.Parallel()
			p := DeploymentParams{TwoBridges: true}
			if off == "jvb1" {
				p.JVB1Relay = "resume = false"
			} else {
				p.JVB2Relay = "resume = false"
			}
			r := startResumeRig(t, p)
			offBridge := r.d.JVB1
			if off == "jvb2" {
				offBridge = r.d.JVB2
			}
			if !strings.Contains(offBridge.JVBConf(), "resume = false") {
				t.Fatalf("%s's jvb.conf lacks resume = false:\n%s", off, offBridge.JVBConf())
			}
			r.run()
			r.checkDelivery(false)
			r.checkNoError()
			// The key is the extension's: known, so not warned about
			// (an unknown key would leave the extension on).
			for _, l := range offBridge.LogLines(0) {
				if strings.Contains(l, "videobridge.relay.resume") {
					t.Errorf("%s does not know videobridge.relay.resume: %s", off, l)
				}
			}
			stats := r.stats()
			for _, b := range r.bridges() {
				for _, k := range []string{"relay_resumes", "relay_replayed"} {
					if v := statNum(stats[b], k); v != 0 {
						t.Errorf("%s: %s = %v with the extension off on %s, want 0", b.ServerID, k, v, off)
					}
				}
			}
			if v := statNum(stats[offBridge], "dropped_no_connection"); v == 0 {
				t.Errorf("%s (extension off): dropped_no_connection = 0 after %d breaks; messages routed to the relay while it was down should be dropped and counted", off, r.breaks)
			}
			confID, relayID := r.p.On1.ID, r.d.JVB2.RelayID
			if offBridge == r.d.JVB2 {
				confID, relayID = r.p.On2.ID, r.d.JVB1.RelayID
			}
			for class, n := range offBridge.ReceivedCounts(confID, relayID) {
				if class == "Unknown" || strings.Contains(class, "RelayAck") {
					t.Errorf("%s (extension off) received %d %s messages on the relay", off, n, class)
				}
			}
		})
	}
}

// resumeRig is one deployment with the stream of this file's header.
type resumeRig struct {
	t      *testing.T
	d      *Deployment
	cut    *relayCut
	p      *RelayPair
	eps    []*resumeEndpoint
	byID   map[string]*resumeEndpoint
	stop   chan struct{}
	sent   sync.WaitGroup
	breaks int
	// back is, per sender, the first n sent after the last reconnect.
	back map[string]int64
}

// resumeEndpoint is one endpoint socket: it sends its series (to a unicast
// target or to everyone) and reads the series of the senders it hears.
type resumeEndpoint struct {
	id     string
	bridge *Bridge
	conn   *websocket.Conn
	to     string   // "" for broadcast
	hears  []string // senders whose series it gets
	next   atomic.Int64
	st     *testbridge.Stream // what it reads
}

func startResumeRig(t *testing.T, p DeploymentParams) *resumeRig {
	t.Helper()
	r := &resumeRig{t: t, byID: map[string]*resumeEndpoint{}, stop: make(chan struct{})}
	r.d = StartDeployment(t, p)
	r.cut = startRelayCut(t, r.d.Nginx.Addr)
	r.p = r.d.LinkRelayVia("resume", []string{"a1", "a2"}, []string{"b1", "b2"}, r.cut.Addr())

	// The relay goes through the proxy, and on to nginx's relay route.
	_, raw := r.d.JVB1.Do("GET", "/debug/"+r.p.On1.ID+"/"+r.d.JVB2.RelayID, nil)
	if want := `"remote_url":"ws://` + r.cut.Addr() + `/colibri-relay-ws/` + r.d.JVB2.ServerID + `/`; !strings.Contains(string(raw), want) {
		t.Fatalf("jvb1's relay: %s lacks %s", raw, want)
	}
	if acc, _, _ := r.cut.Counts(); acc != 1 || r.cut.Active() != 1 {
		t.Fatalf("relayCut: %d connections accepted, %d active; want the relay's one", acc, r.cut.Active())
	}

	spec := []struct {
		id, to string
		hears  []string
	}{
		{"a1", "b1", []string{"b1", "a2", "b2"}},
		{"a2", "", []string{"b2"}},
		{"b1", "a1", []string{"a1", "a2", "b2"}},
		{"b2", "", []string{"a2"}},
	}
	for _, s := range spec {
		conf, b := r.p.On1, r.d.JVB1
		if s.id[0] == 'b' {
			conf, b = r.p.On2, r.d.JVB2
		}
		e := &resumeEndpoint{id: s.id, bridge: b, to: s.to, hears: s.hears}
		e.conn = dialDirect(t, conf.URLs[s.id], b)
		r.eps = append(r.eps, e)
		r.byID[s.id] = e
	}
	for _, e := range r.eps {
		e.st = testbridge.ReadStream(e.conn, e.hears, 2*eventTimeout)
	}
	return r
}

// dialDirect connects to an advertised endpoint URL (nginx's address) at
// the bridge itself, and reads the ServerHello.
func dialDirect(t *testing.T, advertised string, b *Bridge) *websocket.Conn {
	t.Helper()
	u, err := url.Parse(advertised)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = "127.0.0.1:" + strconv.Itoa(b.PublicPort)
	c, _, err := websocket.DefaultDialer.Dial(u.String(), nil)
	if err != nil {
		t.Fatalf("dial %s at %s: %v", advertised, u.Host, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(eventTimeout))
	_, raw, err := c.ReadMessage()
	if err != nil || !strings.Contains(string(raw), `"ServerHello"`) {
		t.Fatalf("%s: no ServerHello: %v %s", u.Path, err, raw)
	}
	return c
}

// send writes e's series at resumeRate until stop, then its end marker.
func (e *resumeEndpoint) send(t *testing.T, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	tk := time.NewTicker(time.Second / resumeRate)
	defer tk.Stop()
	write := func(payload string) bool {
		m := fmt.Sprintf(`{"colibriClass":"EndpointMessage","to":%q,"msgPayload":%s}`, e.to, payload)
		e.conn.SetWriteDeadline(time.Now().Add(eventTimeout))
		if err := e.conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Errorf("%s: send: %v", e.id, err)
			return false
		}
		return true
	}
	for {
		select {
		case <-stop:
			write(fmt.Sprintf(`{"s":%q,"end":%d}`, e.id, e.next.Load()))
			return
		case <-tk.C:
		}
		n := e.next.Load()
		if !write(fmt.Sprintf(`{"s":%q,"n":%d}`, e.id, n)) {
			return
		}
		e.next.Store(n + 1)
	}
}

// run streams, breaks the relay four times (cut, cut, nginx restart, cut),
// keeps streaming to resumeMinSent per sender, and ends every series.
func (r *resumeRig) run() {
	t := r.t
	t.Helper()
	for _, e := range r.eps {
		r.sent.Add(1)
		go e.send(t, r.stop, &r.sent)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			close(r.stop)
		}
	}
	defer func() { // also when a wait below fails the test: no sender outlives it
		stop()
		resumeWaitGroup(&r.sent, eventTimeout)
	}()
	r.waitFlow("the start")
	cut := func() {
		if n := r.cut.Cut(); n < 1 {
			t.Fatalf("break %d: relayCut had no connection to cut", r.breaks+1)
		}
	}
	for _, brk := range []struct {
		what string
		do   func()
	}{
		{"relay TCP reset 1", cut},
		{"relay TCP reset 2", cut},
		{"nginx killed and restarted", func() { r.d.Nginx.Kill(); r.d.Nginx.Restart() }},
		{"relay TCP reset 3", cut},
	} {
		r.breakRelay(brk.what, brk.do)
	}
	deadline := time.Now().Add(eventTimeout)
	for _, e := range r.eps {
		if !testbridge.Until(time.Until(deadline), func() bool { return e.next.Load() >= resumeMinSent }) {
			t.Fatalf("%s sent %d messages, want %d within %v", e.id, e.next.Load(), resumeMinSent, eventTimeout)
		}
	}
	stop()
	if !resumeWaitGroup(&r.sent, eventTimeout) {
		t.Fatalf("senders did not end within %v", eventTimeout)
	}
	deadline = time.Now().Add(eventTimeout)
	for _, e := range r.eps {
		select {
		case <-e.st.Done():
		case <-time.After(time.Until(deadline)):
			e.conn.Close() // ends the reader
			<-e.st.Done()
		}
		if ended := e.st.Ended(); len(ended) != len(e.hears) {
			t.Errorf("%s: end markers from %v of %v within %v of the end (read: %v)", e.id, ended, e.hears, eventTimeout, e.st.Err())
		}
		for _, b := range e.st.Bad() {
			t.Errorf("%s read a message not of the stream: %s", e.id, b)
		}
	}
	acc, refused, cuts := r.cut.Counts()
	t.Logf("%d breaks; relayCut: %d connections forwarded, %d refused while nginx was down, %d cut; sent per sender: %s",
		r.breaks, acc, refused, cuts, r.sentSummary())
	if acc < 1+r.breaks {
		t.Errorf("relayCut forwarded %d connections, want at least %d (one per reconnect)", acc, 1+r.breaks)
	}
}

// breakRelay breaks the link with do, waits until both bridges report a
// new relay connection, notes where each sender's series is (r.back), and
// waits until the stream flows again on every path.
func (r *resumeRig) breakRelay(what string, do func()) {
	t := r.t
	t.Helper()
	r.breaks++
	_, since1 := r.relayState(r.d.JVB1, r.p.On1.ID, r.d.JVB2.RelayID)
	_, since2 := r.relayState(r.d.JVB2, r.p.On2.ID, r.d.JVB1.RelayID)
	start := time.Now()
	do()
	var c1, c2 bool
	var s1, s2 string
	if !testbridge.Until(eventTimeout, func() bool {
		c1, s1 = r.relayState(r.d.JVB1, r.p.On1.ID, r.d.JVB2.RelayID)
		c2, s2 = r.relayState(r.d.JVB2, r.p.On2.ID, r.d.JVB1.RelayID)
		return c1 && c2 && s1 != since1 && s2 != since2
	}) {
		t.Fatalf("%s: the relay is not back within %v: jvb1 connected=%v since %s (was %s), jvb2 connected=%v since %s (was %s)",
			what, eventTimeout, c1, s1, since1, c2, s2, since2)
	}
	// One message may be on its way out of each sender: the first one sent
	// after the link was back on both sides is the one after it.
	r.back = map[string]int64{}
	for _, e := range r.eps {
		r.back[e.id] = e.next.Load() + 1
	}
	t.Logf("%s: relay back on both sides after %v", what, time.Since(start).Round(time.Millisecond))
	r.waitFlow("after " + what)
}

// relayState returns GET /debug/{conf}/{relay}'s connected and
// connected_since.
func (r *resumeRig) relayState(b *Bridge, confID, relayID string) (bool, string) {
	status, raw := b.Do("GET", "/debug/"+confID+"/"+relayID, nil)
	var st struct {
		Connected bool   `json:"connected"`
		Since     string `json:"connected_since"`
	}
	if status != http.StatusOK || json.Unmarshal(raw, &st) != nil {
		r.t.Fatalf("%s: GET /debug/%s/%s: %d %s", b.ServerID, confID, relayID, status, raw)
	}
	return st.Connected, st.Since
}

// waitFlow waits until every receiver has, from every sender it hears, a
// message resumeBetween past where that sender was when waitFlow began.
func (r *resumeRig) waitFlow(when string) {
	t := r.t
	t.Helper()
	mark := map[string]int64{}
	for _, e := range r.eps {
		mark[e.id] = e.next.Load() + resumeBetween
	}
	deadline := time.Now().Add(eventTimeout)
	for _, e := range r.eps {
		for _, s := range e.hears {
			if !testbridge.Until(time.Until(deadline), func() bool { return e.st.MaxFrom(s) >= mark[s] }) {
				t.Fatalf("%s: %s's messages do not reach %s: n=%d is the highest arrived, want %d within %v (sent: %s)",
					when, s, e.id, e.st.MaxFrom(s), mark[s], eventTimeout, r.sentSummary())
			}
		}
	}
}

func (r *resumeRig) sentSummary() string {
	var parts []string
	for _, e := range r.eps {
		parts = append(parts, fmt.Sprintf("%s %d", e.id, e.next.Load()))
	}
	return strings.Join(parts, ", ")
}

func (r *resumeRig) bridges() []*Bridge { return []*Bridge{r.d.JVB1, r.d.JVB2} }

// checkDelivery compares what each receiver read from each sender with the
// series sent. exact: every message once, in order, across the relay too.
// Otherwise, across the relay: strictly increasing, and complete from the
// first message sent after the last reconnect; locally always exact.
func (r *resumeRig) checkDelivery(exact bool) {
	t := r.t
	t.Helper()
	for _, e := range r.eps {
		for _, s := range e.hears {
			sender := r.byID[s]
			total := sender.next.Load()
			if end, ok := e.st.End(s); ok && end != total {
				t.Errorf("%s: %s's end marker says %d, it sent %d", e.id, s, end, total)
			}
			cross := sender.bridge != e.bridge
			path := "locally"
			if cross {
				path = "across the relay"
			}
			rep := seqcheck.Check(e.st.Got(s), total)
			from := int64(0)
			if cross && !exact {
				from = r.back[s]
			}
			missing := rep.NeverFrom(from)
			desc := fmt.Sprintf("%s from %s (%s): %d of %d arrived (%d distinct), %d never",
				e.id, s, path, rep.Arrived, total, rep.Distinct, len(rep.Never))
			if rep.Dups > 0 || rep.Disorder > 0 || rep.Beyond > 0 || len(missing) > 0 {
				t.Errorf("%s; %d duplicates, %d out of order, %d not sent; missing that must arrive: %s",
					desc, rep.Dups, rep.Disorder, rep.Beyond, seqcheck.Ranges(missing))
			} else {
				t.Log(desc)
			}
		}
	}
}

var protocolErrorClose = regexp.MustCompile(`\bcode=(1002|1003|1007|1008|1009|1010|1011)\b`)

// checkNoError: no ERROR line in either bridge's log, no relay closed with a
// protocol-error code, and in /colibri/stats no protocol error, slow or
// backlog close, or message dropped as an unknown class or for a slow
// receiver.
func (r *resumeRig) checkNoError() {
	t := r.t
	t.Helper()
	for _, b := range r.bridges() {
		for _, l := range b.LogLines(0) {
			if strings.Contains(l, "level=ERROR") {
				t.Errorf("%s logged an error: %s", b.ServerID, l)
			}
			if strings.Contains(l, `msg="websocket closed"`) && strings.Contains(l, "kind=relay") && protocolErrorClose.MatchString(l) {
				t.Errorf("%s: relay closed with a protocol error: %s", b.ServerID, l)
			}
		}
	}
	for b, st := range r.stats() {
		for _, k := range []string{"protocol_errors", "slow_closed", "inbound_backlog_closed",
			"dropped_unknown_class", "dropped_slow_receiver"} {
			if v := statNum(st, k); v != 0 {
				t.Errorf("%s: %s = %v, want 0", b.ServerID, k, v)
			}
		}
		var relay []string
		for k, v := range st {
			if strings.HasPrefix(k, "relay") || k == "dropped_no_connection" {
				relay = append(relay, fmt.Sprintf("%s=%v", k, v))
			}
		}
		sort.Strings(relay)
		t.Logf("%s stats: %s", b.ServerID, strings.Join(relay, " "))
	}
}

// stats returns both bridges' /colibri/stats.
func (r *resumeRig) stats() map[*Bridge]map[string]any {
	out := map[*Bridge]map[string]any{}
	for _, b := range r.bridges() {
		status, raw := b.Do("GET", "/colibri/stats", nil)
		var m map[string]any
		if status != http.StatusOK || json.Unmarshal(raw, &m) != nil {
			r.t.Fatalf("%s: GET /colibri/stats: %d %s", b.ServerID, status, raw)
		}
		out[b] = m
	}
	return out
}

// statNum returns a numeric stat, 0 if absent.
func statNum(m map[string]any, key string) float64 {
	v, _ := m[key].(float64)
	return v
}

func resumeWaitGroup(wg *sync.WaitGroup, bound time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(bound):
		return false
	}
}
