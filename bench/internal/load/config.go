// Package load is the Colibri WebSocket load generator behind
// bench/loadgen: it creates conferences through a bridge's colibri2 REST
// API, opens the advertised WebSocket URLs from many 127.x source
// addresses, drives EndpointMessage / EndpointStats traffic in open or
// closed loop, and measures deliveries and latency. Run sends for a
// duration (bench/loadgen); a Session sends a count, its setup apart
// (bench/loadbench's benchmarks).
//
// It talks to the bridge only through the public contracts (REST JSON and
// RFC 6455 frames), so it drives any server that honours them. It depends
// on the bridge module's wsproto codec and public colibri2/client, and on
// bench/internal, nothing else; its test imports the bridge itself, to run
// the generator against it in-process.
package load

import (
	"fmt"
	"strings"
	"time"
)

// Config selects a scenario and its sizes. Zero fields take the
// scenario's defaults (see Defaults).
type Config struct {
	Scenario string   // S1 … S6, S8
	Server   string   // label of the server under test, for the report
	REST     []string // host:port of each bridge's private REST server
	WSAddr   []string // optional host:port overriding each bridge's advertised WebSocket address
	RelayIDs []string // S5: each bridge's videobridge.relay.relay-id

	Confs     int    // conferences
	Endpoints int    // endpoints per conference
	Senders   int    // senders per conference; 0 = every endpoint
	Class     string // EndpointMessage or EndpointStats
	Unicast   bool   // S4: pairs exchange unicast ping/pong
	Size      int    // bytes of one client message (JSON text)
	// Deflate offers permessage-deflate as Chromium does and, when the
	// server accepts, sends every message compressed and inflates what
	// it receives.
	Deflate bool

	Rate     float64       // open loop: aggregate messages/s (churn: cycles/s); 0 = closed loop
	Window   int           // closed loop: messages outstanding per sender; 0 with Rate 0 = flood
	Duration time.Duration // measured traffic time (S1: hold time)
	Warmup   time.Duration // traffic before the measured window
	Drain    time.Duration // longest wait for in-flight messages after the window

	DialConcurrency int // parallel dials
	RESTConcurrency int // parallel REST requests
	SourceIPs       int // distinct 127.x source addresses per process
	ReadBuf         int // bytes of each connection's read buffer
	Writers         int // open-loop sender goroutines
	// Tick is the open-loop scheduling granularity: a message is written at
	// the first tick at or after its scheduled time (and stamped with the
	// scheduled time), so Tick is a floor under measured latency.
	Tick       time.Duration
	Procs      int // worker processes; 0 = automatic
	VerifyFrom bool
	ServerPIDs []int // server processes whose CPU and RSS are summed (S5: both bridges)
	RunID      string
	Quiet      bool // no progress lines

	worker int // this process's worker index
	nproc  int // number of workers sharing the conferences
}

// Defaults fills zero fields with the scenario's defaults.
func (c *Config) Defaults() error {
	c.Scenario = strings.ToUpper(c.Scenario)
	type sz struct{ confs, eps, senders, size int }
	d := map[string]sz{
		"S1": {1000, 19, 0, 200},
		"S2": {50, 40, 0, 200},
		"S3": {1, 1000, 1, 200},
		"S4": {500, 2, 0, 200},
		"S5": {50, 40, 0, 200},
		"S6": {0, 2, 0, 200},
		"S8": {20, 10, 0, 200},
	}
	s, ok := d[c.Scenario]
	if !ok {
		return fmt.Errorf("unknown scenario %q (S1..S6, S8)", c.Scenario)
	}
	if c.Confs == 0 {
		c.Confs = s.confs
	}
	if c.Endpoints == 0 {
		c.Endpoints = s.eps
	}
	if c.Senders == 0 {
		c.Senders = s.senders
	}
	if c.Senders <= 0 || c.Senders > c.Endpoints {
		c.Senders = c.Endpoints
	}
	if c.Size == 0 {
		c.Size = s.size
	}
	if c.Class == "" {
		c.Class = "EndpointMessage"
		if c.Scenario == "S3" {
			c.Class = "EndpointStats"
		}
	}
	if c.Scenario == "S4" {
		c.Unicast, c.Endpoints, c.Senders = true, 2, 1
	}
	if c.Scenario == "S6" && c.Rate == 0 {
		c.Rate = 20
	}
	if c.Scenario == "S8" {
		// Conference 0 holds the flooder and its receivers; the others
		// send at a fixed moderate rate (default 10 msg/s per sender).
		if c.Confs < 2 {
			return fmt.Errorf("S8 needs at least two conferences (one flooded, the others measured)")
		}
		if c.Rate == 0 {
			c.Rate = float64(10 * (c.Confs - 1) * c.Senders)
		}
		c.Procs = 1 // the flooder's phases are timed by one process
	}
	if c.Duration == 0 {
		c.Duration = 10 * time.Second
	}
	if c.Warmup < 0 {
		c.Warmup = 0
	}
	if c.Drain == 0 {
		c.Drain = 3 * time.Second
	}
	if c.DialConcurrency == 0 {
		c.DialConcurrency = 128
	}
	if c.RESTConcurrency == 0 {
		c.RESTConcurrency = 16
	}
	if c.SourceIPs == 0 {
		c.SourceIPs = 200
	}
	if c.ReadBuf == 0 {
		c.ReadBuf = 32 << 10
		if c.Scenario == "S1" {
			c.ReadBuf = 2 << 10
		}
	}
	if c.Tick <= 0 {
		c.Tick = time.Millisecond
	}
	if c.Writers == 0 {
		c.Writers = 4
	}
	if len(c.REST) == 0 {
		c.REST = []string{"127.0.0.1:8080"}
	}
	if c.Scenario == "S5" && len(c.REST) < 2 {
		return fmt.Errorf("S5 needs two REST addresses (-rest A,B)")
	}
	if c.RunID == "" {
		c.RunID = fmt.Sprintf("lg%x", time.Now().UnixNano()&0xffffffffff)
	}
	if c.Procs == 0 {
		c.Procs = (c.Conns() + 17999) / 18000
		if c.Procs < 1 {
			c.Procs = 1
		}
	}
	return nil
}

// Conns is the number of WebSocket connections the scenario holds.
func (c *Config) Conns() int { return c.Confs * c.Endpoints }

// Mode names the traffic discipline.
func (c *Config) Mode() string {
	switch {
	case c.Scenario == "S1":
		return "idle"
	case c.Scenario == "S6":
		return "churn"
	case c.Scenario == "S8":
		return "noisy"
	case c.Rate > 0:
		return "open"
	case c.Window > 0:
		return "closed"
	default:
		return "flood"
	}
}

// mine reports whether conference index k belongs to this worker.
func (c *Config) mine(k int) bool { return c.nproc <= 1 || k%c.nproc == c.worker }

// fanout is the number of deliveries one sent message should cause: its
// receivers; for S4's unicast ping-pong two (the ping, and the pong that
// echoes it; replies are not counted as sent).
func (c *Config) fanout() uint64 {
	if c.Unicast {
		return 2
	}
	return uint64(c.Endpoints - 1)
}

// openSenders is the number of senders, over every process, that share
// the open-loop Rate (S8: the flooder's conference is not among them).
func (c *Config) openSenders() int {
	switch {
	case c.Unicast:
		return c.Confs
	case c.Scenario == "S8":
		return (c.Confs - 1) * c.Senders
	}
	return c.Confs * c.Senders
}

// template returns the constructor of a sender's frame template for msg:
// compressed under Deflate, plain otherwise.
func (c *Config) template(msg []byte, tOff, sOff int) func(mask [4]byte) *template {
	return func(mask [4]byte) *template {
		if c.Deflate {
			return newDeflateTemplate(msg, tOff, sOff, mask)
		}
		return newTemplate(msg, tOff, sOff, mask)
	}
}
