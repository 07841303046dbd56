package load

import (
	"fmt"
	"io"
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
		Mode: cfg.Mode(), Class: cfg.Class, Conns: cfg.Conns(), Confs: cfg.Confs, Endpoints: cfg.Endpoints,
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
	cpu := measureCPUs(cfg.ServerPIDs, start.Add(cfg.Warmup), cfg.Duration)
	wait := measureWaits(cfg.ServerPIDs, start.Add(cfg.Warmup), cfg.Duration)
	h, err := runAll(parts, start, r)
	if err != nil {
		return nil, err
	}
	r.ServerCPUPercent = <-cpu
	r.ServerWaitPercent = <-wait
	r.ServerRSSAfter = rss(cfg.ServerPIDs)
	finish(r, &cfg, h)
	return r, nil
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
func runAll(parts []part, start time.Time, r *Result) (*hist.Histogram, error) {
	var wg sync.WaitGroup
	res := make([]*Result, len(parts))
	errs := make([]error, len(parts))
	for i, p := range parts {
		wg.Add(1)
		go func() { defer wg.Done(); res[i], errs[i] = p.run(start) }()
	}
	wg.Wait()
	h := new(hist.Histogram)
	for i := range parts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		r.merge(res[i])
		if res[i].Hist != nil {
			h.AddSnapshot(*res[i].Hist)
		}
	}
	return h, nil
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

// finish derives rates, percentiles and per-connection figures.
func finish(r *Result, c *Config, h *hist.Histogram) {
	if r.ConnectSec > 0 {
		r.ConnectRate = float64(r.Conns-int(r.ConnectFailures)) / r.ConnectSec
	}
	if r.Conns > 0 && r.ServerRSSBefore > 0 {
		r.RSSPerConn = float64(r.ServerRSSConn-r.ServerRSSBefore) / float64(r.Conns)
	}
	d := c.Duration.Seconds()
	fan := uint64(c.Endpoints - 1)
	if c.Unicast {
		fan = 1
	}
	r.ExpectedWindow = r.SentWindow * fan
	r.SentPerSec = float64(r.SentWindow) / d
	r.DeliveriesPerSec = float64(r.DeliveredWindow) / d
	if r.ServerCPUPercent > 0 {
		r.DelivPerCPUSec = r.DeliveriesPerSec / (r.ServerCPUPercent / 100)
	}
	r.CyclesPerS = float64(r.Cycles) / d
	kind := "one-way"
	switch {
	case c.Unicast:
		kind = "rtt"
	case c.Scenario == "S6":
		kind = "cycle"
	}
	r.setLatency(h, kind)
	r.Hist = nil
}
