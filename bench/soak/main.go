// Command soak runs a bridge process for minutes under steady load with
// churn and records, every second, what it holds: resident memory, OS
// threads, goroutines, heap, descriptors, connections and queued bytes. A
// leak shows as a curve that keeps rising while the load is flat. It is a
// manual tool, not a test: it is never run in CI.
//
//	cd bench && go run ./soak -duration 5m -csv ../docs/bench/soak.csv -svg ../docs/bench/soak.svg
//
// Load: -conferences conferences of -endpoints endpoints each; every
// endpoint broadcasts -rate EndpointMessages per second (every fifth is an
// EndpointStats) and reads everything. Churn, -churn operations per second,
// each one of: reconnect an endpoint, replace its socket by a second one,
// reset its TCP connection, expire and re-create it through the REST API,
// expire and re-create a whole conference. After the load stops and every
// client has gone, the bridge is sampled idle for -idle, so the end of the
// curve shows what the bridge keeps once nobody uses it.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/procstat"
	"github.com/colibri-bus/colibri/colibri2/client"
	"github.com/gorilla/websocket"
)

func main() {
	bin := flag.String("bin", "", "bridge binary (default: build ./cmd/bridge)")
	duration := flag.Duration("duration", 5*time.Minute, "how long the load runs")
	idle := flag.Duration("idle", 15*time.Second, "how long the bridge is sampled idle after the load")
	confs := flag.Int("conferences", 20, "conferences")
	eps := flag.Int("endpoints", 10, "endpoints per conference")
	rate := flag.Float64("rate", 2, "messages per second per endpoint")
	churn := flag.Float64("churn", 5, "churn operations per second")
	csvPath := flag.String("csv", "soak.csv", "samples, one line per second")
	svgPath := flag.String("svg", "", "chart of the samples (optional)")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	log.SetFlags(log.Ltime)

	if *bin == "" {
		*bin = buildBridge()
	}
	br := startBridge(*bin)
	defer br.stop()

	s := &soak{br: br, rest: &http.Client{Timeout: 10 * time.Second}, rnd: rand.New(rand.NewPCG(*seed, 7)),
		rate: *rate, perConf: *eps}
	for i := 0; i < *confs; i++ {
		if err := s.createConference(fmt.Sprintf("soak-%d", i)); err != nil {
			log.Fatalf("setup: %v", err)
		}
	}
	log.Printf("%d conferences × %d endpoints connected; load %.1f msg/s per endpoint, churn %.1f/s, for %v",
		*confs, *eps, *rate, *churn, *duration)

	csv, err := os.Create(*csvPath)
	if err != nil {
		log.Fatal(err)
	}
	defer csv.Close()
	fmt.Fprintln(csv, sampleHeader)
	var samples []sample
	record := func(phase string) {
		sm := s.sample(phase)
		samples = append(samples, sm)
		fmt.Fprintln(csv, sm.csv())
	}

	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	var wg sync.WaitGroup
	if *churn > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.churnLoop(ctx, *churn)
		}()
	}
	start := time.Now()
	tk := time.NewTicker(time.Second)
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-tk.C:
			record("load")
			if n := len(samples); n%30 == 0 {
				last := samples[n-1]
				log.Printf("%v: rss %d MiB, goroutines %d, threads %d, fds %d, open %d, delivered %d, churn %d",
					time.Since(start).Round(time.Second), last.RSS>>20, last.Goroutines, last.Threads, last.FDs,
					last.Open, last.Delivered, last.Churn)
			}
		}
	}
	cancel()
	wg.Wait()
	s.closeAll()
	for end := time.Now().Add(*idle); time.Now().Before(end); {
		<-tk.C
		record("idle")
	}
	tk.Stop()
	summarize(samples)
	if *svgPath != "" {
		svg, err := chart(samples)
		if err == nil {
			err = os.WriteFile(*svgPath, svg, 0o644)
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	if out := br.stderr.String(); strings.Contains(out, "panic") || strings.Contains(out, "DATA RACE") {
		log.Fatalf("the bridge reported a panic or a race:\n%s", out)
	}
}

// buildBridge builds the bridge's command into a temporary directory. It
// names the package by import path, which the bench module resolves through
// its replace directive, so soak runs from any directory inside bench/.
func buildBridge() string {
	dir, err := os.MkdirTemp("", "soak")
	if err != nil {
		log.Fatal(err)
	}
	bin := filepath.Join(dir, "bridge")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/colibri-bus/colibri/cmd/bridge")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("build the bridge (run soak from inside bench/, or pass -bin): %v", err)
	}
	return bin
}

// bridgeProc is the bridge under test.
type bridgeProc struct {
	cmd    *exec.Cmd
	pid    int
	rest   string // http://127.0.0.1:port
	ws     string // 127.0.0.1:port
	stderr *lockedBuffer
}

func freePort() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startBridge(bin string) *bridgeProc {
	pub, priv := freePort(), freePort()
	conf := filepath.Join(os.TempDir(), fmt.Sprintf("soak-%d.conf", os.Getpid()))
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`videobridge {
  http-servers { public { host = 127.0.0.1, port = %d }, private { host = 127.0.0.1, port = %d } }
  websockets { domain = "127.0.0.1:%d" }
}`, pub, priv, pub)), 0o644)
	if err != nil {
		log.Fatal(err)
	}
	br := &bridgeProc{rest: fmt.Sprintf("http://127.0.0.1:%d", priv), ws: fmt.Sprintf("127.0.0.1:%d", pub), stderr: &lockedBuffer{}}
	br.cmd = exec.Command(bin, "--config", conf, "--log-level", "warn")
	br.cmd.Stderr = br.stderr
	if err := br.cmd.Start(); err != nil {
		log.Fatal(err)
	}
	br.pid = br.cmd.Process.Pid
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := http.Get(br.rest + "/about/health")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			log.Fatalf("bridge not up: %v\n%s", err, br.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return br
}

func (br *bridgeProc) stop() {
	br.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { br.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		br.cmd.Process.Kill()
		<-done
	}
}

// lockedBuffer collects the bridge's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 { // keep the first MiB
		return len(p), nil
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// soak is the load: conferences of clients, and the counters of the run.
type soak struct {
	br      *bridgeProc
	rest    *http.Client
	rate    float64
	perConf int

	mu    sync.Mutex
	rnd   *rand.Rand
	confs []*conference

	delivered, sent, churned, failures atomic.Int64
}

type conference struct {
	meeting string
	eps     map[string]*endpoint
}

// endpoint is one client and the URL it connects to.
type endpoint struct {
	id   string
	mu   sync.Mutex
	url  string
	conn *websocket.Conn
	stop chan struct{}
	done chan struct{}
}

// post sends a colibri2 request and returns the endpoints' URLs.
// colibri2 returns the bridge's REST client.
func (s *soak) colibri2() *client.Client { return client.New(s.br.rest, s.rest) }

func (s *soak) createConference(meeting string) error {
	conf := client.Conference{MeetingID: meeting}
	for i := 0; i < s.perConf; i++ {
		conf.Endpoints = append(conf.Endpoints, client.Endpoint{ID: fmt.Sprintf("e%d", i), Create: true})
	}
	res, err := s.colibri2().Create(context.Background(), conf)
	if err != nil {
		return err
	}
	c := &conference{meeting: meeting, eps: map[string]*endpoint{}}
	for id, u := range res.EndpointURLs() {
		ep := &endpoint{id: id, url: u}
		c.eps[id] = ep
		s.connect(ep)
	}
	s.mu.Lock()
	s.confs = append(s.confs, c)
	s.mu.Unlock()
	return nil
}

// connect dials ep's URL and starts its reader and writer.
func (s *soak) connect(ep *endpoint) {
	ep.mu.Lock()
	defer ep.mu.Unlock()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial(ep.url, nil)
	if err != nil {
		s.failures.Add(1)
		return
	}
	ep.conn, ep.stop, ep.done = c, make(chan struct{}), make(chan struct{})
	go s.run(ep.id, c, ep.stop, ep.done)
}

// run reads c until it fails and writes at the rate until stopped.
func (s *soak) run(id string, c *websocket.Conn, stop, done chan struct{}) {
	defer close(done)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
			s.delivered.Add(1)
		}
	}()
	every := time.Duration(float64(time.Second) / s.rate)
	tk := time.NewTicker(every)
	defer tk.Stop()
	pad := strings.Repeat("x", 120)
	for n := 0; ; n++ {
		select {
		case <-stop:
			c.Close()
			<-readDone
			return
		case <-readDone:
			c.Close()
			return
		case <-tk.C:
		}
		msg := `{"colibriClass":"EndpointMessage","to":"","msgPayload":{"n":` + strconv.Itoa(n) + `,"p":"` + pad + `"}}`
		if n%5 == 4 {
			msg = `{"colibriClass":"EndpointStats","bitrate":{"audio":{"upload":` + strconv.Itoa(n) + `}}}`
		}
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			c.Close()
			<-readDone
			return
		}
		s.sent.Add(1)
	}
}

// disconnect stops ep's client; abrupt resets its TCP connection.
func (ep *endpoint) disconnect(abrupt bool) {
	ep.mu.Lock()
	c, stop, done := ep.conn, ep.stop, ep.done
	ep.conn = nil
	ep.mu.Unlock()
	if c == nil {
		return
	}
	if abrupt {
		if tc, ok := c.NetConn().(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
	}
	close(stop)
	<-done
}

// churnLoop performs churn operations until ctx ends.
func (s *soak) churnLoop(ctx context.Context, perSec float64) {
	tk := time.NewTicker(time.Duration(float64(time.Second) / perSec))
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		if err := s.churnOnce(); err != nil {
			s.failures.Add(1)
			log.Printf("churn: %v", err)
		}
		s.churned.Add(1)
	}
}

func (s *soak) churnOnce() error {
	s.mu.Lock()
	ci := s.rnd.IntN(len(s.confs))
	c := s.confs[ci]
	op := s.rnd.IntN(10)
	ep := c.eps[fmt.Sprintf("e%d", s.rnd.IntN(s.perConf))]
	s.mu.Unlock()
	switch {
	case op < 3: // reconnect
		ep.disconnect(false)
		s.connect(ep)
	case op < 5: // a second socket replaces the first (the old one is closed with 1000 by the bridge)
		ep.mu.Lock()
		old := ep.done
		ep.mu.Unlock()
		s.connect(ep)
		if old != nil {
			select {
			case <-old:
			case <-time.After(5 * time.Second):
				return errors.New("replaced socket not closed")
			}
		}
	case op < 6: // kill -9 of the client
		ep.disconnect(true)
		s.connect(ep)
	case op < 9: // expire and re-create the endpoint
		ep.disconnect(false)
		ctx := context.Background()
		if err := s.colibri2().ExpireEndpoints(ctx, c.meeting, ep.id); err != nil {
			return err
		}
		res, err := s.colibri2().CreateEndpoints(ctx, c.meeting, ep.id)
		if err != nil {
			return err
		}
		ep.mu.Lock()
		ep.url = res.EndpointURL(ep.id)
		ep.mu.Unlock()
		s.connect(ep)
	default: // expire and re-create the conference
		for _, e := range c.eps {
			e.disconnect(false)
		}
		if err := s.colibri2().Expire(context.Background(), c.meeting); err != nil {
			return err
		}
		s.mu.Lock()
		s.confs = append(s.confs[:ci], s.confs[ci+1:]...)
		s.mu.Unlock()
		return s.createConference(c.meeting)
	}
	return nil
}

func (s *soak) closeAll() {
	s.mu.Lock()
	confs := s.confs
	s.mu.Unlock()
	for _, c := range confs {
		for _, ep := range c.eps {
			ep.disconnect(false)
		}
		s.colibri2().Expire(context.Background(), c.meeting)
	}
	s.rest.CloseIdleConnections()
}

// sample is one second of the run.
type sample struct {
	At                    time.Time
	Phase                 string
	RSS                   int64
	Threads, FDs          int
	Goroutines, HeapInuse int64
	Open, Conferences     int64
	Queued                int64
	Sent, Delivered       int64
	Churn, Failures       int64
	CPU                   time.Duration
	SlowClosed, Dropped   int64
}

const sampleHeader = "unix_ms,phase,rss_bytes,threads,fds,goroutines,heap_inuse_bytes,connections_open,conferences,queued_bytes,client_sent,client_delivered,churn_ops,failures,cpu_ms,slow_closed,dropped"

func (sm sample) csv() string {
	return fmt.Sprintf("%d,%s,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", sm.At.UnixMilli(), sm.Phase, sm.RSS, sm.Threads, sm.FDs,
		sm.Goroutines, sm.HeapInuse, sm.Open, sm.Conferences, sm.Queued, sm.Sent, sm.Delivered, sm.Churn, sm.Failures,
		sm.CPU.Milliseconds(), sm.SlowClosed, sm.Dropped)
}

func (s *soak) sample(phase string) sample {
	pid := s.br.pid
	sm := sample{At: time.Now(), Phase: phase, Sent: s.sent.Load(), Delivered: s.delivered.Load(),
		Churn: s.churned.Load(), Failures: s.failures.Load()}
	sm.RSS, _ = procstat.RSS(pid)
	sm.CPU, _ = procstat.CPUTime(pid)
	sm.Threads = procThreads(pid)
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		sm.FDs = len(ents)
	}
	m := s.metrics()
	sm.Goroutines, sm.HeapInuse = int64(m["go_goroutines"]), int64(m["go_memstats_heap_inuse_bytes"])
	st := s.stats()
	sm.Open, sm.Conferences, sm.Queued = int64(st["connections_open"]), int64(st["conferences"]), int64(st["outbound_queued_bytes"])
	sm.SlowClosed, sm.Dropped = int64(st["slow_closed"]), int64(st["dropped_messages"])
	return sm
}

// procThreads reads Threads from /proc/PID/status.
func procThreads(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return 0
}

// metrics reads the unlabelled samples of GET /metrics.
func (s *soak) metrics() map[string]float64 {
	out := map[string]float64{}
	resp, err := s.rest.Get(s.br.rest + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || strings.Contains(line, "{") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out
}

// stats reads the numbers of GET /colibri/stats.
func (s *soak) stats() map[string]float64 {
	out := map[string]float64{}
	resp, err := s.rest.Get(s.br.rest + "/colibri/stats")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	var m map[string]any
	if json.NewDecoder(resp.Body).Decode(&m) != nil {
		return out
	}
	for k, v := range m {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// summarize prints the curve in a few rows and the verdict on growth.
func summarize(samples []sample) {
	if len(samples) < 4 {
		return
	}
	var load []sample
	for _, sm := range samples {
		if sm.Phase == "load" {
			load = append(load, sm)
		}
	}
	fmt.Println("| t | phase | RSS MiB | heap MiB | goroutines | threads | fds | open | delivered/s |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	t0 := samples[0].At
	step := max(len(samples)/12, 1)
	for i := 0; i < len(samples); i += step {
		sm := samples[i]
		rate := 0.0
		if i > 0 {
			prev := samples[i-1]
			rate = float64(sm.Delivered-prev.Delivered) / sm.At.Sub(prev.At).Seconds()
		}
		fmt.Printf("| %v | %s | %.1f | %.1f | %d | %d | %d | %d | %.0f |\n", sm.At.Sub(t0).Round(time.Second), sm.Phase,
			float64(sm.RSS)/(1<<20), float64(sm.HeapInuse)/(1<<20), sm.Goroutines, sm.Threads, sm.FDs, sm.Open, rate)
	}
	last := samples[len(samples)-1]
	fmt.Printf("| %v | %s | %.1f | %.1f | %d | %d | %d | %d | |\n", last.At.Sub(t0).Round(time.Second), last.Phase,
		float64(last.RSS)/(1<<20), float64(last.HeapInuse)/(1<<20), last.Goroutines, last.Threads, last.FDs, last.Open)
	if len(load) >= 20 {
		// Growth: the second half of the load against the first half.
		h := len(load) / 2
		avg := func(xs []sample, f func(sample) float64) float64 {
			t := 0.0
			for _, x := range xs {
				t += f(x)
			}
			return t / float64(len(xs))
		}
		rss := func(x sample) float64 { return float64(x.RSS) / (1 << 20) }
		g := func(x sample) float64 { return float64(x.Goroutines) }
		fmt.Printf("\nload: first half RSS %.1f MiB, second half %.1f MiB; goroutines %.0f -> %.0f; "+
			"sent %d, delivered %d, churn operations %d, failures %d; the bridge closed %d slow readers and dropped %d messages\n",
			avg(load[:h], rss), avg(load[h:], rss), avg(load[:h], g), avg(load[h:], g),
			last.Sent, last.Delivered, last.Churn, last.Failures, last.SlowClosed, last.Dropped)
	}
}
