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

// counters are one group's tallies over the whole run (every stamp).
type counters struct {
	sent, delivered      atomic.Uint64 // messages written; distinct generated messages received
	duplicates           atomic.Uint64 // a sequence number at or below one already received from that sender (duplicate or reordered)
	misrouted            atomic.Uint64 // generated messages from a sender outside the receiver's conference, or its own
	gaps                 atomic.Uint64 // sequence numbers skipped (messages lost before a later one arrived)
	other                atomic.Uint64 // text messages that were not generated (hellos excepted)
	fromBad, fromMissing atomic.Uint64 // wrong or missing "from" (with VerifyFrom)
	dropped              atomic.Uint64 // connections that ended before the run did
	serverClose          atomic.Uint64 // close frames received
	policyClose          atomic.Uint64 // of those, with code 1008 (policy violation: a sender past the inbound bound)
	writeErr, protoErr   atomic.Uint64
	inflated             atomic.Uint64 // compressed messages received (permessage-deflate)
	connFail             atomic.Uint64
}

// window is one (phase, group) share of the messages stamped inside a
// measured window: what was sent, what arrived (distinct), and latency.
type window struct {
	sent, delivered atomic.Uint64
	hist            hist.Histogram
}

// Groups and phases. Every scenario's conferences are group 0; S8's flood
// conference is group 1. Every scenario measures phase 0; S8 measures
// phase 0 without the flooder and phase 1 with it.
const (
	groupMain  = 0
	groupFlood = 1
	nGroups    = 2
	nPhases    = 2
)

// confPlan is one conference this worker creates and joins.
type confPlan struct {
	meeting string
	eps     []string
	bridge  []int // index into worker.rest, per endpoint
	first   int   // index of the first endpoint's conn
	group   int   // groupMain, or groupFlood for S8's flood conference
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
	stats   [nGroups]counters
	win     [nPhases][nGroups]window
	winFrom [nPhases]atomic.Int64 // unix ns; 0 = not yet known
	winTo   [nPhases]atomic.Int64
	// draining is set when the senders have stopped; from then on every
	// delivery inside a window signals on delivery, which drain waits on.
	draining atomic.Bool
	delivery chan struct{}
	// goal, when not 0, is the count of distinct deliveries that ends a
	// Session's Send: the delivery that reaches it closes reached.
	goal     atomic.Uint64
	reached  chan struct{}
	exchange bool // churn cycles exchange one message (Session)
	hellos   sync.WaitGroup
	readers  sync.WaitGroup
	closing  atomic.Bool
	stop     atomic.Bool
}

func newWorker(cfg Config, log io.Writer) *worker {
	w := &worker{cfg: cfg, log: log, delivery: make(chan struct{}, 1), reached: make(chan struct{})}
	for i, a := range cfg.REST {
		ws := ""
		if i < len(cfg.WSAddr) {
			ws = cfg.WSAddr[i]
		}
		w.rest = append(w.rest, newRESTClient(a, ws, cfg.RESTConcurrency))
	}
	return w
}

// phase returns the measured window a message stamped t belongs to, or -1.
func (w *worker) phase(t int64) int {
	for p := range w.winFrom {
		if from := w.winFrom[p].Load(); from != 0 && t >= from && t < w.winTo[p].Load() {
			return p
		}
	}
	return -1
}

// countSent accounts one message stamped t written by a sender of group g.
func (w *worker) countSent(g int, t int64) {
	w.stats[g].sent.Add(1)
	if p := w.phase(t); p >= 0 {
		w.win[p][g].sent.Add(1)
	}
}

// closedLoop reports whether acknowledgements should trigger new sends.
func (w *worker) closedLoop() bool {
	return w.cfg.Rate == 0 && w.cfg.Window > 0 && !w.stop.Load()
}

func (w *worker) verifyFrom(g int, p []byte, i int) {
	f, ok := scanFrom(p)
	switch {
	case !ok:
		w.stats[g].fromMissing.Add(1)
	case i < 0 || i >= len(w.ids) || string(f) != w.ids[i]:
		w.stats[g].fromBad.Add(1)
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
		if c.Scenario == "S8" && k == 0 {
			p.group = groupFlood
		}
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
			cn := &conn{w: w, g: p.first + j, id: id, rbuf: make([]byte, c.ReadBuf), record: !c.Unicast || j == 0,
				grp: p.group, confFirst: p.first, next: make([]uint64, len(p.eps))}
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
		cn.tp = c.template(buildMessage(c.Class, peer, cn.g, c.Size))(cn.mask)
		if j == 0 {
			cn.ackFor, cn.ackIdx = cn, p.first+1
		} else {
			cn.responder = true
		}
	default:
		senders := c.Senders
		if p.group == groupFlood {
			senders = 1 // the flooder; everyone else in its conference receives
		}
		if j < senders {
			cn.tp = c.template(buildMessage(c.Class, "", cn.g, c.Size))(cn.mask)
		}
		pred := (j - 1 + len(p.eps)) % len(p.eps)
		if pred != j && pred < senders {
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
					if w.stats[cn.grp].connFail.Add(1) <= 3 {
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
	d := w.connect()
	w.stageSenders()
	return d, nil
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

// senders returns the connections of group g that originate traffic.
func (w *worker) senders(g int) []*conn {
	var s []*conn
	for _, c := range w.conns {
		if c.grp == g && c.tp != nil && !c.responder && c.nc != nil {
			s = append(s, c)
		}
	}
	return s
}
