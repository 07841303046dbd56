package load

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// churn runs S6: at a fixed rate, each cycle creates a conference through
// REST, connects its endpoints, waits for every ServerHello, disconnects
// and expires the endpoints and the conference. Cycle time is recorded
// from the scheduled start, so a slow server shows up as latency.
func (w *worker) churn(start, to time.Time) *Result {
	c := &w.cfg
	rate := c.Rate / float64(max(1, c.nproc))
	iv := time.Duration(float64(time.Second) / rate)
	sem := make(chan struct{}, c.RESTConcurrency)
	var wg sync.WaitGroup
	var ok, fail, skipped atomic.Uint64
	next := start
	for k := 0; next.Before(to); k++ {
		time.Sleep(time.Until(next))
		sched := next
		next = next.Add(iv)
		select {
		case sem <- struct{}{}:
		default:
			skipped.Add(1) // behind schedule: every slot is busy
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			err := w.cycle(k)
			in := w.phase(sched.UnixNano()) == 0
			switch {
			case err != nil:
				if fail.Add(1) <= 3 {
					fmt.Fprintf(w.log, "churn cycle: %v\n", err)
				}
			case in:
				ok.Add(1)
				w.win[0][groupMain].hist.Record(time.Since(sched).Nanoseconds())
			}
		}()
	}
	wg.Wait()
	r := w.result()
	r.Cycles, r.CycleFails, r.CycleSkipped = ok.Load(), fail.Load(), skipped.Load()
	return r
}

// cycle performs one create/connect/disconnect/expire round.
func (w *worker) cycle(k int) error {
	c := &w.cfg
	meeting := fmt.Sprintf("%s-w%d-churn-%d", c.RunID, c.worker, k)
	eps := make([]string, c.Endpoints)
	for j := range eps {
		eps[j] = fmt.Sprintf("%08x", j)
	}
	rc := w.rest[k%len(w.rest)]
	urls, _, err := rc.create(meeting, eps, nil)
	if err != nil {
		return err
	}
	conns := make([]*conn, 0, len(eps))
	defer func() {
		for _, cn := range conns {
			cn.nc.Close()
		}
	}()
	for j, e := range eps {
		cn := &conn{w: w, g: j, id: e, rbuf: make([]byte, 4096)}
		if err := cn.dial(urls[e], w.srcIP(k*len(eps)+j), 10*time.Second); err != nil {
			return err
		}
		conns = append(conns, cn)
	}
	for _, cn := range conns {
		if err := cn.awaitHello(10 * time.Second); err != nil {
			return err
		}
	}
	if w.exchange {
		if err := w.exchangeOne(conns, eps); err != nil {
			return err
		}
	}
	for _, cn := range conns {
		cn.nc.Close()
	}
	conns = conns[:0]
	if err := rc.expireEndpoints(meeting, eps); err != nil {
		return err
	}
	return rc.expire(meeting)
}

// churnN runs n cycles (Session.Send of S6) as fast as the bridge
// completes them, at most RESTConcurrency at a time. A cycle's time is
// taken from its own start: nothing is scheduled, so nothing waits in a
// queue of the generator's.
func (w *worker) churnN(n int) *Result {
	sem := make(chan struct{}, w.cfg.RESTConcurrency)
	var wg sync.WaitGroup
	var ok, fail atomic.Uint64
	for k := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			t0 := time.Now()
			if err := w.cycle(k); err != nil {
				if fail.Add(1) <= 3 {
					fmt.Fprintf(w.log, "churn cycle: %v\n", err)
				}
				return
			}
			ok.Add(1)
			w.win[0][groupMain].hist.Record(time.Since(t0).Nanoseconds())
		}()
	}
	wg.Wait()
	r := w.result()
	r.Cycles, r.CycleFails = ok.Load(), fail.Load()
	return r
}

// exchangeOne has the first of a cycle's connections broadcast one
// message and checks that each other connection receives it once, with
// the sender's from, before anything else generated. Sent and delivered
// count in the main group's totals and its first window, so the run's
// completeness covers them.
func (w *worker) exchangeOne(conns []*conn, eps []string) error {
	c := &w.cfg
	s := conns[0]
	for k := range s.mask {
		s.mask[k] = byte(rand.Uint32())
	}
	s.tp = c.template(buildMessage(c.Class, "", 0, c.Size))(s.mask)
	if err := s.send(1, time.Now().UnixNano(), 0); err != nil {
		w.stats[groupMain].writeErr.Add(1)
		return err
	}
	for _, r := range conns[1:] {
		p, err := r.await(10*time.Second, func(p []byte) bool { _, ok := scanStamp(p); return ok })
		if err != nil {
			return fmt.Errorf("waiting for the cycle's message: %w", err)
		}
		st, _ := scanStamp(p)
		if st.i != 0 || st.s != 0 {
			w.stats[groupMain].misrouted.Add(1)
			return fmt.Errorf("cycle's message: sender %d, sequence %d; want 0, 0", st.i, st.s)
		}
		if f, ok := scanFrom(p); !ok || string(f) != eps[0] {
			w.stats[groupMain].fromBad.Add(1)
			return fmt.Errorf("cycle's message: from %q, want %q", f, eps[0])
		}
		w.stats[groupMain].delivered.Add(1)
		w.win[0][groupMain].delivered.Add(1)
	}
	return nil
}

// awaitHello reads frames until a ServerHello arrives (blocking; churn only).
func (c *conn) awaitHello(timeout time.Duration) error {
	_, err := c.await(timeout, func(p []byte) bool { return bytes.Contains(p, hello) })
	if err != nil {
		return fmt.Errorf("waiting for ServerHello: %w", err)
	}
	return nil
}

// await reads frames (blocking; churn only) until a text message for
// which match holds arrives, and returns it; it stays valid until the
// next read of c. Other messages are skipped.
func (c *conn) await(timeout time.Duration, match func(p []byte) bool) ([]byte, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(timeout))
	for {
		for {
			h, ok := parseHeader(c.rbuf[c.r:c.n])
			if !ok || c.r+h.hdrLen+h.payLen > c.n {
				break
			}
			p := c.rbuf[c.r+h.hdrLen : c.r+h.hdrLen+h.payLen]
			c.r += h.hdrLen + h.payLen
			if h.op == 0x1 && h.rsv1 && c.z != nil {
				var err error
				if p, err = c.z.inflate(p, maxFrame); err != nil {
					return nil, err
				}
			}
			if h.op == 0x1 && match(p) {
				return p, nil
			}
		}
		if c.n == len(c.rbuf) {
			if c.r == 0 {
				return nil, errors.New("frame larger than the read buffer")
			}
			c.n = copy(c.rbuf, c.rbuf[c.r:c.n])
			c.r = 0
		}
		m, err := c.nc.Read(c.rbuf[c.n:])
		if err != nil {
			return nil, err
		}
		c.n += m
	}
}
