package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// prober runs one probe and prints each step on out.
type prober struct {
	opt *probeOptions
	out io.Writer

	summary string // what a successful probe saw, for the OK line
}

// step prints one line: a step name and what it found.
func (p *prober) step(name, format string, a ...any) {
	fmt.Fprintf(p.out, "%-8s %s\n", name, fmt.Sprintf(format, a...))
}

// report prints the outcome and returns the exit code.
func (p *prober) report(err error) int {
	if err == nil {
		p.step("OK", "%s", p.summary)
		return probeOK
	}
	var f *failure
	if !errors.As(err, &f) {
		f = fail(probeInternal, "internal", err.Error(), "")
	}
	p.step("FAIL", "%s (exit %d): %s", f.class, f.code, f.what)
	if f.hint != "" {
		p.step("hint", "%s", f.hint)
	}
	return f.code
}

// run probes opt.url: DNS, TCP, TLS, the upgrade, then the WebSocket.
func (p *prober) run(ctx context.Context) error {
	u, err := parseWSURL(p.opt.url)
	if err != nil {
		return fail(probeUsage, "usage", err.Error(), "")
	}
	p.step("probe", "%s", redact(u.String()))
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"ws": "80", "wss": "443"}[u.Scheme]
	}
	dialHost, dialPort := host, port
	if p.opt.connect != "" {
		if dialHost, dialPort, err = net.SplitHostPort(p.opt.connect); err != nil {
			return fail(probeUsage, "usage", "--connect "+p.opt.connect+": "+err.Error(), "give host:port")
		}
	}
	addrs, err := p.resolve(ctx, dialHost, dialPort)
	if err != nil {
		return err
	}
	c, err := p.dial(ctx, addrs)
	if err != nil {
		return err
	}
	defer func() { c.Close() }()
	if u.Scheme == "wss" {
		tc, err := p.handshakeTLS(ctx, c, host)
		if err != nil {
			return err
		}
		c = tc
	}
	br, err := p.upgrade(c, u)
	if err != nil {
		return err
	}
	return p.session(c, br)
}

// wsEvent is one thing the frame reader saw.
type wsEvent struct {
	at     time.Time
	op     ws.OpCode
	data   []byte
	code   ws.StatusCode
	reason string
	err    error // the connection failed; no more events
}

// maxProbeMessage bounds what the probe reads into memory.
const maxProbeMessage = 16 << 20

// session watches the open WebSocket: ServerHello within helloWait, the
// messages of the first listen seconds, and a ping within pingWait.
func (p *prober) session(c net.Conn, br *bufio.Reader) error {
	opened := time.Now()
	events := make(chan wsEvent, 64)
	done := make(chan struct{})
	defer close(done)
	var wmu sync.Mutex
	go readFrames(c, br, &wmu, events, done)

	var hello, ping time.Duration
	gotHello, gotPing := false, false
	messages := 0
	for {
		now := time.Now()
		el := now.Sub(opened)
		switch {
		case !gotHello && el >= p.opt.helloWait:
			return fail(probeNoHello, "no-server-hello",
				fmt.Sprintf("upgraded, but no ServerHello within %s (%d other messages)", p.opt.helloWait, messages),
				"the server upgrades but is not a Colibri bridge (another WebSocket service behind this path?), "+
					"or an event loop of the bridge is stuck: check GET /about/health")
		case p.opt.pingWait > 0 && !gotPing && el >= p.opt.pingWait:
			return fail(probeNoPing, "no-ping", fmt.Sprintf("no keepalive ping within %s", p.opt.pingWait),
				"videobridge.websockets.send-keepalive-pings is off, or keepalive-ping-interval is longer than "+
					"--ping-wait; without pings a proxy's read timeout (nginx proxy_read_timeout, 60 s) drops idle sockets")
		case gotHello && el >= p.opt.listen && (p.opt.pingWait == 0 || gotPing):
			p.summary = fmt.Sprintf("upgraded; ServerHello after %s; messages: %d in %s", ms(hello), messages, ms(el))
			if gotPing {
				p.summary += "; first ping after " + ms(ping)
			}
			closeProbe(c, &wmu, events)
			return nil
		}
		wait := time.NewTimer(p.nextDeadline(opened, gotHello, gotPing).Sub(now))
		select {
		case ev := <-events:
			wait.Stop()
			at := ev.at.Sub(opened)
			switch {
			case ev.err != nil:
				return closedFailure(at, 1006, "", ev.err, gotHello)
			case ev.op == ws.OpClose:
				return closedFailure(at, int(ev.code), ev.reason, nil, gotHello)
			case ev.op == ws.OpPing:
				p.step("ping", "%s", since(at))
				if !gotPing {
					gotPing, ping = true, at
				}
			case ev.op == ws.OpText:
				messages++
				p.step("message", "%s %s", since(at), truncate(string(ev.data), 400))
				if !gotHello && isServerHello(ev.data) {
					gotHello, hello = true, at
				}
			case ev.op == ws.OpBinary:
				p.step("message", "%s binary, %d bytes (not part of the protocol)", since(at), len(ev.data))
			}
		case <-wait.C:
		}
	}
}

// nextDeadline is the earliest moment, still to come, at which the
// session's state can change by itself.
func (p *prober) nextDeadline(opened time.Time, gotHello, gotPing bool) time.Time {
	el := time.Since(opened)
	next := time.Duration(-1)
	consider := func(d time.Duration) {
		if d > el && (next < 0 || d < next) {
			next = d
		}
	}
	consider(p.opt.listen)
	if !gotHello {
		consider(p.opt.helloWait)
	}
	if p.opt.pingWait > 0 && !gotPing {
		consider(p.opt.pingWait)
	}
	if next < 0 {
		next = el + 10*time.Millisecond
	}
	return opened.Add(next)
}

// since formats a time since the upgrade.
func since(d time.Duration) string { return fmt.Sprintf("+%.3fs", d.Seconds()) }

func isServerHello(msg []byte) bool {
	var m struct {
		Class string `json:"colibriClass"`
	}
	return json.Unmarshal(msg, &m) == nil && m.Class == "ServerHello"
}

// closedFailure explains a WebSocket the server closed (code 1006: the
// connection ended without a close frame).
func closedFailure(at time.Duration, code int, reason string, err error, gotHello bool) *failure {
	what := fmt.Sprintf("the server closed the WebSocket after %s with %d %q", at.Round(time.Millisecond), code, reason)
	if err != nil {
		what = fmt.Sprintf("the connection ended without a close frame after %s: %v", at.Round(time.Millisecond), err)
	}
	if !gotHello {
		what += ", before any ServerHello"
	}
	hint := "see the bridge's log line \"websocket closed\" for this endpoint"
	switch {
	case code == 1000 && reason == "replaced":
		hint = "another client connected with the same URL and the newest socket wins: two clients share the " +
			"URL, or the real client reconnected while the probe ran"
	case code == 1001 && (reason == "endpoint closed" || reason == "relay_closed"):
		hint = "the endpoint (or relay, or its conference) was expired through the REST API"
	case code == 1001 && reason == "shutting down":
		hint = "the bridge is shutting down"
	case code == 1001 && reason == "idle timeout":
		hint = "the bridge's idle timeout closed the socket (videobridge.websockets.idle-timeout)"
	case code == 1008:
		hint = "the bridge closed a consumer that stayed over its outbound budget"
	case code == 1006:
		hint = "a proxy or the network dropped the connection: check the proxy's read timeout " +
			"(nginx proxy_read_timeout) against the keepalive-ping-interval"
	}
	return fail(probeClosed, "closed", what, hint)
}

// readFrames reads server frames until the connection ends, answers pings
// and close frames, and reports every frame on out until done closes.
func readFrames(c net.Conn, br *bufio.Reader, wmu *sync.Mutex, out chan<- wsEvent, done <-chan struct{}) {
	emit := func(ev wsEvent) bool {
		select {
		case out <- ev:
			return true
		case <-done:
			return false
		}
	}
	var msg []byte
	var msgOp ws.OpCode
	for {
		h, err := ws.ReadHeader(br)
		if err != nil {
			emit(wsEvent{at: time.Now(), err: err})
			return
		}
		if h.Length > maxProbeMessage {
			emit(wsEvent{at: time.Now(), err: fmt.Errorf("a frame of %d bytes, over the probe's limit", h.Length)})
			return
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(br, payload); err != nil {
			emit(wsEvent{at: time.Now(), err: err})
			return
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		now := time.Now()
		ok := true
		switch h.OpCode {
		case ws.OpPing:
			writeFrame(c, wmu, ws.NewPongFrame(payload))
			ok = emit(wsEvent{at: now, op: ws.OpPing})
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			var body []byte
			if code.Empty() {
				code = ws.StatusNoStatusRcvd // 1005: a close frame without a status
			} else {
				body = ws.NewCloseFrameBody(code, "")
			}
			writeFrame(c, wmu, ws.NewCloseFrame(body))
			emit(wsEvent{at: now, op: ws.OpClose, code: code, reason: reason})
			return
		case ws.OpText, ws.OpBinary, ws.OpContinuation:
			if h.OpCode != ws.OpContinuation {
				msg, msgOp = msg[:0], h.OpCode
			}
			msg = append(msg, payload...)
			if h.Fin {
				ok = emit(wsEvent{at: now, op: msgOp, data: append([]byte(nil), msg...)})
			}
		}
		if !ok {
			return
		}
	}
}

func writeFrame(c net.Conn, wmu *sync.Mutex, f ws.Frame) {
	wmu.Lock()
	defer wmu.Unlock()
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_ = ws.WriteFrame(c, ws.MaskFrameInPlace(f))
}

// closeProbe sends close 1000 and waits a little for the server's answer.
func closeProbe(c net.Conn, wmu *sync.Mutex, events <-chan wsEvent) {
	writeFrame(c, wmu, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "probe done")))
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case ev := <-events:
			if ev.err != nil || ev.op == ws.OpClose {
				return
			}
		case <-t.C:
			return
		}
	}
}
