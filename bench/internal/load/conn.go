package load

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"github.com/colibri-bus/colibri/wsproto"
)

// maxBatch bounds the frames written in one write(2) by a sender.
const maxBatch = 64

// maxFrame bounds a server frame the generator accepts.
const maxFrame = 4 << 20

// conn is one endpoint's WebSocket connection. A single reader goroutine
// owns the read side; writes from the sender goroutines and from readers
// that observe acknowledgements are serialised by wmu.
type conn struct {
	w  *worker
	g  int    // index in the worker
	id string // endpoint id
	nc net.Conn

	grp       int      // groupMain or groupFlood
	confFirst int      // index (g) of the first endpoint of this conn's conference
	next      []uint64 // per sender of the conference (g - confFirst): the next sequence number expected; reader only

	wmu sync.Mutex
	tp  *template // what this endpoint sends; nil for pure receivers
	seq uint64
	// capped bounds what this sender sends in all to left more messages
	// (a Session's Send); otherwise it sends whatever it is asked to.
	capped bool
	left   int
	wbuf   []byte
	mask   [4]byte

	record    bool  // record latency of messages received here
	responder bool  // S4: answer every message with tp, echoing t and s
	ackFor    *conn // closed loop: the sender whose progress this conn observes
	ackIdx    int   // index carried by the messages that acknowledge ackFor

	rbuf    []byte
	r, n    int // unread bytes of rbuf are rbuf[r:n]
	frag    []byte
	fragZ   bool      // the message in c.frag is compressed (RSV1 on its first frame)
	z       *inflater // non-nil when permessage-deflate was negotiated
	helloed bool
	replies []stamp
}

// dial connects to the endpoint's WebSocket URL from source address src,
// completes the opening handshake and keeps any bytes that followed it.
func (c *conn) dial(rawURL string, src net.IP, timeout time.Duration) error {
	u, err := url.Parse(rawURL)
	if err != nil {
		return err
	}
	d := net.Dialer{Timeout: timeout}
	if src != nil {
		d.LocalAddr = &net.TCPAddr{IP: src}
	}
	nc, err := d.Dial("tcp", u.Host)
	if err != nil {
		return err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c.nc = nc
	_ = nc.SetDeadline(time.Now().Add(timeout))
	if err := c.handshake(u); err != nil {
		nc.Close()
		return err
	}
	_ = nc.SetDeadline(time.Time{})
	return nil
}

// handshake sends the upgrade request (wsproto's client side, with
// Chromium's permessage-deflate offer under -deflate) and reads the 101
// response into rbuf; bytes after it are frames and stay there. Under
// -deflate a server that declines compression fails the dial: the run
// would not measure what it says.
func (c *conn) handshake(u *url.URL) error {
	key := wsproto.NewKey()
	offer := c.w.cfg.Deflate
	req := appendRequest(u.Host, u.RequestURI(), key, offer)
	if _, err := c.nc.Write(req); err != nil {
		return err
	}
	for {
		if c.n == len(c.rbuf) {
			return errors.New("handshake response too large")
		}
		m, err := c.nc.Read(c.rbuf[c.n:])
		c.n += m
		n, ext, perr := parseResponse(c.rbuf[:c.n], key, offer)
		if perr != nil {
			return fmt.Errorf("upgrade refused: %w", perr)
		}
		if n > 0 {
			if offer && ext == nil {
				return errors.New("server declined permessage-deflate (-deflate)")
			}
			if ext != nil {
				c.z = newInflater(ext)
			}
			c.r = n
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// send writes n messages stamped t0, t0+dt, … in as few writes as
// possible; a capped sender writes at most its remaining quota.
func (c *conn) send(n int, t0, dt int64) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.capped {
		n = min(n, c.left)
		c.left -= n
	}
	for n > 0 {
		b := min(n, maxBatch)
		buf := c.wbuf[:0]
		for k := 0; k < b; k++ {
			t := t0 + int64(k)*dt
			buf = c.tp.appendStamped(buf, t, c.seq)
			c.seq++
			c.w.countSent(c.grp, t)
		}
		c.wbuf = buf
		if _, err := c.nc.Write(buf); err != nil {
			return err
		}
		n -= b
		t0 += int64(b) * dt
	}
	return nil
}

// reply writes one response per stamp, echoing each stamp's t and s (S4).
// A reply is not counted as sent: a ping is, and it is expected to cause
// two deliveries (the ping, then its pong; Config.fanout).
func (c *conn) reply(st []stamp) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := c.wbuf[:0]
	for _, s := range st {
		buf = c.tp.appendStamped(buf, s.t, s.s)
	}
	c.wbuf = buf
	_, err := c.nc.Write(buf)
	return err
}

// control writes a control frame (pong, close).
func (c *conn) control(op wsproto.OpCode, payload []byte) {
	f := wsproto.AppendMaskedFrame(nil, op, true, payload, c.mask)
	c.wmu.Lock()
	_, _ = c.nc.Write(f)
	c.wmu.Unlock()
}

// readLoop parses server frames until the connection ends.
func (c *conn) readLoop() {
	defer c.w.readers.Done()
	defer func() {
		if !c.helloed {
			c.helloed = true
			c.w.hellos.Done()
		}
	}()
	now := time.Now().UnixNano()
	for {
		acks, stop := c.parse(now)
		if stop {
			return
		}
		if acks > 0 && c.w.closedLoop() {
			if err := c.ackFor.send(acks, now, 0); err != nil {
				c.w.stats[c.grp].writeErr.Add(1)
			}
		}
		if len(c.replies) > 0 {
			if err := c.reply(c.replies); err != nil {
				c.w.stats[c.grp].writeErr.Add(1)
			}
			c.replies = c.replies[:0]
		}
		if c.r > 0 { // keep the partial frame at the front: reads stay large
			c.n = copy(c.rbuf, c.rbuf[c.r:c.n])
			c.r = 0
		}
		if c.n == len(c.rbuf) {
			c.rbuf = append(c.rbuf, make([]byte, len(c.rbuf))...)
		}
		m, err := c.nc.Read(c.rbuf[c.n:])
		if err != nil {
			if !c.w.closing.Load() {
				c.w.stats[c.grp].dropped.Add(1)
			}
			return
		}
		c.n += m
		now = time.Now().UnixNano()
	}
}

// parse handles every complete frame in rbuf[r:n]; it returns the number
// of acknowledgements seen and whether the connection is finished.
func (c *conn) parse(now int64) (acks int, stop bool) {
	for {
		h, ok := parseHeader(c.rbuf[c.r:c.n])
		if !ok {
			break
		}
		if h.payLen > maxFrame {
			c.w.stats[c.grp].protoErr.Add(1)
			return acks, true
		}
		end := c.r + h.hdrLen + h.payLen
		if end > c.n {
			if need := h.hdrLen + h.payLen; need > len(c.rbuf) {
				nb := make([]byte, need)
				c.n = copy(nb, c.rbuf[c.r:c.n])
				c.r, c.rbuf = 0, nb
			}
			break
		}
		p := c.rbuf[c.r+h.hdrLen : end]
		c.r = end
		if h.masked {
			for i := range p {
				p[i] ^= h.mask[i&3]
			}
		}
		switch h.op {
		case 0x1, 0x2, 0x0:
			if h.op != 0 {
				c.fragZ = h.rsv1
			}
			if !h.fin || len(c.frag) > 0 {
				c.frag = append(c.frag, p...)
				if !h.fin {
					continue
				}
				p = c.frag
			}
			if c.fragZ {
				var err error
				if c.z == nil {
					err = errors.New("compressed frame without permessage-deflate")
				} else {
					p, err = c.z.inflate(p, maxFrame)
					c.w.stats[c.grp].inflated.Add(1)
				}
				if err != nil {
					c.w.stats[c.grp].protoErr.Add(1)
					return acks, true
				}
			}
			if c.onMessage(p, now) {
				acks++
			}
			c.frag = c.frag[:0]
		case 0x9:
			c.control(wsproto.OpPong, p)
		case 0x8:
			c.w.stats[c.grp].serverClose.Add(1)
			if len(p) >= 2 && uint16(p[0])<<8|uint16(p[1]) == 1008 {
				c.w.stats[c.grp].policyClose.Add(1)
			}
			c.control(wsproto.OpClose, p)
			return acks, true
		}
	}
	if c.r == c.n {
		c.r, c.n = 0, 0
	}
	return acks, false
}

// onMessage accounts one text message and reports whether it acknowledges
// c.ackFor's progress. A generated message counts as delivered only once:
// per sender, sequence numbers must arrive in increasing order (one TCP
// stream, one sender's messages routed in order), so a number at or below
// one already seen is a duplicate (or a reordering), and a jump past the
// next one means messages were lost.
func (c *conn) onMessage(p []byte, now int64) bool {
	w := c.w
	st, ok := scanStamp(p)
	if !ok {
		if !c.helloed && bytes.Contains(p, hello) {
			c.helloed = true
			w.hellos.Done()
		} else {
			w.stats[c.grp].other.Add(1)
		}
		return false
	}
	k := st.i - c.confFirst
	if k < 0 || k >= len(c.next) || st.i == c.g {
		w.stats[c.grp].misrouted.Add(1)
		return false
	}
	switch {
	case st.s < c.next[k]:
		w.stats[c.grp].duplicates.Add(1)
		return false
	case st.s > c.next[k]:
		w.stats[c.grp].gaps.Add(st.s - c.next[k])
	}
	c.next[k] = st.s + 1
	if d := w.stats[c.grp].delivered.Add(1); d == w.goal.Load() {
		close(w.reached)
	}
	if ph := w.phase(st.t); ph >= 0 {
		win := &w.win[ph][c.grp]
		win.delivered.Add(1)
		if c.record {
			win.hist.Record(now - st.t)
		}
	}
	if w.draining.Load() {
		select {
		case w.delivery <- struct{}{}:
		default:
		}
	}
	if w.cfg.VerifyFrom {
		w.verifyFrom(c.grp, p, st.i)
	}
	if c.responder {
		c.replies = append(c.replies, st)
	}
	return c.ackFor != nil && st.i == c.ackIdx
}
