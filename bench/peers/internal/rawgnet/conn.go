package rawgnet

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"github.com/colibri-bus/colibri/internal/route"
	"sync"

	"github.com/colibri-bus/colibri/wsproto"
	"github.com/panjf2000/gnet/v2"
)

const (
	maxHeader  = 8 << 10  // bytes of an upgrade request
	maxMessage = 64 << 10 // bytes of one frame
	maxPending = 8 << 20  // queued bytes per receiver before frames are dropped
)

// wsConn is the state of one connection; only its loop touches the read
// side, pending is guarded by its loop's mutex.
type wsConn struct {
	gc       gnet.Conn
	loop     *loopState
	ep       *route.Endpoint
	upgraded bool
	pending  []byte
	dirty    bool
	closed   bool
}

// loopState collects the receivers with pending frames on one event loop.
type loopState struct {
	el        gnet.EventLoop
	run       gnet.RunnableFunc // ls.flush, built once
	mu        sync.Mutex
	dirty     []*wsConn
	scheduled bool
	scratch   []byte // the message being forwarded, rewritten (Config.From)
}

type handler struct {
	gnet.BuiltinEventEngine
	s *Server
}

func (h *handler) OnBoot(e gnet.Engine) gnet.Action {
	h.s.eng = e
	close(h.s.boot)
	return gnet.None
}

func (h *handler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	el := c.EventLoop()
	v, ok := h.s.loops.Load(el)
	if !ok {
		ls := &loopState{el: el}
		ls.run = ls.flush
		v, _ = h.s.loops.LoadOrStore(el, ls)
	}
	c.SetContext(&wsConn{gc: c, loop: v.(*loopState)})
	return nil, gnet.None
}

func (h *handler) OnClose(c gnet.Conn, _ error) gnet.Action {
	wc, _ := c.Context().(*wsConn)
	if wc == nil {
		return gnet.None
	}
	wc.loop.mu.Lock()
	wc.closed = true
	wc.pending = nil
	wc.loop.mu.Unlock()
	if wc.ep != nil {
		wc.ep.Detach(wc)
	}
	return gnet.None
}

func (h *handler) OnTraffic(c gnet.Conn) gnet.Action {
	wc := c.Context().(*wsConn)
	if !wc.upgraded {
		if a, more := h.upgrade(wc); !more {
			return a
		}
	}
	for {
		n := c.InboundBuffered()
		if n < 2 {
			return gnet.None
		}
		hdr, _ := c.Peek(min(n, 14))
		fin, op, hl, pl, mask, ok := parseClientHeader(hdr)
		if !ok {
			return gnet.None
		}
		if !fin || pl > maxMessage || mask == nil {
			return gnet.Close // fragmentation is out of scope for the limit peer
		}
		if n < hl+pl {
			return gnet.None
		}
		buf, _ := c.Peek(hl + pl)
		p := buf[hl:]
		for i := range p {
			p[i] ^= mask[i&3]
		}
		switch op {
		case 0x1, 0x2:
			h.route(wc, p)
		case 0x9:
			_, _ = c.Write(wsproto.AppendFrame(nil, wsproto.OpPong, true, p))
		case 0x8:
			_, _ = c.Write(wsproto.AppendFrame(nil, wsproto.OpClose, true, p))
			_, _ = c.Discard(hl + pl)
			return gnet.Close
		}
		_, _ = c.Discard(hl + pl)
	}
}

// upgrade handles the HTTP upgrade with wsproto's handshake codec; more
// reports whether frames may follow.
func (h *handler) upgrade(wc *wsConn) (a gnet.Action, more bool) {
	c := wc.gc
	buf, _ := c.Peek(-1)
	end := wsproto.HeaderEnd(buf)
	if end == 0 {
		if len(buf) > maxHeader {
			_, _ = c.Write(wsproto.AppendHeaderTooLarge(nil))
			return gnet.Close, false
		}
		return gnet.None, false
	}
	var req wsproto.Request
	err := wsproto.ParseRequest(buf[:end], &req)
	if err == nil {
		err = req.Validate()
	}
	if err != nil {
		var he *wsproto.HTTPError
		if !errors.As(err, &he) {
			he = &wsproto.HTTPError{Status: 400}
		}
		_, _ = c.Write(wsproto.AppendHTTPResponse(nil, he.Status, he.Header, ""))
		return gnet.Close, false
	}
	ep, status := h.s.hub.Authenticate(req.Path, req.RawQuery)
	if ep == nil {
		body := ""
		if status == 403 {
			body = "authentication failed"
		}
		_, _ = c.Write(wsproto.AppendHTTPResponse(nil, status, "", body))
		return gnet.Close, false
	}
	resp := wsproto.AppendUpgradeResponse(nil, req.Key, nil)
	resp = wsproto.AppendFrame(resp, wsproto.OpText, true, serverHello)
	_, _ = c.Discard(end)
	old, _, err := ep.Attach(wc)
	if err != nil {
		return gnet.Close, false
	}
	if old != nil {
		old.Close(1000, route.ReasonReplaced)
	}
	_, _ = c.Write(resp)
	wc.ep, wc.upgraded = ep, true
	return gnet.None, true
}

// parseClientHeader parses a frame header from b.
func parseClientHeader(b []byte) (fin bool, op byte, hl, pl int, mask []byte, ok bool) {
	fin, op = b[0]&0x80 != 0, b[0]&0x0f
	masked := b[1]&0x80 != 0
	pl, hl = int(b[1]&0x7f), 2
	switch pl {
	case 126:
		if len(b) < 4 {
			return
		}
		pl, hl = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return
		}
		v := binary.BigEndian.Uint64(b[2:])
		if v > maxMessage {
			return fin, op, 10, maxMessage + 1, []byte{0, 0, 0, 0}, true
		}
		pl, hl = int(v), 10
	}
	if masked {
		if len(b) < hl+4 {
			return
		}
		mask = b[hl : hl+4 : hl+4]
		hl += 4
	}
	return fin, op, hl, pl, mask, true
}

var keyTo = []byte(`"to":"`)

// route forwards a message verbatim: to "to" when it names an endpoint,
// otherwise to every other member of the conference.
func (h *handler) route(wc *wsConn, p []byte) {
	var to []byte
	if k := bytes.Index(p, keyTo); k >= 0 {
		rest := p[k+len(keyTo):]
		if e := bytes.IndexByte(rest, '"'); e >= 0 {
			to = rest[:e]
		}
	}
	if h.s.cfg.From {
		p = withFrom(wc.loop, p, wc.ep.ID())
	}
	var hb [10]byte
	hdr := appendLen(append(hb[:0], 0x81), len(p))
	conf := wc.ep.Conference()
	if len(to) > 0 {
		if dst := conf.Endpoint(string(to)); dst != nil {
			if rc, ok := dst.Conn().(*wsConn); ok {
				rc.enqueue(hdr, p)
			}
		}
		return
	}
	for _, dst := range conf.Endpoints() {
		if dst == wc.ep {
			continue
		}
		if rc, ok := dst.Conn().(*wsConn); ok {
			rc.enqueue(hdr, p)
		}
	}
}

// withFrom returns p with "from":"<id>" as its first member, as the bridge
// sends it, built in the loop's scratch buffer (valid until the next
// message of this loop: enqueue copies it). p is a JSON object, as every
// message the load generator sends is; it is not checked.
func withFrom(ls *loopState, p []byte, id string) []byte {
	b := append(ls.scratch[:0], `{"from":"`...)
	b = append(b, id...)
	b = append(b, '"')
	if len(p) > 2 {
		b = append(b, ',')
	}
	b = append(b, p[1:]...)
	ls.scratch = b
	return b
}

// Close implements routing.Conn: expiry and replacement close the socket.
func (wc *wsConn) Close(code uint16, reason string) { _ = wc.gc.Close() }

var serverHello = []byte(`{"colibriClass":"ServerHello"}`)

// appendLen appends a server frame's payload length.
func appendLen(b []byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, byte(n))
	case n < 1<<16:
		return append(b, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
}

// enqueue appends a frame to the receiver's pending bytes and makes sure
// its loop flushes them once this round is over.
func (wc *wsConn) enqueue(hdr, p []byte) {
	ls := wc.loop
	ls.mu.Lock()
	if wc.closed || len(wc.pending) > maxPending {
		ls.mu.Unlock()
		return
	}
	wc.pending = append(append(wc.pending, hdr...), p...)
	if !wc.dirty {
		wc.dirty = true
		ls.dirty = append(ls.dirty, wc)
	}
	schedule := !ls.scheduled
	ls.scheduled = true
	ls.mu.Unlock()
	if schedule {
		_ = ls.el.Execute(context.Background(), ls.run)
	}
}

// flush writes every dirty receiver's pending bytes in one write each.
func (ls *loopState) flush(context.Context) error {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for i, wc := range ls.dirty {
		if !wc.closed && len(wc.pending) > 0 {
			_, _ = wc.gc.Write(wc.pending)
		}
		wc.pending = wc.pending[:0]
		wc.dirty = false
		ls.dirty[i] = nil
	}
	ls.dirty = ls.dirty[:0]
	ls.scheduled = false
	return nil
}
