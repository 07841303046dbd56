package bridge_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"github.com/colibri-bus/colibri/bridge"
	"github.com/colibri-bus/colibri/internal/route"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/colibri-bus/colibri/wsproto"
)

// smallRcvBuf dials with a 4 KiB receive buffer, so that a client that
// stops reading pushes back on the bridge after a few KiB instead of the
// megabytes the kernel would otherwise absorb.
var smallRcvBuf = net.Dialer{Timeout: wait, Control: func(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	if err != nil {
		return err
	}
	return serr
}}

// rawDialSmall is rawDial over a socket with a small receive buffer.
func (h *harness) rawDialSmall(u string) *rawConn {
	h.t.Helper()
	rc, status := h.rawUpgradeVia(&smallRcvBuf, u, false)
	if status != 101 {
		h.t.Fatalf("upgrade %s: status %d", u, status)
	}
	return rc
}

// reader counts what a well-behaved client receives.
type reader struct {
	cl    *client
	count atomic.Int64
	bad   atomic.Value // string: first anomaly
	done  chan struct{}
}

// startReader reads cl's messages in the background until the connection
// closes, checking that each sender's sequence numbers increase by one.
func startReader(cl *client) *reader {
	r := &reader{cl: cl, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		last := map[string]int{}
		for {
			cl.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, raw, err := cl.c.ReadMessage()
			if err != nil {
				return
			}
			var m struct {
				ColibriClass string
				From         string
				Seq          *int `json:"seq"`
			}
			if json.Unmarshal(raw, &m) != nil || m.Seq == nil {
				continue
			}
			if prev, ok := last[m.From]; ok && *m.Seq != prev+1 {
				r.bad.CompareAndSwap(nil, cl.name+": from "+m.From+" seq "+strconv.Itoa(*m.Seq)+" after "+strconv.Itoa(prev))
			}
			last[m.From] = *m.Seq
			r.count.Add(1)
		}
	}()
	return r
}

// pad returns a JSON string value of n bytes.
func pad(n int) string { return `"` + strings.Repeat("x", n) + `"` }

// TestSlowConsumer is the must-show: an endpoint that never reads
// while 1,000 messages/s are broadcast to it. The bridge's queued bytes stay
// within the budget (its hard cap of 4× for messages that may not be
// dropped), the other endpoints receive everything, the slow endpoint is
// closed with 1008 after the grace, and every message meant for it is
// either on its wire or a counted drop.
func TestSlowConsumer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		class string // what the sender broadcasts
	}{
		{"EndpointStats (droppable)", "EndpointStats"},
		{"EndpointMessage (not droppable)", "EndpointMessage"},
	} {
		t.Run(tc.name, func(t *testing.T) { testSlowConsumer(t, tc.class) })
	}
}

func testSlowConsumer(t *testing.T, class string) {
	const (
		budget = 64 << 10
		grace  = time.Second
		rate   = 1000 // messages per second
		size   = 1024 // bytes per message
		// 5 s of it: more than the kernel absorbs for a socket that is
		// not read (the sender's buffer autotunes up to tcp_wmem's 4 MiB).
		total = 5 * rate
	)
	h := startBridge(t, func(c *config.Config) {
		c.Limits.OutboundBudget = budget
		c.Limits.OutboundGrace = grace
		c.WebSockets.EnableCompression = false
	})
	urls := h.conference("slow", "sender", "r1", "r2", "slow")
	sender := h.dialHello("sender", urls["sender"])
	readers := []*reader{startReader(h.dialHello("r1", urls["r1"])), startReader(h.dialHello("r2", urls["r2"]))}
	slow := h.rawDialSmall(urls["slow"])
	if got := slow.readText(); !strings.Contains(got, "ServerHello") {
		t.Fatalf("slow: first message %q", got)
	}
	conf := bridge.TableOf(h.b).ConferenceByMeeting("slow")
	slowEP := conf.Endpoint("slow")
	drops := func(reason route.DropReason) uint64 {
		return h.b.Engine().Traffic().Dropped[reason.String()] + bridge.RouterOf(h.b).Stats().Dropped(reason)
	}
	es := h.b.Engine()

	// Sample the bridge's queued bytes while the sender runs.
	var maxQueued atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(2 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if q := h.b.Engine().QueuedBytes(); q > maxQueued.Load() {
				maxQueued.Store(q)
			}
		}
	}()

	// The slow reader wakes up as soon as the bridge has decided to close
	// it (the socket itself closes 2 s later, with whatever the peer did
	// not read): it then reads what was queued for it, messages then 1008.
	type drained struct {
		received int
		code     uint16
		reason   string
		err      error
	}
	drainDone := make(chan drained, 1)
	go func() {
		var d drained
		if !testbridge.Until(60*time.Second, func() bool { return es.Stats().SlowClosed != 0 }) {
			d.err = errors.New("never closed")
			drainDone <- d
			return
		}
		slow.c.SetReadDeadline(time.Now().Add(wait))
		for d.code == 0 {
			f, err := slow.readFrame()
			if err != nil {
				d.err = err
				break
			}
			switch f.op {
			case wsproto.OpText:
				d.received++
			case wsproto.OpClose:
				d.code, d.reason = binary.BigEndian.Uint16(f.payload), string(f.payload[2:])
			}
		}
		drainDone <- d
	}()

	// 1,000 messages per second, in batches of 10 every 10 ms.
	start := time.Now()
	body := func(i int) string {
		if class == "EndpointStats" {
			return `{"colibriClass":"EndpointStats","seq":` + strconv.Itoa(i) + `,"p":` + pad(size) + `}`
		}
		return `{"colibriClass":"EndpointMessage","to":"","seq":` + strconv.Itoa(i) + `,"msgPayload":` + pad(size) + `}`
	}
	for i := 0; i < total; i++ {
		if i%10 == 0 {
			if d := time.Until(start.Add(time.Duration(i) * time.Second / rate)); d > 0 {
				time.Sleep(d) // pacing the load, not synchronising
			}
		}
		sender.send(body(i))
	}
	sent := time.Since(start)
	close(stop)
	wg.Wait()

	d := <-drainDone
	if d.err != nil {
		t.Fatalf("slow: %v (received %d)", d.err, d.received)
	}
	received := d.received
	if d.code != 1008 || d.reason != "slow consumer" {
		t.Errorf("slow: close %d %q, want 1008 \"slow consumer\"", d.code, d.reason)
	}
	if n := es.Stats().SlowClosed; n != 1 {
		t.Errorf("SlowClosed = %d, want 1", n)
	}
	slow.write(rawFrame(fin|opCls, closeBody(1008, "")))
	slow.waitEOF()
	waitFor(t, "slow socket gone", func() bool { return slowEP.Conn() == nil })

	// The others received every message, in order, and nothing was dropped for them.
	for _, r := range readers {
		// A bound, not a pace: under -race on two busy cores a reader
		// decoding 5,000 messages of 1 KiB can take many seconds.
		testbridge.Until(30*time.Second, func() bool { return r.count.Load() >= total })
		if n := r.count.Load(); n != total {
			t.Errorf("%s received %d of %d", r.cl.name, n, total)
		}
		if bad := r.bad.Load(); bad != nil {
			t.Error(bad)
		}
		if d := conf.Endpoint(r.cl.name).Dropped.Load(); d != 0 {
			t.Errorf("%s: %d drops", r.cl.name, d)
		}
	}
	// Every message meant for the slow endpoint is on its wire, counted
	// as dropped, or was kept in its mailbox after its close (the only
	// mailbox of this bridge): what gnet had not written and what came
	// after. The mailbox holds each kept message or counts why not.
	dropped := int(slowEP.Dropped.Load())
	mail := &bridge.TableOf(h.b).Mail
	kept := int(mail.Queued.Load())
	if received+dropped+kept != total {
		t.Errorf("slow endpoint: %d received + %d dropped + %d kept = %d, want %d", received, dropped, kept,
			received+dropped+kept, total)
	}
	if n, _ := slowEP.Mailbox(); uint64(n)+mail.Full.Load()+mail.Aged.Load()+mail.Superseded.Load() != uint64(kept) {
		t.Errorf("mailbox: %d held + %d full + %d aged + %d superseded, want %d kept", n, mail.Full.Load(),
			mail.Aged.Load(), mail.Superseded.Load(), kept)
	}
	// Droppable stats are dropped for a slow receiver; a message is not:
	// the one that crosses 4x the budget closes the socket and is kept in
	// the mailbox after everything before it (it used to be dropped, a
	// hole in the stream that later messages filled).
	if class == "EndpointMessage" && drops(route.DropSlowReceiver) != 0 {
		t.Errorf("%d slow_receiver drops of a message that is not droppable", drops(route.DropSlowReceiver))
	}
	if class != "EndpointMessage" && drops(route.DropSlowReceiver) == 0 {
		t.Error("no slow_receiver drop counted")
	}
	// QueuedBytes is the whole bridge's: besides the slow endpoint's queue
	// it holds the frames of the current loop round for the three others.
	const others = 3 * 16 * (size + 64)
	limit := int64(budget + others)
	if class == "EndpointMessage" {
		limit = 4*budget + size + others
	}
	t.Logf("%s: %d messages in %v; slow endpoint received %d, dropped %d (slow_receiver %d, no_connection %d); max queued %d bytes (limit %d)",
		class, total, sent.Round(time.Millisecond), received, dropped, drops(route.DropSlowReceiver),
		drops(route.DropNoConnection), maxQueued.Load(), limit)
	if maxQueued.Load() > limit {
		t.Errorf("queued bytes reached %d, over %d", maxQueued.Load(), limit)
	}
	if maxQueued.Load() < budget/2 {
		t.Errorf("queued bytes peaked at %d: the slow consumer never filled its budget, the test measured nothing", maxQueued.Load())
	}
}

// TestGlobalOutbound: with several readers that never read, the bridge's
// queued bytes stay near Limits.GlobalOutbound, far below what the
// per-connection budgets would allow together (4 × 4× 1 MiB): once over
// the global bound, every backlogged socket is closed with 1008. A reader
// that keeps up loses nothing.
func TestGlobalOutbound(t *testing.T) {
	const (
		global = 128 << 10
		slowN  = 4
		size   = 1024
	)
	h := startBridge(t, func(c *config.Config) {
		c.Limits.GlobalOutbound = global
		c.Limits.OutboundBudget = 1 << 20
		c.Limits.OutboundGrace = time.Minute
		c.WebSockets.EnableCompression = false
	})
	ids := []string{"sender", "fast"}
	for i := 0; i < slowN; i++ {
		ids = append(ids, "slow"+strconv.Itoa(i))
	}
	urls := h.conference("g", ids...)
	sender := h.dialHello("sender", urls["sender"])
	fast := startReader(h.dialHello("fast", urls["fast"]))
	var slow []*rawConn
	for _, id := range ids[2:] {
		rc := h.rawDialSmall(urls[id])
		rc.readText()
		slow = append(slow, rc)
	}
	es := h.b.Engine()
	var maxQueued atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tk := time.NewTicker(time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
			}
			if q := h.b.Engine().QueuedBytes(); q > maxQueued.Load() {
				maxQueued.Store(q)
			}
		}
	}()
	sent := 0
	deadline := time.Now().Add(30 * time.Second)
	tk := time.NewTicker(10 * time.Millisecond)
	defer tk.Stop()
	for es.Stats().SlowClosed < slowN && time.Now().Before(deadline) {
		<-tk.C
		for i := 0; i < 10; i++ { // 1,000 messages/s
			sender.send(`{"colibriClass":"EndpointMessage","to":"","seq":` + strconv.Itoa(sent) + `,"msgPayload":` + pad(size) + `}`)
			sent++
		}
	}
	close(stop)
	wg.Wait()
	if n := es.Stats().SlowClosed; n != slowN {
		t.Fatalf("SlowClosed = %d after %d messages, want %d", n, sent, slowN)
	}
	waitFor(t, "fast reader received all", func() bool { return fast.count.Load() == int64(sent) })
	if bad := fast.bad.Load(); bad != nil {
		t.Error(bad)
	}
	conf := bridge.TableOf(h.b).ConferenceByMeeting("g")
	for i, rc := range slow {
		// What reached the wire before the close, plus the counted drops,
		// is everything.
		received := 0
		rc.c.SetReadDeadline(time.Now().Add(wait))
		for done := false; !done; {
			f, err := rc.readFrame()
			if err != nil {
				t.Fatalf("slow%d: %v", i, err)
			}
			switch f.op {
			case opText:
				received++
			case opCls:
				done = true
			}
		}
		rc.write(rawFrame(fin|opCls, closeBody(1008, "")))
		ep := conf.Endpoint("slow" + strconv.Itoa(i))
		waitFor(t, "slow socket gone", func() bool { return ep.Conn() == nil })
		// What was not written, and what came after the close, waits in
		// the endpoint's mailbox (256 KiB of 1 KiB messages at most).
		kept, _ := ep.Mailbox()
		if d := int(ep.Dropped.Load()); received+d+kept != sent && bridge.TableOf(h.b).Mail.Full.Load() == 0 {
			t.Errorf("slow%d: %d received + %d dropped + %d kept != %d sent", i, received, d, kept, sent)
		}
	}
	const slack = 64 << 10 // frames of the current loop round for the others
	t.Logf("%d messages to %d readers that never read: all closed; max queued %d bytes (global bound %d; the budgets alone allowed %d)",
		sent, slowN, maxQueued.Load(), global, slowN*4<<20)
	if maxQueued.Load() > global+slack {
		t.Errorf("queued bytes reached %d, over the global bound %d (+%d)", maxQueued.Load(), global, slack)
	}
}

// TestPingFloodWithoutReading: a peer that sends pings as fast as it can
// and never reads. Pongs are not queued past the budget, so the bridge's
// queue stays bounded, and the peer is closed as a slow consumer.
func TestPingFloodWithoutReading(t *testing.T) {
	const budget = 64 << 10
	h := startBridge(t, func(c *config.Config) {
		c.Limits.OutboundBudget = budget
		c.Limits.OutboundGrace = 500 * time.Millisecond
	})
	urls := h.conference("ping", "p")
	rc := h.rawDialSmall(urls["p"])
	rc.readText()
	es := h.b.Engine()
	ping := rawFrame(fin|opPing, []byte(strings.Repeat("p", 125)))
	batch := []byte(strings.Repeat(string(ping), 64))
	var maxQueued int64
	sent := 0
	deadline := time.Now().Add(20 * time.Second)
	for es.Stats().SlowClosed == 0 && time.Now().Before(deadline) {
		rc.c.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := rc.c.Write(batch); err != nil {
			break // the bridge closed the connection
		}
		sent += 64
		maxQueued = max(maxQueued, h.b.Engine().QueuedBytes())
	}
	if es.Stats().SlowClosed != 1 {
		t.Fatalf("after %d pings: SlowClosed = %d, want 1", sent, es.Stats().SlowClosed)
	}
	t.Logf("%d pings (%d KiB of pongs asked for); max queued %d bytes", sent, sent*127>>10, maxQueued)
	if maxQueued > budget+pendMaxSlack {
		t.Errorf("queued bytes reached %d, budget %d", maxQueued, budget)
	}
	if sent*127 < 4*budget {
		t.Errorf("only %d pings sent: the test measured nothing", sent)
	}
}

// pendMaxSlack is what one loop round may add past a budget: the frames
// collected before the round's flush (engine's pendMax).
const pendMaxSlack = 32 << 10
