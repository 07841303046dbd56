package engine

import (
	"flag"
	"fmt"
	"github.com/colibri-bus/colibri/internal/route"
	"log/slog"

	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The simulation's invariants at quiet, and the tests that run it.

var (
	simRuns = flag.Int("sim.runs", 2000, "schedules TestSim runs")
	simSeed = flag.Uint64("sim.seed", 0, "the first seed of TestSim (0: 1)")
	simLog  = flag.Bool("sim.trace", false, "print the shrunk schedule of a failing seed step by step")
	simFile = flag.String("sim.file", "", "replay the schedule in this file (testdata/sim), printing every step, the engine's log and what each client read")
)

// check compares what every client read with what the bridge accepted.
//
//   - Every accepted EndpointMessage reaches each of its receivers that was
//     not expired at the end exactly once, or was lost with a socket the
//     client reset while the message was in the kernel's buffer (the one
//     loss the bridge cannot see, docs/architecture.md); with mailboxes off,
//     also while the receiver had no socket, counted as no_connection.
//   - Every receiver reads each sender's messages, of every class, in the
//     order they were sent, at most once.
//   - The mailboxes' books balance: queued = delivered + dropped.
//   - ServerHello is each socket's first message and its only one
//     (checked as it is read, simclient_test.go).
func (s *sim) check() {
	for _, r := range s.eps {
		if r.expired {
			continue
		}
		last := map[string]int{}
		got := map[msgKey]int{}
		lost := map[msgKey]bool{}
		// The client reads its sockets side by side; the bridge orders
		// what it sends an endpoint socket after socket, in the order
		// they attached.
		log := append([]delivery(nil), r.log...)
		sort.SliceStable(log, func(i, j int) bool { return log[i].order < log[j].order })
		for _, d := range log {
			k := msgKey{d.from, d.n}
			if d.lost {
				lost[k] = true
				continue
			}
			got[k]++
			if got[k] > 1 {
				s.failf("%s read %s %d times", r.id, k, got[k])
				return
			}
			if prev, ok := last[d.from]; ok && d.n < prev {
				s.failf("%s read %s after %s#%d: out of order", r.id, k, d.from, prev)
				return
			}
			last[d.from] = d.n
		}
		var missing []string
		for k, m := range s.sent {
			if !m.accepted || m.class != "EndpointMessage" || !has(m.for_, r.id) || got[k] > 0 || lost[k] {
				continue
			}
			if r.rel == nil && !s.knobs.mailbox || r.rel != nil && !s.resumes() {
				continue // dropped while r had no socket: counted no_connection
			}
			missing = append(missing, k.String())
		}
		// A mailbox past its bounds drops its oldest, counted: at most that
		// many are missing (stats superseded count there too).
		if r.rel == nil && uint64(len(missing)) <= r.ep.MailDropped() {
			missing = nil
		}
		if len(missing) > 0 {
			s.failf("%s never read %d accepted messages: %s", r.id, len(missing), firstSorted(missing, 8))
			return
		}
	}
	for _, r := range s.eps {
		if r.rel != nil && !r.expired && s.resumes() {
			// Relay numbers are contiguous: what the bridge numbered, the
			// other side accepted, or a RelaySkip told it was lost, which
			// both count in relay_lost.
			sent, _, _ := r.ep.Relay().Link.Sent()
			if got := uint64(r.rel.recv + r.rel.skipped); got != sent {
				s.failf("relay %s: the bridge numbered %d, the other side accepted %d and was told of %d lost",
					r.id, sent, r.rel.recv, r.rel.skipped)
			}
			if lost := s.table.Resume.Lost.Load(); lost != uint64(r.rel.skipped) {
				s.failf("relay %s: relay_lost %d, the other side never got %d", r.id, lost, r.rel.skipped)
			}
		}
	}
	// The counters add up: every text the engine read on an open socket
	// reached the router, which accepted it, or dropped it as read on a
	// replaced socket, or as a relay's duplicate, or consumed it (RelayAck).
	rs := s.e.router.Stats()
	switch t := s.e.Traffic(); {
	case rs.Received() != s.seen.routed || t.MessagesReceived != s.seen.routed:
		s.failf("received: router %d, engine %d, routed %d", rs.Received(), t.MessagesReceived, s.seen.routed)
	case s.seen.routed != s.seen.accepted+s.seen.notCurrent+s.seen.duplicate+s.seen.control:
		s.failf("routed %d != accepted %d + not_current %d + duplicates %d + control %d",
			s.seen.routed, s.seen.accepted, s.seen.notCurrent, s.seen.duplicate, s.seen.control)
	case rs.Dropped(route.DropNotCurrent) != s.seen.notCurrent:
		s.failf("not_current: the router counted %d, %d were read on replaced sockets",
			rs.Dropped(route.DropNotCurrent), s.seen.notCurrent)
	case s.table.Resume.Duplicates.Load() != s.seen.duplicate:
		s.failf("relay_duplicates: %d counted, %d seen", s.table.Resume.Duplicates.Load(), s.seen.duplicate)
	}
	m := &s.table.Mail
	held := 0
	for _, ep := range s.eps {
		n, _ := ep.ep.Mailbox()
		held += n
	}
	q, d := m.Queued.Load(), m.Delivered.Load()
	dropped := m.Full.Load() + m.Aged.Load() + m.Superseded.Load() + m.ExpiredCount.Load()
	if q != d+dropped+uint64(held) {
		s.failf("mailbox books: queued %d != delivered %d + dropped %d + held %d", q, d, dropped, held)
	}
}

// resumes reports whether the relay link resumes: both sides have the
// extension.
func (s *sim) resumes() bool { return s.knobs.resume && s.knobs.remoteResume }

func has(list []string, id string) bool {
	for _, x := range list {
		if x == id {
			return true
		}
	}
	return false
}

func firstSorted(list []string, n int) string {
	sort.Strings(list)
	if len(list) > n {
		return strings.Join(list[:n], " ") + " ..."
	}
	return strings.Join(list, " ")
}

// runSeed runs one schedule and returns its error and trace.
func runSeed(seed uint64, replay []simStep) (err error, trace []simStep) {
	return runSchedule(seed, nil, replay)
}

// runSchedule is runSeed with the knobs given, not drawn.
func runSchedule(seed uint64, knobs *simKnobs, replay []simStep) (err error, trace []simStep) {
	s := newSim(seed, knobs, replay)
	defer func() {
		if p := recover(); p != nil {
			buf := make([]byte, 8<<10)
			buf = buf[:runtime.Stack(buf, false)]
			err, trace = fmt.Errorf("step %d: panic: %v\n%s", len(s.trace), p, buf), s.trace
		}
	}()
	return s.run(), s.trace
}

// shrink removes steps from a failing trace while it still fails the
// same way (the first words of the error), halving the chunks it tries.
func shrink(seed uint64, trace []simStep, err error) ([]simStep, error) {
	kind := failureKind(err)
	for chunk := len(trace) / 2; chunk >= 1; chunk /= 2 {
		for i := 0; i+chunk <= len(trace); {
			try := append(append([]simStep(nil), trace[:i]...), trace[i+chunk:]...)
			if e, _ := runSeed(seed, try); e != nil && failureKind(e) == kind {
				trace, err = try, e
				continue
			}
			i += chunk
		}
	}
	return trace, err
}

// failureKind is the error without its step number and details.
func failureKind(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	f := strings.Fields(msg)
	for i, w := range f {
		if strings.ContainsAny(w, "0123456789") {
			f[i] = "#"
		}
	}
	if len(f) > 6 {
		f = f[:6]
	}
	return strings.Join(f, " ")
}

// report describes a failing seed with its shrunk schedule.
func report(seed uint64, err error, trace []simStep) string {
	small, serr := shrink(seed, trace, err)
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %v\nshrunk to %d of %d steps (%v)", seed, err, len(small), len(trace), serr)
	if *simLog || len(small) <= 80 {
		for i, st := range small {
			fmt.Fprintf(&b, "\n  %3d %s", i, st)
		}
	}
	fmt.Fprintf(&b, "\nreplay: go test ./engine -run 'TestSim$' -sim.seed %d -sim.runs 1 -sim.trace", seed)
	if dir := os.Getenv("SIM_SAVE"); dir != "" {
		name := filepath.Join(dir, fmt.Sprintf("seed-%d.txt", seed))
		if werr := os.WriteFile(name, []byte(writeSchedule(seed, newSim(seed, nil, nil).knobs, serr, small)), 0o644); werr == nil {
			fmt.Fprintf(&b, "\nsaved as %s", name)
		}
	}
	return b.String()
}

// TestSim runs -sim.runs schedules from -sim.seed on every core and fails
// on the first seed whose run breaks an invariant, with its shrunk
// schedule.
func TestSim(t *testing.T) {
	if *simFile != "" {
		seed, knobs, steps, err := readSchedule(*simFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := replayVerbose(seed, knobs, steps); err != nil {
			t.Fatal(err)
		}
		return
	}
	first := *simSeed
	if first == 0 {
		first = 1
	}
	n := *simRuns
	if testing.Short() || raceEnabled {
		n = min(n, 200)
	}
	start := time.Now()
	var next atomic.Uint64
	next.Store(first)
	var mu sync.Mutex
	var failed []uint64
	errs := map[uint64]error{}
	traces := map[uint64][]simStep{}
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				seed := next.Add(1) - 1
				if seed >= first+uint64(n) {
					return
				}
				mu.Lock()
				stop := len(failed) >= 20
				mu.Unlock()
				if stop {
					return
				}
				if err, trace := runSeed(seed, nil); err != nil {
					mu.Lock()
					failed = append(failed, seed)
					errs[seed], traces[seed] = err, trace
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d schedules from seed %d in %v", n, first, time.Since(start).Round(time.Millisecond))
	if len(failed) == 0 {
		return
	}
	lowest := failed[0]
	for _, s := range failed {
		t.Logf("seed %d: %v", s, errs[s])
		if s < lowest {
			lowest = s
		}
	}
	t.Fatalf("%d failing seeds (%v); the lowest:\n%s", len(failed), failed, report(lowest, errs[lowest], traces[lowest]))
}

// parseStep reads a step as String writes it.
func parseStep(line string) (simStep, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return simStep{}, fmt.Errorf("empty step")
	}
	kind := -1
	for i, n := range stepNames {
		if n == f[0] {
			kind = i
		}
	}
	if kind < 0 {
		return simStep{}, fmt.Errorf("unknown step %q", f[0])
	}
	st := simStep{kind: stepKind(kind)}
	num := func(s, prefix string) (int, error) {
		return strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s, prefix), "B"))
	}
	var err error
	switch st.kind {
	case stepTick, stepArrive:
	case stepTask, stepRound, stepLand:
		st.loop, err = num(f[1], "loop")
	case stepConnect:
		if st.ep, err = num(f[1], "e"); err == nil {
			st.loop, err = num(f[3], "loop")
		}
		if err == nil {
			st.n, err = num(f[5], "")
		}
	case stepExpire:
		st.ep, err = num(f[1], "e")
	case stepEmbed:
		st.ep = -1
		if f[2] != "everyone" {
			st.ep, err = num(f[2], "e")
		}
	default:
		e, g, ok := strings.Cut(strings.TrimPrefix(f[1], "e"), "/")
		if !ok {
			return st, fmt.Errorf("bad socket %q", f[1])
		}
		if st.ep, err = strconv.Atoi(e); err == nil {
			st.gen, err = strconv.Atoi(g)
		}
		switch {
		case err != nil:
		case st.kind == stepReadable || st.kind == stepRead:
			st.n, err = num(f[2], "")
		case st.kind == stepSend:
			st.class = f[2]
			st.n = -1
			if f[4] != "everyone" {
				st.n, err = num(f[4], "e")
			}
		}
	}
	return st, err
}

// TestSimRegressions replays every schedule that once failed, shrunk, from
// testdata/sim: each names its seed, the failure it showed and the fix.
func TestSimRegressions(t *testing.T) {
	files, err := filepath.Glob("testdata/sim/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no regression schedules in testdata/sim (%v)", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			seed, knobs, steps, err := readSchedule(file)
			if err != nil {
				t.Fatal(err)
			}
			if err, _ := runSchedule(seed, &knobs, steps); err != nil {
				t.Fatalf("seed %d, %d steps: %v", seed, len(steps), err)
			}
		})
	}
}

// readSchedule reads a schedule file: "seed N", "knobs ...", then one
// step a line; lines starting with # are comments. A replay depends on
// nothing else: not on how the seed draws knobs or steps today.
func readSchedule(file string) (uint64, simKnobs, []simStep, error) {
	var knobs simKnobs
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, knobs, nil, err
	}
	var seed uint64
	var steps []simStep
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "seed "):
			seed, err = strconv.ParseUint(strings.TrimPrefix(line, "seed "), 10, 64)
		case strings.HasPrefix(line, "knobs "):
			knobs, err = parseKnobs(strings.TrimPrefix(line, "knobs "))
		default:
			var st simStep
			st, err = parseStep(line)
			steps = append(steps, st)
		}
		if err != nil {
			return 0, knobs, nil, fmt.Errorf("%s:%d: %v", file, i+1, err)
		}
	}
	if knobs.loops == 0 {
		return 0, knobs, nil, fmt.Errorf("%s: no knobs line", file)
	}
	return seed, knobs, steps, nil
}

// writeSchedule is what report prints for a schedule file.
func writeSchedule(seed uint64, knobs simKnobs, err error, steps []simStep) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %v\nseed %d\nknobs %v\n", err, seed, knobs)
	for _, st := range steps {
		b.WriteString(st.String() + "\n")
	}
	return b.String()
}

// replayVerbose replays a schedule printing each step, the engine's log
// and, at the end, what each client read.
func replayVerbose(seed uint64, knobs simKnobs, steps []simStep) error {
	s := newSim(seed, &knobs, steps)
	s.e.log = slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.verbose = true
	err := s.run()
	fmt.Printf("knobs %+v\nresult: %v\n", s.knobs, err)
	for _, ep := range s.eps {
		fmt.Printf("%s: %d sockets\n", ep.id, len(ep.sockets))
		for _, d := range ep.log {
			fmt.Printf("   %s#%d %s socket %d (attached %d) lost=%v\n", d.from, d.n, d.class, d.gen, d.order, d.lost)
		}
	}
	return err
}
