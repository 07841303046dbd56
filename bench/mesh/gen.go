package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/hist"
)

// genSpec is the parent's instruction to one generator process: the
// endpoints it holds, as a range of the conference's global endpoint
// indexes, and their WebSocket URLs.
type genSpec struct {
	Index     int
	PerBridge int
	Total     int
	Lo, Hi    int
	URLs      []string
	Dials     int // parallel dials
}

// endpointID names global endpoint g: bridge g/perBridge, number g%perBridge.
func endpointID(g, perBridge int) string {
	return "b" + strconv.Itoa(g/perBridge) + "-e" + strconv.Itoa(g%perBridge)
}

// schedule is one step's messages: message i is sent by global endpoint
// sender[i] at t0 + i/rate. Every process derives it from the same seed,
// so each knows who sent what without talking to the others.
type schedule struct {
	t0     int64
	period float64 // ns between messages
	sender []int
}

func newSchedule(seed uint64, rate float64, count, total int, t0 int64) *schedule {
	r := rand.New(rand.NewPCG(seed, 0x57))
	s := &schedule{t0: t0, period: 1e9 / rate, sender: make([]int, count)}
	for i := range s.sender {
		s.sender[i] = r.IntN(total)
	}
	return s
}

func (s *schedule) at(i int) int64 { return s.t0 + int64(float64(i)*s.period) }

// genResult is one process's account of one step.
type genResult struct {
	Sent, Delivered, Expected, Lost, Duplicated uint64
	BadFrom, Other, Unknown                     uint64
	Local, Relay                                hist.Snapshot
	PerBridge                                   []tally // by the receivers' bridge
	SendLagMaxNs                                int64
	// Arrivals is, for each broadcast and bridge (index broadcast x
	// bridges + bridge), when it first and last reached this process's
	// receivers on that bridge: the parent widens them into the split.
	Arrivals []span
}

// tally is the delivery account of the receivers on one bridge.
type tally struct {
	Delivered, Expected, Lost, Duplicated uint64
}

// receiver is one endpoint's delivery record for the current step.
type receiver struct {
	g    int // global index
	conn *wsConn
	bits []uint64
	dups uint64 // duplicates this step; written by its reader only
}

type generator struct {
	spec  genSpec
	rcv   []*receiver
	mu    sync.RWMutex // guards step for readers
	step  *schedule
	ids   []string // id of every global endpoint
	stats struct {
		delivered, dup, badFrom, other, unknown atomic.Uint64
	}
	local, relay hist.Histogram
	arr          *arrivals // the step's; set with step
}

// runGenerator is a worker process: it reads its spec from stdin, dials,
// says READY, then runs each RUN step and answers RESULT.
func runGenerator() error {
	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("generator: reading the spec: %w", err)
	}
	g := &generator{}
	if err := json.Unmarshal(line, &g.spec); err != nil {
		return fmt.Errorf("generator: spec: %w", err)
	}
	sp := g.spec
	g.ids = make([]string, sp.Total)
	for i := range g.ids {
		g.ids[i] = endpointID(i, sp.PerBridge)
	}
	start := time.Now()
	if err := g.connect(); err != nil {
		return err
	}
	fmt.Printf("READY %d\n", time.Since(start).Nanoseconds())
	for {
		line, err := in.ReadString('\n')
		if err != nil {
			return nil // the parent closed stdin: done
		}
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != "RUN" {
			return fmt.Errorf("generator %d: unexpected command %q", sp.Index, line)
		}
		rate, _ := strconv.ParseFloat(f[1], 64)
		t0, _ := strconv.ParseInt(f[2], 10, 64)
		count, _ := strconv.Atoi(f[3])
		seed, _ := strconv.ParseUint(f[4], 10, 64)
		res := g.run(newSchedule(seed, rate, count, sp.Total, t0), rate)
		b, _ := json.Marshal(res)
		fmt.Printf("RESULT %s\n", b)
	}
}

// connect dials every endpoint of the spec, Dials at a time, from source
// addresses 127.<1+Index>.x.y so that no address runs out of ports.
func (g *generator) connect() error {
	sp := g.spec
	g.rcv = make([]*receiver, sp.Hi-sp.Lo)
	var next, done atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // progress on stderr
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "mesh: generator %d: connected %d/%d\n", sp.Index, done.Load(), len(g.rcv))
			}
		}
	}()
	for w := 0; w < sp.Dials; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(g.rcv) || firstErr.Load() != nil {
					return
				}
				src := &net.TCPAddr{IP: net.IPv4(127, byte(1+sp.Index), byte(k/250), byte(1+k%250))}
				c, err := dialWS(sp.URLs[k], src, 10*time.Second)
				if err != nil {
					firstErr.CompareAndSwap(nil, fmt.Errorf("generator %d: endpoint %s: %w", sp.Index, g.ids[sp.Lo+k], err))
					return
				}
				r := &receiver{g: sp.Lo + k, conn: c}
				g.rcv[k] = r
				first, err := c.next(nil)
				if err != nil || !bytes.Contains(first, []byte(`"ServerHello"`)) {
					firstErr.CompareAndSwap(nil, fmt.Errorf("generator %d: endpoint %s: first message %q, %v", sp.Index, g.ids[r.g], first, err))
					return
				}
				done.Add(1)
				go g.read(r)
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err, _ := firstErr.Load().(error); err != nil {
		return err
	}
	return nil
}

// read records every message delivered to r.
func (g *generator) read(r *receiver) {
	var buf []byte
	for {
		m, err := r.conn.next(buf)
		if err != nil {
			return
		}
		buf = m[:0]
		now := time.Now().UnixNano()
		i, t, from, ok := parseDelivery(m)
		if !ok {
			g.stats.other.Add(1)
			continue
		}
		g.mu.RLock()
		s := g.step
		if s == nil || i < 0 || i >= len(s.sender) {
			g.mu.RUnlock()
			g.stats.unknown.Add(1)
			continue
		}
		sender := s.sender[i]
		word, bit := i/64, uint64(1)<<(i%64)
		switch {
		case string(from) != g.ids[sender]:
			g.stats.badFrom.Add(1)
		case r.bits[word]&bit != 0:
			g.stats.dup.Add(1)
			r.dups++
		default:
			r.bits[word] |= bit // only this goroutine writes r.bits during a step
			g.stats.delivered.Add(1)
			g.arr.record(i, r.g/g.spec.PerBridge, now)
			if sender/g.spec.PerBridge == r.g/g.spec.PerBridge {
				g.local.Record(now - t)
			} else {
				g.relay.Record(now - t)
			}
		}
		g.mu.RUnlock()
	}
}

// parseDelivery reads msgPayload's "i" and "t" and the rewritten "from" of
// a delivered broadcast.
func parseDelivery(m []byte) (i int, t int64, from []byte, ok bool) {
	num := func(key string) (int64, bool) {
		k := bytes.Index(m, []byte(key))
		if k < 0 {
			return 0, false
		}
		var v int64
		j := k + len(key)
		for ; j < len(m) && m[j] >= '0' && m[j] <= '9'; j++ {
			v = v*10 + int64(m[j]-'0')
		}
		return v, j > k+len(key)
	}
	iv, ok1 := num(`"i":`)
	tv, ok2 := num(`"t":`)
	k := bytes.Index(m, []byte(`"from":"`))
	if !ok1 || !ok2 || k < 0 {
		return 0, 0, nil, false
	}
	rest := m[k+8:]
	e := bytes.IndexByte(rest, '"')
	if e < 0 {
		return 0, 0, nil, false
	}
	return int(iv), tv, rest[:e], true
}

// run sends this process's share of s, waits until every delivery it
// expects has arrived (or a drain bound passes), and accounts.
func (g *generator) run(s *schedule, rate float64) genResult {
	sp := g.spec
	n := len(s.sender)
	g.mu.Lock()
	for _, r := range g.rcv {
		r.bits = make([]uint64, (n+63)/64)
		r.dups = 0
	}
	g.step = s
	g.arr = newArrivals(n, sp.Total/sp.PerBridge)
	g.stats.delivered.Store(0)
	g.stats.dup.Store(0)
	g.stats.badFrom.Store(0)
	g.stats.other.Store(0)
	g.stats.unknown.Store(0)
	g.local.Reset()
	g.relay.Reset()
	g.mu.Unlock()

	var res genResult
	own := len(g.rcv)
	for i := 0; i < n; i++ {
		res.Expected += uint64(own)
		if snd := s.sender[i]; snd >= sp.Lo && snd < sp.Hi {
			res.Expected-- // no echo to the sender
		}
	}
	done := make(chan struct{})
	go func() { // progress on stderr
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				fmt.Fprintf(os.Stderr, "mesh: generator %d: rate %g/s: delivered %d/%d\n", sp.Index, rate, g.stats.delivered.Load(), res.Expected)
			}
		}
	}()
	defer close(done)
	for i := 0; i < n; i++ {
		snd := s.sender[i]
		if snd < sp.Lo || snd >= sp.Hi {
			continue
		}
		at := s.at(i)
		if d := time.Until(time.Unix(0, at)); d > 0 {
			time.Sleep(d) // pacing the open loop, not synchronisation
		}
		if lag := time.Now().UnixNano() - at; lag > res.SendLagMaxNs {
			res.SendLagMaxNs = lag
		}
		msg := `{"colibriClass":"EndpointMessage","to":"","msgPayload":{"i":` + strconv.Itoa(i) + `,"t":` + strconv.FormatInt(at, 10) + `}}`
		if err := g.rcv[snd-sp.Lo].conn.write(1, []byte(msg)); err == nil {
			res.Sent++
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for g.stats.delivered.Load() < res.Expected && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling the counter the readers advance
	}
	g.mu.Lock()
	g.step = nil // late arrivals now count as unknown
	res.Arrivals = g.arr.spans()
	var got uint64
	res.PerBridge = make([]tally, sp.Total/sp.PerBridge)
	sentBy := make([]uint64, sp.Total) // broadcasts each endpoint sent this step
	for _, snd := range s.sender {
		sentBy[snd]++
	}
	for _, r := range g.rcv {
		t := &res.PerBridge[r.g/sp.PerBridge]
		var rg uint64
		for _, w := range r.bits {
			rg += uint64(bits.OnesCount64(w))
		}
		got += rg
		exp := uint64(n) - sentBy[r.g]
		t.Expected += exp
		t.Delivered += rg
		if rg < exp {
			t.Lost += exp - rg
		}
		t.Duplicated += r.dups
	}
	g.mu.Unlock()
	res.Delivered = g.stats.delivered.Load()
	if got < res.Expected {
		res.Lost = res.Expected - got
	}
	res.Duplicated = g.stats.dup.Load()
	res.BadFrom = g.stats.badFrom.Load()
	res.Other = g.stats.other.Load()
	res.Unknown = g.stats.unknown.Load()
	res.Local = g.local.Snapshot()
	res.Relay = g.relay.Snapshot()
	return res
}
