package load

import (
	"bytes"
	"errors"
	"fmt"
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
	for _, cn := range conns {
		cn.nc.Close()
	}
	conns = conns[:0]
	if err := rc.expireEndpoints(meeting, eps); err != nil {
		return err
	}
	return rc.expire(meeting)
}

// awaitHello reads frames until a ServerHello arrives (blocking; churn only).
func (c *conn) awaitHello(timeout time.Duration) error {
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
					return err
				}
			}
			if h.op == 0x1 && bytes.Contains(p, hello) {
				return nil
			}
		}
		if c.n == len(c.rbuf) {
			if c.r == 0 {
				return errors.New("frame too large before ServerHello")
			}
			c.n = copy(c.rbuf, c.rbuf[c.r:c.n])
			c.r = 0
		}
		m, err := c.nc.Read(c.rbuf[c.n:])
		if err != nil {
			return fmt.Errorf("waiting for ServerHello: %w", err)
		}
		c.n += m
	}
}
