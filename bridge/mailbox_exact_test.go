package bridge_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"github.com/colibri-bus/colibri/bridge"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/internal/seqcheck"
	"github.com/colibri-bus/colibri/wsproto"
)

// Exact accounts of an endpoint's stream across a dead socket, on the
// defaults. TestMailboxRecoversUnsent allows a gap it attributes to the
// kernel; here a proxy between b and the bridge (resumeProxy with
// StopUpAt) knows which bytes b got and which the kernels held, so the
// gap is predicted message by message and everything else must arrive,
// once, in order.

// smallUpstream is how the exact tests' proxy dials the bridge: the
// smallest receive buffer and a 536-byte segment size on the proxy's own
// socket, so that the kernels between the bridge and the proxy hold about
// 30 KB (the proxy's receive queue: under 1 KB; the bridge's send queue:
// the rest) instead of megabytes: the bridge's send buffer grows with the
// segment size its peer announces and with what the peer's window lets
// it send. The bridge's own socket settings are left alone.
var smallUpstream = net.Dialer{Timeout: wait, Control: func(_, _ string, rc syscall.RawConn) error {
	var serr error
	err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
		if serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 536)
		}
	})
	if err != nil {
		return err
	}
	return serr
}}

// tcpSendQueue returns the bytes in the send queue (written, not yet
// acknowledged by the peer) of this process's TCP socket from local to
// remote (both 127.0.0.1:port), as /proc/net/tcp shows them: how the test
// sees into the bridge's socket without touching it.
func tcpSendQueue(t *testing.T, local, remote string) int {
	t.Helper()
	hexAddr := func(a string) string {
		ap, err := net.ResolveTCPAddr("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		ip := ap.IP.To4()
		return fmt.Sprintf("%02X%02X%02X%02X:%04X", ip[3], ip[2], ip[1], ip[0], ap.Port)
	}
	l, r := hexAddr(local), hexAddr(remote)
	f, err := os.Open("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 5 || fs[1] != l || fs[2] != r {
			continue
		}
		tx, _, _ := strings.Cut(fs[4], ":")
		n, err := strconv.ParseUint(tx, 16, 64)
		if err != nil {
			t.Fatalf("/proc/net/tcp: %q", sc.Text())
		}
		return int(n)
	}
	t.Fatalf("/proc/net/tcp has no socket from %s to %s", local, remote)
	return 0
}

// seededPayload is a's msgPayload of message n: {"s":"a","n":n,"pad":...}
// with letters drawn from (seed, n), so that the test can build any
// message again, and that they do not deflate much.
func seededPayload(seed uint64, n, size int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	pad := make([]byte, max(size-100, 0))
	for i := range pad {
		pad[i] = letters[rng.IntN(len(letters))]
	}
	return fmt.Sprintf(`{"s":"a","n":%d,"pad":"%s"}`, n, pad)
}

// wireModel is b's socket as the bridge writes it: the 101 response,
// ServerHello, then a's series, each message framed as the bridge frames
// it: a's msgPayload inside the bridge's envelope (its "from" added),
// compressed when permessage-deflate is on and compression makes the frame
// smaller (wsproto.SharedFrame.Compressed). The envelope is learnt from
// the first message the proxy read, and every frame the proxy read must
// be the model's, byte for byte: the model of the frames nobody saw (the
// kernels' and gnet's) is the one that held for thousands that were seen.
type wireModel struct {
	deflate        bool
	payload        func(n int) string
	prefix, suffix string
	ends           []int // ends[n]: the stream's offset just past message n's frame
}

func (m *wireModel) frame(n int) []byte {
	p := []byte(m.prefix + m.payload(n) + m.suffix)
	plain := wsproto.AppendFrame(nil, wsproto.OpText, true, p)
	if m.deflate && len(p) >= wsproto.CompressMinSize {
		if c, err := wsproto.AppendCompressedFrame(nil, wsproto.OpText, p); err == nil && len(c) < len(plain) {
			return c
		}
	}
	return plain
}

// extend computes the offsets of the first n messages.
func (m *wireModel) extend(n int) {
	for k := len(m.ends); k < n; k++ {
		m.ends = append(m.ends, m.ends[k-1]+len(m.frame(k)))
	}
}

// learnWire reads what the proxy read from the bridge: the 101 response,
// ServerHello, then whole frames of the series (a last frame read in part
// is left). It returns the model, checked against every whole frame, and
// how many messages of the series were whole.
func learnWire(t *testing.T, read []byte, deflate bool, payload func(int) string) (*wireModel, int) {
	t.Helper()
	i := bytes.Index(read, []byte("\r\n\r\n"))
	if i < 0 || !bytes.HasPrefix(read, []byte("HTTP/1.1 101")) {
		t.Fatalf("the proxy read no 101 response: %.200q", read)
	}
	off := i + 4
	n, op, hello, ok := parseFrame(read[off:])
	if !ok || op != byte(wsproto.OpText) || read[off]&0x40 != 0 || !bytes.Contains(hello, []byte(`"ServerHello"`)) {
		t.Fatalf("the proxy read %.200q after the 101 response, want ServerHello", read[off:])
	}
	off += n
	m := &wireModel{deflate: deflate, payload: payload}
	whole := 0
	for {
		n, op, p, ok := parseFrame(read[off:])
		if !ok {
			break
		}
		if op != byte(wsproto.OpText) {
			t.Fatalf("the proxy read a frame of opcode %d in the series (message %d)", op, whole)
		}
		if whole == 0 {
			if read[off]&0x40 != 0 {
				var err error
				if p, err = inflateMessage(p); err != nil {
					t.Fatal(err)
				}
			}
			j := bytes.Index(p, []byte(payload(0)))
			if j < 0 {
				t.Fatalf("the first message the proxy read is not a's message 0: %.200q", p)
			}
			m.prefix, m.suffix = string(p[:j]), string(p[j+len(payload(0)):])
			m.ends = []int{off + n}
		}
		m.extend(whole + 1)
		if want := m.frame(whole); !bytes.Equal(read[off:off+n], want) {
			t.Fatalf("message %d as the proxy read it (%d bytes) is not the model's (%d bytes, deflate %v)", whole, n, len(want), deflate)
		}
		off += n
		whole++
	}
	if whole == 0 {
		t.Fatalf("the proxy read %d bytes and no whole message of the series", len(read))
	}
	return m, whole
}

// TestMailboxRecoversUnsentExact is TestMailboxRecoversUnsent with the
// gap predicted exactly. b connects through a proxy that reads a chosen
// number of bytes from the bridge (the 101 response, ServerHello, some of
// a's 1 KiB messages and usually part of one more), forwards them to b and
// then stops reading; the proxy's socket has a small receive buffer and
// segment size. a sends until gnet holds 48 KiB for b. Then the test waits
// until b's bytes add up: what the proxy read, plus its socket's receive
// queue, plus the bridge's socket's send queue (/proc/net/tcp), plus what
// gnet holds, is every byte of every frame the bridge wrote for b. The
// proxy then resets its connection to the bridge (and closes b's in
// order); a sends 10 while b is down and 10 once b reconnected directly.
//
// Where each message must be follows from where its frame ends in the
// socket's stream: at or before the proxy's stop, b read it on its first
// socket; past the bytes the kernels held (the proxy's receive queue and
// the bridge's send queue), gnet held at least its last byte and it must
// come back from the mailbox (mailbox_recovered counts exactly those)
// ahead of the 20 sent afterwards. Between the two, the kernels had
// accepted its last byte and the reset threw it away: those, and only
// those, may be missing, and they are one run. Nothing arrives twice or
// out of order, the proxy forwarded all it read, and b got exactly the
// whole frames of that.
//
// What can still be lost, and why: the bytes the kernels held. The
// bridge's send queue and the proxy's receive queue are small here (tens
// of KiB, where a reading client's kernels hold megabytes), but not zero,
// and a reset discards them. The bridge cannot take them back: they left
// gnet, and on a real network it cannot know whether the client read
// them. A frame partly in the kernel and partly in gnet is recovered whole
// (b never saw its tail). Plain and with permessage-deflate (recovered
// frames were compressed: the mailbox holds them inflated).
func TestMailboxRecoversUnsentExact(t *testing.T) {
	for _, deflate := range []bool{false, true} {
		name := "plain"
		if deflate {
			name = "deflate"
		}
		t.Run(name, func(t *testing.T) { testRecoversUnsentExact(t, deflate) })
	}
}

func testRecoversUnsentExact(t *testing.T, deflate bool) {
	const (
		size      = 1024
		hold      = 48 << 10 // gnet holds this for b before the cut
		maxBefore = 20000
		down      = 10 // messages sent while b is down
		after     = 10 // messages sent once b reconnected
	)
	seed := rand.Uint64()
	stopAt := 2<<10 + rand.IntN(4<<10)
	t.Logf("seed %d, the proxy stops after %d bytes", seed, stopAt)
	payload := func(n int) string { return seededPayload(seed, n, size) }

	h := startBridge(t, nil)
	urls := h.conference("exact", "a", "b")
	conf := bridge.TableOf(h.b).ConferenceByMeeting("exact")
	a := h.dialHello("a", urls["a"])
	px := startResumeProxy(t, h.ws)
	px.StopUpAt(stopAt, &smallUpstream)
	rc, status := h.rawUpgrade(strings.Replace(urls["b"], h.ws, px.Addr(), 1), deflate)
	if status != 101 {
		t.Fatalf("b through the proxy: upgrade %d", status)
	}
	prs := px.Pairs()
	if len(prs) != 1 {
		t.Fatalf("the proxy forwarded %d connections, want b's", len(prs))
	}
	pr := prs[0]
	// b's socket is attached once its ServerHello is out: from then on
	// a's messages are queued on it (before, they would wait in b's
	// mailbox and go out uncompressed, not counted as sent to b).
	waitFor(t, "b's ServerHello through the proxy", func() bool { _, toB := pr.Classes(); return toB["ServerHello"] == 1 })

	// 1. a sends until gnet holds hold bytes for b, the proxy having read
	// all it may; then the bytes add up: what the proxy read, plus its
	// receive queue, plus the bridge's send queue, plus what gnet holds,
	// is every byte the bridge wrote for b. (The engine refreshes its
	// count of gnet's bytes at writes and timer sweeps: until then it may
	// count bytes gnet has written since.)
	bEP := conf.Endpoint("b")
	sent := 0
	send := func() {
		a.send(msg("b", payload(sent)))
		sent++
	}
	var (
		m                *wireModel
		whole, total     int
		rxq, txq, held   int
		last             string
		settled, stopped bool
	)
	defer func() {
		if !settled {
			t.Logf("b's bytes: %s", last)
		}
	}()
	for {
		if sent >= maxBefore {
			t.Fatalf("gnet holds %d bytes after %d messages to b, want %d", h.b.Engine().QueuedBytes(), sent, hold)
		}
		for range 16 {
			send()
		}
		waitFor(t, "a's messages queued for b", func() bool { return bEP.Sent.Map()["EndpointMessage"] == uint64(sent) })
		if !stopped {
			if _, f := pr.UpRead(); f < stopAt {
				continue
			}
			stopped = true
			read, _ := pr.UpRead()
			m, whole = learnWire(t, read, deflate, payload)
		}
		if h.b.Engine().QueuedBytes() < hold {
			continue
		}
		m.extend(sent)
		total = m.ends[sent-1]
		waitFor(t, "b's bytes to add up (the proxy's, the kernels', gnet's)", func() bool {
			rxq, txq = inQueue(t, pr.up), tcpSendQueue(t, h.ws, pr.up.LocalAddr().String())
			held = int(h.b.Engine().QueuedBytes())
			last = fmt.Sprintf("proxy read %d + its receive queue %d + the bridge's send queue %d + gnet %d = %d; the bridge wrote %d",
				stopAt, rxq, txq, held, stopAt+rxq+txq+held, total)
			return stopAt+rxq+txq+held == total
		})
		if held >= hold {
			break
		}
	}
	settled = true
	before := sent
	cut := stopAt + rxq + txq
	var lost, kept []int64
	got := 0 // the messages whose frames b got whole
	for k := 0; k < before; k++ {
		switch end := m.ends[k]; {
		case end <= stopAt:
			got++
		case end <= cut:
			lost = append(lost, int64(k))
		default:
			kept = append(kept, int64(k))
		}
	}
	if got != whole {
		t.Fatalf("the model puts %d whole messages in the %d bytes the proxy read; the proxy parsed %d", got, stopAt, whole)
	}
	if len(kept) == 0 {
		t.Fatalf("gnet held %d bytes but no message past the kernels' %d: the test measured nothing", held, rxq+txq)
	}

	// 3. The cut: b's bridge-side connection is reset; b's own ends in
	// order after what the proxy forwarded.
	pr.CutUp()
	h.waitDisconnected(conf.ID(), "b")
	for range down {
		send()
	}
	recovered := h.stat("mailbox_recovered")
	var old []int64
	oldNext := rawSource(rc)
	for i := 0; ; i++ {
		text, code, _, err := oldNext()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil || code != 0 {
			t.Fatalf("b's first socket: %v (close %d) after %d messages, want the end of the stream", err, code, len(old))
		}
		if i == 0 {
			if !strings.Contains(string(text), `"ServerHello"`) {
				t.Fatalf("b's first socket: first message %.80q", text)
			}
			continue
		}
		k, _, ok := seriesOf(text)
		if !ok {
			t.Fatalf("b's first socket: %.80q", text)
		}
		old = append(old, int64(k))
	}

	// 4. b reconnects directly; a goes on at once, racing the handover.
	b2, status := h.rawUpgrade(urls["b"], deflate)
	if status != 101 {
		t.Fatalf("b's second socket: upgrade %d", status)
	}
	for range after {
		send()
	}
	a.send(endOf("b"))
	var nw []int64
	next := rawSource(b2)
	for i := 0; ; i++ {
		text, code, _, err := next()
		if err != nil || code != 0 {
			t.Fatalf("b's second socket: %v (close %d) after %d messages", err, code, len(nw))
		}
		if i == 0 {
			if !strings.Contains(string(text), `"ServerHello"`) {
				t.Fatalf("b's second socket: first message %.80q, want ServerHello", text)
			}
			continue
		}
		k, end, ok := seriesOf(text)
		if !ok {
			t.Fatalf("b's second socket: %.80q", text)
		}
		if end {
			break
		}
		nw = append(nw, int64(k))
	}

	t.Logf("deflate %v: %d sent before the cut (%d bytes); b got %d whole; the kernels held %d bytes (the proxy's receive queue %d, the bridge's send queue %d): %d messages, %s; gnet held %d bytes: %d messages; mailbox_recovered %d",
		deflate, before, total, got, rxq+txq, rxq, txq, len(lost), seqcheck.Ranges(lost), held, len(kept), recovered)
	if want := seq(0, int64(got)); fmt.Sprint(old) != fmt.Sprint(want) {
		t.Errorf("b's first socket read %d messages (%s), want exactly the %d whole ones the proxy forwarded", len(old), seqcheck.Ranges(old), got)
	}
	if want := append(append([]int64(nil), kept...), seq(int64(before), int64(sent))...); fmt.Sprint(nw) != fmt.Sprint(want) {
		t.Errorf("b's second socket read %s (%s ... %s), want what gnet held, %s, then the %d sent afterwards, %d-%d",
			seqcheck.Ranges(nw), fmt.Sprint(nw[:min(len(nw), 3)]), fmt.Sprint(nw[max(len(nw)-3, 0):]), seqcheck.Ranges(kept), sent-before, before, sent-1)
	}
	all := append(append([]int64(nil), old...), nw...)
	rep := seqcheck.Check(all, int64(sent))
	if rep.Dups > 0 || rep.Disorder > 0 || rep.Beyond > 0 {
		t.Errorf("b: %d duplicates, %d out of order, %d beyond the series", rep.Dups, rep.Disorder, rep.Beyond)
	}
	if fmt.Sprint(rep.Never) != fmt.Sprint(lost) {
		t.Errorf("b never got %s; the only messages allowed missing are those the kernels held, %s", seqcheck.Ranges(rep.Never), seqcheck.Ranges(lost))
	}
	if recovered != uint64(len(kept)) {
		t.Errorf("mailbox_recovered = %d, want the %d messages gnet held", recovered, len(kept))
	}
	if d := h.dropped(); d != 0 {
		t.Errorf("%v messages dropped", d)
	}
	checkMailAccounts(t, h, 0)
}

// seq returns from, from+1, ..., to-1.
func seq(from, to int64) []int64 {
	var out []int64
	for n := from; n < to; n++ {
		out = append(out, n)
	}
	return out
}

// TestMailboxSlowConsumerClose: b reads 10 of a's 1 KiB messages and
// stops (a small receive buffer); a sends until the bridge closes b as a
// slow consumer: its queue passed 4× the outbound budget (1 MiB), and the
// frame that found it so is where the close frame (1008 "slow consumer")
// goes, behind the 4 MiB gnet holds. a sends 20 more, which wait in b's
// mailbox. Then, three ways:
//
//   - reads the close: b reads again, to the close frame, and reconnects;
//   - reconnects while closing: b reconnects at once, while its first
//     socket is closing (what gnet holds for it moves to the new socket),
//     and then reads what its first socket still has;
//   - dies: b reads nothing until the bridge gave up on the close (2 s)
//     and closed the socket (what gnet held goes to the mailbox), then
//     reads what its first socket still has, and reconnects.
//
// No byte is lost in a kernel: the bridge never resets b's socket (it
// shuts its write side down after what the kernel holds), and b reads its
// first socket to its end (the close frame, or the end of the stream,
// possibly within a frame whose rest gnet held and gave back whole). So
// b's two sockets must carry the whole series, once, in order; a number
// missing while later ones arrived is a hole in the middle of the stream,
// and fails the test by name. The one allowance, when b dies: the mailbox
// keeps 256 KiB, and a dead socket's 4 MiB go to it, so the oldest go
// (the documented bound, counted as dropped_mailbox_full): exactly that
// many may be missing, one run right after the last message b read on its
// first socket.
//
// Known bug (expected to fail today): the frame that triggers the close
// is dropped (dropped_slow_receiver) while the frames routed after it are
// kept in the mailbox and delivered to the next socket.
func TestMailboxSlowConsumerClose(t *testing.T) {
	for _, mode := range []slowCloseMode{readsClose, reconnectsWhileClosing, dies} {
		t.Run(mode.String(), func(t *testing.T) { testSlowConsumerClose(t, mode) })
	}
}

// slowCloseMode is what b does once the bridge closed it as a slow consumer.
type slowCloseMode int

const (
	readsClose slowCloseMode = iota
	reconnectsWhileClosing
	dies
)

func (m slowCloseMode) String() string {
	return [...]string{"reads the close", "reconnects while closing", "dies"}[m]
}

func testSlowConsumerClose(t *testing.T, mode slowCloseMode) {
	const (
		size      = 1024
		first     = 10 // b reads these, then stops
		post      = 20 // a sends these once b was closed
		maxBefore = 40000
	)
	h := startBridge(t, nil)
	urls := h.conference("slow4x", "a", "b")
	conf := bridge.TableOf(h.b).ConferenceByMeeting("slow4x")
	budget := h.b.Config().Limits.OutboundBudget
	a := h.dialHello("a", urls["a"])
	aEP := conf.Endpoint("a")
	es := h.b.Engine()

	resume := make(chan struct{})
	var once sync.Once
	resumeOld := func() { once.Do(func() { close(resume) }) }
	t.Cleanup(resumeOld) // a failed test must not leave the reader waiting
	old := newSockReader(first, resume)
	rc, status := h.rawUpgradeVia(&smallRcvBuf, urls["b"], false)
	if status != 101 {
		t.Fatalf("b: upgrade %d", status)
	}
	go old.run(rawSource(rc))

	sent := 0
	send := func() {
		a.send(numbered("b", "a", sent, size))
		sent++
	}
	routed := func(what string) {
		waitFor(t, what, func() bool { return aEP.Received.Map()["EndpointMessage"] == uint64(sent) })
	}
	for range first {
		send()
	}
	select {
	case <-old.at:
	case <-time.After(wait):
		t.Fatalf("b did not read the first %d messages", first)
	}
	// a sends until the bridge closes b; each batch routed before the
	// next, so that a runs at most a batch past the close.
	for es.Stats().SlowClosed == 0 {
		if sent >= maxBefore {
			t.Fatalf("b not closed after %d messages of %d bytes (gnet holds %d)", sent, size, h.b.Engine().QueuedBytes())
		}
		for range 16 {
			send()
		}
		routed("a's messages routed")
	}
	closedAt := sent
	queued := h.b.Engine().QueuedBytes()
	for range post {
		send()
	}
	routed("a's messages after the close routed")

	oldEnded := func() {
		t.Helper()
		select {
		case <-old.done:
		case <-time.After(30 * time.Second):
			t.Fatal("b's first socket did not end")
		}
	}
	nw := newSockReader(0, nil)
	switch mode {
	case readsClose:
		resumeOld()
		oldEnded()
		rc.c.Close()
		h.waitDisconnected(conf.ID(), "b")
		go nw.run(gorillaSource(h.dial("b2", urls["b"]).c))
	case reconnectsWhileClosing:
		// The new socket's ServerHello comes after the handover, which
		// took what gnet held for the old one.
		go nw.run(gorillaSource(h.dial("b2", urls["b"]).c))
		waitFor(t, "ServerHello on b's second socket", func() bool {
			nw.mu.Lock()
			defer nw.mu.Unlock()
			return nw.first != ""
		})
		resumeOld()
		oldEnded()
	case dies:
		waitUntil(t, 2*time.Second+2*h.b.Engine().TickInterval()+wait, "the bridge closing b's socket", func() bool {
			return !h.debugEndpoint(conf.ID(), "b").Connected
		})
		resumeOld()
		oldEnded()
		go nw.run(gorillaSource(h.dial("b2", urls["b"]).c))
	}
	a.send(endOf("b"))
	waitEnd(t, old, nw)

	old.mu.Lock()
	nw.mu.Lock()
	defer old.mu.Unlock()
	defer nw.mu.Unlock()
	st := h.stats()
	t.Logf("b closed after a sent %d (gnet then held %d bytes; 4× the budget is %d); %d more after; b's first socket read %d and ended with close %d %q (%v); the second read %d",
		closedAt, queued, 4*budget, post, len(old.got), old.code, old.reason, old.err, len(nw.got))
	t.Logf("slow_closed %v, dropped_slow_receiver %v, mailbox_queued %v, mailbox_recovered %v, dropped_mailbox_full %v, dropped_messages %v",
		num(st, "slow_closed"), num(st, "dropped_slow_receiver"), num(st, "mailbox_queued"), num(st, "mailbox_recovered"), num(st, "dropped_mailbox_full"), num(st, "dropped_messages"))
	if n := es.Stats().SlowClosed; n != 1 {
		t.Errorf("slow_closed = %d, want b's one", n)
	}
	switch {
	case old.code == 1008 && old.reason == "slow consumer":
	case mode != readsClose && old.code == 0 && (errors.Is(old.err, io.EOF) || errors.Is(old.err, io.ErrUnexpectedEOF)):
		// The close frame waited in gnet behind what it gave back: the
		// stream ended without it, after all its kernel had.
	default:
		t.Errorf("b's first socket ended with close %d %q (%v), want 1008 \"slow consumer\"%s", old.code, old.reason, old.err,
			map[bool]string{true: "", false: " or the end of the stream"}[mode == readsClose])
	}
	if !strings.Contains(old.first, `"ServerHello"`) || !strings.Contains(nw.first, `"ServerHello"`) {
		t.Errorf("first messages %.60q and %.60q, want ServerHello on each socket", old.first, nw.first)
	}
	if len(old.others)+len(nw.others) > 0 {
		t.Errorf("unexpected messages: first socket %.200q, second %.200q", old.others, nw.others)
	}
	if old.end || !nw.end {
		t.Errorf("end marker on the first socket %v, on the second %v; want it on the second only", old.end, nw.end)
	}
	var all []int64
	for _, k := range append(append([]int(nil), old.got...), nw.got...) {
		all = append(all, int64(k))
	}
	rep := seqcheck.Check(all, int64(sent))
	if rep.Dups > 0 || rep.Disorder > 0 || rep.Beyond > 0 {
		t.Errorf("b: %d duplicates, %d out of order, %d beyond the series", rep.Dups, rep.Disorder, rep.Beyond)
	}
	// The mailbox's bound (dies only): the oldest of what gnet held, one
	// run right after what b read on its first socket.
	full := int64(num(st, "dropped_mailbox_full"))
	var allowed []int64
	if mode == dies {
		from := int64(len(old.got))
		allowed = seq(from, from+full)
	} else if full != 0 {
		t.Errorf("dropped_mailbox_full = %d: the mailbox held only what was sent after the close", full)
	}
	isAllowed := map[int64]bool{}
	for _, k := range allowed {
		isAllowed[k] = true
	}
	var holes []int64
	for _, k := range rep.Never {
		if !isAllowed[k] {
			holes = append(holes, k)
		}
	}
	if len(holes) > 0 {
		t.Errorf("b never got %s of a's %d messages (the close came while a sent %d-%d; %s allowed as the mailbox's bound): a hole in the middle of the stream (dropped_slow_receiver %v)",
			seqcheck.Ranges(holes), sent, closedAt-16, closedAt-1, seqcheck.Ranges(allowed), num(st, "dropped_slow_receiver"))
	}
	if len(rep.Never)-len(holes) != len(allowed) {
		t.Errorf("of the %s dropped for the mailbox's bound, b got some: never got %s", seqcheck.Ranges(allowed), seqcheck.Ranges(rep.Never))
	}
	held, _ := conf.Endpoint("b").Mailbox()
	checkMailAccounts(t, h, held)
}
