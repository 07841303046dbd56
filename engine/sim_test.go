package engine

import (
	"encoding/json"
	"fmt"
	"github.com/colibri-bus/colibri/internal/route"
	"github.com/colibri-bus/colibri/routing"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/colibri-bus/colibri/config"
)

// A deterministic simulation of the engine (design.md, testing layer 0).
// The engine's real connection code runs on simulated sockets, a
// simulated clock and several simulated loops (simnet_test.go); a seeded
// scheduler picks, one step at a time, what happens next: a loop runs a
// task or a round, a socket becomes readable or writable, a client reads,
// sends, stalls, resets, replaces its socket or breaks the protocol, the
// clock ticks, an endpoint expires. The same seed gives the same run. The
// invariants are checked as the clients read and once the run is quiet
// (simcheck_test.go). Learnt from FoundationDB's simulation and
// TigerBeetle's VOPR: one thread, every source of nondeterminism behind
// the seed, faults injected as ordinary steps, and a failing run replayed
// and shrunk from its recorded steps.

// sim is one run.
type sim struct {
	seed     uint64
	rng      *rand.Rand
	knobs    simKnobs
	now      int64
	e        *Engine
	table    *route.Table
	conf     *route.Conference
	loops    []*simLoop
	eps      []*simEndpoint
	conns    []*simConn
	sent     map[msgKey]*sentMsg
	writes   int // first writes to sockets so far (simConn.order)
	embedded int // messages the embedder sent
	// embedding is set while the embedder sends; its puts onto the loops
	// wait in embedderFlight, oldest first, until a step lands them.
	embedding      bool
	embedderFlight []func()
	seen           struct {
		routed, control, notCurrent, duplicate, accepted uint64 // what observe saw
	}
	cur    *simLoop              // the loop whose callback runs now; nil off the loops
	flight map[*simLoop][]func() // puts a loop made onto other loops' inboxes that have not landed

	trace   []simStep // the steps taken, for replay and shrinking
	replay  []simStep // when set, the steps to take instead of drawing them
	quiet   bool      // the run phase is over: no new client actions
	verbose bool      // print each step (-sim.file)
	err     error     // the first invariant that failed
}

// simKnobs are the run's dimensions, drawn from the seed. The limits are
// the defaults but for the outbound budget, scaled down so that a slow
// reader crosses it (and 4x it) within a few hundred messages.
type simKnobs struct {
	loops, endpoints int
	steps            int
	budget           int
	kernel           [2]int // the range of a socket's kernel buffer
	urgentCap        int    // gnet's urgent queue threshold
	padding          int    // the largest padding of a message
	mailbox          bool
	mailboxBytes     int           // the default, or small enough to overflow
	mailboxAge       time.Duration // the default, or short enough to age within a run
	relay            bool          // the conference has a relay to another bridge
	deflate          bool          // the endpoints' clients offer permessage-deflate, as browsers do
	resume           bool          // this bridge has the relay resume extension
	remoteResume     bool          // the other bridge has it
}

func drawKnobs(r *rand.Rand) simKnobs {
	k := simKnobs{
		loops:     1 + r.IntN(3),
		endpoints: 2 + r.IntN(4),
		steps:     150 + r.IntN(500),
		budget:    []int{2 << 10, 4 << 10, 16 << 10}[r.IntN(3)],
		urgentCap: []int{1, 2, 1024}[r.IntN(3)],
		padding:   []int{8, 200, 1500}[r.IntN(3)],
		mailbox:   r.IntN(8) != 0,
		relay:     r.IntN(2) == 0,
		resume:    r.IntN(6) != 0,
	}
	k.remoteResume = r.IntN(6) != 0
	k.mailboxBytes = []int{256 << 10, 256 << 10, 256 << 10, 2 << 10}[r.IntN(4)]
	k.deflate = r.IntN(3) == 0
	k.mailboxAge = []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second, 3 * time.Second}[r.IntN(4)]
	k.kernel = [2]int{64, 64 + r.IntN(4096)}
	return k
}

// String writes the knobs as a schedule file's knobs line.
func (k simKnobs) String() string {
	return fmt.Sprintf("loops=%d endpoints=%d steps=%d budget=%d kernel=%d-%d urgent=%d padding=%d mailbox=%v "+
		"mailbox-bytes=%d mailbox-age=%v relay=%v deflate=%v resume=%v remote-resume=%v",
		k.loops, k.endpoints, k.steps, k.budget, k.kernel[0], k.kernel[1], k.urgentCap, k.padding, k.mailbox,
		k.mailboxBytes, k.mailboxAge, k.relay, k.deflate, k.resume, k.remoteResume)
}

// parseKnobs reads what String writes.
func parseKnobs(line string) (simKnobs, error) {
	var k simKnobs
	var age string
	_, err := fmt.Sscanf(line, "loops=%d endpoints=%d steps=%d budget=%d kernel=%d-%d urgent=%d padding=%d mailbox=%t "+
		"mailbox-bytes=%d mailbox-age=%s relay=%t deflate=%t resume=%t remote-resume=%t",
		&k.loops, &k.endpoints, &k.steps, &k.budget, &k.kernel[0], &k.kernel[1], &k.urgentCap, &k.padding, &k.mailbox,
		&k.mailboxBytes, &age, &k.relay, &k.deflate, &k.resume, &k.remoteResume)
	if err == nil {
		k.mailboxAge, err = time.ParseDuration(age)
	}
	return k, err
}

// newSim builds the engine for seed: its knobs drawn from the seed, or
// the ones given (a schedule file's), and the steps to replay if any.
func newSim(seed uint64, knobs *simKnobs, replay []simStep) *sim {
	s := &sim{seed: seed, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), sent: map[msgKey]*sentMsg{}, replay: replay}
	s.knobs = drawKnobs(s.rng)
	if knobs != nil {
		s.knobs = *knobs
	}
	cfg := config.Default()
	cfg.Limits.OutboundBudget = s.knobs.budget
	cfg.Limits.MailboxBytes, cfg.Limits.MailboxAge = s.knobs.mailboxBytes, s.knobs.mailboxAge
	if !s.knobs.mailbox {
		cfg.Limits.MailboxBytes = 0
	}
	cfg.Relay.Resume = s.knobs.resume
	s.table = route.NewTable(route.LimitsOf(cfg.Limits))
	s.table.SetClock(func() int64 { return s.now })
	s.e = New(cfg, Options{})
	serveColibri(s.e, s.table, routing.Hooks{})
	s.e.clock = func() int64 { return s.now }
	s.e.observe = s.observe
	s.flight = map[*simLoop][]func(){}
	s.e.inFlight = func(put func()) {
		switch {
		case s.embedding:
			// The embedder's goroutine is preempted before its put, and
			// may stay so while the loops go on: nothing waits for it.
			s.embedderFlight = append(s.embedderFlight, put)
		case s.cur == nil:
			put() // off the loops: REST puts at once
		default:
			s.flight[s.cur] = append(s.flight[s.cur], put)
		}
	}
	list := []*loop{}
	for i := range s.knobs.loops {
		sl := &simLoop{s: s, idx: i, urgentCap: s.knobs.urgentCap}
		l := newLoop(s.e, sl, i)
		l.bell = &simBell{l: l}
		sl.l = l
		s.e.loops[sl] = l
		list = append(list, l)
		s.loops = append(s.loops, sl)
	}
	s.e.loopList.Store(&list)
	conf, err := s.table.CreateConference("sim", "sim")
	if err != nil {
		panic(err)
	}
	s.conf = conf
	for i := range s.knobs.endpoints {
		id := fmt.Sprintf("e%d", i)
		ep, err := conf.CreateEndpoint(id, routing.EndpointOptions{})
		if err != nil {
			panic(err)
		}
		s.eps = append(s.eps, &simEndpoint{s: s, idx: i, id: id, ep: &ep.Peer})
	}
	if s.knobs.relay {
		r, err := conf.CreateRelay("r1", "0")
		if err == nil {
			err = conf.SetRelayEndpoints("r1", []string{remoteEndpoint}, nil)
		}
		if err != nil {
			panic(err)
		}
		s.eps = append(s.eps, &simEndpoint{s: s, idx: len(s.eps), id: "r1", ep: &r.Peer,
			rel: &simRelay{resume: s.knobs.remoteResume, link: "remote-link"}})
	}
	return s
}

func (s *sim) failf(format string, args ...any) {
	if s.err == nil {
		s.err = fmt.Errorf("step %d: "+format, append([]any{len(s.trace)}, args...)...)
	}
}

func (s *sim) kernelCap() int {
	return s.knobs.kernel[0] + s.rng.IntN(s.knobs.kernel[1]-s.knobs.kernel[0]+1)
}

func (s *sim) padding(n int) int { return (n * 37) % (s.knobs.padding + 1) }

// observe sees every text message the engine is about to route: one read
// on the peer's current socket is accepted, and its receivers are the
// conference's other endpoints now (or the one it names).
func (s *sim) observe(c *conn, text []byte) {
	var m struct {
		Class string `json:"colibriClass"`
		To    string `json:"to"`
		S     string `json:"s"`
		N     int    `json:"n"`
	}
	s.seen.routed++
	if json.Unmarshal(text, &m) != nil || m.S == "" {
		s.seen.control++ // the other bridge's RelayAck
		return
	}
	sm := s.sent[msgKey{m.S, m.N}]
	if sm == nil {
		s.failf("routed a message nobody sent: %s", text)
		return
	}
	if c.peer.Conn() != c {
		s.seen.notCurrent++
		return // read on a replaced socket: dropped, not_current
	}
	if sm.accepted {
		if c.peer.Kind() != route.PeerRelay {
			s.failf("%s read twice", msgKey{m.S, m.N})
		}
		s.seen.duplicate++
		return // a relay's replay of what was accepted: a duplicate, dropped
	}
	s.seen.accepted++
	sm.accepted = true
	for _, ep := range s.conf.Endpoints() {
		if ep.ID() != m.S && (m.To == "" || m.To == ep.ID()) {
			sm.for_ = append(sm.for_, ep.ID())
		}
	}
	if c.peer.Kind() == route.PeerRelay {
		return // a relay's messages go to local endpoints only
	}
	for _, r := range s.conf.Relays() {
		// A relay that never had a socket keeps nothing (documented):
		// its messages are dropped, no_connection.
		if (r.Conn() != nil || r.Ghost() != nil) && (m.To == "" || has(r.Endpoints(), m.To)) {
			sm.for_ = append(sm.for_, r.ID())
		}
	}
}

// simStep is one step of a run. Its fields name what it acts on by
// endpoint and socket generation, so that a shrunk trace still means the
// same thing: a step that no longer applies is skipped.
type simStep struct {
	kind    stepKind
	loop    int
	ep, gen int
	n       int    // bytes, or the receiver's index (-1: everyone)
	class   string // of a message sent
}

type stepKind uint8

const (
	stepTask     stepKind = iota // a loop runs its next task
	stepRound                    // a loop runs the round its bell asked for
	stepReadable                 // a socket's bytes arrive (n of them) and the loop reads
	stepWritable                 // the kernel takes what gnet holds for a socket
	stepRead                     // a client reads n bytes
	stepTick                     // the clock moves one tick; every loop sweeps
	stepConnect                  // a client opens a new socket on loop
	stepSend                     // a client sends a message on its newest socket
	stepReset                    // a client resets a socket
	stepClose                    // a client starts the closing handshake
	stepGarbage                  // a client breaks the protocol
	stepStall                    // a client stops reading a socket
	stepUnstall                  // a client reads again
	stepExpire                   // the endpoint is expired (REST)
	stepAck                      // the other bridge acknowledges what it read
	stepLand                     // a put a loop made onto another loop's inbox lands
	stepEmbed                    // the embedder sends from its own goroutine: to one endpoint, or to everyone
	stepArrive                   // the embedder's oldest put onto a loop lands
)

var stepNames = [...]string{"task", "round", "readable", "writable", "read", "tick", "connect", "send",
	"reset", "close", "garbage", "stall", "unstall", "expire", "ack", "land", "embed", "arrive"}

func (st simStep) String() string {
	var b strings.Builder
	b.WriteString(stepNames[st.kind])
	switch st.kind {
	case stepTask, stepRound, stepLand:
		fmt.Fprintf(&b, " loop%d", st.loop)
	case stepTick, stepArrive:
	case stepConnect:
		fmt.Fprintf(&b, " e%d on loop%d kernel %d", st.ep, st.loop, st.n)
	case stepExpire:
		fmt.Fprintf(&b, " e%d", st.ep)
	case stepEmbed:
		if st.ep < 0 {
			b.WriteString(" to everyone")
		} else {
			fmt.Fprintf(&b, " to e%d", st.ep)
		}
	case stepSend:
		to := "everyone"
		if st.n >= 0 {
			to = fmt.Sprintf("e%d", st.n)
		}
		fmt.Fprintf(&b, " e%d/%d %s to %s", st.ep, st.gen, st.class, to)
	default:
		fmt.Fprintf(&b, " e%d/%d", st.ep, st.gen)
		if st.kind == stepReadable || st.kind == stepRead {
			fmt.Fprintf(&b, " %dB", st.n)
		}
	}
	return b.String()
}

// socket returns the socket a step names, or nil.
func (s *sim) socket(ep, gen int) *simSocket {
	if ep < 0 || ep >= len(s.eps) || gen < 0 || gen >= len(s.eps[ep].sockets) {
		return nil
	}
	return s.eps[ep].sockets[gen]
}

// apply takes one step; it reports false when the step does not apply.
func (s *sim) apply(st simStep) bool {
	if s.verbose {
		fmt.Println("step", len(s.trace), st)
	}
	switch st.kind {
	case stepTask:
		if st.loop >= len(s.loops) || s.loops[st.loop].tasks() == 0 {
			return false
		}
		s.on(s.loops[st.loop], func() { s.loops[st.loop].runTask() })
		return true
	case stepRound:
		if st.loop >= len(s.loops) {
			return false
		}
		b := s.loops[st.loop].l.bell.(*simBell)
		if !b.rung {
			return false
		}
		b.rung = false
		s.on(s.loops[st.loop], b.l.resume)
		return true
	case stepLand:
		if st.loop >= len(s.loops) || len(s.flight[s.loops[st.loop]]) == 0 {
			return false
		}
		sl := s.loops[st.loop]
		put := s.flight[sl][0]
		s.flight[sl] = s.flight[sl][1:]
		put()
		return true
	case stepTick:
		s.now += int64(s.e.tick)
		now := s.now
		for _, sl := range s.loops {
			l := sl.l
			l.execute(func() { l.sweep(now) })
		}
		return true
	case stepConnect:
		if st.ep >= len(s.eps) || st.loop >= len(s.loops) || s.eps[st.ep].expired {
			return false
		}
		s.eps[st.ep].connect(s.loops[st.loop], st.n)
		return true
	case stepEmbed:
		return s.embed(st.ep)
	case stepArrive:
		if len(s.embedderFlight) == 0 {
			return false
		}
		put := s.embedderFlight[0]
		s.embedderFlight = s.embedderFlight[1:]
		put()
		return true
	case stepExpire:
		if st.ep >= len(s.eps) || s.eps[st.ep].expired {
			return false
		}
		ep := s.eps[st.ep]
		ep.expired = true
		if ep.rel != nil {
			s.conf.ExpireRelay(ep.id)
		} else {
			s.conf.ExpireEndpoint(ep.id)
		}
		return true
	}
	sk := s.socket(st.ep, st.gen)
	if sk == nil {
		return false
	}
	sc := sk.sc
	switch st.kind {
	case stepReadable:
		if !sc.opened || sc.closed || !(len(sc.wire) > 0 || sc.reset || sk.finSent) {
			return false
		}
		s.on(sc.sl, func() { sc.readable(max(st.n, 1)) })
	case stepWritable:
		if sc.closed || sc.reset || len(sc.out) == 0 || len(sc.kern) >= sc.kcap {
			return false
		}
		sc.writable()
	case stepRead:
		if sk.done || sk.stalled && !s.quiet || len(sc.kern) == 0 && !sc.fin {
			return false
		}
		sk.read(max(st.n, 1))
	case stepSend:
		if !sk.usable() || sk != sk.ep.current() || sk.ep.expired {
			return false
		}
		to := ""
		if st.n >= 0 && st.n < len(s.eps) && st.n != st.ep {
			to = s.eps[st.n].addr()
		}
		sk.send(st.class, to)
	case stepAck:
		if !sk.usable() || sk.ep.rel == nil {
			return false
		}
		sk.relayAck()
	case stepReset:
		if sk.done || !sc.opened {
			return false
		}
		sk.resetConn()
	case stepClose:
		if !sk.usable() {
			return false
		}
		sk.closeFrame(1000)
	case stepGarbage:
		if !sk.usable() {
			return false
		}
		sk.garbage()
	case stepStall:
		if sk.done || sk.stalled {
			return false
		}
		sk.stalled = true
	case stepUnstall:
		if !sk.stalled {
			return false
		}
		sk.stalled = false
	}
	return true
}

// on runs a callback on loop sl: what sl put on other loops' inboxes in its
// last callback has landed first.
func (s *sim) on(sl *simLoop, callback func()) {
	for len(s.flight[sl]) > 0 {
		put := s.flight[sl][0]
		s.flight[sl] = s.flight[sl][1:]
		put()
	}
	s.cur = sl
	defer func() { s.cur = nil }()
	callback()
}

// choice is one step the scheduler may take, with its weight.
type choice struct {
	w  int
	st simStep
}

// choices lists the steps that apply now.
func (s *sim) choices() []choice {
	var cs []choice
	add := func(w int, st simStep) { cs = append(cs, choice{w, st}) }
	for i, sl := range s.loops {
		if sl.tasks() > 0 {
			add(10, simStep{kind: stepTask, loop: i})
		}
		if sl.l.bell.(*simBell).rung {
			add(4, simStep{kind: stepRound, loop: i})
		}
		if len(s.flight[sl]) > 0 {
			add(8, simStep{kind: stepLand, loop: i})
		}
	}
	if len(s.embedderFlight) > 0 {
		add(8, simStep{kind: stepArrive})
	}
	for _, ep := range s.eps {
		for _, sk := range ep.sockets {
			sc := sk.sc
			if sc.opened && !sc.closed && (len(sc.wire) > 0 || sc.reset || sk.finSent) {
				n := len(sc.wire)
				if n > 1 && s.rng.IntN(3) == 0 {
					n = 1 + s.rng.IntN(n)
				}
				add(8, simStep{kind: stepReadable, ep: ep.idx, gen: sk.gen, n: n})
			}
			if !sc.closed && !sc.reset && len(sc.out) > 0 && len(sc.kern) < sc.kcap {
				add(4, simStep{kind: stepWritable, ep: ep.idx, gen: sk.gen})
			}
			if !sk.done && (!sk.stalled || s.quiet) && (len(sc.kern) > 0 || sc.fin) {
				add(6, simStep{kind: stepRead, ep: ep.idx, gen: sk.gen, n: 1 + s.rng.IntN(max(len(sc.kern), 1))})
			}
		}
	}
	if s.quiet {
		return cs
	}
	add(1, simStep{kind: stepTick})
	if s.rng.IntN(4) == 0 {
		to := s.rng.IntN(len(s.eps)+1) - 1
		add(2, simStep{kind: stepEmbed, ep: to})
	}
	for _, ep := range s.eps {
		if ep.expired {
			continue
		}
		live := 0
		for _, sk := range ep.sockets {
			if !sk.done {
				live++
			}
		}
		// The other bridge dials as the engine's dialler does: a new
		// socket only once it is done with the last one (relay.go).
		if live < 3 && (ep.rel == nil || live == 0) {
			w := 1
			if live == 0 {
				w = 6
			}
			add(w, simStep{kind: stepConnect, ep: ep.idx, loop: s.rng.IntN(len(s.loops)), n: s.kernelCap()})
		}
		if s.rng.IntN(200) == 0 {
			add(1, simStep{kind: stepExpire, ep: ep.idx})
		}
		sk := ep.current()
		if sk == nil {
			continue
		}
		if sk.usable() {
			to := -1
			if s.rng.IntN(3) != 0 {
				to = s.rng.IntN(len(s.eps))
				if to == ep.idx {
					to = -1
				}
			}
			class := "EndpointMessage"
			if s.rng.IntN(6) == 0 && ep.rel == nil {
				class = "EndpointStats"
				to = -1
			}
			if ep.rel != nil && sk.sc.opened && s.rng.IntN(8) == 0 {
				add(2, simStep{kind: stepAck, ep: ep.idx, gen: sk.gen})
			}
			add(14, simStep{kind: stepSend, ep: ep.idx, gen: sk.gen, n: to, class: class})
			if s.rng.IntN(30) == 0 {
				add(1, simStep{kind: stepClose, ep: ep.idx, gen: sk.gen})
			}
			if s.rng.IntN(60) == 0 {
				add(1, simStep{kind: stepGarbage, ep: ep.idx, gen: sk.gen})
			}
		}
		for _, old := range ep.sockets {
			if old.done || !old.sc.opened {
				continue
			}
			if s.rng.IntN(25) == 0 {
				add(1, simStep{kind: stepReset, ep: ep.idx, gen: old.gen})
			}
			if !old.stalled && s.rng.IntN(10) == 0 {
				add(1, simStep{kind: stepStall, ep: ep.idx, gen: old.gen})
			}
			if old.stalled {
				add(1, simStep{kind: stepUnstall, ep: ep.idx, gen: old.gen})
			}
		}
	}
	return cs
}

// pick draws one of cs by weight.
func (s *sim) pick(cs []choice) simStep {
	total := 0
	for _, c := range cs {
		total += c.w
	}
	x := s.rng.IntN(total)
	for _, c := range cs {
		if x < c.w {
			return c.st
		}
		x -= c.w
	}
	return cs[len(cs)-1].st
}

// run takes the run's steps, then brings it to quiet: every endpoint
// that is not expired reconnects once more if it has to and reads
// everything, and the clock ticks until every socket is settled. It
// returns the first invariant that failed.
func (s *sim) run() error {
	if s.replay != nil {
		for _, st := range s.replay {
			if s.err != nil {
				break
			}
			if s.apply(st) {
				s.trace = append(s.trace, st)
				s.checkBounds()
			}
		}
	} else {
		s.steps(s.knobs.steps)
	}
	if s.err == nil {
		s.settle()
	}
	if s.err == nil {
		s.check()
	}
	return s.err
}

// settle ends the run: no new traffic; each endpoint that is not expired
// gets a socket it can read, and the steps run until nothing is left to
// do but ticks, and the ticks until every connection settled.
func (s *sim) settle() {
	s.quiet = true
	for _, ep := range s.eps {
		for _, sk := range ep.sockets {
			sk.stalled = false
		}
	}
	reconnected := map[*simEndpoint]bool{}
	for round := 0; round < 64 && s.err == nil; round++ {
		s.drain()
		settled := true
		for _, ep := range s.eps {
			if ep.expired {
				continue
			}
			sk := ep.current()
			if sk != nil && !sk.usable() && !sk.done && ep.rel != nil && !reconnected[ep] {
				st := simStep{kind: stepReset, ep: ep.idx, gen: sk.gen} // the other bridge gives up on it
				s.apply(st)
				s.trace = append(s.trace, st)
			}
			if sk == nil || !sk.usable() {
				if !reconnected[ep] || sk == nil || sk.done {
					reconnected[ep] = true
					st := simStep{kind: stepConnect, ep: ep.idx, loop: ep.idx % len(s.loops), n: s.kernelCap()}
					s.apply(st)
					s.trace = append(s.trace, st)
				}
				settled = false
			}
		}
		if settled && s.connsSettled() {
			return
		}
		st := simStep{kind: stepTick}
		s.apply(st)
		s.trace = append(s.trace, st)
	}
	if s.err == nil {
		s.failf("the run does not settle: %s", s.unsettled())
	}
}

// drain takes steps until none applies (quiet: no client actions).
func (s *sim) drain() { s.steps(200000) }

// steps takes up to n steps drawn by the scheduler, fewer when none
// applies or an invariant failed.
func (s *sim) steps(n int) {
	for i := 0; i < n && s.err == nil; i++ {
		cs := s.choices()
		if len(cs) == 0 {
			return
		}
		st := s.pick(cs)
		if s.apply(st) {
			s.trace = append(s.trace, st)
			s.checkBounds()
		}
	}
}

// connsSettled reports whether every connection the engine still has is
// an open socket that is its peer's current one, with nothing held.
func (s *sim) connsSettled() bool {
	for _, sl := range s.loops {
		for _, c := range sl.l.conns {
			if c.state != stOpen || c.peer == nil || c.peer.Conn() != c {
				return false
			}
		}
	}
	return true
}

func (s *sim) unsettled() string {
	var parts []string
	for _, sl := range s.loops {
		for _, c := range sl.l.conns {
			cur := c.peer != nil && c.peer.Conn() == c
			parts = append(parts, fmt.Sprintf("%s %v current=%v", c.peerID(), c.state, cur))
		}
	}
	return strings.Join(parts, "; ")
}

// embed sends a numbered message as an embedder does, off the loops:
// SendToConference to every endpoint and relay (to -1), or SendToEndpoint.
func (s *sim) embed(to int) bool {
	if to >= len(s.eps) || to >= 0 && (s.eps[to].rel != nil || s.eps[to].expired) {
		return false
	}
	n := s.embedded
	s.embedded++
	s.embedding = true
	defer func() { s.embedding = false }()
	msg := fmt.Appendf(nil, `{"colibriClass":"EndpointMessage","from":"sfu","to":"","s":"sfu","n":%d}`, n)
	sm := &sentMsg{class: "EndpointMessage"}
	s.sent[msgKey{"sfu", n}] = sm
	if to >= 0 {
		ep := s.eps[to]
		if s.e.router.SendToEndpoint(ep.ep.Endpoint(), msg) == nil { // an endpoint without a socket: not sent
			sm.accepted, sm.for_ = true, []string{ep.id}
		}
		return true
	}
	for _, ep := range s.conf.Endpoints() {
		sm.for_ = append(sm.for_, ep.ID())
	}
	for _, r := range s.conf.Relays() {
		if r.Conn() != nil || r.Ghost() != nil {
			sm.for_ = append(sm.for_, r.ID())
		}
	}
	if _, err := s.e.router.SendToConference(s.conf, msg, nil, true); err != nil {
		s.failf("SendToConference: %v", err)
	}
	sm.accepted = true
	return true
}

// checkBounds checks, after each step, the bounds that hold at all times:
// an endpoint's mailbox holds at most its bytes, and a socket's queue
// stays within 4x its budget (and the frame that crossed it).
func (s *sim) checkBounds() {
	lim := s.e.cfg.Limits
	for _, ep := range s.eps {
		if _, bytes := ep.ep.Mailbox(); bytes > lim.MailboxBytes {
			s.failf("%s's mailbox holds %d bytes, over its %d", ep.id, bytes, lim.MailboxBytes)
		}
	}
	for _, sl := range s.loops {
		for _, c := range sl.l.conns {
			if q, most := c.queued(), 4*c.budget()+4<<10; q > most {
				s.failf("%s's socket queues %d bytes, over 4x its budget and a frame (%d)", c.peerID(), q, most)
			}
		}
	}
}
