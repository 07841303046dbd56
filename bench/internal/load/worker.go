package load

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/hist"
)

// counters are the worker's shared tallies.
type counters struct {
	sent, sentWin           atomic.Uint64 // messages written; of those, stamped inside the window
	delivered, deliveredWin atomic.Uint64 // generated messages received; of those, stamped inside the window
	other                   atomic.Uint64 // text messages that were not generated (hellos excepted)
	fromBad, fromMissing    atomic.Uint64 // wrong or missing "from" (with VerifyFrom)
	dropped                 atomic.Uint64 // connections that ended before the run did
	serverClose             atomic.Uint64 // close frames received
	writeErr, protoErr      atomic.Uint64
	connFail                atomic.Uint64
}

// confPlan is one conference this worker creates and joins.
type confPlan struct {
	meeting string
	eps     []string
	bridge  []int // index into worker.rest, per endpoint
	first   int   // index of the first endpoint's conn
	urls    []string
}

// worker runs a share of the scenario's conferences in one process.
type worker struct {
	cfg     Config
	log     io.Writer
	rest    []*restClient
	plan    []*confPlan
	conns   []*conn
	ids     []string
	stats   counters
	hist    hist.Histogram
	winFrom atomic.Int64
	winTo   atomic.Int64
	hellos  sync.WaitGroup
	readers sync.WaitGroup
	closing atomic.Bool
	stop    atomic.Bool
}

func newWorker(cfg Config, log io.Writer) *worker {
	w := &worker{cfg: cfg, log: log}
	for i, a := range cfg.REST {
		ws := ""
		if i < len(cfg.WSAddr) {
			ws = cfg.WSAddr[i]
		}
		w.rest = append(w.rest, newRESTClient(a, ws, cfg.RESTConcurrency))
	}
	return w
}

// inWindow reports whether a message stamped t belongs to the measured window.
func (w *worker) inWindow(t int64) bool {
	from := w.winFrom.Load()
	return from != 0 && t >= from && t < w.winTo.Load()
}

func (w *worker) countSent(t int64) {
	w.stats.sent.Add(1)
	if w.inWindow(t) {
		w.stats.sentWin.Add(1)
	}
}

// closedLoop reports whether acknowledgements should trigger new sends.
func (w *worker) closedLoop() bool {
	return w.cfg.Rate == 0 && w.cfg.Window > 0 && !w.stop.Load()
}

func (w *worker) verifyFrom(p []byte, i int) {
	f, ok := scanFrom(p)
	switch {
	case !ok:
		w.stats.fromMissing.Add(1)
	case i < 0 || i >= len(w.ids) || string(f) != w.ids[i]:
		w.stats.fromBad.Add(1)
	}
}

// buildPlan names this worker's conferences and endpoints.
func (w *worker) buildPlan() {
	c := &w.cfg
	for k := 0; k < c.Confs; k++ {
		if !c.mine(k) {
			continue
		}
		p := &confPlan{meeting: fmt.Sprintf("%s-%d", c.RunID, k), first: len(w.ids)}
		for j := 0; j < c.Endpoints; j++ {
			id := fmt.Sprintf("%04x%04x", k&0xffff, j&0xffff)
			b := k % len(w.rest)
			if c.Scenario == "S5" {
				b = j % len(w.rest)
			}
			p.eps = append(p.eps, id)
			p.bridge = append(p.bridge, b)
			w.ids = append(w.ids, id)
		}
		w.plan = append(w.plan, p)
	}
}

// createConferences runs the REST creates with bounded concurrency.
func (w *worker) createConferences() error {
	sem := make(chan struct{}, w.cfg.RESTConcurrency)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, p := range w.plan {
		wg.Add(1)
		sem <- struct{}{}
		go func(p *confPlan) {
			defer func() { <-sem; wg.Done() }()
			var err error
			if w.cfg.Scenario == "S5" {
				err = w.createRelayed(p)
			} else {
				err = w.createLocal(p)
			}
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}(p)
	}
	wg.Wait()
	return first
}

func (w *worker) createLocal(p *confPlan) error {
	urls, _, err := w.rest[p.bridge[0]].create(p.meeting, p.eps, nil)
	if err != nil {
		return err
	}
	for _, e := range p.eps {
		p.urls = append(p.urls, urls[e])
	}
	return nil
}

// newConns builds every connection with its role and message template.
func (w *worker) newConns() {
	c := &w.cfg
	for _, p := range w.plan {
		for j, id := range p.eps {
			cn := &conn{w: w, g: p.first + j, id: id, rbuf: make([]byte, c.ReadBuf), record: !c.Unicast || j == 0}
			for k := range cn.mask {
				cn.mask[k] = byte(rand.Uint32())
			}
			w.conns = append(w.conns, cn)
		}
		for j := range p.eps {
			w.assignRole(p, j)
		}
	}
}

// assignRole gives conn j of conference p its template and its closed-loop duty.
func (w *worker) assignRole(p *confPlan, j int) {
	c := &w.cfg
	cn := w.conns[p.first+j]
	switch {
	case c.Unicast:
		peer := p.eps[1-j]
		msg, t, s := buildMessage(c.Class, peer, cn.g, c.Size)
		cn.tp = newTemplate(msg, t, s, cn.mask)
		if j == 0 {
			cn.ackFor, cn.ackIdx = cn, p.first+1
		} else {
			cn.responder = true
		}
	default:
		if j < c.Senders {
			msg, t, s := buildMessage(c.Class, "", cn.g, c.Size)
			cn.tp = newTemplate(msg, t, s, cn.mask)
		}
		pred := (j - 1 + len(p.eps)) % len(p.eps)
		if pred != j && pred < c.Senders {
			cn.ackFor, cn.ackIdx = w.conns[p.first+pred], p.first+pred
		}
	}
}

// srcIP spreads connections over 127.x source addresses, a distinct
// second octet per worker process.
func (w *worker) srcIP(k int) net.IP {
	k %= w.cfg.SourceIPs
	return net.IPv4(127, byte(1+w.cfg.worker), byte(k/250), byte(2+k%250))
}

// connect dials every connection with bounded concurrency and waits for
// every ServerHello (or failure). It returns the time it took.
func (w *worker) connect() time.Duration {
	t0 := time.Now()
	sem := make(chan struct{}, w.cfg.DialConcurrency)
	var wg sync.WaitGroup
	w.hellos.Add(len(w.conns))
	for _, p := range w.plan {
		for j := range p.eps {
			cn := w.conns[p.first+j]
			url := p.urls[j]
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done() }()
				if err := cn.dial(url, w.srcIP(cn.g), 15*time.Second); err != nil {
					if w.stats.connFail.Add(1) <= 3 {
						fmt.Fprintf(w.log, "dial %s: %v\n", url, err)
					}
					cn.nc = nil
					w.hellos.Done()
					return
				}
				w.readers.Add(1)
				go cn.readLoop()
			}()
		}
	}
	wg.Wait()
	done := make(chan struct{})
	go func() { w.hellos.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		fmt.Fprintln(w.log, "timed out waiting for ServerHello on every connection")
	}
	return time.Since(t0)
}

// setup creates the conferences and opens the connections.
func (w *worker) setup() (connect time.Duration, err error) {
	if w.cfg.Scenario == "S6" {
		return 0, nil
	}
	w.buildPlan()
	if err := w.createConferences(); err != nil {
		return 0, err
	}
	w.newConns()
	return w.connect(), nil
}

// close disconnects every connection and expires the conferences.
func (w *worker) close() {
	w.stop.Store(true)
	w.closing.Store(true)
	for _, c := range w.conns {
		if c.nc != nil {
			c.nc.Close()
		}
	}
	done := make(chan struct{})
	go func() { w.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
	}
	sem := make(chan struct{}, w.cfg.RESTConcurrency)
	var wg sync.WaitGroup
	for _, p := range w.plan {
		sem <- struct{}{}
		wg.Add(1)
		go func(p *confPlan) {
			defer func() { <-sem; wg.Done() }()
			seen := map[int]bool{}
			for _, b := range p.bridge {
				if !seen[b] {
					seen[b] = true
					_ = w.rest[b].expire(p.meeting)
				}
			}
		}(p)
	}
	wg.Wait()
}

// senders returns the connections that originate traffic.
func (w *worker) senders() []*conn {
	var s []*conn
	for _, c := range w.conns {
		if c.tp != nil && !c.responder && c.nc != nil {
			s = append(s, c)
		}
	}
	return s
}
