package bridge_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/colibri-bus/colibri/bridge"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/gorilla/websocket"
)

// TestInboundFlood, on the defaults: one endpoint writes broadcasts to the
// 20 others of its conference as fast as its socket takes them, while
// three other conferences hold paced conversations. Then:
//
//   - the conversations lose nothing and their turns stay within a small
//     factor of the quiet run: a flooder gets its share of the loop, not
//     the loop;
//   - the flooder is served (every receiver gets every message it wrote)
//     or closed with 1008 for its inbound backlog, and then every receiver
//     got a gapless prefix of its series: nothing the bridge read was lost;
//   - the heap grows by no more than the bounds allow (inbound backlog,
//     outbound budgets), whatever the flooder writes.
func TestInboundFlood(t *testing.T) {
	const (
		fanout = 20
		pairs  = 3
		quiet  = 20 // conversation turns before the flood
		turns  = 60 // conversation turns during it, every 25 ms
	)
	h := startBridge(t, nil)
	ids := []string{"flooder"}
	for i := 0; i < fanout; i++ {
		ids = append(ids, "r"+strconv.Itoa(i))
	}
	urls := h.conference("flood", ids...)
	flooder := h.dialHello("flooder", urls["flooder"])
	var sinks []*floodSink
	for _, id := range ids[1:] {
		sinks = append(sinks, startSink(h.dialHello(id, urls[id])))
	}

	var talks []*conversation
	for p := 0; p < pairs; p++ {
		meeting := "talk" + strconv.Itoa(p)
		u := h.conference(meeting, "a", "b")
		talks = append(talks, newConversation(t, h.dialHello(meeting+"/a", u["a"]), h.dialHello(meeting+"/b", u["b"])))
	}
	converse := func(n int) time.Duration {
		var took []time.Duration
		tk := time.NewTicker(25 * time.Millisecond)
		defer tk.Stop()
		for k := 0; k < n; k++ {
			<-tk.C
			for _, c := range talks {
				took = append(took, c.turn(t))
			}
		}
		slices.Sort(took)
		return took[len(took)/2]
	}
	quietMedian := converse(quiet)

	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc
	var heapMax atomic.Uint64
	stopSampling := make(chan struct{})
	var sampled sync.WaitGroup
	sampled.Add(1)
	go func() {
		defer sampled.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > heapMax.Load() {
				heapMax.Store(m.HeapAlloc)
			}
		}
	}()

	// The flood: batches of pre-masked frames written straight to the
	// socket, until the conversation is over or the bridge closes it.
	stop := make(chan struct{})
	wrote := make(chan int)
	go func() { wrote <- flood(flooder.c.NetConn(), stop) }()
	floodMedian := converse(turns)
	close(stop)
	total := <-wrote
	close(stopSampling)
	sampled.Wait()
	t.Logf("flood over after %v", time.Since(h.started))

	// The flooder's end: its socket is open (served), or it was closed 1008.
	flooder.send(endOf(""))
	code, reason := flooder.closeOrHello()
	closed := code != 0
	if closed && (code != websocket.ClosePolicyViolation || !strings.HasPrefix(reason, "inbound backlog over")) {
		t.Errorf("flooder closed with %d %q, want 1008 inbound backlog over ...", code, reason)
	}
	h.waitHandedOver()
	stats := h.stats()
	if got := stats["inbound_backlog_closed"].(float64); got != map[bool]float64{true: 1, false: 0}[closed] {
		t.Errorf("inbound_backlog_closed = %v, flooder closed: %v", got, closed)
	}
	// A receiver the bridge closed as a slow consumer (its reader starved
	// of CPU on a loaded machine while 4 MiB were queued for it) read a
	// gapless prefix; the rest went to its mailbox, counted (mailKept).
	// Every other receiver got every routed message.
	first, slow := -1, 0
	counts := make([]int, len(sinks))
	for i, s := range sinks {
		got, ended, err := s.result(closed)
		counts[i] = got
		if s.slow {
			slow++
			continue
		}
		if first < 0 {
			first = got
		} else if got != first {
			t.Errorf("r%d got %d flood messages, another receiver %d: every routed message reaches every receiver", i, got, first)
		}
		switch {
		case err != nil:
			t.Errorf("r%d: %v", i, err)
		case !closed && (got != total || !ended):
			t.Errorf("r%d: flooder served, but %d of %d arrived (end %v)", i, got, total, ended)
		case closed && got > total:
			t.Errorf("r%d: %d arrived, %d written", i, got, total)
		}
	}
	for i, s := range sinks {
		if s.slow && (s.err != nil || counts[i] > first && first >= 0) {
			t.Errorf("r%d, closed as a slow consumer after %d messages (others %d): %v", i, counts[i], first, s.err)
		}
	}
	if got := h.stat("slow_closed"); got != uint64(slow) {
		t.Errorf("slow_closed = %d, %d receivers read a 1008 slow consumer", got, slow)
	}
	if slow == len(sinks) {
		t.Errorf("every receiver was closed as a slow consumer")
	}
	t.Logf("receivers checked after %v (%d closed as slow consumers)", time.Since(h.started), slow)
	if t.Failed() {
		for k, v := range h.stats() {
			if strings.HasPrefix(k, "dropped") || strings.Contains(k, "closed") || strings.Contains(k, "messages") {
				t.Logf("%s = %v", k, v)
			}
		}
	}
	for _, c := range talks {
		c.check(t)
	}
	growth := int64(heapMax.Load()) - int64(heapBefore)
	t.Logf("flooder wrote %d messages (closed: %v); receivers got %d; conversation median %v quiet, %v during the flood; heap growth %d KiB",
		total, closed, sinks[0].count.Load(), quietMedian.Round(time.Microsecond), floodMedian.Round(time.Microsecond), growth>>10)
	// Bounded: the flooder's unread input (1 MiB) and the receivers' queues
	// (1 MiB budget each, 4 MiB at most before a close), plus the clients'
	// own buffers in this process. An unbounded backlog grows by what the
	// flooder writes: hundreds of MiB in these seconds.
	if limit := int64(fanout*4+16) << 20; growth > limit {
		t.Errorf("heap grew by %d MiB during the flood, bound %d MiB", growth>>20, limit>>20)
	}
	if total < 20000 {
		t.Errorf("the flooder wrote only %d messages: not a flood", total)
	}
	// A flooder's share of the loop is at most a quantum per round; the
	// conversations wait for that, not for the flood. On two cores shared
	// with the flooder and its 20 receivers in this process, allow a factor
	// of 10 and 10 ms: a bridge that routed a flooder's whole backlog in one
	// round (1 MiB, 260,000 deliveries) would hold a turn for longer. Under
	// the race detector every goroutine here is several times slower, and
	// only a gross starvation is caught.
	slack := 10 * time.Millisecond
	if raceEnabled {
		slack = 250 * time.Millisecond
	}
	if floodMedian > 10*quietMedian+slack {
		t.Errorf("conversation median %v during the flood, %v quiet", floodMedian, quietMedian)
	}
}

// TestInboundBacklogClose forces, on the defaults, the close that
// TestInboundFlood only allows: a sender whose unparsed input passes
// limits.inbound-backlog. Its broadcasts go to 100 receivers, so each one
// costs 100 of the 16,384 deliveries of its share of a loop round: a round
// routes about 164 of its messages (12 KiB), while each poll of its socket
// reads up to 64 KiB (gnet's read buffer) of what it wrote, which the
// kernel holds. Its unparsed input grows by tens of KiB a round and passes
// the 1 MiB bound within a few dozen rounds, whatever the scheduling. (At
// TestInboundFlood's fan-out of 20 a round routes about what a read brings,
// so either outcome is right there.) Then:
//
//   - the sender reads a close frame: 1008 "inbound backlog over 1048576 bytes";
//   - inbound_backlog_closed moved by exactly 1, in /colibri/stats and in
//     the sender's /debug entry;
//   - every receiver read the same prefix 0..k-1 of the sender's series,
//     each message once and in order, and k is what the bridge read of the
//     sender (its EndpointMessages in /debug, messages_routed): nothing the
//     bridge read was lost, nothing it discarded with the backlog got through;
//   - no receiver was closed or had a message dropped on the way.
func TestInboundBacklogClose(t *testing.T) {
	const fanout = 100
	lim := config.Default().Limits
	bound := max(lim.InboundBacklog, lim.MaxMessageSize+14)
	h := startBridge(t, nil)
	ids := []string{"sender"}
	for i := 0; i < fanout; i++ {
		ids = append(ids, "r"+strconv.Itoa(i))
	}
	urls := h.conference("backlog", ids...)
	sender := h.dialHello("sender", urls["sender"])
	var sinks []*floodSink
	for _, id := range ids[1:] {
		sinks = append(sinks, startSink(h.dialHello(id, urls[id])))
	}
	before := h.stats()

	// The burst: batches of pre-masked broadcasts {"n":0}, {"n":1}, ...
	// until the close frame arrives.
	stop := make(chan struct{})
	wrote := make(chan int, 1)
	go func() { wrote <- flood(sender.c.NetConn(), stop) }()
	ce := sender.recvClose()
	close(stop)
	total := <-wrote
	if want := "inbound backlog over " + strconv.Itoa(bound) + " bytes"; ce.Code != websocket.ClosePolicyViolation || ce.Text != want {
		t.Errorf("sender closed with %d %q, want %d %q", ce.Code, ce.Text, websocket.ClosePolicyViolation, want)
	}

	h.waitHandedOver()
	after := h.stats()
	moved := func(key string) uint64 { return uint64(after[key].(float64) - before[key].(float64)) }
	if n := moved("inbound_backlog_closed"); n != 1 {
		t.Errorf("inbound_backlog_closed moved by %d, want 1", n)
	}
	for _, key := range []string{"slow_closed", "dropped_messages"} {
		if n := moved(key); n != 0 {
			t.Errorf("%s moved by %d during the burst, want 0", key, n)
		}
	}
	d := h.debugEndpoint(bridge.TableOf(h.b).ConferenceByMeeting("backlog").ID(), "sender")
	if d.Transport == nil {
		t.Fatalf("/debug shows no message_transport for the sender")
	}
	if d.Transport.BacklogClosed != 1 {
		t.Errorf("the sender's inbound_backlog_closed in /debug is %d, want 1", d.Transport.BacklogClosed)
	}
	read := d.Transport.Received["EndpointMessage"]
	if routed := moved("messages_routed"); routed != read {
		t.Errorf("messages_routed moved by %d, the sender's EndpointMessages read are %d", routed, read)
	}
	// The bridge discarded at least the bound's worth with the socket.
	if read == 0 || int(read) >= total {
		t.Errorf("the bridge read %d of the %d messages written: want some, and fewer than all", read, total)
	}
	for i, s := range sinks {
		got, _, err := s.result(true)
		if err != nil {
			t.Errorf("r%d: %v", i, err)
		}
		if uint64(got) != read {
			t.Errorf("r%d got messages 0..%d, the bridge read %d from the sender", i, got-1, read)
		}
	}
	t.Logf("sender wrote %d messages; the bridge read %d and closed it; each of %d receivers got 0..%d", total, read, fanout, read-1)
}

// flood writes batches of masked broadcast frames to nc until stop is
// closed or the write fails, and returns the messages written whole.
func flood(nc net.Conn, stop <-chan struct{}) int {
	const batch = 128
	n := 0
	buf := make([]byte, 0, 64<<10)
	for {
		select {
		case <-stop:
			return n
		default:
		}
		buf = buf[:0]
		for i := 0; i < batch; i++ {
			payload := `{"colibriClass":"EndpointMessage","to":"","msgPayload":{"n":` + strconv.Itoa(n+i) + `}}`
			buf = wsproto.AppendMaskedFrame(buf, wsproto.OpText, true, []byte(payload), wsproto.NewMask())
		}
		nc.SetWriteDeadline(time.Now().Add(wait))
		if _, err := nc.Write(buf); err != nil {
			return n // the bridge closed it; partial batches are not counted
		}
		n += batch
	}
}

// floodSink reads one receiver of the flood and checks its series.
type floodSink struct {
	cl    *client
	count atomic.Int64
	done  chan struct{}
	ended bool
	err   error
	slow  bool // the bridge closed it 1008 "slow consumer"
}

func startSink(cl *client) *floodSink {
	s := &floodSink{cl: cl, done: make(chan struct{})}
	go s.run()
	return s
}

func (s *floodSink) run() {
	defer close(s.done)
	buf := make([]byte, 1024)
	for {
		s.cl.c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, r, err := s.cl.c.NextReader()
		if err != nil {
			var ce *websocket.CloseError
			s.slow = errors.As(err, &ce) && ce.Code == websocket.ClosePolicyViolation && ce.Text == "slow consumer"
			return
		}
		n, _ := io.ReadFull(r, buf)
		m := buf[:n]
		if bytes.Contains(m, []byte(`"end":true`)) {
			s.ended = true
			return
		}
		if bytes.Contains(m, []byte(`"ServerHello"`)) {
			return // the round trip of result: everything before it arrived
		}
		i := bytes.Index(m, []byte(`"n":`))
		if i < 0 {
			continue
		}
		j := i + 4
		for j < len(m) && m[j] >= '0' && m[j] <= '9' {
			j++
		}
		got, _ := strconv.Atoi(string(m[i+4 : j]))
		if want := int(s.count.Load()); got != want {
			s.err = fmt.Errorf("message %d where %d was next", got, want)
			return
		}
		s.count.Add(1)
	}
}

// result waits for the series to end: the end marker when the flooder
// was served; after its close, a ClientHello round trip, whose ServerHello
// follows everything the bridge queued for the receiver before it.
func (s *floodSink) result(flooderClosed bool) (int, bool, error) {
	select {
	case <-s.done:
		return int(s.count.Load()), s.ended, s.err // closed by the bridge, or a wrong series
	default:
	}
	if flooderClosed {
		if err := s.cl.c.WriteMessage(websocket.TextMessage, []byte(`{"colibriClass":"ClientHello"}`)); err != nil {
			return int(s.count.Load()), false, err
		}
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		return int(s.count.Load()), false, fmt.Errorf("the series did not end")
	}
	return int(s.count.Load()), s.ended, s.err
}

// closeOrHello sends ClientHello and reads until ServerHello (the socket
// is open: code 0) or the close frame (its code and reason).
func (c *client) closeOrHello() (int, string) {
	c.t.Helper()
	_ = c.c.WriteMessage(websocket.TextMessage, []byte(`{"colibriClass":"ClientHello"}`))
	for {
		c.c.SetReadDeadline(time.Now().Add(wait))
		_, raw, err := c.c.ReadMessage()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				return ce.Code, ce.Text
			}
			c.t.Fatalf("%s: neither ServerHello nor a close frame: %v", c.name, err)
		}
		if bytes.Contains(raw, []byte(`"ServerHello"`)) {
			return 0, ""
		}
	}
}

// waitHandedOver waits for quiescence: every delivery the router handed
// over is queued or counted as dropped (frames to the other loop travel
// in a task).
func (h *harness) waitHandedOver() {
	h.t.Helper()
	var sent, dropped, kept, delivered uint64
	handed := func() bool {
		tr := h.b.Engine().Traffic()
		sent, dropped = tr.MessagesSent, 0
		for _, v := range tr.Dropped {
			dropped += v
		}
		mail := &bridge.TableOf(h.b).Mail
		kept = mail.Queued.Load() - mail.Recovered.Load() // the recovered were counted sent
		delivered = bridge.RouterOf(h.b).Stats().Delivered()
		return sent+dropped+kept == delivered
	}
	if !testbridge.Until(wait, handed) {
		for k, v := range h.stats() {
			if strings.Contains(k, "dropped") || strings.Contains(k, "closed") || strings.Contains(k, "mail") {
				h.t.Logf("%s = %v", k, v)
			}
		}
		h.t.Fatalf("timed out waiting for deliveries handed over: %d sent + %d dropped + %d kept, %d delivered", sent, dropped, kept, delivered)
	}
}

// stats returns GET /colibri/stats.
func (h *harness) stats() map[string]any {
	h.t.Helper()
	status, body := h.do("GET", "/colibri/stats", "")
	if status != 200 {
		h.t.Fatalf("stats: %d", status)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// conversation is two endpoints taking turns: each turn is a unicast the
// other must receive, once and in order.
type conversation struct {
	a, b  *client
	n     int
	inbox map[*client]chan int
	errs  chan error
}

func newConversation(t *testing.T, a, b *client) *conversation {
	c := &conversation{a: a, b: b, inbox: map[*client]chan int{a: make(chan int, 256), b: make(chan int, 256)}, errs: make(chan error, 2)}
	for _, cl := range []*client{a, b} {
		go func(cl *client, box chan int) {
			for {
				cl.c.SetReadDeadline(time.Now().Add(30 * time.Second))
				_, raw, err := cl.c.ReadMessage()
				if err != nil {
					close(box)
					return
				}
				var m struct{ MsgPayload struct{ Turn *int } }
				if json.Unmarshal(raw, &m) == nil && m.MsgPayload.Turn != nil {
					box <- *m.MsgPayload.Turn
				}
			}
		}(cl, c.inbox[cl])
	}
	return c
}

// turn sends the next turn and returns how long it took to arrive.
func (c *conversation) turn(t *testing.T) time.Duration {
	t.Helper()
	from, to := c.a, c.b
	if c.n%2 == 1 {
		from, to = c.b, c.a
	}
	start := time.Now()
	from.send(msg("", `{"turn":`+strconv.Itoa(c.n)+`}`))
	select {
	case got, ok := <-c.inbox[to]:
		if !ok || got != c.n {
			t.Fatalf("%s turn %d: got %d (open %v)", to.name, c.n, got, ok)
		}
	case <-time.After(wait):
		t.Fatalf("%s turn %d: nothing arrived", to.name, c.n)
	}
	c.n++
	return time.Since(start)
}

// check requires that no turn arrived twice (nothing is left in the inboxes).
func (c *conversation) check(t *testing.T) {
	t.Helper()
	for cl, box := range c.inbox {
		select {
		case extra, ok := <-box:
			if ok {
				t.Errorf("%s: turn %d arrived again", cl.name, extra)
			}
		default:
		}
	}
}
