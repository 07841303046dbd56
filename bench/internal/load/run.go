package load

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/hist"
	"github.com/colibri-bus/colibri/bench/internal/procstat"
)

// part is one share of the run: this process or a worker process.
type part interface {
	setup() (connect time.Duration, err error)
	run(start time.Time) (*Result, error)
	close() error
}

// localPart runs a worker inside this process.
type localPart struct{ w *worker }

func (p localPart) setup() (time.Duration, error)        { return p.w.setup() }
func (p localPart) run(start time.Time) (*Result, error) { return p.w.run(start), nil }
func (p localPart) close() error                         { p.w.close(); return nil }

// Run executes the scenario described by cfg (after Defaults) and
// returns the aggregated result. Progress goes to log.
func Run(cfg Config, log io.Writer) (*Result, error) {
	if err := cfg.Defaults(); err != nil {
		return nil, err
	}
	for _, a := range cfg.REST {
		if err := waitReady(a, 30*time.Second); err != nil {
			return nil, err
		}
	}
	r := &Result{Scenario: cfg.Scenario, Server: cfg.Server, Date: time.Now().UTC().Format(time.RFC3339),
		Mode: cfg.Mode(), Class: cfg.Class, Deflate: cfg.Deflate, Conns: cfg.Conns(), Confs: cfg.Confs, Endpoints: cfg.Endpoints,
		Senders: cfg.Senders, MsgSize: cfg.Size, Rate: cfg.Rate, Window: cfg.Window, Procs: cfg.Procs,
		Duration: cfg.Duration.Seconds(), ServerPIDs: cfg.ServerPIDs}
	if len(cfg.ServerPIDs) > 0 {
		r.ServerPID = cfg.ServerPIDs[0]
	}
	r.ServerRSSBefore = rss(cfg.ServerPIDs)

	parts, err := startParts(cfg, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, p := range parts {
			_ = p.close()
		}
	}()
	if err := setupAll(parts, r); err != nil {
		return nil, err
	}
	r.ServerRSSConn = rss(cfg.ServerPIDs)
	if cfg.Scenario != "S6" {
		fmt.Fprintf(log, "connected %d conns in %.2fs (%d failed)\n", r.Conns, r.ConnectSec, r.ConnectFailures)
	}

	start := time.Now().Add(100 * time.Millisecond)
	wins := cfg.windows(start)
	cpus := make([]<-chan float64, len(wins))
	ownCPU := make([]<-chan float64, len(wins)) // S8 runs in this process
	rssEnd := make([]<-chan int64, len(wins))
	for i, wd := range wins {
		cpus[i] = measureCPUs(cfg.ServerPIDs, wd.from, wd.to.Sub(wd.from))
		ownCPU[i] = measureCPU(os.Getpid(), wd.from, wd.to.Sub(wd.from))
		rssEnd[i] = rssAt(cfg.ServerPIDs, wd.to)
	}
	wait := measureWaits(cfg.ServerPIDs, wins[0].from, cfg.Duration)
	if err := runAll(parts, start, r); err != nil {
		return nil, err
	}
	phaseCPU := make([]float64, len(wins))
	phaseRSS := make([]int64, len(wins))
	phaseOwn := make([]float64, len(wins))
	for i := range wins {
		phaseCPU[i], phaseRSS[i], phaseOwn[i] = <-cpus[i], <-rssEnd[i], <-ownCPU[i]
	}
	r.ServerCPUPercent = phaseCPU[0]
	r.ServerWaitPercent = <-wait
	r.ServerRSSAfter = rss(cfg.ServerPIDs)
	finish(r, &cfg, phaseCPU, phaseRSS)
	for i := range r.Phases {
		r.Phases[i].LoadgenCPUPercent = phaseOwn[i]
	}
	return r, nil
}

// span is one measured window: messages stamped in [from, to) count.
type span struct{ from, to time.Time }

// windows returns the measured windows of a run that starts traffic at
// start: [start+Warmup, +Duration) for every scenario; S8 adds a second
// window of the same length that begins Warmup after the first ends (the
// flooder starts when the first window ends).
func (c *Config) windows(start time.Time) []span {
	from := start.Add(c.Warmup)
	ws := []span{{from, from.Add(c.Duration)}}
	if c.Scenario == "S8" {
		from2 := ws[0].to.Add(c.Warmup)
		ws = append(ws, span{from2, from2.Add(c.Duration)})
	}
	return ws
}

// startParts creates the in-process worker or the worker processes.
func startParts(cfg Config, log io.Writer) ([]part, error) {
	if cfg.Procs <= 1 {
		cfg.nproc = 1
		return []part{localPart{newWorker(cfg, log)}}, nil
	}
	var parts []part
	for i := 0; i < cfg.Procs; i++ {
		p, err := spawn(cfg, i)
		if err != nil {
			for _, q := range parts {
				_ = q.close()
			}
			return nil, err
		}
		parts = append(parts, p)
	}
	return parts, nil
}

// setupAll connects every part in parallel.
func setupAll(parts []part, r *Result) error {
	var wg sync.WaitGroup
	errs := make([]error, len(parts))
	durs := make([]time.Duration, len(parts))
	for i, p := range parts {
		wg.Add(1)
		go func() { defer wg.Done(); durs[i], errs[i] = p.setup() }()
	}
	wg.Wait()
	for i := range parts {
		if errs[i] != nil {
			return errs[i]
		}
		r.ConnectSec = max(r.ConnectSec, durs[i].Seconds())
	}
	return nil
}

// runAll runs every part from the same start and merges their results.
func runAll(parts []part, start time.Time, r *Result) error {
	var wg sync.WaitGroup
	res := make([]*Result, len(parts))
	errs := make([]error, len(parts))
	for i, p := range parts {
		wg.Add(1)
		go func() { defer wg.Done(); res[i], errs[i] = p.run(start) }()
	}
	wg.Wait()
	for i := range parts {
		if errs[i] != nil {
			return errs[i]
		}
		r.merge(res[i])
	}
	return nil
}

// measureCPU reports the server's CPU use over [from, from+d).
func measureCPU(pid int, from time.Time, d time.Duration) <-chan float64 {
	ch := make(chan float64, 1)
	go func() {
		if pid <= 0 {
			ch <- 0
			return
		}
		time.Sleep(time.Until(from))
		m := procstat.CPUMeter{Pid: pid}
		m.Start()
		time.Sleep(d)
		ch <- m.Percent()
	}()
	return ch
}

// measureWait reports the share of [from, from+d) the server's threads
// spent runnable but without a CPU (summed over threads).
func measureWait(pid int, from time.Time, d time.Duration) <-chan float64 {
	ch := make(chan float64, 1)
	go func() {
		if pid <= 0 {
			ch <- 0
			return
		}
		time.Sleep(time.Until(from))
		w0, err0 := procstat.RunDelay(pid)
		t0 := time.Now()
		time.Sleep(d)
		w1, err1 := procstat.RunDelay(pid)
		if err0 != nil || err1 != nil {
			ch <- 0
			return
		}
		ch <- 100 * float64(w1-w0) / float64(time.Since(t0))
	}()
	return ch
}

// measureCPUs and measureWaits sum measureCPU and measureWait over pids.
func measureCPUs(pids []int, from time.Time, d time.Duration) <-chan float64 {
	return sum(pids, func(pid int) <-chan float64 { return measureCPU(pid, from, d) })
}

func measureWaits(pids []int, from time.Time, d time.Duration) <-chan float64 {
	return sum(pids, func(pid int) <-chan float64 { return measureWait(pid, from, d) })
}

func sum(pids []int, f func(int) <-chan float64) <-chan float64 {
	chs := make([]<-chan float64, len(pids))
	for i, p := range pids {
		chs[i] = f(p)
	}
	out := make(chan float64, 1)
	go func() {
		t := 0.0
		for _, c := range chs {
			t += <-c
		}
		out <- t
	}()
	return out
}

// rssAt samples the summed resident set of pids at time t.
func rssAt(pids []int, t time.Time) <-chan int64 {
	ch := make(chan int64, 1)
	go func() {
		time.Sleep(time.Until(t))
		ch <- rss(pids)
	}()
	return ch
}

// rss sums the resident set of pids.
func rss(pids []int) int64 {
	var t int64
	for _, pid := range pids {
		if pid > 0 {
			v, _ := procstat.RSS(pid)
			t += v
		}
	}
	return t
}

// finish checks completeness, then derives rates, percentiles and
// per-connection figures; an incomplete run gets no rate (see Result).
func finish(r *Result, c *Config, phaseCPU []float64, phaseRSS []int64) {
	for len(r.Tallies) < nGroups {
		r.Tallies = append(r.Tallies, Tally{})
	}
	main, flood := r.Tallies[groupMain], r.Tallies[groupFlood]
	fan := c.fanout()
	kind := "one-way"
	switch {
	case c.Unicast:
		kind = "rtt"
	case c.Scenario == "S6":
		kind = "cycle"
	}
	d := c.Duration.Seconds()

	r.Sent, r.Delivered = main.Sent, main.Delivered
	r.Duplicates, r.Misrouted, r.SeqGaps = main.Duplicates, main.Misrouted, main.Gaps
	r.Other, r.FromBad, r.FromMissing = main.Other, main.FromBad, main.FromMissing
	r.ServerClose, r.PolicyCloses, r.WriteErrors = main.ServerClose, main.PolicyClose, main.WriteErrors
	r.ConnectFailures = main.ConnFail + flood.ConnFail
	r.ConnsLost = main.Dropped
	r.Inflated = main.Inflated
	var all hist.Histogram
	for p := range phaseCPU {
		r.SentWindow += main.Win[p].Sent
		r.DeliveredWindow += main.Win[p].Delivered
		all.AddSnapshot(main.Win[p].Hist)
	}
	r.ExpectedWindow = r.SentWindow * fan
	r.MissingWindow = r.ExpectedWindow - min(r.DeliveredWindow, r.ExpectedWindow)
	r.Latency = latency(all.Snapshot(), kind)

	why := completeness(r.DeliveredWindow, r.ExpectedWindow, main, fan, r.Mode != "idle" && r.Mode != "churn")
	if r.Mode == "churn" && r.CycleFails > 0 {
		why = append(why, fmt.Sprintf("%d churn cycles failed", r.CycleFails))
	}
	if len(why) > 0 {
		r.Incomplete, r.IncompleteReason = true, strings.Join(why, "; ")
	}

	if r.ConnectSec > 0 {
		r.ConnectRate = float64(r.Conns-int(r.ConnectFailures)) / r.ConnectSec
	}
	if r.Conns > 0 && r.ServerRSSBefore > 0 && r.ConnectFailures == 0 {
		r.RSSPerConn = float64(r.ServerRSSConn-r.ServerRSSBefore) / float64(r.Conns)
	}
	span := d * float64(len(phaseCPU))
	r.SentPerSec = float64(r.SentWindow) / span
	rate := float64(r.DeliveredWindow) / span
	r.CyclesPerS = float64(r.Cycles) / d
	if r.Incomplete {
		r.PartialPerSec = rate
		if r.Mode == "churn" {
			r.PartialPerSec, r.CyclesPerS = r.CyclesPerS, 0
		}
	} else {
		r.DeliveriesPerSec = rate
		if r.ServerCPUPercent > 0 {
			r.DelivPerCPUSec = r.DeliveriesPerSec / (r.ServerCPUPercent / 100)
		}
	}
	if c.Scenario == "S8" {
		r.Phases = phases(main, flood, fan, d, kind, phaseCPU, phaseRSS)
	}
	r.Tallies = nil
}

// completeness lists what keeps a group's run from being complete:
// deliveries short of the expected count (inside the window, and over the
// whole run: a closed loop that lost a message during the warm-up stalls
// and sends nothing in the window), no message at all in the window when
// traffic was due, duplicates, misrouted messages, connections that
// failed, were lost or were closed by the server, write errors and wrong
// "from" fields. Empty means complete.
func completeness(delivered, expected uint64, t Tally, fan uint64, traffic bool) []string {
	var why []string
	if traffic && expected == 0 {
		why = append(why, "no message was sent inside the window")
	}
	if all := t.Sent * fan; t.Delivered < all {
		why = append(why, fmt.Sprintf("%d of %d deliveries over the whole run (warm-up and drain included) missing", all-t.Delivered, all))
	}
	if delivered < expected {
		why = append(why, fmt.Sprintf("incomplete: %d of %d delivered (%d missing; %d sequence numbers skipped over the whole run)",
			delivered, expected, expected-delivered, t.Gaps))
	}
	add := func(n uint64, what string) {
		if n > 0 {
			why = append(why, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(t.Duplicates, "duplicate or reordered deliveries")
	add(t.Misrouted, "misrouted deliveries (sender outside the conference, or the receiver itself)")
	add(t.ConnFail, "connections failed")
	add(t.Dropped, "connections lost")
	add(t.ServerClose, fmt.Sprintf("connections closed by the server (%d with 1008)", t.PolicyClose))
	add(t.WriteErrors, "write or protocol errors")
	add(t.FromBad, "deliveries with a wrong from")
	add(t.FromMissing, "deliveries without from")
	return why
}

// phases describes S8's two windows: the ordinary conferences' traffic
// and the flooder's, each judged for completeness on its own. A flooder
// closed with 1008 is reported as such: that is the bridge bounding an
// abusive sender, not a failure of the others.
func phases(main, flood Tally, fan uint64, d float64, kind string, cpu []float64, rssEnd []int64) []Phase {
	names := []string{"without flooder", "with flooder"}
	var out []Phase
	for p := range cpu {
		w, f := main.Win[p], flood.Win[p]
		ph := Phase{Name: names[p], SentWindow: w.Sent, DeliveredWindow: w.Delivered, ExpectedWindow: w.Sent * fan,
			Latency: latency(w.Hist, kind), ServerCPUPercent: cpu[p], ServerRSS: rssEnd[p]}
		if why := completeness(ph.DeliveredWindow, ph.ExpectedWindow, main, fan, true); len(why) > 0 {
			ph.Incomplete, ph.IncompleteReason = true, strings.Join(why, "; ")
		} else {
			ph.DeliveriesPerSec = float64(w.Delivered) / d
		}
		if p == 1 {
			ph.FloodSent, ph.FloodDelivered, ph.FloodExpected = f.Sent, f.Delivered, f.Sent*fan
			ph.FloodClosed1008 = flood.PolicyClose > 0
			if why := completeness(f.Delivered, f.Sent*fan, flood, fan, true); len(why) > 0 {
				ph.FloodIncomplete = strings.Join(why, "; ")
			} else {
				ph.FloodPerSec = float64(f.Delivered) / d
			}
		}
		out = append(out, ph)
	}
	return out
}
