package bridge_test

import (
	"encoding/json"
	"fmt"
	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/internal/route"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/seqcheck"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/gorilla/websocket"
)

// Resumable relay links (the relay resume extension, routing/replay.go and
// engine/resume.go) end to end: two bridges in this process, A dialling B
// through a resumeProxy (relay_resume_proxy_test.go) that breaks the link
// in the ways a network does, and a numbered stream both ways:
//
//	a1 (A) unicasts to b1     b1 (B) unicasts to a1
//	a2 (A) broadcasts         b2 (B) broadcasts
//
// so that the relay carries unicasts and broadcasts in both directions and
// a1 and b1 also get a local stream that never crosses it. Each sender
// numbers its messages {"s":sender,"n":i} and ends with {"s":sender,"end":count}.
// The bridges run on their defaults (ports and, where said, relay.resume).

const (
	streamRate    = 200 // messages a second per sender
	streamMinSent = 800 // per sender before the end marker
	streamBetween = 40  // messages from each sender every receiver gets between two breaks
	relayBack     = 15 * time.Second
)

// resumeRig is the two bridges, the proxy and the four endpoints.
type resumeRig struct {
	t       *testing.T
	a, b    *harness
	px      *resumeProxy
	meeting string
	ra, rb  *route.Relay // A's relay (to B, dialled) and B's (to A)
	eps     []*streamEndpoint
	byID    map[string]*streamEndpoint
	stop    chan struct{}
	stopped bool
	sending sync.WaitGroup
	breaks  int
	// back is, per sender, the first number sent after the last reconnect.
	back map[string]int64
}

// streamEndpoint is one endpoint: it sends its series and records the
// series it hears.
type streamEndpoint struct {
	id     string
	b      *harness
	cl     *client
	to     string   // "" for broadcast
	hears  []string // senders whose series reach it
	next   atomic.Int64
	failed atomic.Bool
	st     *testbridge.Stream // what it reads
}

// startResumeRig starts A and B (resume on each as said), links them with
// A dialling B through the proxy, and connects the endpoints.
func startResumeRig(t *testing.T, resumeA, resumeB bool) *resumeRig {
	t.Helper()
	start := func(id string, resume bool) *harness {
		return startBridge(t, func(c *config.Config) {
			c.Relay.Enabled, c.Relay.RelayID = true, id
			c.WebSockets.ServerID = id
			c.Relay.Resume = resume
		})
	}
	r := &resumeRig{t: t, meeting: "resume", byID: map[string]*streamEndpoint{}, stop: make(chan struct{})}
	r.a, r.b = start("jvb1", resumeA), start("jvb2", resumeB)
	r.px = startResumeProxy(t, r.b.ws)
	urls := map[string]string{}
	create := func(h *harness, ids ...string) {
		var eps []map[string]any
		for _, id := range ids {
			eps = append(eps, map[string]any{"id": id, "create": true})
		}
		status, resp := h.do("POST", "/colibri/v2/conferences", mustJSON(map[string]any{"meeting-id": r.meeting, "create": true, "endpoints": eps}))
		if status != 200 {
			t.Fatalf("create: %d %s", status, resp)
		}
		for id, u := range h.urls(resp) {
			urls[id] = u
		}
	}
	create(r.a, "a1", "a2")
	create(r.b, "b1", "b2")
	// B's passive relay for A, then A's relay dialling B's URL through
	// the proxy.
	rel := map[string]any{"id": "jvb1", "create": true, "mesh-id": "0", "endpoints": endpointsOf([]string{"a1", "a2"})}
	status, resp := r.b.do("PATCH", "/colibri/v2/conferences/"+r.meeting, mustJSON(map[string]any{"relays": []any{rel}}))
	if status != 200 {
		t.Fatalf("passive relay: %d %s", status, resp)
	}
	via := strings.Replace(r.b.local(relayURL(t, resp)), r.b.ws, r.px.Addr(), 1)
	rel = map[string]any{"id": "jvb2", "create": true, "mesh-id": "0", "endpoints": endpointsOf([]string{"b1", "b2"}),
		"transport": map[string]any{"transport": map[string]any{"web-sockets": []string{via}}}}
	if status, resp := r.a.do("PATCH", "/colibri/v2/conferences/"+r.meeting, mustJSON(map[string]any{"relays": []any{rel}})); status != 200 {
		t.Fatalf("active relay: %d %s", status, resp)
	}
	r.ra = bridge.TableOf(r.a.b).ConferenceByMeeting(r.meeting).Relay("jvb2")
	r.rb = bridge.TableOf(r.b.b).ConferenceByMeeting(r.meeting).Relay("jvb1")
	waitUntil(t, relayBack, "the relay up on both sides", func() bool { return r.ra.Conn() != nil && r.rb.Conn() != nil })
	if n := len(r.px.Pairs()); n != 1 {
		t.Fatalf("the proxy forwarded %d connections, want the relay's one", n)
	}
	for _, s := range []struct {
		id, to string
		b      *harness
		hears  []string
	}{
		{"a1", "b1", r.a, []string{"b1", "a2", "b2"}},
		{"a2", "", r.a, []string{"b2"}},
		{"b1", "a1", r.b, []string{"a1", "a2", "b2"}},
		{"b2", "", r.b, []string{"a2"}},
	} {
		e := &streamEndpoint{id: s.id, b: s.b, to: s.to, hears: s.hears}
		e.cl = s.b.dialHello(s.id, urls[s.id])
		r.eps = append(r.eps, e)
		r.byID[s.id] = e
	}
	for _, e := range r.eps {
		e.st = testbridge.ReadStream(e.cl.c, e.hears, 60*time.Second)
	}
	// No sender outlives the test, also when it fails early.
	t.Cleanup(r.stopSending)
	return r
}

// waitUntil polls cond until it holds or bound passes.
var waitUntil = testbridge.WaitUntil

func (e *streamEndpoint) write(payload string) bool {
	m := fmt.Sprintf(`{"colibriClass":"EndpointMessage","to":%q,"msgPayload":%s}`, e.to, payload)
	e.cl.c.SetWriteDeadline(time.Now().Add(wait))
	if err := e.cl.c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
		e.failed.Store(true)
		return false
	}
	return true
}

// send writes e's series at streamRate until stop, then its end marker.
func (e *streamEndpoint) send(stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	tk := time.NewTicker(time.Second / streamRate)
	defer tk.Stop()
	pad := strings.Repeat("p", 60)
	for {
		select {
		case <-stop:
			e.write(fmt.Sprintf(`{"s":%q,"end":%d}`, e.id, e.next.Load()))
			return
		case <-tk.C:
		}
		n := e.next.Load()
		if !e.write(fmt.Sprintf(`{"s":%q,"n":%d,"pad":%q}`, e.id, n, pad)) {
			return
		}
		e.next.Store(n + 1)
	}
}

// startSending starts every sender.
func (r *resumeRig) startSending() {
	for _, e := range r.eps {
		r.sending.Add(1)
		go e.send(r.stop, &r.sending)
	}
}

// stopSending ends every series (once) and waits for the senders.
func (r *resumeRig) stopSending() {
	if !r.stopped {
		r.stopped = true
		close(r.stop)
	}
	r.sending.Wait()
}

// relaysSince returns when each side's current relay socket attached (the
// zero time for none).
// pauseRelay sends a1's first 10 messages, waits until b1 read them, and
// pauses the relay's TCP connection: A goes on writing to it, B reads
// nothing. It returns when the relay sockets attached and B's replaced
// count, to tell the redial that follows.
func (r *resumeRig) pauseRelay(t *testing.T, a1, b1 *streamEndpoint) (sa, sb time.Time, replaced uint64) {
	t.Helper()
	for i := 0; i < 10; i++ {
		a1.write(fmt.Sprintf(`{"s":"a1","n":%d}`, a1.next.Load()))
		a1.next.Add(1)
	}
	waitUntil(t, wait, "b1 reading a1", func() bool { return b1.st.MaxFrom("a1") == 9 })
	if len(r.px.Pause()) != 1 {
		t.Fatal("no relay connection to pause")
	}
	sa, sb = r.relaysSince()
	return sa, sb, r.b.b.Engine().Stats().Replaced
}

func (r *resumeRig) relaysSince() (a, b time.Time) {
	return r.ra.ConnectedSince(), r.rb.ConnectedSince()
}

// waitBack waits until both sides have a relay socket newer than the ones
// they had at sinceA and sinceB, and notes where each sender is.
func (r *resumeRig) waitBack(what string, sinceA, sinceB time.Time) {
	r.t.Helper()
	start := time.Now()
	waitUntil(r.t, relayBack, what+": the relay back on both sides", func() bool {
		a, b := r.relaysSince()
		return r.ra.Conn() != nil && r.rb.Conn() != nil && !a.IsZero() && !b.IsZero() && !a.Equal(sinceA) && !b.Equal(sinceB)
	})
	// One message may be on its way out of each sender: the first one
	// sent after the link was back on both sides is the one after it.
	r.back = map[string]int64{}
	for _, e := range r.eps {
		r.back[e.id] = e.next.Load() + 1
	}
	r.t.Logf("%s: relay back on both sides after %v", what, time.Since(start).Round(time.Millisecond))
}

// breakRelay breaks the link with do (which may wait for more), waits for
// it to come back and for the stream to flow again.
func (r *resumeRig) breakRelay(what string, do func()) {
	r.t.Helper()
	r.breaks++
	sa, sb := r.relaysSince()
	do()
	r.waitBack(what, sa, sb)
	r.waitFlow("after " + what)
}

// waitFlow waits until every receiver has, from every sender it hears, a
// message streamBetween past where the sender was when waitFlow began.
func (r *resumeRig) waitFlow(when string) {
	t := r.t
	t.Helper()
	mark := map[string]int64{}
	for _, e := range r.eps {
		mark[e.id] = e.next.Load() + streamBetween
	}
	deadline := time.Now().Add(relayBack)
	for _, e := range r.eps {
		for _, s := range e.hears {
			if !testbridge.Until(time.Until(deadline), func() bool {
				if e.st.MaxFrom(s) >= mark[s] {
					return true
				}
				if r.byID[s].failed.Load() {
					t.Fatalf("%s: %s could not send", when, s)
				}
				return false
			}) {
				t.Fatalf("%s: %s's messages do not reach %s: n=%d is the highest, want %d (sent: %s)",
					when, s, e.id, e.st.MaxFrom(s), mark[s], r.sentSummary())
			}
		}
	}
}

// finish streams until every sender sent streamMinSent, ends the series and
// waits for every end marker.
func (r *resumeRig) finish() {
	t := r.t
	t.Helper()
	waitUntil(t, relayBack, fmt.Sprintf("%d messages from every sender", streamMinSent), func() bool {
		for _, e := range r.eps {
			if e.next.Load() < streamMinSent && !e.failed.Load() {
				return false
			}
		}
		return true
	})
	r.stopSending()
	for _, e := range r.eps {
		if e.failed.Load() {
			t.Errorf("%s could not send", e.id)
		}
	}
	deadline := time.After(relayBack)
	for _, e := range r.eps {
		select {
		case <-e.st.Done():
		case <-deadline:
			t.Errorf("%s: end markers from %v of %v within %v (read: %v)", e.id, e.st.Ended(), e.hears, relayBack, e.st.Err())
			e.cl.c.Close() // ends the reader
			<-e.st.Done()
		}
	}
	t.Logf("%d breaks; sent per sender: %s", r.breaks, r.sentSummary())
}

func (r *resumeRig) sentSummary() string {
	var parts []string
	for _, e := range r.eps {
		parts = append(parts, fmt.Sprintf("%s %d", e.id, e.next.Load()))
	}
	return strings.Join(parts, ", ")
}

// deliveryReport is what one receiver read of one sender's series.
type deliveryReport struct {
	receiver, sender string
	cross            bool // across the relay
	total            int64
	arrived          int
	dups, disorder   int
	never            []int64 // numbers that never arrived
	mustHave         []int64 // of those, the ones that had to
}

// deliveries compares what each receiver read with what was sent. exact:
// every message once and in order, across the relay too; otherwise, across
// the relay, strictly increasing and complete from the first message sent
// after the last reconnect (r.back); locally always exact.
func (r *resumeRig) deliveries(exact bool) []deliveryReport {
	var out []deliveryReport
	for _, e := range r.eps {
		for _, s := range e.hears {
			sender := r.byID[s]
			d := deliveryReport{receiver: e.id, sender: s, cross: sender.b != e.b, total: sender.next.Load()}
			rep := seqcheck.Check(e.st.Got(s), d.total)
			d.arrived, d.dups, d.disorder, d.never = rep.Arrived, rep.Dups, rep.Disorder, rep.Never
			from := int64(0)
			if d.cross && !exact {
				from = r.back[s]
			}
			d.mustHave = rep.NeverFrom(from)
			if end, ok := e.st.End(s); ok && end != d.total {
				d.mustHave = append(d.mustHave, -1) // the end marker disagrees with what was sent
			}
			out = append(out, d)
		}
		for _, b := range append(e.st.Bad(), e.st.Foreign()...) {
			r.t.Errorf("%s read a message not of the stream: %s", e.id, b)
		}
	}
	return out
}

// checkDeliveries fails the test for every report that breaks the rule.
func (r *resumeRig) checkDeliveries(exact bool) []deliveryReport {
	t := r.t
	t.Helper()
	ds := r.deliveries(exact)
	for _, d := range ds {
		path := "locally"
		if d.cross {
			path = "across the relay"
		}
		desc := fmt.Sprintf("%s from %s (%s): %d read of %d sent, %d never arrived, %d duplicates, %d out of order",
			d.receiver, d.sender, path, d.arrived, d.total, len(d.never), d.dups, d.disorder)
		if d.dups > 0 || d.disorder > 0 || len(d.mustHave) > 0 {
			t.Errorf("%s; missing that must have arrived: %s", desc, ranges(d.mustHave))
		} else {
			t.Log(desc)
		}
	}
	return ds
}

// num returns a numeric entry of /colibri/stats, 0 when absent.
func num(m map[string]any, k string) float64 {
	v, _ := m[k].(float64)
	return v
}

// resumeKeys are the extension's counters in /colibri/stats.
var resumeKeys = []string{"relay_resumes", "relay_replayed", "relay_duplicates", "relay_lost", "relay_acks_sent"}

// statsLine is the relay counters and drops of a bridge, for the log.
func statsLine(st map[string]any) string {
	var parts []string
	for k, v := range st {
		if strings.HasPrefix(k, "relay_") || strings.HasPrefix(k, "dropped_") && num(st, k) != 0 {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}

// checkClean: no protocol error, nothing dropped as an unknown class or for
// a slow receiver, no slow close, on either bridge.
func (r *resumeRig) checkClean(sts ...map[string]any) {
	r.t.Helper()
	for i, st := range sts {
		for _, k := range []string{"protocol_errors", "dropped_unknown_class", "dropped_slow_receiver", "dropped_invalid_fields", "slow_closed"} {
			if v := num(st, k); v != 0 {
				r.t.Errorf("bridge %c: %s = %v, want 0", 'A'+i, k, v)
			}
		}
	}
}

// debugRelay is GET /debug/{conf}/{relay} as far as these tests read it.
type debugRelay struct {
	Connected bool `json:"connected"`
	Resume    *struct {
		Link           string `json:"link"`
		PeerLink       string `json:"peer_link"`
		Received       uint64 `json:"received"`
		Sent           uint64 `json:"sent"`
		Unacknowledged int    `json:"unacknowledged"`
	} `json:"resume"`
	Transport *struct {
		Received map[string]uint64 `json:"received_counts"`
	} `json:"message_transport"`
}

func (h *harness) debugRelay(meeting, relayID string) debugRelay {
	h.t.Helper()
	conf := bridge.TableOf(h.b).ConferenceByMeeting(meeting)
	status, body := h.do("GET", "/debug/"+conf.ID()+"/"+relayID, "")
	var d debugRelay
	if status != 200 || json.Unmarshal(body, &d) != nil {
		h.t.Fatalf("GET /debug/%s/%s: %d %s", conf.ID(), relayID, status, body)
	}
	return d
}

// ranges prints sorted numbers as runs: "3-7, 12 (6 in all)".
func ranges(ns []int64) string { return seqcheck.Ranges(ns) }

// cut resets the relay's connection through the proxy.
func (r *resumeRig) cut() {
	if n := r.px.Cut(); n < 1 {
		r.t.Fatalf("break %d: the proxy had no connection to cut", r.breaks)
	}
}

// whileDown keeps the link down (the proxy refuses the redials) until
// every sender sent n more messages, then lets it come back.
func (r *resumeRig) whileDown(n int64, also func() bool) {
	r.px.Refuse(true)
	defer r.px.Refuse(false)
	r.cut()
	waitUntil(r.t, relayBack, "the relay down on both sides", func() bool {
		return r.ra.Conn() == nil && r.rb.Conn() == nil
	})
	mark := map[string]int64{}
	for _, e := range r.eps {
		mark[e.id] = e.next.Load() + n
	}
	waitUntil(r.t, relayBack, fmt.Sprintf("%d messages from every sender while the link is down", n), func() bool {
		for _, e := range r.eps {
			if e.next.Load() < mark[e.id] {
				return false
			}
		}
		return also == nil || also()
	})
}

// TestRelayResumeCuts: with the extension on both bridges (the default),
// the relay's TCP connection is reset four times while the stream runs:
// once plainly, once with the link kept down while every sender sends 50
// more, and twice in a row (the second while the first one's replay may
// still be on its way). Every message arrives exactly once and in order;
// both sides resumed every socket and replayed what the other missed;
// nothing was lost; duplicates, if any, were counted and not delivered.
// The numbering of both sides agrees at the end, and once the stream is
// quiet every message is acknowledged (the timer sweep acknowledges what
// a batch of 1,024 did not).
func TestRelayResumeCuts(t *testing.T) {
	r := startResumeRig(t, true, true)
	r.startSending()
	r.waitFlow("the start")
	r.breakRelay("reset 1", r.cut)
	r.breakRelay("reset 2, the link down while 50 more are sent", func() { r.whileDown(50, nil) })
	sa, sb := r.relaysSince()
	r.breaks++
	r.cut()
	r.waitBack("reset 3", sa, sb)
	r.breakRelay("reset 4, right after reset 3", r.cut)
	r.finish()
	r.checkDeliveries(true)

	stA, stB := r.a.stats(), r.b.stats()
	t.Logf("A: %s", statsLine(stA))
	t.Logf("B: %s", statsLine(stB))
	r.checkClean(stA, stB)
	for i, st := range []map[string]any{stA, stB} {
		for _, k := range resumeKeys {
			if _, ok := st[k]; !ok {
				t.Errorf("bridge %c: /colibri/stats has no %s", 'A'+i, k)
			}
		}
		if v := num(st, "relay_lost"); v != 0 {
			t.Errorf("bridge %c: relay_lost = %v, want 0", 'A'+i, v)
		}
		// Every socket after the link's first resumed it: one per break.
		if v := num(st, "relay_resumes"); v < float64(r.breaks) {
			t.Errorf("bridge %c: relay_resumes = %v, want at least %d", 'A'+i, v, r.breaks)
		}
		if v := num(st, "relay_acks_sent"); v == 0 {
			t.Errorf("bridge %c: relay_acks_sent = 0", 'A'+i)
		}
		if v := num(st, "dropped_no_connection"); v != 0 {
			t.Errorf("bridge %c: dropped_no_connection = %v: messages for the relay were dropped while it was down", 'A'+i, v)
		}
	}
	if num(stA, "relay_replayed")+num(stB, "relay_replayed") == 0 {
		t.Errorf("relay_replayed is 0 on both bridges after %d breaks", r.breaks)
	}
	// What crossed the wire: every upgrade carried the header both ways,
	// RelayAcks went both ways, and no RelaySkip (nothing was lost).
	for i, pr := range r.px.Pairs() {
		req, resp := pr.Heads()
		if !hasResumeHeader(req) || !hasResumeHeader(resp) {
			t.Errorf("connection %d: resume header in the request %v, in the 101 %v; want both", i+1, hasResumeHeader(req), hasResumeHeader(resp))
		}
	}
	toB, toA := r.px.proxyClasses()
	t.Logf("the relay carried to B %v; to A %v", toB, toA)
	if toB["RelayAck"] == 0 || toA["RelayAck"] == 0 {
		t.Errorf("RelayAcks on the wire: %d to B, %d to A; want some each way", toB["RelayAck"], toA["RelayAck"])
	}
	if toB["RelaySkip"]+toA["RelaySkip"] != 0 {
		t.Errorf("RelaySkip on the wire with nothing lost: %d to B, %d to A", toB["RelaySkip"], toA["RelaySkip"])
	}
	for _, c := range []string{"Unknown", "(invalid)", "#continuation"} {
		if toB[c]+toA[c] != 0 {
			t.Errorf("%s on the wire: %d", c, toB[c]+toA[c])
		}
	}
	// The two sides agree on the link, and the quiet link is acknowledged
	// to the last message (the timer sweep's RelayAck).
	waitUntil(t, 3*time.Second+3*r.a.b.Engine().TickInterval(), "every relayed message acknowledged", func() bool {
		_, ka, _ := r.ra.Link.Sent()
		_, kb, _ := r.rb.Link.Sent()
		return ka == 0 && kb == 0
	})
	da, db := r.a.debugRelay(r.meeting, "jvb2"), r.b.debugRelay(r.meeting, "jvb1")
	if da.Resume == nil || db.Resume == nil {
		t.Fatalf("/debug resume objects: A %v, B %v", da.Resume, db.Resume)
	}
	if da.Resume.Link != db.Resume.PeerLink || db.Resume.Link != da.Resume.PeerLink || da.Resume.Link == db.Resume.Link {
		t.Errorf("link ids: A %s knows B as %s; B %s knows A as %s", da.Resume.Link, da.Resume.PeerLink, db.Resume.Link, db.Resume.PeerLink)
	}
	if da.Resume.Sent != db.Resume.Received || db.Resume.Sent != da.Resume.Received || da.Resume.Sent == 0 || db.Resume.Sent == 0 {
		t.Errorf("numbering: A sent %d, B received %d; B sent %d, A received %d", da.Resume.Sent, db.Resume.Received, db.Resume.Sent, da.Resume.Received)
	}
	if da.Resume.Unacknowledged != 0 || db.Resume.Unacknowledged != 0 {
		t.Errorf("unacknowledged: A %d, B %d", da.Resume.Unacknowledged, db.Resume.Unacknowledged)
	}
}

// TestRelayResumeReplaced: the dialler's connection is broken on the
// dialler's side only. First the proxy holds back what the dialler writes
// (it is lost to B for now), then resets the dialler's side and keeps B's
// side open, reading what B writes and throwing it away: B still has its
// old socket open when A's new one arrives, and replaces it (counted).
// After the new socket is up, the held bytes are written to B's old
// socket, late. Three times; every message arrives exactly once and in
// order, and A replayed what the old socket had lost.
func TestRelayResumeReplaced(t *testing.T) {
	r := startResumeRig(t, true, true)
	r.startSending()
	r.waitFlow("the start")
	replaced := r.b.b.Engine().Stats().Replaced
	for i := 1; i <= 3; i++ {
		var old []*proxyPair
		r.breakRelay(fmt.Sprintf("replace %d", i), func() {
			old = r.px.Hold()
			if len(old) != 1 {
				t.Fatalf("replace %d: %d live connections in the proxy", i, len(old))
			}
			waitUntil(t, wait, "the proxy holding what the dialler wrote", func() bool { return old[0].Held() > 4<<10 })
			r.px.Abandon()
		})
		if got := r.b.b.Engine().Stats().Replaced; got != replaced+uint64(i) {
			t.Errorf("replace %d: B replaced %d sockets, want %d: its old socket was not open when the new one came", i, got-replaced, i)
		}
		// Late: what A wrote on the old socket reaches B after the new
		// socket took over (dropped as not current, or ignored while the
		// old one closes; the replay had it).
		if !old[0].ReleaseHeld() {
			t.Logf("replace %d: B's old socket was closed before the held bytes came", i)
		}
	}
	r.finish()
	r.checkDeliveries(true)
	stA, stB := r.a.stats(), r.b.stats()
	t.Logf("A: %s", statsLine(stA))
	t.Logf("B: %s", statsLine(stB))
	r.checkClean(stA, stB)
	for i, st := range []map[string]any{stA, stB} {
		if v := num(st, "relay_lost"); v != 0 {
			t.Errorf("bridge %c: relay_lost = %v, want 0", 'A'+i, v)
		}
	}
	if v := num(stA, "relay_replayed"); v == 0 {
		t.Errorf("A: relay_replayed = 0, yet B never read what the proxy held")
	}
	if v := num(stB, "relay_replayed"); v == 0 {
		t.Errorf("B: relay_replayed = 0, yet what it wrote on its old sockets was thrown away")
	}
}

// TestRelayResumeOff: with videobridge.relay.resume = false on one side
// (each in turn), the link is today's: no header on that side's half of
// the handshake, none answered, no RelayAck or RelaySkip ever on the wire
// or counted, nothing replayed. After a break in which the link stays down
// while every sender sends 30 more, those messages were dropped
// (dropped_no_connection on both bridges) and are missing at their
// receivers; nothing arrives twice or out of order, and everything sent
// after the last reconnect arrives.
func TestRelayResumeOff(t *testing.T) {
	for _, off := range []string{"dialler", "dialled"} {
		t.Run(off+"-off", func(t *testing.T) {
			r := startResumeRig(t, off != "dialler", off != "dialled")
			offB, offRelay := r.a, "jvb2"
			if off == "dialled" {
				offB, offRelay = r.b, "jvb1"
			}
			r.startSending()
			r.waitFlow("the start")
			dropped := func(h *harness) float64 { return num(h.stats(), "dropped_no_connection") }
			r.breakRelay("reset, the link down while 30 more are sent", func() {
				da, db := dropped(r.a), dropped(r.b)
				r.whileDown(30, func() bool { return dropped(r.a) >= da+30 && dropped(r.b) >= db+30 })
			})
			r.breakRelay("reset", r.cut)
			r.finish()
			ds := r.checkDeliveries(false)
			lost := 0
			for _, d := range ds {
				if d.cross {
					lost += len(d.never)
				}
			}
			if lost < 4*30 {
				t.Errorf("%d messages missing across the relay, want at least the %d sent while it was down", lost, 4*30)
			}
			stA, stB := r.a.stats(), r.b.stats()
			t.Logf("A: %s", statsLine(stA))
			t.Logf("B: %s", statsLine(stB))
			r.checkClean(stA, stB)
			for i, st := range []map[string]any{stA, stB} {
				for _, k := range resumeKeys {
					if v := num(st, k); v != 0 {
						t.Errorf("bridge %c: %s = %v with the extension off on the %s", 'A'+i, k, v, off)
					}
				}
				if v := num(st, "dropped_no_connection"); v == 0 {
					t.Errorf("bridge %c: dropped_no_connection = 0 after the link was down", 'A'+i)
				}
			}
			for i, pr := range r.px.Pairs() {
				req, resp := pr.Heads()
				if hasResumeHeader(resp) {
					t.Errorf("connection %d: the 101 carries the resume header:\n%s", i+1, resp)
				}
				if off == "dialler" && hasResumeHeader(req) {
					t.Errorf("connection %d: the dialler with the extension off sent the header:\n%s", i+1, req)
				}
				if off == "dialled" && !hasResumeHeader(req) {
					t.Errorf("connection %d: the dialler (extension on) sent no header", i+1)
				}
			}
			toB, toA := r.px.proxyClasses()
			t.Logf("the relay carried to B %v; to A %v", toB, toA)
			for _, c := range []string{"RelayAck", "RelaySkip", "Unknown", "(invalid)"} {
				if toB[c]+toA[c] != 0 {
					t.Errorf("%d %s on the wire (%d to B, %d to A)", toB[c]+toA[c], c, toB[c], toA[c])
				}
			}
			d := offB.debugRelay(r.meeting, offRelay)
			if d.Transport != nil {
				for class, n := range d.Transport.Received {
					if class == "Unknown" || class == "RelayAck" || class == "RelaySkip" {
						t.Errorf("the %s (extension off) received %d %s on the relay", off, n, class)
					}
				}
			}
			for i, h := range []*harness{r.a, r.b} {
				id := map[*harness]string{r.a: "jvb2", r.b: "jvb1"}[h]
				if d := h.debugRelay(r.meeting, id); d.Resume != nil {
					t.Errorf("bridge %c: /debug shows a resume state %+v", 'A'+i, *d.Resume)
				}
			}
		})
	}
}

// TestRelayResumeJitsiPeer: a relay peer that is a plain WebSocket client
// without the extension, dialling /colibri-relay-ws/... as Jitsi
// Videobridge does: the 101 carries no resume header, the bridge sends it
// no RelayAck (after more than a batch of 1,024 of its messages, and a
// ClientHello round trip behind them), and messages flow both ways. The
// control: the same with a peer that sends the header gets it answered and
// a RelayAck, so the observation can see one.
func TestRelayResumeJitsiPeer(t *testing.T) {
	const n = 1100 // past engine.ackEvery (1,024): a batch is due
	h := startBridge(t, func(c *config.Config) {
		c.Relay.Enabled, c.Relay.RelayID = true, "jvb2"
		c.WebSockets.ServerID = "jvb2"
	})
	urls := h.conference("jitsi", "b1", "b3", "b5")
	relayURLOf := func(id, remote string) string {
		rel := map[string]any{"id": id, "create": true, "mesh-id": "0", "endpoints": endpointsOf([]string{remote})}
		status, resp := h.do("PATCH", "/colibri/v2/conferences/jitsi", mustJSON(map[string]any{"relays": []any{rel}}))
		if status != 200 {
			t.Fatalf("relay %s: %d %s", id, status, resp)
		}
		return h.local(relayURL(t, resp))
	}
	for _, c := range []struct {
		name, relay, remote, local string
		header                     string // sent on the upgrade request
		resumes                    bool   // the bridge takes the extension up
	}{
		{"jitsi", "jvb1", "r1", "b1", "", false},
		{"control-with-header", "jvb3", "r3", "b3", "link=0123456789abcdef; peer=-; received=0", true},
		// A malformed header is ignored like a missing one (and logged).
		{"malformed-header", "jvb5", "r5", "b5", "link=; received=minus one", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			acksBefore := h.stats()["relay_acks_sent"].(float64)
			b1 := h.dialHello(c.local, urls[c.local])
			hdr := map[string][]string{}
			if c.header != "" {
				hdr["X-Colibri-Relay-Resume"] = []string{c.header}
			}
			conn, resp, err := websocket.DefaultDialer.Dial(relayURLOf(c.relay, c.remote), hdr)
			if err != nil {
				t.Fatalf("dial the relay: %v", err)
			}
			defer conn.Close()
			answered := resp.Header.Get("X-Colibri-Relay-Resume")
			if !c.resumes && answered != "" {
				t.Errorf("the 101 to a peer without the extension carries X-Colibri-Relay-Resume: %s", answered)
			}
			if c.resumes {
				if hh, err := route.ParseResumeHeader(answered); err != nil || hh.Link == "" || hh.Peer != "" {
					t.Errorf("the 101 to a peer with the extension: X-Colibri-Relay-Resume %q (%v)", answered, err)
				}
			}
			// The peer's messages: n unicasts from its endpoint to b1.
			tb := newTally(b1, c.remote)
			for i := 0; i < n; i++ {
				m := fmt.Sprintf(`{"colibriClass":"EndpointMessage","from":%q,"to":%q,"msgPayload":{"s":%q,"n":%d}}`, c.remote, c.local, c.remote, i)
				if err := conn.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
					t.Fatal(err)
				}
			}
			end := fmt.Sprintf(`{"colibriClass":"EndpointMessage","from":%q,"to":%q,"msgPayload":{"end":true}}`, c.remote, c.local)
			if err := conn.WriteMessage(websocket.TextMessage, []byte(end)); err != nil {
				t.Fatal(err)
			}
			tb.check(t, n)
			// The local endpoint's unicasts to the peer's endpoint reach
			// the peer; then a ClientHello from the peer: its ServerHello
			// comes after anything the bridge queued for it meanwhile, a
			// RelayAck included.
			for i := 0; i < n; i++ {
				b1.send(msg(c.remote, fmt.Sprintf(`{"s":%q,"n":%d}`, c.local, i)))
			}
			b1.send(msg(c.remote, `{"end":true}`))
			classes := map[string]int{}
			next := 0
			conn.SetReadDeadline(time.Now().Add(wait))
			helloSent := false
			for {
				_, raw, err := conn.ReadMessage()
				if err != nil {
					t.Fatalf("the peer's read: %v (classes so far %v)", err, classes)
				}
				var m struct {
					Class      string `json:"colibriClass"`
					From       string `json:"from"`
					MsgPayload struct {
						N   *int `json:"n"`
						End bool `json:"end"`
					} `json:"msgPayload"`
				}
				json.Unmarshal(raw, &m)
				classes[m.Class]++
				if m.Class == "EndpointMessage" && m.From == c.local {
					switch {
					case m.MsgPayload.End && !helloSent:
						helloSent = true
						if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"colibriClass":"ClientHello"}`)); err != nil {
							t.Fatal(err)
						}
					case m.MsgPayload.N != nil:
						if *m.MsgPayload.N != next {
							t.Errorf("the peer read n=%d from %s, want %d", *m.MsgPayload.N, c.local, next)
						}
						next = *m.MsgPayload.N + 1
					}
				}
				if helloSent && m.Class == "ServerHello" {
					break
				}
			}
			if next != n {
				t.Errorf("the peer read %d of %s's %d messages", next, c.local, n)
			}
			acks := h.stats()["relay_acks_sent"].(float64) - acksBefore
			t.Logf("the peer read %v; relay_acks_sent grew by %v", classes, acks)
			if !c.resumes {
				if classes["RelayAck"] != 0 || classes["RelaySkip"] != 0 {
					t.Errorf("a peer without the extension was sent %d RelayAck and %d RelaySkip", classes["RelayAck"], classes["RelaySkip"])
				}
				if acks != 0 {
					t.Errorf("relay_acks_sent grew by %v", acks)
				}
				if d := h.debugRelay("jitsi", c.relay); d.Resume != nil {
					t.Errorf("/debug shows a resume state for the Jitsi peer: %+v", *d.Resume)
				}
			} else if classes["RelayAck"] == 0 {
				t.Errorf("the control peer with the extension got no RelayAck after %d messages", n)
			}
		})
	}
}

// TestRelayResumeSlowConsumer: the dialled side stops reading the relay
// (the proxy stops reading what A writes), on the defaults. a1 sends 32 KiB
// unicasts to b1 until A's relay socket is over its outbound budget (a
// resuming relay's is everyone's, 1 MiB, plus the replay it started with:
// none here); A closes it with 1008 slow consumer (at 4x the budget at
// once, or after the grace) and redials; B, whose old socket is still
// open, has it replaced. On the new socket A replays what B did not read.
// The 8 MiB window holds what A queued (at most 4 MiB); what the kernels
// and the proxy held on top of it may pass the window, and what the window
// could no longer hold is lost, accounted for exactly: one RelaySkip, the
// gap counted as relay_lost by both bridges (not every message A's window
// evicted: B had read some), the missing messages one run right after
// what B had read. No duplicate, the order kept, and everything after the
// gap arrives.
func TestRelayResumeSlowConsumer(t *testing.T) {
	r := startResumeRig(t, true, true)
	a1, b1 := r.byID["a1"], r.byID["b1"]
	cfg := r.a.b.Config().Limits
	over := int64(cfg.OutboundBudget)
	es := r.a.b.Engine()
	sa, sb, replaced := r.pauseRelay(t, a1, b1)
	pad := strings.Repeat("x", 32<<10)
	for es.Stats().SlowClosed == 0 && r.a.b.Engine().QueuedBytes() < over+(256<<10) {
		if a1.next.Load() > 2000 { // 64 MiB
			t.Fatalf("A queues %d bytes after %d messages of 32 KiB, never over %d", r.a.b.Engine().QueuedBytes(), a1.next.Load(), over)
		}
		if !a1.write(fmt.Sprintf(`{"s":"a1","n":%d,"pad":%q}`, a1.next.Load(), pad)) {
			t.Fatal("a1 could not send")
		}
		a1.next.Add(1)
	}
	queuedAt := a1.next.Load()
	t.Logf("A's relay over its %d-byte budget after %d messages: %d bytes queued", over, queuedAt, r.a.b.Engine().QueuedBytes())
	grace := cfg.OutboundGrace + 2*r.a.b.Engine().TickInterval() + wait
	waitUntil(t, grace, "A closing its relay as a slow consumer", func() bool { return es.Stats().SlowClosed > 0 })
	r.waitBack("slow-consumer close", sa, sb)
	if got := r.b.b.Engine().Stats().Replaced; got != replaced+1 {
		t.Errorf("B replaced %d sockets, want 1 (its old socket was open when A came back)", got-replaced)
	}
	// The link works again: 20 more, then the last one to wait for.
	for i := 0; i < 20; i++ {
		a1.write(fmt.Sprintf(`{"s":"a1","n":%d}`, a1.next.Load()))
		a1.next.Add(1)
	}
	total := a1.next.Load()
	waitUntil(t, relayBack, "b1 reading a1's last message", func() bool { return b1.st.MaxFrom("a1") == total-1 })

	ds := r.deliveries(true)
	var d deliveryReport
	for _, x := range ds {
		if x.receiver == "b1" && x.sender == "a1" {
			d = x
		}
	}
	stA, stB := r.a.stats(), r.b.stats()
	t.Logf("A: %s", statsLine(stA))
	t.Logf("B: %s", statsLine(stB))
	t.Logf("b1 read %d of a1's %d messages; never: %s; %d duplicates, %d out of order", d.arrived, d.total, ranges(d.never), d.dups, d.disorder)
	if d.dups > 0 || d.disorder > 0 {
		t.Errorf("b1: %d duplicates, %d out of order", d.dups, d.disorder)
	}
	if n := len(d.never); n > 0 {
		if first, last := d.never[0], d.never[n-1]; last-first+1 != int64(n) || first < 10 || last >= queuedAt {
			t.Errorf("the missing messages %s are not one run within what A queued while B did not read (10..%d)", ranges(d.never), queuedAt-1)
		}
	}
	// Both sides count exactly the gap: not every message A's window
	// evicted (B had read some of them).
	for i, st := range []map[string]any{stA, stB} {
		if v := num(st, "relay_lost"); v != float64(len(d.never)) {
			t.Errorf("bridge %c: relay_lost = %v, b1 misses %d", 'A'+i, v, len(d.never))
		}
	}
	toB, _ := r.px.proxyClasses()
	if want := min(len(d.never), 1); toB["RelaySkip"] != want {
		t.Errorf("%d RelaySkip sent to B, want %d", toB["RelaySkip"], want)
	}
	if v := num(stA, "slow_closed"); v < 1 {
		t.Errorf("A: slow_closed = %v", v)
	}
	if v := num(stA, "relay_replayed"); v == 0 {
		t.Errorf("A: relay_replayed = 0")
	}
}

// TestRelayResumeSlowClose4x is TestRelayResumeSlowConsumer run to the
// 4× close: the dialled side stops reading the relay (the proxy stops
// reading what A writes), and a1 sends 32 KiB unicasts to b1 until A's
// relay socket's queue passes 4× its outbound budget (1 MiB) and A closes
// it at once with 1008 "slow consumer" (not after the grace: the frame
// that found it so is counted dropped_slow_receiver). a1 sends 10 more
// while the socket closes, then A redials, B replaces its old socket, the
// link resumes and A replays what B did not read; then 20 more.
//
// Every message must reach b1 once and in order. What A's 8 MiB window
// could no longer hold (the proxy and the kernels hold megabytes on top of
// the 4 MiB A queued) may be skipped, but only as the extension says: one
// run right after what B had read, announced by one RelaySkip, and
// relay_lost on both bridges equal to exactly the number of messages b1
// never got. A message missing elsewhere, or missing and not counted, is
// lost silently.
//
// Known bug (expected to fail today): the frame that triggers the close
// is dropped before it is numbered, so the replay cannot have it and
// relay_lost does not count it (the issue: "message 269 never arrived,
// and 6 were missing while relay_lost said 5").
func TestRelayResumeSlowClose4x(t *testing.T) {
	r := startResumeRig(t, true, true)
	a1, b1 := r.byID["a1"], r.byID["b1"]
	budget := int64(r.a.b.Config().Limits.OutboundBudget)
	es := r.a.b.Engine()
	sa, sb, replaced := r.pauseRelay(t, a1, b1)
	pad := strings.Repeat("x", 32<<10)
	write := func() {
		t.Helper()
		if !a1.write(fmt.Sprintf(`{"s":"a1","n":%d,"pad":%q}`, a1.next.Load(), pad)) {
			t.Fatal("a1 could not send")
		}
		a1.next.Add(1)
	}
	for es.Stats().SlowClosed == 0 {
		if a1.next.Load() > 4000 { // 128 MiB
			t.Fatalf("A not closing its relay after %d messages of 32 KiB (%d bytes queued)", a1.next.Load(), r.a.b.Engine().QueuedBytes())
		}
		write()
	}
	closedAt := a1.next.Load()
	queued := r.a.b.Engine().QueuedBytes()
	for i := 0; i < 10; i++ {
		write()
	}
	t.Logf("A closed its relay (seen once a1 had sent %d messages of 32 KiB): %d bytes queued (4× the budget: %d)", closedAt, queued, 4*budget)
	// Past 4x the budget nothing else can have closed it: the grace needs
	// the queue to stay over the budget for seconds, and it would have
	// crossed 4x first. The frame that crossed it is kept in the replay
	// window, numbered, like everything after it: nothing is dropped.
	if queued <= 4*budget {
		t.Fatalf("A closed its relay after the grace, not at 4× its budget (%d bytes queued)", queued)
	}
	if v := num(r.a.stats(), "dropped_slow_receiver"); v != 0 {
		t.Errorf("A dropped %v frames for the slow relay: the frame that crosses 4x its budget must be kept", v)
	}
	r.waitBack("4× slow-consumer close", sa, sb)
	if got := r.b.b.Engine().Stats().Replaced; got != replaced+1 {
		t.Errorf("B replaced %d sockets, want 1 (its old socket was open when A came back)", got-replaced)
	}
	// The link works again: 20 more, then the last one to wait for.
	for i := 0; i < 20; i++ {
		a1.write(fmt.Sprintf(`{"s":"a1","n":%d}`, a1.next.Load()))
		a1.next.Add(1)
	}
	total := a1.next.Load()
	waitUntil(t, relayBack, "b1 reading a1's last message", func() bool { return b1.st.MaxFrom("a1") == total-1 })

	var d deliveryReport
	for _, x := range r.deliveries(true) {
		if x.receiver == "b1" && x.sender == "a1" {
			d = x
		}
	}
	stA, stB := r.a.stats(), r.b.stats()
	t.Logf("A: %s", statsLine(stA))
	t.Logf("B: %s", statsLine(stB))
	t.Logf("A: slow_closed %v, dropped_slow_receiver %v", num(stA, "slow_closed"), num(stA, "dropped_slow_receiver"))
	t.Logf("b1 read %d of a1's %d messages; never: %s; %d duplicates, %d out of order", d.arrived, d.total, ranges(d.never), d.dups, d.disorder)
	if d.dups > 0 || d.disorder > 0 {
		t.Errorf("b1: %d duplicates, %d out of order", d.dups, d.disorder)
	}
	toB, _ := r.px.proxyClasses()
	if n := len(d.never); n > 0 {
		// A skip is one run right after what B had read.
		var run []int64
		for i, k := range d.never {
			if i > 0 && k != d.never[i-1]+1 {
				break
			}
			run = append(run, k)
		}
		if len(run) < n || run[0] < 10 {
			t.Errorf("b1 never got %s of a1's %d (A closed its relay before a1 had sent %d): not one run right after what B had read, so not a skip: a hole in the middle of the stream",
				ranges(d.never), d.total, closedAt)
		}
	}
	for i, st := range []map[string]any{stA, stB} {
		if v := num(st, "relay_lost"); v != float64(len(d.never)) {
			t.Errorf("bridge %c: relay_lost = %v, but b1 never got %d: %s", 'A'+i, v, len(d.never), ranges(d.never))
		}
	}
	if want := min(len(d.never), 1); toB["RelaySkip"] != want {
		t.Errorf("%d RelaySkip sent to B, want %d", toB["RelaySkip"], want)
	}
	if v := num(stA, "relay_replayed"); v == 0 {
		t.Errorf("A: relay_replayed = 0")
	}
}
