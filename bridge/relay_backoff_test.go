package bridge_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/colibri-bus/colibri/config"
)

// The relay dialler's policy (engine/relay.go): after attempt k (0-based,
// reset by a connection that opened) it waits base/2 + rand[0, ceiling_k)
// with ceiling_k = min(base<<k, cap), base 250 ms, cap 30 s.
const (
	backoffBase  = 250 * time.Millisecond
	backoffCap   = 30 * time.Second
	backoffFloor = backoffBase / 2
	// backoffSlack is what an observed gap (accept to accept) may exceed the
	// wait by: the attempt's close reaching the dialler, the next dial and
	// the accept, on two busy cores. A dialler without backoff growth or
	// with a fixed wait is still seen beyond it (the growth and jitter
	// checks below).
	backoffSlack = 250 * time.Millisecond
)

// backoffCeiling is the largest wait after attempt k.
func backoffCeiling(k int) time.Duration {
	c := backoffCap
	if k < 16 {
		c = min(backoffBase<<k, backoffCap)
	}
	return backoffFloor + c
}

// attemptRecorder is a TCP listener posing as a dead relay peer: it reads
// each upgrade request, notes its path and when it came, and closes the
// connection without answering, so that every attempt fails at once.
type attemptRecorder struct {
	ln   net.Listener
	mu   sync.Mutex
	at   map[string][]time.Time // request path (without query) -> accept times
	grew chan struct{}
	wg   sync.WaitGroup
}

func newAttemptRecorder(t *testing.T, addr string) *attemptRecorder {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	r := &attemptRecorder{ln: ln, at: map[string][]time.Time{}, grew: make(chan struct{}, 1)}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			now := time.Now()
			r.wg.Add(1)
			go func() {
				defer r.wg.Done()
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(wait))
				req, err := http.ReadRequest(bufio.NewReader(c))
				path := "?"
				if err == nil {
					path = req.URL.Path
				}
				r.mu.Lock()
				r.at[path] = append(r.at[path], now)
				r.mu.Unlock()
				select {
				case r.grew <- struct{}{}:
				default:
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); r.wg.Wait() })
	return r
}

func (r *attemptRecorder) url(path string) string {
	return "ws://" + r.ln.Addr().String() + path + "?pwd=" + strings.Repeat("z", 24)
}

// waitAttempts waits until every path has at least n attempts; the bound is
// the sum of the largest waits, plus slack.
func (r *attemptRecorder) waitAttempts(t *testing.T, paths []string, n int) map[string][]time.Time {
	t.Helper()
	bound := 5 * time.Second
	for k := 0; k < n; k++ {
		bound += backoffCeiling(k) + backoffSlack
	}
	deadline := time.After(bound)
	for {
		r.mu.Lock()
		done := true
		for _, p := range paths {
			if len(r.at[p]) < n {
				done = false
			}
		}
		if done {
			out := map[string][]time.Time{}
			for _, p := range paths {
				out[p] = append([]time.Time(nil), r.at[p][:n]...)
			}
			r.mu.Unlock()
			return out
		}
		counts := map[string]int{}
		for p, at := range r.at {
			counts[p] = len(at)
		}
		got := fmt.Sprint(counts)
		r.mu.Unlock()
		select {
		case <-r.grew:
		case <-deadline:
			t.Fatalf("fewer than %d dial attempts per relay within %v (the waits are too long): attempts %s", n, bound, got)
		}
	}
}

// checkGaps checks the waits between successive attempts of one dialler
// whose attempt counter was first at k0 for the gap times[0]..times[1]: no
// wait shorter than the floor (no tight loop) and none longer than its
// attempt's ceiling (bounded by the cap), plus slack.
func checkGaps(t *testing.T, who string, times []time.Time, k0 int) []time.Duration {
	t.Helper()
	var gaps []time.Duration
	for i := 1; i < len(times); i++ {
		g := times[i].Sub(times[i-1])
		gaps = append(gaps, g)
		k := k0 + i - 1
		if g < backoffFloor {
			t.Errorf("%s: attempt %d came %v after the previous, under the %v floor (no backoff)", who, k+1, g, backoffFloor)
		}
		if lim := backoffCeiling(k) + backoffSlack; g > lim {
			t.Errorf("%s: attempt %d came %v after the previous, over its ceiling %v (+%v slack)", who, k+1, g, backoffCeiling(k), backoffSlack)
		}
	}
	return gaps
}

// TestRelayBackoffGrowsWithJitter: eight relays dial a peer that closes
// every attempt at once. Each dialler's successive waits stay between the
// floor and its attempt's exponential ceiling; the waits grow (by the
// fourth gap, whose ceiling is 2.1 s, some dialler waits longer than the
// first gap's 375 ms ceiling allows: a dialler with a fixed wait fails, and
// with uniform jitter the chance that all eight stay under it is
// (0.25)^8 < 2e-5); and they are jittered (the eight diallers, started
// together, are spread by more than 200 ms at the fourth gap: a dialler
// without jitter keeps them within milliseconds; with jitter the chance of
// a spread that small is under 1e-6).
func TestRelayBackoffGrowsWithJitter(t *testing.T) {
	h := startBridge(t, func(c *config.Config) { c.Relay.Enabled, c.Relay.RelayID = true, "jvb1" })
	rec := newAttemptRecorder(t, "127.0.0.1:0")
	h.conference("m", "a1")
	const diallers, attempts = 8, 5
	var rels []any
	var paths []string
	for i := 0; i < diallers; i++ {
		p := fmt.Sprintf("/colibri-relay-ws/peer/0123456789abcdef/r%d", i)
		paths = append(paths, p)
		rels = append(rels, map[string]any{"id": fmt.Sprintf("peer%d", i), "create": true, "mesh-id": "0",
			"endpoints": endpointsOf([]string{fmt.Sprintf("remote%d", i)}),
			"transport": map[string]any{"transport": map[string]any{"web-sockets": []string{rec.url(p)}}}})
	}
	if status, resp := h.do("PATCH", "/colibri/v2/conferences/m", mustJSON(map[string]any{"relays": rels})); status != 200 {
		t.Fatalf("relays: %d %s", status, resp)
	}
	got := rec.waitAttempts(t, paths, attempts)
	var last []time.Duration
	for _, p := range paths {
		gaps := checkGaps(t, p, got[p], 0)
		t.Logf("%s: waits %v", p, gaps)
		last = append(last, gaps[len(gaps)-1])
	}
	sort.Slice(last, func(i, j int) bool { return last[i] < last[j] })
	if lo, hi := last[0], last[len(last)-1]; hi <= backoffCeiling(0)+backoffSlack {
		t.Errorf("fourth waits %v..%v: none beyond the first wait's ceiling %v+%v, the backoff does not grow", lo, hi, backoffCeiling(0), backoffSlack)
	}
	if spread := last[len(last)-1] - last[0]; spread < 200*time.Millisecond {
		t.Errorf("fourth waits of %d diallers within %v of each other: no jitter", diallers, spread)
	}
	if n := dialers(); n != diallers {
		t.Errorf("%d dialler goroutines, want %d", n, diallers)
	}
	var expire []any
	for i := 0; i < diallers; i++ {
		expire = append(expire, map[string]any{"id": fmt.Sprintf("peer%d", i), "expire": true})
	}
	if status, resp := h.do("PATCH", "/colibri/v2/conferences/m", mustJSON(map[string]any{"relays": expire})); status != 200 {
		t.Fatalf("expire: %d %s", status, resp)
	}
	waitFor(t, "diallers stopped", func() bool { return dialers() == 0 })
}
