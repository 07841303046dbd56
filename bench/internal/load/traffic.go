package load

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// run drives the scenario's traffic from start, measures the window
// [start+Warmup, start+Warmup+Duration) and returns this worker's tallies.
func (w *worker) run(start time.Time) *Result {
	c := &w.cfg
	from := start.Add(c.Warmup)
	to := from.Add(c.Duration)
	w.winTo.Store(to.UnixNano())
	w.winFrom.Store(from.UnixNano())
	cpu := measureCPU(os.Getpid(), from, c.Duration)
	wait := measureWait(os.Getpid(), from, c.Duration)
	if c.Scenario == "S6" {
		r := w.churn(start, to)
		r.ClientCPUPercent, r.ClientWaitPercent = <-cpu, <-wait
		return r
	}
	time.Sleep(time.Until(start))
	done := make(chan struct{})
	go w.progress(start, to, done)
	var wg sync.WaitGroup
	if c.Scenario != "S1" {
		w.startSenders(start, &wg)
	}
	time.Sleep(time.Until(to))
	w.stop.Store(true)
	wg.Wait()
	w.drain()
	close(done)
	r := w.result()
	r.ClientCPUPercent = <-cpu
	r.ClientWaitPercent = <-wait
	return r
}

// startSenders begins open-loop, closed-loop or flood sending.
func (w *worker) startSenders(start time.Time, wg *sync.WaitGroup) {
	c := &w.cfg
	ss := w.senders()
	if len(ss) == 0 {
		return
	}
	switch c.Mode() {
	case "closed":
		now := time.Now().UnixNano()
		for _, s := range ss {
			if err := s.send(c.Window, now, 0); err != nil {
				w.stats.writeErr.Add(1)
			}
		}
	case "open":
		total := c.Confs * c.Senders
		if c.Unicast {
			total = c.Confs
		}
		per := c.Rate / float64(total)
		groups := split(ss, c.Writers)
		for gi, g := range groups {
			wg.Add(1)
			go w.openLoop(g, gi, len(groups), per, start, wg)
		}
	default:
		for _, g := range split(ss, c.Writers) {
			wg.Add(1)
			go w.flood(g, wg)
		}
	}
}

// split deals conns round-robin into at most n groups.
func split(ss []*conn, n int) [][]*conn {
	n = max(1, min(n, len(ss)))
	g := make([][]*conn, n)
	for i, s := range ss {
		g[i%n] = append(g[i%n], s)
	}
	return g
}

// openLoop sends each sender's messages on its own fixed schedule, with
// phases spread evenly. Messages carry their scheduled time, so a late
// write (server backpressure) shows up as latency instead of being hidden.
func (w *worker) openLoop(ss []*conn, gi, ng int, perSender float64, start time.Time, wg *sync.WaitGroup) {
	defer wg.Done()
	iv := int64(float64(time.Second) / perSender)
	if iv < 1 {
		iv = 1
	}
	next := make([]int64, len(ss))
	n := len(ss) * ng
	for i := range ss {
		next[i] = start.UnixNano() + iv*int64(i*ng+gi)/int64(n)
	}
	tick := time.NewTicker(w.cfg.Tick)
	defer tick.Stop()
	for !w.stop.Load() {
		now := time.Now().UnixNano()
		for i, s := range ss {
			if next[i] > now {
				continue
			}
			k := (now-next[i])/iv + 1
			if err := s.send(int(k), next[i], iv); err != nil {
				w.stats.writeErr.Add(1)
			}
			next[i] += k * iv
		}
		<-tick.C
	}
}

// flood writes batches to every sender as fast as the sockets take them.
func (w *worker) flood(ss []*conn, wg *sync.WaitGroup) {
	defer wg.Done()
	for !w.stop.Load() {
		now := time.Now().UnixNano()
		for _, s := range ss {
			if err := s.send(16, now, 0); err != nil {
				w.stats.writeErr.Add(1)
			}
		}
	}
}

// fanout is the number of deliveries one sent message should cause.
func (w *worker) fanout() uint64 {
	if w.cfg.Unicast {
		return 1
	}
	return uint64(w.cfg.Endpoints - 1)
}

// drain waits for in-flight window messages, at most Drain.
func (w *worker) drain() {
	deadline := time.Now().Add(w.cfg.Drain)
	for time.Now().Before(deadline) {
		if w.stats.deliveredWin.Load() >= w.stats.sentWin.Load()*w.fanout() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// progress prints one line per second until done.
func (w *worker) progress(start, to time.Time, done chan struct{}) {
	if w.cfg.Quiet {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var ps, pd uint64
	prefix := ""
	if w.cfg.nproc > 1 {
		prefix = fmt.Sprintf("[w%d] ", w.cfg.worker)
	}
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			s, d := w.stats.sent.Load(), w.stats.delivered.Load()
			fmt.Fprintf(w.log, "%st=%4.1fs sent/s=%-9d deliv/s=%-9d p99=%s conns-lost=%d\n",
				prefix, now.Sub(start).Seconds(), s-ps, d-pd, fmtDur(w.hist.Quantile(0.99)), w.stats.dropped.Load())
			ps, pd = s, d
		}
	}
}

// fmtDur prints nanoseconds compactly.
func fmtDur(ns int64) string {
	return time.Duration(ns).Round(time.Microsecond).String()
}
