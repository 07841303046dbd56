package load

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// run drives the scenario's traffic from start, measures its windows
// (Config.windows) and returns this worker's tallies.
func (w *worker) run(start time.Time) *Result {
	c := &w.cfg
	wins := c.windows(start)
	for p, wd := range wins {
		w.winTo[p].Store(wd.to.UnixNano())
		w.winFrom[p].Store(wd.from.UnixNano())
	}
	end := wins[len(wins)-1].to
	cpu := measureCPU(os.Getpid(), wins[0].from, end.Sub(wins[0].from))
	wait := measureWait(os.Getpid(), wins[0].from, end.Sub(wins[0].from))
	if c.Scenario == "S6" {
		r := w.churn(start, end)
		r.ClientCPUPercent, r.ClientWaitPercent = <-cpu, <-wait
		return r
	}
	time.Sleep(time.Until(start))
	done := make(chan struct{})
	go w.progress(start, done)
	var wg sync.WaitGroup
	switch c.Scenario {
	case "S1":
	case "S8":
		// The others at their fixed rate from the start; the flooder from
		// the end of the first window on.
		w.startSenders(w.senders(groupMain), "open", start, &wg)
		time.Sleep(time.Until(wins[0].to))
		w.startSenders(w.senders(groupFlood), "flood", wins[0].to, &wg)
	default:
		w.startSenders(w.senders(groupMain), c.Mode(), start, &wg)
	}
	time.Sleep(time.Until(end))
	w.stop.Store(true)
	w.unblockWriters()
	wg.Wait()
	w.drain()
	close(done)
	r := w.result()
	r.ClientCPUPercent = <-cpu
	r.ClientWaitPercent = <-wait
	return r
}

// unblockWriters bounds the writes still blocked once the senders stop
// (a server that stopped reading a flooder): each gets Drain to finish,
// then fails, and what it carried counts as sent and undelivered.
func (w *worker) unblockWriters() {
	dl := time.Now().Add(w.cfg.Drain)
	for _, s := range w.conns {
		if s.tp != nil && s.nc != nil {
			_ = s.nc.SetWriteDeadline(dl)
		}
	}
}

// startSenders begins open-loop, closed-loop or flood sending from ss.
func (w *worker) startSenders(ss []*conn, mode string, start time.Time, wg *sync.WaitGroup) {
	c := &w.cfg
	if len(ss) == 0 {
		return
	}
	switch mode {
	case "closed":
		now := time.Now().UnixNano()
		for _, s := range ss {
			if err := s.send(c.Window, now, 0); err != nil {
				w.stats[s.grp].writeErr.Add(1)
			}
		}
	case "open":
		per := c.Rate / float64(c.openSenders())
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
				w.stats[s.grp].writeErr.Add(1)
			}
			next[i] += k * iv
		}
		<-tick.C
	}
}

// flood writes batches to every sender as fast as the sockets take them.
// A sender whose write fails (the server closed it) stops.
func (w *worker) flood(ss []*conn, wg *sync.WaitGroup) {
	defer wg.Done()
	live := append([]*conn(nil), ss...)
	for len(live) > 0 && !w.stop.Load() {
		now := time.Now().UnixNano()
		for i := 0; i < len(live); i++ {
			if err := live[i].send(16, now, 0); err != nil {
				w.stats[live[i].grp].writeErr.Add(1)
				live[i] = live[len(live)-1]
				live = live[:len(live)-1]
				i--
			}
		}
	}
}

// drain waits, at most Drain, until every message sent (inside the
// windows and outside) has reached all its receivers. It is woken by deliveries (w.delivery), not by polling;
// the target is re-read each time, since S4's responders still answer.
func (w *worker) drain() {
	w.draining.Store(true)
	t := time.NewTimer(w.cfg.Drain)
	defer t.Stop()
	fan := w.cfg.fanout()
	for {
		done := true
		for g := range w.stats {
			if w.stats[g].delivered.Load() < w.stats[g].sent.Load()*fan {
				done = false
			}
		}
		for p := range w.win {
			for g := range w.win[p] {
				if w.win[p][g].delivered.Load() < w.win[p][g].sent.Load()*fan {
					done = false
				}
			}
		}
		if done {
			return
		}
		select {
		case <-w.delivery:
		case <-t.C:
			return
		}
	}
}

// progress prints one line per second until done.
func (w *worker) progress(start time.Time, done chan struct{}) {
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
			var s, d, lost uint64
			for g := range w.stats {
				s += w.stats[g].sent.Load()
				d += w.stats[g].delivered.Load()
				lost += w.stats[g].dropped.Load()
			}
			fmt.Fprintf(w.log, "%st=%4.1fs sent/s=%-9d deliv/s=%-9d p99=%s conns-lost=%d\n",
				prefix, now.Sub(start).Seconds(), s-ps, d-pd, fmtDur(w.win[0][groupMain].hist.Quantile(0.99)), lost)
			ps, pd = s, d
		}
	}
}

// fmtDur prints nanoseconds compactly.
func fmtDur(ns int64) string {
	return time.Duration(ns).Round(time.Microsecond).String()
}
