package load

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"
)

// A Session is one scenario run in steps, for a caller that times the
// traffic apart from the setup (bench/loadbench's benchmarks): Prepare
// creates the conferences, Connect opens every connection, Send runs a
// fixed amount of traffic and judges it, Close ends the session.
//
// Where Run sends for a duration, Send sends a count: in closed loop,
// each sender sends exactly n messages, a new one each time one of its
// messages is acknowledged (Config.Window outstanding), and Send returns
// once every delivery expected has arrived, so the rate is taken over the
// whole of the traffic. A Session runs in this process (one worker) and
// supports the broadcast scenarios S2, S3 and S5, and S6's churn, whose
// cycles then also exchange one message each.
type Session struct {
	cfg  Config
	w    *worker
	used bool
}

// Prepare checks cfg (after Defaults), waits for each bridge's REST
// server, creates the conferences and builds, without dialling, every
// connection with its buffers. S6 creates nothing here: its cycles do.
func Prepare(cfg Config, log io.Writer) (*Session, error) {
	cfg.Procs = 1
	if err := cfg.Defaults(); err != nil {
		return nil, err
	}
	switch cfg.Scenario {
	case "S2", "S3", "S5":
		if cfg.Window <= 0 {
			return nil, fmt.Errorf("%s session: Window must be at least 1 (closed loop)", cfg.Scenario)
		}
		cfg.Rate = 0
	case "S6":
	default:
		return nil, fmt.Errorf("a session runs S2, S3, S5 or S6, not %s", cfg.Scenario)
	}
	cfg.nproc = 1
	for _, a := range cfg.REST {
		if err := waitReady(a, 30*time.Second); err != nil {
			return nil, err
		}
	}
	s := &Session{cfg: cfg, w: newWorker(cfg, log)}
	if cfg.Scenario == "S6" {
		s.w.exchange = true
		return s, nil
	}
	s.w.buildPlan()
	if err := s.w.createConferences(); err != nil {
		return nil, err
	}
	s.w.newConns()
	return s, nil
}

// Conns is the number of connections the session holds once connected
// (0 for S6, whose connections live for one cycle each).
func (s *Session) Conns() int { return len(s.w.conns) }

// Connect dials every connection and waits for each one's ServerHello; it
// fails if any connection failed. For S6 it does nothing.
func (s *Session) Connect() error {
	if s.cfg.Scenario == "S6" {
		return nil
	}
	s.w.connect()
	s.w.stageSenders()
	if n := s.w.stats[groupMain].connFail.Load(); n > 0 {
		return fmt.Errorf("%d of %d connections failed", n, len(s.w.conns))
	}
	return nil
}

// Send runs the traffic once and returns the result, judged as Run's
// are (Result): every sender sends n messages (S6: n cycles in all, each
// with one message), and the result is complete only if every message
// reached every receiver exactly once and every sender sent its n. It
// returns when the last expected delivery arrives, or when no delivery
// arrived for Config.Drain (then the result is incomplete). The result's
// duration is the time from the first send to the last delivery. Send
// may be called once per session.
func (s *Session) Send(n int) (*Result, error) {
	if s.used {
		return nil, errors.New("Send called twice on one session")
	}
	s.used = true
	if n < 1 {
		return nil, fmt.Errorf("Send(%d): want at least one message per sender", n)
	}
	w, c := s.w, s.cfg
	// One window, open from the start: every message counts.
	w.winTo[0].Store(math.MaxInt64)
	w.winFrom[0].Store(1)
	start := time.Now()
	var r *Result
	var want uint64 // messages that must be sent
	if c.Scenario == "S6" {
		want = uint64(n)
		r = w.churnN(n)
	} else {
		ss := w.senders(groupMain)
		if len(ss) == 0 {
			return nil, errors.New("no sender connected")
		}
		want = uint64(len(ss)) * uint64(n)
		w.goal.Store(want * c.fanout())
		for _, x := range ss {
			x.wmu.Lock()
			x.capped, x.left = true, n
			x.wmu.Unlock()
		}
		w.startSenders(ss, "closed", start, nil)
		w.awaitGoal()
		r = w.result()
	}
	elapsed := time.Since(start)
	w.stop.Store(true)

	c.Duration = elapsed
	r.Scenario, r.Server, r.Date, r.Mode = c.Scenario, c.Server, start.UTC().Format(time.RFC3339), c.Mode()
	r.Class, r.Deflate, r.Conns, r.Confs, r.Endpoints = c.Class, c.Deflate, len(w.conns), c.Confs, c.Endpoints
	r.Senders, r.MsgSize, r.Window, r.Procs, r.Duration = c.Senders, c.Size, c.Window, 1, elapsed.Seconds()
	if c.Scenario == "S6" {
		r.Conns, r.Confs = 2*n, n
	}
	finish(r, &c, []float64{0}, []int64{0})
	if r.SentWindow != want {
		why := fmt.Sprintf("%d of %d messages sent", r.SentWindow, want)
		if r.Incomplete {
			why = r.IncompleteReason + "; " + why
		} else {
			r.PartialPerSec = r.DeliveriesPerSec
		}
		r.Incomplete, r.IncompleteReason = true, why
		r.DeliveriesPerSec, r.CyclesPerS = 0, 0
	}
	return r, nil
}

// awaitGoal waits until the delivery that reaches w.goal arrives, or
// until no delivery arrived for a whole Drain.
func (w *worker) awaitGoal() {
	t := time.NewTicker(w.cfg.Drain)
	defer t.Stop()
	last := w.stats[groupMain].delivered.Load()
	for {
		select {
		case <-w.reached:
			return
		case <-t.C:
			d := w.stats[groupMain].delivered.Load()
			if d == last {
				fmt.Fprintf(w.log, "no delivery for %v: %d of %d delivered\n", w.cfg.Drain, d, w.goal.Load())
				return
			}
			last = d
		}
	}
}

// Close disconnects every connection and expires the conferences.
func (s *Session) Close() { s.w.close() }
