// Command loadgen drives a Colibri WebSocket bridge (or a bench peer)
// through its colibri2 REST API and WebSocket contract and reports
// deliveries per second, latency percentiles, connect rate and the
// server's CPU and memory. See bench/README.md for the scenarios.
//
// Completeness is checked before any rate: a run in which a window message
// missed a receiver, arrived twice, or a connection failed prints that
// first, reports no rate, is marked incomplete in the JSON, and exits 3.
//
//	cd bench && go run ./loadgen -scenario S2 -rest 127.0.0.1:8080 -window 8 -duration 10s
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/load"
)

func main() {
	if load.IsWorker() {
		os.Exit(load.WorkerMain())
	}
	var c load.Config
	var rest, wsAddr, relayIDs, out string
	flag.StringVar(&c.Scenario, "scenario", "S2", "S1 idle, S2 broadcast storm, S3 large conference, S4 unicast ping-pong, S5 relay, S6 churn, S8 flood beside fixed-rate conferences")
	flag.StringVar(&c.Server, "server", "bridge", "label of the server under test")
	flag.StringVar(&rest, "rest", "127.0.0.1:8080", "REST host:port of each bridge, comma separated (S5 takes two)")
	flag.StringVar(&wsAddr, "ws-addr", "", "host:port replacing the advertised WebSocket address, per bridge, comma separated")
	flag.StringVar(&relayIDs, "relay-ids", "", "S5: relay-id of each bridge, comma separated (default relay-0,relay-1)")
	flag.IntVar(&c.Confs, "confs", 0, "conferences (default per scenario)")
	flag.IntVar(&c.Endpoints, "endpoints", 0, "endpoints per conference (default per scenario)")
	flag.IntVar(&c.Senders, "senders", 0, "sending endpoints per conference (0 = all; S3 default 1)")
	flag.StringVar(&c.Class, "class", "", "EndpointMessage or EndpointStats (default per scenario)")
	flag.IntVar(&c.Size, "size", 0, "bytes per client message (default 200)")
	flag.Float64Var(&c.Rate, "rate", 0, "open loop: aggregate messages/s (S6: cycles/s); 0 = closed loop")
	flag.IntVar(&c.Window, "window", 0, "closed loop: messages outstanding per sender; 0 with -rate 0 = flood")
	flag.DurationVar(&c.Duration, "duration", 10*time.Second, "measured window (S1: hold time)")
	flag.DurationVar(&c.Warmup, "warmup", time.Second, "traffic before the measured window")
	flag.DurationVar(&c.Drain, "drain", 3*time.Second, "longest wait for in-flight messages after the window")
	flag.IntVar(&c.DialConcurrency, "dial-concurrency", 128, "parallel dials per process")
	flag.IntVar(&c.RESTConcurrency, "rest-concurrency", 16, "parallel REST requests per process")
	flag.IntVar(&c.SourceIPs, "source-ips", 200, "127.x source addresses per process")
	flag.IntVar(&c.ReadBuf, "read-buf", 0, "read buffer bytes per connection (default 32 KiB, S1 2 KiB)")
	flag.IntVar(&c.Writers, "writers", 4, "open-loop / flood sender goroutines per process")
	flag.DurationVar(&c.Tick, "tick", time.Millisecond, "open-loop scheduling granularity (a floor under measured latency)")
	flag.IntVar(&c.Procs, "procs", 0, "worker processes (0 = one per 18,000 connections)")
	flag.BoolVar(&c.Deflate, "deflate", false, "offer permessage-deflate as Chromium does (\"permessage-deflate; client_max_window_bits\"), send compressed, inflate what arrives; a server that declines fails the connection")
	flag.BoolVar(&c.VerifyFrom, "verify-from", true, "check that every delivery's \"from\" is its sender's id")
	var pids string
	flag.StringVar(&pids, "server-pid", "", "sample this process's CPU and RSS from /proc (comma separated: summed)")
	flag.BoolVar(&c.Quiet, "quiet", false, "no per-second progress lines")
	flag.StringVar(&out, "out", "", "write the JSON result here")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile of the generator here")
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	c.REST = splitList(rest)
	c.WSAddr = splitList(wsAddr)
	c.RelayIDs = splitList(relayIDs)
	for _, p := range splitList(pids) {
		n, err := strconv.Atoi(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen: bad -server-pid:", p)
			os.Exit(2)
		}
		c.ServerPIDs = append(c.ServerPIDs, n)
	}

	r, err := load.Run(c, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	r.PrintTable(os.Stdout)
	if out != "" {
		if err := r.WriteJSON(out); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
	}
	if r.Incomplete {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "loadgen: INCOMPLETE:", r.IncompleteReason)
		os.Exit(3)
	}
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
