package bridge_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/colibri-bus/colibri/bridge"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
	"github.com/colibri-bus/colibri/internal/colibri2"
	"github.com/colibri-bus/colibri/internal/testbridge"
	"github.com/colibri-bus/colibri/wsproto"
	"github.com/gorilla/websocket"
	"golang.org/x/sys/unix"
)

// Endpoint mailboxes (issue 15), end to end on the defaults (256 KiB,
// 30 s): while an endpoint has no open socket, what is routed to it waits
// in its mailbox and goes out on its next socket right after ServerHello,
// in order, once. Each test reads every socket of the receiver and checks
// the series a sender numbered: old socket then new socket must be the
// series, or, where the kernel may have taken bytes of a dead socket, a
// strictly increasing sequence whose only gap is what the kernel held.

// seriesOf reads one message of a numbered series (numbered, endOf): its
// number, or end for the end marker; ok false for anything else.
func seriesOf(raw []byte) (n int, end, ok bool) {
	var m struct {
		ColibriClass string
		MsgPayload   struct {
			N   *int
			End bool
		}
	}
	if json.Unmarshal(raw, &m) != nil || m.ColibriClass != "EndpointMessage" {
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

// debugEndpoint returns GET /debug/{conf}/{id}; it fails the test unless
// /debug lists the endpoint.
func (h *harness) debugEndpoint(confID, id string) *colibri2.DebugEndpoint {
	h.t.Helper()
	status, body := h.do("GET", "/debug/"+confID+"/"+id, "")
	if status != 200 {
		h.t.Fatalf("GET /debug/%s/%s: %d %s", confID, id, status, body)
	}
	var d colibri2.DebugEndpoint
	if err := json.Unmarshal(body, &d); err != nil {
		h.t.Fatalf("debug %s: %v in %s", id, err, body)
	}
	return &d
}

// waitDisconnected polls /debug until it shows the endpoint without a
// socket: the bridge has seen its socket close.
func (h *harness) waitDisconnected(confID, id string) {
	h.t.Helper()
	waitFor(h.t, id+" disconnected in /debug", func() bool { return !h.debugEndpoint(confID, id).Connected })
}

// stat returns one counter of GET /colibri/stats.
func (h *harness) stat(key string) uint64 {
	h.t.Helper()
	v, ok := h.stats()[key].(float64)
	if !ok {
		h.t.Fatalf("/colibri/stats has no %s", key)
	}
	return uint64(v)
}

// checkMailAccounts requires the mailboxes' books to balance: every
// message queued was delivered once, dropped once for a counted reason,
// or is still held (held: what the endpoints' mailboxes hold now).
func checkMailAccounts(t *testing.T, h *harness, held int) {
	t.Helper()
	m := &bridge.TableOf(h.b).Mail
	q, d := m.Queued.Load(), m.Delivered.Load()
	drops := m.Full.Load() + m.Aged.Load() + m.Superseded.Load() + m.ExpiredCount.Load()
	if q != d+drops+uint64(held) {
		t.Errorf("mailboxes: %d queued, but %d delivered + %d dropped + %d held = %d", q, d, drops, held, d+drops+uint64(held))
	}
}

// TestMailboxBeforeFirstConnect: messages routed to an endpoint that has
// not connected yet (unicasts and broadcasts, interleaved) wait in its
// mailbox, shown by /debug and counted; its first socket gets them right
// after ServerHello, in the order they were sent, each once, and what is
// sent once it is connected comes after them. A later socket of the same
// endpoint does not get them again. The endpoint connected all along got
// the broadcasts live.
func TestMailboxBeforeFirstConnect(t *testing.T) {
	const n = 300
	h := startBridge(t, nil)
	urls := h.conference("early", "a", "b", "c")
	conf := bridge.TableOf(h.b).ConferenceByMeeting("early")
	a := h.dialHello("a", urls["a"])
	c := h.dialHello("c", urls["c"])
	for i := 0; i < n; i++ {
		to := "b" // even: a unicast to b; odd: a broadcast
		if i%2 == 1 {
			to = ""
		}
		a.send(numbered(to, "a", i, 200))
	}
	a.send(endOf("b"))
	mail := &bridge.TableOf(h.b).Mail
	waitFor(t, "the series in b's mailbox", func() bool { return mail.Queued.Load() >= n+1 })
	for i := 1; i < n; i += 2 {
		if k, _, ok := seriesOf(c.recvRaw()); !ok || k != i {
			t.Fatalf("c: got %d (ok %v), want broadcast %d", k, ok, i)
		}
	}
	if d := h.debugEndpoint(conf.ID(), "b"); d.Connected || d.Mailbox == nil || d.Mailbox.Messages != n+1 || d.Mailbox.Bytes <= 0 {
		t.Fatalf("b before it connects: /debug %+v (mailbox %+v), want %d messages held", d, d.Mailbox, n+1)
	}
	if got := h.stat("mailbox_queued"); got != n+1 {
		t.Errorf("mailbox_queued = %d, want %d", got, n+1)
	}

	b := h.dialHello("b", urls["b"]) // ServerHello first
	for i := 0; i < n; i++ {
		if k, end, ok := seriesOf(b.recvRaw()); !ok || end || k != i {
			t.Fatalf("b: message %d after ServerHello is %d (end %v, ok %v)", i, k, end, ok)
		}
	}
	if _, end, _ := seriesOf(b.recvRaw()); !end {
		t.Fatal("b: no end marker after the series")
	}
	a.send(msg("b", `{"live":1}`))
	if m := b.recv(); m["msgPayload"].(map[string]any)["live"] != 1.0 {
		t.Fatalf("b: after the mailbox got %v, want the live message", m)
	}
	if got := h.stat("mailbox_delivered"); got != n+1 {
		t.Errorf("mailbox_delivered = %d, want %d", got, n+1)
	}
	if d := h.debugEndpoint(conf.ID(), "b"); !d.Connected || d.Mailbox != nil {
		t.Errorf("b connected: /debug %+v, mailbox %+v, want connected and no mailbox", d, d.Mailbox)
	}

	// Once: b's next socket starts with what is sent to it then.
	b.c.Close()
	h.waitDisconnected(conf.ID(), "b")
	b2 := h.dialHello("b2", urls["b"])
	a.send(msg("b", `{"live":2}`))
	if m := b2.recv(); m["msgPayload"].(map[string]any)["live"] != 2.0 {
		t.Fatalf("b's second socket: first message after ServerHello %v, want the live message", m)
	}
	checkMailAccounts(t, h, 0)
}

// sockReader reads one socket of b in the background: the numbers of a's
// series, and how the socket ended (a close frame, or none).
type sockReader struct {
	mu     sync.Mutex
	got    []int
	end    bool     // the end marker arrived
	first  string   // the first message
	others []string // messages neither the first ServerHello nor of the series
	code   int      // close code; 0: the stream ended without a close frame
	reason string
	err    error // what ended it without a close frame

	// at is closed once the reader has read stopAt series messages; it
	// then waits for resume (nil: it goes on at once).
	stopAt int
	at     chan struct{}
	resume chan struct{}
	done   chan struct{}
}

func newSockReader(stopAt int, resume chan struct{}) *sockReader {
	return &sockReader{stopAt: stopAt, resume: resume, at: make(chan struct{}), done: make(chan struct{})}
}

// frameSource returns the next text message (inflated), or a close code
// (code > 0), or the error that ended the stream.
type frameSource func() (text []byte, code int, reason string, err error)

func gorillaSource(c *websocket.Conn) frameSource {
	return func() ([]byte, int, string, error) {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, raw, err := c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure { // 1006: no close frame
			return nil, ce.Code, ce.Text, nil
		}
		return raw, 0, "", err
	}
}

// rawSource reads r's frames, inflating compressed ones.
func rawSource(r *rawConn) frameSource {
	return func() ([]byte, int, string, error) {
		for {
			r.c.SetReadDeadline(time.Now().Add(30 * time.Second))
			f, err := r.readFrame()
			if err != nil {
				return nil, 0, "", err
			}
			switch f.op {
			case wsproto.OpText:
				if f.rsv1 {
					p, err := inflateMessage(f.payload)
					return p, 0, "", err
				}
				return f.payload, 0, "", nil
			case wsproto.OpClose:
				if len(f.payload) < 2 {
					return nil, int(wsproto.CloseNoStatus), "", nil
				}
				return nil, int(binary.BigEndian.Uint16(f.payload)), string(f.payload[2:]), nil
			}
		}
	}
}

// inflateMessage inflates a permessage-deflate message (RFC 7692 7.2.2).
func inflateMessage(p []byte) ([]byte, error) {
	r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader([]byte{0, 0, 0xff, 0xff})))
	defer r.Close()
	out, err := io.ReadAll(r)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = nil
	}
	return out, err
}

func (s *sockReader) run(next frameSource) {
	defer close(s.done)
	atClosed := false
	for {
		text, code, reason, err := next()
		s.mu.Lock()
		if err != nil || code != 0 {
			s.code, s.reason, s.err = code, reason, err
			s.mu.Unlock()
			return
		}
		first := s.first == ""
		if first {
			s.first = string(text)
		}
		k, end, ok := seriesOf(text)
		switch {
		case !ok:
			// One ServerHello, first; nothing else.
			if !first || !strings.Contains(string(text), `"ServerHello"`) {
				s.others = append(s.others, string(text))
			}
		case end:
			s.end = true
		default:
			s.got = append(s.got, k)
		}
		stop := !atClosed && s.stopAt > 0 && len(s.got) >= s.stopAt
		s.mu.Unlock()
		if stop {
			atClosed = true
			close(s.at)
			if s.resume != nil {
				<-s.resume
			}
		}
	}
}

// ended reports whether the end marker arrived.
func (s *sockReader) ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

// waitEnd waits for the end marker on one of b's sockets, old or nw, and
// for old to end.
func waitEnd(t *testing.T, old, nw *sockReader) {
	t.Helper()
	if !testbridge.Until(60*time.Second, func() bool { return old.ended() || nw.ended() }) {
		t.Fatal("no end marker on b's sockets within a minute")
	}
	select {
	case <-old.done:
	case <-time.After(30 * time.Second):
		t.Fatal("b's first socket did not end")
	}
}

// TestMailboxReplacedMidStream: a streams a numbered series to b (and a
// sparser one to c); mid-stream b opens a second socket on the same URL.
// The first socket is read to its end: 1000 "replaced", or, when gnet still
// held frames it had not written, an end without a close frame. The second
// is read from ServerHello on. First socket then second socket must be the
// whole series, once, in order, with the end marker on the second; c gets
// its series whole, and nothing is dropped. The stream does not pause: b
// reconnects while frames for it are on their way through the loops, at a
// random point, so runs with -count see different races between the stream
// and the handover. Four orders of connecting place the sockets on the
// event loops (two on this machine, least-connections balancing): b's two
// on different loops or on the same one, a's on the loop of b's first or
// not. Then a first socket that stopped reading (a small receive buffer;
// permessage-deflate, and messages worth compressing), so that gnet holds
// its frames when it is replaced: they move to the new socket and it is
// closed without a close frame. Then a stalled socket that is also closing
// when it is replaced (it sent a reserved opcode; the bridge's 1002 waits
// in gnet behind its frames) and reads nothing more until the bridge has
// closed it: its frames must move all the same, not wait with it to be
// thrown away. Last, many handovers in one stream, and two new sockets at
// once (one replaced during its own handover).
func TestMailboxReplacedMidStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		replaceCase
	}{
		{"sockets on two loops", replaceCase{}},
		{"sockets on one loop", replaceCase{spacer: true}},
		{"sender apart, sockets on two loops", replaceCase{apart: true, spacer: true}},
		{"sender apart, sockets on one loop", replaceCase{apart: true}},
		{"old socket stalled", replaceCase{stalls: true}},
		{"old socket stalled and closing", replaceCase{stalls: true, closing: true}},
	} {
		t.Run(tc.name, func(t *testing.T) { testReplacedMidStream(t, tc.replaceCase) })
	}
	t.Run("replaced again and again", testReplacedRepeatedly)
	t.Run("two sockets at once", testReplacedTwiceAtOnce)
}

// upgradeRequest connects to u and writes its upgrade request; rawResponse
// reads the answer.
func (h *harness) upgradeRequest(u string) *rawConn {
	h.t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", pu.Host, wait)
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write(wsproto.AppendClientRequest(nil, pu.Host, pu.RequestURI(), wsproto.NewKey(), false)); err != nil {
		h.t.Fatal(err)
	}
	return &rawConn{t: h.t, c: c, br: bufio.NewReader(c)}
}

func (r *rawConn) rawResponse() {
	r.t.Helper()
	resp, err := http.ReadResponse(r.br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		r.t.Fatalf("upgrade: %v %v", resp, err)
	}
}

// testReplacedTwiceAtOnce: during a flat-out stream to b, two more sockets
// of b send their upgrade requests at once, so that the first of them is
// replaced while its own handover from b's first socket may still be under
// way (it may then be closed before it sent anything). A socket gets at
// most one ServerHello, first, and the last one gets it (a replaced
// socket's unsent ServerHello is not b's traffic: it must not move to the
// next socket); b's sockets, in the order they attached, are the series,
// once.
func testReplacedTwiceAtOnce(t *testing.T) {
	const after = 3000
	h := startBridge(t, nil)
	urls := h.conference("twice", "a", "b")
	a := h.dialHello("a", urls["a"])
	first := newSockReader(0, nil)
	go first.run(gorillaSource(h.dial("b", urls["b"]).c))
	es := h.b.Engine()
	var count atomic.Int64
	sent := make(chan int, 1)
	go func() {
		left := -1
		i := 0
		for ; left != 0 && i < 400000; i++ {
			if left < 0 && es.Stats().Replaced == 2 {
				left = after
			}
			if left > 0 {
				left--
			}
			if err := a.c.WriteMessage(websocket.TextMessage, []byte(numbered("b", "a", i, 200))); err != nil {
				t.Errorf("a: %v", err)
				break
			}
			count.Store(int64(i + 1))
		}
		if err := a.c.WriteMessage(websocket.TextMessage, []byte(endOf("b"))); err != nil {
			t.Errorf("a: %v", err)
		}
		sent <- i
	}()
	waitFor(t, "a's stream", func() bool { return count.Load() >= 1000 })
	x, y := h.upgradeRequest(urls["b"]), h.upgradeRequest(urls["b"])
	x.rawResponse()
	y.rawResponse()
	rx, ry := newSockReader(0, nil), newSockReader(0, nil)
	go rx.run(rawSource(x))
	go ry.run(rawSource(y))
	n := <-sent
	waitFor(t, "the end marker", func() bool { return rx.ended() || ry.ended() })
	last, mid := ry, rx
	if rx.ended() {
		last, mid = rx, ry
	}
	waitEnd(t, first, last)
	waitEnd(t, mid, last)
	var all []int
	for k, r := range []*sockReader{first, mid, last} {
		r.mu.Lock()
		if len(r.others) > 0 {
			t.Errorf("socket %d: unexpected messages %.200q", k, r.others)
		}
		if k < 2 && !(r.code == 1000 && r.reason == "replaced" || r.code == 0) {
			t.Errorf("socket %d: close %d %q", k, r.code, r.reason)
		}
		if k != 1 && !strings.Contains(r.first, `"ServerHello"`) {
			t.Errorf("socket %d: first message %.80q, want ServerHello", k, r.first)
		}
		t.Logf("socket %d: first %.40q, %d messages, close %d", k, r.first, len(r.got), r.code)
		all = append(all, r.got...)
		r.mu.Unlock()
	}
	for i, k := range all {
		if k != i {
			t.Fatalf("b: message %d of its sockets' series is %d", i, k)
		}
	}
	if len(all) != n {
		t.Fatalf("b: %d messages across its sockets, want %d", len(all), n)
	}
	checkMailAccounts(t, h, 0)
}

// testReplacedRepeatedly: b opens a new socket on the same URL every few
// hundred messages of a flat-out stream, 15 times, so that many handovers
// race frames on their way through the loops. Every socket starts with
// ServerHello (or, replaced before its own handover completed, gets
// nothing) and ends with 1000 "replaced" (or without a close frame, when
// gnet held its frames), except the last; all of them in order are the
// series, once.
func testReplacedRepeatedly(t *testing.T) {
	const (
		sockets = 16
		step    = 300 // messages between two reconnects, at least
		after   = 3000
		most    = 400000
	)
	h := startBridge(t, nil)
	urls := h.conference("again", "a", "b")
	a := h.dialHello("a", urls["a"])
	readers := []*sockReader{newSockReader(0, nil)}
	go readers[0].run(gorillaSource(h.dial("b", urls["b"]).c))
	// a starts once b's first socket is open (its ServerHello read): a
	// series sent to a b that never had a socket waits in its mailbox,
	// which on a loaded machine overflowed before the first socket's
	// handover completed (the oldest dropped, counted mailbox_full), and
	// this test is about replacements.
	waitFor(t, "b's first ServerHello", func() bool {
		readers[0].mu.Lock()
		defer readers[0].mu.Unlock()
		return readers[0].first != ""
	})
	es := h.b.Engine()
	var count atomic.Int64
	type outcome struct {
		n   int
		err error
	}
	sent := make(chan outcome, 1)
	go func() {
		left := -1
		i := 0
		for ; left != 0 && i < most; i++ {
			if left < 0 && es.Stats().Replaced == sockets-1 {
				left = after
			}
			if left > 0 {
				left--
			}
			if err := a.c.WriteMessage(websocket.TextMessage, []byte(numbered("b", "a", i, 200))); err != nil {
				sent <- outcome{i, err}
				return
			}
			count.Store(int64(i + 1))
		}
		sent <- outcome{i, a.c.WriteMessage(websocket.TextMessage, []byte(endOf("b")))}
	}()
	for k := 1; k < sockets; k++ {
		waitFor(t, "a's stream", func() bool { return count.Load() >= int64(k*step) })
		r := newSockReader(0, nil)
		readers = append(readers, r)
		go r.run(gorillaSource(h.dial(fmt.Sprintf("b%d", k), urls["b"]).c))
	}
	o := <-sent
	if o.err != nil {
		t.Fatalf("a: %v", o.err)
	}
	if o.n == most {
		t.Fatalf("b's last socket did not attach while a sent %d messages", most)
	}
	last := readers[len(readers)-1]
	if !testbridge.Until(60*time.Second, last.ended) {
		for name, v := range h.stats() {
			if v != 0.0 && (strings.HasPrefix(name, "dropped") || strings.HasPrefix(name, "mailbox") || strings.Contains(name, "closed") || strings.HasPrefix(name, "messages") || strings.Contains(name, "conn")) {
				t.Logf("%s = %v", name, v)
			}
		}
		for k, r := range readers {
			r.mu.Lock()
			n := len(r.got)
			from, to := -1, -1
			if n > 0 {
				from, to = r.got[0], r.got[n-1]
			}
			t.Logf("socket %d: %d messages %d..%d, first %.40q, close %d %q, err %v, end %v", k, n, from, to, r.first, r.code, r.reason, r.err, r.end)
			r.mu.Unlock()
		}
		t.Fatalf("a sent %d messages and the end marker; b's last socket read no end marker within a minute", o.n)
	}
	for _, r := range readers[:len(readers)-1] {
		waitEnd(t, r, last) // the end marker, and r's end
	}
	var all []int
	abrupt := 0
	for k, r := range readers {
		r.mu.Lock()
		silent := r.first == "" && k < len(readers)-1
		if !silent && !strings.Contains(r.first, `"ServerHello"`) {
			t.Errorf("socket %d: first message %.80s, want ServerHello", k, r.first)
		}
		if r.end != (k == len(readers)-1) {
			t.Errorf("socket %d: end marker %v", k, r.end)
		}
		if len(r.others) > 0 {
			t.Errorf("socket %d: unexpected messages %q", k, r.others)
		}
		switch {
		case k == len(readers)-1:
		case r.code == 1000 && r.reason == "replaced":
		case r.code == 0:
			abrupt++
		default:
			t.Errorf("socket %d: close %d %q", k, r.code, r.reason)
		}
		all = append(all, r.got...)
		r.mu.Unlock()
	}
	for i, k := range all {
		if k != i {
			for name, v := range h.stats() {
				if strings.HasPrefix(name, "dropped") || strings.HasPrefix(name, "mailbox") {
					t.Logf("%s = %v", name, v)
				}
			}
			for k, r := range readers {
				t.Logf("socket %d: %d messages from %v, first %.60q, close %d %q", k, len(r.got), r.got[:min(1, len(r.got))], r.first, r.code, r.reason)
			}
			t.Fatalf("b: message %d of its sockets' series is %d; %v dropped", i, k, h.dropped())
		}
	}
	if len(all) != o.n {
		t.Fatalf("b: %d messages across its sockets, want %d", len(all), o.n)
	}
	t.Logf("%d messages over %d sockets (%d closed without a close frame)", o.n, sockets, abrupt)
	if r := es.Stats().Replaced; r != sockets-1 {
		t.Errorf("Replaced = %d, want %d", r, sockets-1)
	}
	if d := h.dropped(); d != 0 {
		t.Errorf("%v messages dropped", d)
	}
	checkMailAccounts(t, h, 0)
}

// replaceCase is one way of TestMailboxReplacedMidStream.
type replaceCase struct {
	apart   bool // b's first socket connects before c: on another loop than a's
	spacer  bool // a connection between b's two: the second lands on the other loop
	stalls  bool // b's first socket stops reading until the second is open
	closing bool // and starts its closing handshake first (stalls only)
}

func testReplacedMidStream(t *testing.T, tc replaceCase) {
	// a sends flat out, and goes on until b's second socket has attached
	// and `after` more messages have followed, so that b always reconnects
	// in the middle of the series. b reconnects once a has sent `at` (b's
	// first socket reads them as they come).
	series := func(i int) string { return numbered("b", "a", i, 200) }
	at, after := 300+rand.IntN(3000), 3000
	if tc.stalls {
		// The kernel takes about 3 MB for a socket that does not read
		// before gnet holds anything: 4 KiB messages that do not deflate
		// much, so that gnet holds some soon, and that b's first socket
		// gets compressed frames. b reconnects once its first socket has
		// read `at`, stopped reading, and gnet holds frames for it.
		series = func(i int) string { return numberedRandom("b", "a", i, 4096) }
		at, after = 100+rand.IntN(900), 500
	}
	const most = 200000 // a bound on the series, should b never reconnect
	h := startBridge(t, nil)
	urls := h.conference("replace", "a", "b", "c", "spacer")
	conf := bridge.TableOf(h.b).ConferenceByMeeting("replace")
	a := h.dialHello("a", urls["a"])
	var c *tally
	if !tc.apart {
		c = newTally(h.dialHello("c", urls["c"]), "a")
	}

	var resume chan struct{}
	var resumeOnce sync.Once
	resumeOld := func() { resumeOnce.Do(func() { close(resume) }) }
	old := newSockReader(0, nil)
	var rc *rawConn
	if tc.stalls {
		resume = make(chan struct{})
		t.Cleanup(resumeOld) // a failed test must not leave the reader waiting
		old = newSockReader(at, resume)
		var status int
		rc, status = h.rawUpgradeVia(&smallRcvBuf, urls["b"], true)
		if status != 101 {
			t.Fatalf("b: upgrade %d", status)
		}
		go old.run(rawSource(rc))
	} else {
		go old.run(gorillaSource(h.dial("b", urls["b"]).c))
	}
	if tc.apart {
		c = newTally(h.dialHello("c", urls["c"]), "a")
	}

	// a sends flat out; paced when b stalls, so that the series is still
	// going when gnet holds b's frames. gate stops it (for the closing
	// case: what is routed to b while its socket is closing and no other
	// is open goes to its mailbox, which keeps only 256 KiB).
	var gate sync.RWMutex
	es := h.b.Engine()
	sentAt := make(chan struct{})
	type outcome struct {
		n   int // the series' length
		err error
	}
	sent := make(chan outcome, 1)
	go func() {
		send := func(m string) error {
			gate.RLock()
			defer gate.RUnlock()
			return a.c.WriteMessage(websocket.TextMessage, []byte(m))
		}
		left := -1 // to send once b's second socket attached
		i := 0
		for ; left != 0 && i < most; i++ {
			if i == at {
				close(sentAt)
			}
			if left < 0 && es.Stats().Replaced > 0 {
				left = after
			}
			if left > 0 {
				left--
			}
			if err := send(series(i)); err != nil {
				sent <- outcome{i, err}
				return
			}
			if i%10 == 0 {
				if err := send(numbered("c", "a", i/10, 200)); err != nil {
					sent <- outcome{i, err}
					return
				}
			}
			if tc.stalls && i%25 == 24 {
				time.Sleep(time.Millisecond) // pacing the stream
			}
		}
		for _, to := range []string{"b", "c"} {
			if err := send(endOf(to)); err != nil {
				sent <- outcome{i, err}
				return
			}
		}
		sent <- outcome{i, nil}
	}()

	if tc.stalls {
		select {
		case <-old.at:
		case <-time.After(30 * time.Second):
			t.Fatalf("b's first socket did not get %d messages", at)
		}
		// b stopped reading: wait until gnet holds frames for it.
		waitFor(t, "gnet holding b's frames", func() bool { return h.b.Engine().QueuedBytes() > 0 })
	} else {
		<-sentAt
	}
	if tc.closing {
		gate.Lock()
		rc.write(rawFrame(fin|0x3, []byte("reserved")))
		waitFor(t, "the bridge failing b's first socket", func() bool { return es.Stats().ProtocolErrors == 1 })
	}
	if tc.spacer {
		h.dialHello("spacer", urls["spacer"])
	}
	nw := newSockReader(0, nil)
	go nw.run(gorillaSource(h.dial("b2", urls["b"]).c))
	if tc.closing {
		gate.Unlock()
		// b's first socket reads nothing until the bridge closed it (at
		// the handover, or 2 s after its close frame).
		waitFor(t, "b's first socket closed", func() bool { return es.Stats().Replaced == 1 && es.Stats().Open == 3 })
	}
	if tc.stalls {
		resumeOld()
	}
	o := <-sent
	if o.err != nil {
		t.Fatalf("a: %v", o.err)
	}
	n := o.n
	if n == most {
		t.Fatalf("b's second socket did not attach while a sent %d messages", most)
	}
	waitEnd(t, old, nw)
	c.check(t, (n+9)/10)

	old.mu.Lock()
	nw.mu.Lock()
	defer old.mu.Unlock()
	defer nw.mu.Unlock()
	t.Logf("b reconnected after %d of %d messages: first socket read %d and ended with close %d %q (%v); second read %d",
		at, n, len(old.got), old.code, old.reason, old.err, len(nw.got))
	switch {
	case old.code == 1000 && old.reason == "replaced":
		if tc.stalls {
			t.Errorf("b's first socket: closed 1000 \"replaced\" although gnet held frames for it: they did not move")
		}
	case old.code == 0:
		// An end without a close frame: gnet held frames at the handover.
	case tc.closing && old.code == 1002:
		// The close frame for the reserved opcode had reached the kernel.
	default:
		t.Errorf("b's first socket: close %d %q, want 1000 \"replaced\" or none", old.code, old.reason)
	}
	if !strings.Contains(nw.first, "ServerHello") {
		t.Errorf("b's second socket: first message %.80s, want ServerHello", nw.first)
	}
	if old.end || !nw.end {
		t.Errorf("end marker on the first socket %v, on the second %v; want it on the second only", old.end, nw.end)
	}
	if len(old.others)+len(nw.others) > 0 {
		t.Errorf("unexpected messages: first socket %q, second %q", old.others, nw.others)
	}
	// While b had no socket it could read (its first one failing, its
	// second not attached yet), b's messages waited in its mailbox. On
	// two busy cores, under -race, that wait can pass the mailbox's 256
	// KiB: then its oldest went first, counted dropped_mailbox_full (as
	// documented). They are one run, after what the first socket had not
	// written (which moved to the second socket without the mailbox).
	full := int(h.stats()["dropped_mailbox_full"].(float64))
	all := append(append([]int(nil), old.got...), nw.got...)
	gap := 0
	for i, k := range all {
		if k == i+gap {
			continue
		}
		if gap > 0 || k-i != full {
			t.Fatalf("b: message %d of old ++ new is %d (first socket %d messages, ending %v; second %d, starting %v); %v dropped, %d of them as mailbox_full",
				i, k, len(old.got), tail(old.got), len(nw.got), head(nw.got), h.dropped(), full)
		}
		gap = full
	}
	if len(all)+gap != n || gap != full {
		t.Fatalf("b: %d messages across both sockets and a gap of %d, want %d (%d dropped as mailbox_full)", len(all), gap, n, full)
	}
	if len(nw.got) == 0 {
		t.Fatalf("the series ended before b's second socket took over: the test measured nothing")
	}
	if r := es.Stats().Replaced; r != 1 {
		t.Errorf("Replaced = %d, want 1", r)
	}
	if d := h.dropped(); d != float64(full) {
		t.Errorf("%v messages dropped, %d of them as mailbox_full", d, full)
	}
	held, _ := conf.Endpoint("b").Mailbox()
	checkMailAccounts(t, h, held)
}

func head(s []int) []int { return s[:min(len(s), 3)] }
func tail(s []int) []int { return s[max(len(s)-3, 0):] }

// frameBytes returns the length on the wire of a server frame with a
// payload of n bytes.
func frameBytes(n int) int {
	switch {
	case n < 126:
		return 2 + n
	case n <= 0xFFFF:
		return 4 + n
	}
	return 10 + n
}

// inQueue returns the bytes waiting in the kernel's receive queue of c.
func inQueue(t *testing.T, c net.Conn) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) { n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ) }); err != nil {
		t.Fatal(err)
	}
	if ierr != nil {
		t.Fatal(ierr)
	}
	return n
}

// TestMailboxRecoversUnsent: b does not read (a small receive buffer)
// while a sends it 1 KiB messages until gnet holds bytes b's socket did
// not take; b then reads what its socket already has, and resets its
// connection (SO_LINGER 0). The bridge sees the socket die with frames
// gnet did not write: they go to the head of b's mailbox (counted as
// recovered), before what is routed to b while it is down and what is sent
// once it reconnects on the same URL. b's second socket must start, right
// after ServerHello, where the kernel's share ends: old socket then new is
// strictly increasing (no message twice), its only gap is what the kernel
// held when the socket died, the new socket's part is contiguous to the
// last message sent, and mailbox_recovered > 0. Plain and with
// permessage-deflate (recovered frames are compressed: they are inflated
// back into messages).
func TestMailboxRecoversUnsent(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		name := "plain"
		if deflate {
			name = "deflate"
		}
		t.Run(name, func(t *testing.T) { testRecoversUnsent(t, deflate) })
	}
}

func testRecoversUnsent(t *testing.T, deflate bool) {
	const (
		size = 1024
		// gnet holds at least this much for b when b reads and dies: more
		// than b's reading can take out of it.
		hold = 48 << 10
		// A bound on the series before the reset: the kernel takes about
		// 3 MB before gnet holds anything (of which the mailbox keeps
		// nothing: those bytes were accepted), 48 KiB more fit the mailbox.
		maxBefore = 8000
		down      = 10 // messages sent while b is down
		after     = 10 // messages sent once b reconnected
	)
	h := startBridge(t, nil)
	urls := h.conference("recover", "a", "b")
	conf := bridge.TableOf(h.b).ConferenceByMeeting("recover")
	a := h.dialHello("a", urls["a"])
	rc, status := h.rawUpgradeVia(&smallRcvBuf, urls["b"], deflate)
	if status != 101 {
		t.Fatalf("b: upgrade %d", status)
	}
	next := rawSource(rc)
	if text, _, _, err := next(); err != nil || !strings.Contains(string(text), "ServerHello") {
		t.Fatalf("b: first message %q (%v)", text, err)
	}
	// Messages that do not deflate much, so that gnet's share is made of
	// many frames with or without compression.
	body := func(i int) string { return numberedRandom("b", "a", i, size) }

	// 1. a sends until gnet holds hold bytes for b: first the kernel
	// takes megabytes (the bridge's send buffer grows), then gnet keeps
	// what the socket does not take.
	bEP := conf.Endpoint("b")
	sent := 0
	for h.b.Engine().QueuedBytes() < hold {
		if sent >= maxBefore {
			t.Fatalf("gnet holds %d bytes after %d messages to b, want %d", h.b.Engine().QueuedBytes(), sent, hold)
		}
		for range 16 {
			a.send(body(sent))
			sent++
		}
		// Let the bridge queue what a wrote, so that QueuedBytes is read
		// after it, and a does not run far past the hold.
		waitFor(t, "a's messages queued for b", func() bool { return bEP.Sent.Map()["EndpointMessage"] == uint64(sent) })
	}
	queued := h.b.Engine().QueuedBytes()

	// 2. b reads what its socket already has, and no more.
	avail := rc.br.Buffered() + inQueue(t, rc.c)
	var old []int
	for read := 0; read < avail; {
		rc.c.SetReadDeadline(time.Now().Add(wait))
		f, err := rc.readFrame()
		if err != nil {
			t.Fatalf("b: %v after %d messages", err, len(old))
		}
		read += frameBytes(len(f.payload))
		if f.op != wsproto.OpText {
			continue
		}
		p := f.payload
		if f.rsv1 {
			if p, err = inflateMessage(p); err != nil {
				t.Fatal(err)
			}
		}
		k, _, ok := seriesOf(p)
		if !ok || k != len(old) {
			t.Fatalf("b's first socket: message %d is %.60q", len(old), p)
		}
		old = append(old, k)
	}

	// 3. b's connection is reset; a sends while b is down.
	tc := rc.c.(*net.TCPConn)
	tc.SetLinger(0)
	tc.Close()
	h.waitDisconnected(conf.ID(), "b")
	for i := 0; i < down; i++ {
		a.send(body(sent))
		sent++
	}
	recovered := h.stat("mailbox_recovered")

	// 4. b reconnects; a goes on sending at once, racing the handover.
	b2 := h.dial("b2", urls["b"])
	for i := 0; i < after; i++ {
		a.send(body(sent))
		sent++
	}
	a.send(endOf("b"))
	if m := b2.recv(); m["colibriClass"] != "ServerHello" {
		t.Fatalf("b's second socket: first message %v, want ServerHello", m)
	}
	var nw []int
	for {
		k, end, ok := seriesOf(b2.recvRaw())
		if !ok {
			t.Fatal("b's second socket: a message not of the series")
		}
		if end {
			break
		}
		nw = append(nw, k)
	}

	t.Logf("deflate %v: %d sent before the reset, gnet held %d bytes; b read %d on its first socket; mailbox_recovered %d; second socket from %v to %v",
		deflate, sent-down-after, queued, len(old), recovered, head(nw), tail(nw))
	if recovered == 0 {
		t.Errorf("mailbox_recovered = 0: the frames gnet held for the dead socket were not taken back")
	}
	if len(nw) == 0 {
		t.Fatal("b's second socket got nothing of the series")
	}
	if nw[0] <= len(old)-1 {
		t.Errorf("b's second socket starts at %d, which its first socket already read (0..%d)", nw[0], len(old)-1)
	}
	for i, k := range nw {
		if k != nw[0]+i {
			t.Fatalf("b's second socket: message %d is %d, want %d: the mailbox is not contiguous to the last message", i, k, nw[0]+i)
		}
	}
	if last := nw[len(nw)-1]; last != sent-1 {
		t.Errorf("b's second socket ends at %d, want the last message sent, %d", last, sent-1)
	}
	// The recovered frames are the oldest of the mailbox: they come first,
	// and all of them were sent before the reset.
	if recovered > 0 && (int(recovered) > len(nw) || nw[recovered-1] >= sent-down-after) {
		t.Errorf("the %d recovered frames are not the first of the second socket (%v ...)", recovered, head(nw))
	}
	gap := nw[0] - len(old)
	t.Logf("lost with the kernel's buffers: %d messages (about %d KiB)", gap, gap*size>>10)
	if d := h.dropped(); d != 0 {
		t.Errorf("%v messages dropped", d)
	}
	checkMailAccounts(t, h, 0)
}

// numberedRandom is numbered with a padding that does not compress much.
func numberedRandom(to, sender string, n, size int) string {
	p := fmt.Sprintf(`{"s":%q,"n":%d,"pad":"`, sender, n)
	return msg(to, p+randomText(max(size-len(p)-len(to)-60, 0))+`"}`)
}

// randomText returns n letters that do not compress much.
func randomText(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[rand.IntN(len(letters))]
	}
	return string(b)
}

// closeCleanly closes cl with a close handshake.
func closeCleanly(t *testing.T, cl *client) {
	t.Helper()
	if err := cl.c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(1000, "bye"), time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	if ce := cl.recvClose(); ce.Code != 1000 {
		t.Fatalf("%s: close echoed %d", cl.name, ce.Code)
	}
	cl.c.Close()
}

// TestMailboxBounds: the mailbox keeps at most mailbox-bytes (256 KiB) of
// the newest messages: more than that sent to b while it is down (after its
// first socket closed) reaches its next socket as a contiguous suffix of
// the series, in order, as long as it fits, and dropped_mailbox_full counts
// exactly the rest. Of EndpointStats (droppable) only the newest of each
// sender is kept, in the place of its arrival (dropped_mailbox_superseded
// counts the others). An endpoint expired while its mailbox holds messages
// frees them (dropped_mailbox_expired) and /debug lists it no more.
func TestMailboxBounds(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		const (
			n     = 400 // 1 KiB each: more than the 256 KiB kept
			size  = 1024
			limit = 256 << 10
		)
		h := startBridge(t, nil)
		urls := h.conference("bounds", "a", "b")
		conf := bridge.TableOf(h.b).ConferenceByMeeting("bounds")
		a := h.dialHello("a", urls["a"])
		closeCleanly(t, h.dialHello("b", urls["b"]))
		h.waitDisconnected(conf.ID(), "b")
		for i := 0; i < n; i++ {
			a.send(numbered("b", "a", i, size))
		}
		a.send(endOf("b"))
		mail := &bridge.TableOf(h.b).Mail
		waitFor(t, "the series queued in b's mailbox", func() bool { return mail.Queued.Load() == n+1 })
		d := h.debugEndpoint(conf.ID(), "b")
		if d.Mailbox == nil || d.Mailbox.Bytes > limit {
			t.Fatalf("b's mailbox: %+v, want at most %d bytes", d.Mailbox, limit)
		}
		b := h.dialHello("b2", urls["b"])
		var got []int
		bytes := 0
		first := 0
		for {
			raw := b.recvRaw()
			bytes += len(raw)
			k, end, ok := seriesOf(raw)
			if !ok {
				t.Fatalf("b: %q", raw)
			}
			if end {
				break
			}
			if len(got) == 0 {
				first = len(raw)
			}
			got = append(got, k)
		}
		if len(got) == 0 || len(got) != d.Mailbox.Messages-1 {
			t.Fatalf("b got %d messages, /debug showed %d held (with the end marker)", len(got), d.Mailbox.Messages)
		}
		for i, k := range got {
			if want := n - len(got) + i; k != want {
				t.Fatalf("b: message %d is %d, want %d: not the newest, in order", i, k, want)
			}
		}
		if bytes > limit || bytes+first <= limit {
			t.Errorf("b got %d bytes: want the most that fit in %d", bytes, limit)
		}
		if full := h.stat("dropped_mailbox_full"); full != uint64(n-len(got)) {
			t.Errorf("dropped_mailbox_full = %d, want the %d not delivered", full, n-len(got))
		}
		t.Logf("b got the newest %d of %d (%d bytes)", len(got), n, bytes)
		checkMailAccounts(t, h, 0)
	})

	t.Run("stats superseded", func(t *testing.T) {
		h := startBridge(t, nil)
		urls := h.conference("stats", "a", "b", "c")
		conf := bridge.TableOf(h.b).ConferenceByMeeting("stats")
		a, c := h.dialHello("a", urls["a"]), h.dialHello("c", urls["c"])
		closeCleanly(t, h.dialHello("b", urls["b"]))
		h.waitDisconnected(conf.ID(), "b")
		stats := func(k int) string { return fmt.Sprintf(`{"colibriClass":"EndpointStats","k":%d}`, k) }
		a.send(stats(0))
		a.send(msg("b", `{"m":0}`))
		a.send(stats(1))
		waitFor(t, "a's first three in b's mailbox", func() bool { return bridge.TableOf(h.b).Mail.Queued.Load() == 3 })
		c.send(stats(10))
		waitFor(t, "c's stats in b's mailbox", func() bool { return bridge.TableOf(h.b).Mail.Queued.Load() == 4 })
		a.send(msg("b", `{"m":1}`))
		a.send(stats(2))
		a.send(endOf("b"))
		waitFor(t, "all in b's mailbox", func() bool { return bridge.TableOf(h.b).Mail.Queued.Load() == 7 })
		b := h.dialHello("b2", urls["b"])
		var got []string
		for {
			raw := b.recvRaw()
			var m struct {
				ColibriClass, From string
				K                  *int
				MsgPayload         struct {
					M   *int
					End bool
				}
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if m.MsgPayload.End {
				break
			}
			switch {
			case m.K != nil:
				got = append(got, fmt.Sprintf("stats %s %d", m.From, *m.K))
			case m.MsgPayload.M != nil:
				got = append(got, fmt.Sprintf("msg %d", *m.MsgPayload.M))
			default:
				got = append(got, string(raw))
			}
		}
		want := []string{"msg 0", "stats c 10", "msg 1", "stats a 2"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("b got %q, want %q", got, want)
		}
		if s := h.stat("dropped_mailbox_superseded"); s != 2 {
			t.Errorf("dropped_mailbox_superseded = %d, want 2", s)
		}
		checkMailAccounts(t, h, 0)
	})

	t.Run("expired", func(t *testing.T) {
		const n = 20
		h := startBridge(t, nil)
		urls := h.conference("expire", "a", "b", "d")
		conf := bridge.TableOf(h.b).ConferenceByMeeting("expire")
		a := h.dialHello("a", urls["a"])
		closeCleanly(t, h.dialHello("b", urls["b"])) // b had a socket; d never connects
		h.waitDisconnected(conf.ID(), "b")
		for i := 0; i < n; i++ {
			a.send(numbered("b", "a", i, 200))
			a.send(numbered("d", "a", i, 200))
		}
		mail := &bridge.TableOf(h.b).Mail
		waitFor(t, "the series in the mailboxes", func() bool { return mail.Queued.Load() == 2*n })
		bEP, dEP := conf.Endpoint("b"), conf.Endpoint("d")
		if nb, _ := bEP.Mailbox(); nb != n {
			t.Fatalf("b's mailbox holds %d, want %d", nb, n)
		}
		status, body := h.do("PATCH", "/colibri/v2/conferences/expire",
			`{"endpoints":[{"id":"b","expire":true},{"id":"d","expire":true}]}`)
		if status != 200 {
			t.Fatalf("expire: %d %s", status, body)
		}
		if e := h.stat("dropped_mailbox_expired"); e != 2*n {
			t.Errorf("dropped_mailbox_expired = %d, want %d", e, 2*n)
		}
		for _, ep := range []string{"b", "d"} {
			if status, _ := h.do("GET", "/debug/"+conf.ID()+"/"+ep, ""); status != 404 {
				t.Errorf("/debug/%s/%s: %d after expiry, want 404", conf.ID(), ep, status)
			}
		}
		var dc colibri2.DebugConference
		_, raw := h.do("GET", "/debug/"+conf.ID(), "")
		if err := json.Unmarshal(raw, &dc); err != nil {
			t.Fatal(err)
		}
		if _, ok := dc.Endpoints["b"]; ok || dc.Endpoints["a"] == nil {
			t.Errorf("/debug lists %v, want a and not b", dc.Endpoints)
		}
		if nb, _ := bEP.Mailbox(); nb != 0 {
			t.Errorf("b's mailbox holds %d after expiry", nb)
		}
		if nd, _ := dEP.Mailbox(); nd != 0 {
			t.Errorf("d's mailbox holds %d after expiry", nd)
		}
		checkMailAccounts(t, h, 0)
	})

	t.Run("expired mid-stream", func(t *testing.T) {
		// a broadcasts flat out to b (its socket closed: its ghost keeps)
		// and d (never connected); both expire mid-stream. What was on its
		// way to them when they expired is dropped as expired too: no
		// message stays queued in a mailbox nobody will take.
		h := startBridge(t, nil)
		urls := h.conference("expire2", "a", "b", "d", "c")
		conf := bridge.TableOf(h.b).ConferenceByMeeting("expire2")
		a := h.dialHello("a", urls["a"])
		c := newTally(h.dialHello("c", urls["c"]), "a")
		closeCleanly(t, h.dialHello("b", urls["b"]))
		h.waitDisconnected(conf.ID(), "b")
		var count atomic.Int64
		done := make(chan int, 1)
		go func() {
			i := 0
			for ; i < 20000; i++ {
				if a.c.WriteMessage(websocket.TextMessage, []byte(numbered("", "a", i, 200))) != nil {
					break
				}
				count.Store(int64(i + 1))
			}
			a.c.WriteMessage(websocket.TextMessage, []byte(endOf("")))
			done <- i
		}()
		waitFor(t, "a's stream", func() bool { return count.Load() >= 5000 })
		if status, body := h.do("PATCH", "/colibri/v2/conferences/expire2",
			`{"endpoints":[{"id":"b","expire":true},{"id":"d","expire":true}]}`); status != 200 {
			t.Fatalf("expire: %d %s", status, body)
		}
		c.check(t, <-done)
		bEP, dEP := conf.Endpoint("b"), conf.Endpoint("d")
		if bEP != nil || dEP != nil {
			t.Fatal("b and d still in the conference")
		}
		m := &bridge.TableOf(h.b).Mail
		t.Logf("queued %d, full %d, expired %d", m.Queued.Load(), m.Full.Load(), m.ExpiredCount.Load())
		checkMailAccounts(t, h, 0)
	})
}

// TestMailboxOff: with mailbox-bytes = 0 there are no mailboxes (Jitsi's
// behaviour): what is routed to an endpoint without a socket, whether it
// never connected or its socket closed, is dropped and counted as
// dropped_no_connection, nothing is kept, and its next socket starts with
// what is sent to it once it is connected.
func TestMailboxOff(t *testing.T) {
	const n = 50
	h := startBridge(t, func(c *config.Config) { c.Limits.MailboxBytes = 0 })
	urls := h.conference("off", "a", "b", "d")
	conf := bridge.TableOf(h.b).ConferenceByMeeting("off")
	a := h.dialHello("a", urls["a"])
	closeCleanly(t, h.dialHello("b", urls["b"]))
	h.waitDisconnected(conf.ID(), "b")
	for i := 0; i < n; i++ {
		a.send(numbered("b", "a", i, 200))
		a.send(numbered("d", "a", i, 200))
	}
	waitFor(t, "the series dropped", func() bool { return h.stat("dropped_no_connection") >= 2*n })
	if got := h.stat("dropped_no_connection"); got != 2*n {
		t.Errorf("dropped_no_connection = %d, want %d", got, 2*n)
	}
	for _, key := range []string{"mailbox_queued", "mailbox_delivered", "mailbox_recovered"} {
		if v := h.stat(key); v != 0 {
			t.Errorf("%s = %d with mailboxes off", key, v)
		}
	}
	for _, id := range []string{"b", "d"} {
		if d := h.debugEndpoint(conf.ID(), id); d.Mailbox != nil {
			t.Errorf("/debug shows a mailbox for %s: %+v", id, d.Mailbox)
		}
		cl := h.dialHello(id+"2", urls[id])
		a.send(msg(id, `{"live":1}`))
		if m := cl.recv(); m["msgPayload"].(map[string]any)["live"] != 1.0 {
			t.Errorf("%s: first message after ServerHello %v, want the live one", id, m)
		}
	}
}
