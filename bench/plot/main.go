// Command plot reads bench/loadgen result files (JSON) and writes SVG
// charts (gonum.org/v1/plot): throughput against connections, latency
// against load, and one bar chart per scenario comparing the servers;
// with -table it prints a Markdown table of the results instead.
// Incomplete runs (a rate over a partial delivery) are left out of the
// charts and marked in the table.
//
//	cd bench && go run ./plot -out results/plots results/*.json
//	cd bench && go run ./plot -table results/S2-*.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
)

// result is the part of a loadgen result the plots use.
type result struct {
	Scenario         string  `json:"scenario"`
	Server           string  `json:"server"`
	Date             string  `json:"date"`
	Mode             string  `json:"mode"`
	Conns            int     `json:"conns"`
	Rate             float64 `json:"offered_rate"`
	Window           int     `json:"window"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	Deflate          bool    `json:"deflate"`
	Incomplete       bool    `json:"incomplete"`
	IncompleteReason string  `json:"incomplete_reason"`
	DeliveredWindow  uint64  `json:"delivered_window"`
	ExpectedWindow   uint64  `json:"expected_window"`
	ConnectFailures  uint64  `json:"connect_failures"`
	ChurnFailures    uint64  `json:"churn_failures"`
	ServerCPU        float64 `json:"server_cpu_pct"`
	ServerWait       float64 `json:"server_cpu_wait_pct"`
	LoadgenCPU       float64 `json:"loadgen_cpu_pct"`
	LoadgenWait      float64 `json:"loadgen_cpu_wait_pct"`
	ConnectRate      float64 `json:"connect_per_s"`
	RSSPerConn       float64 `json:"server_rss_per_conn"`
	ChurnPerSec      float64 `json:"churn_per_s"`
	Latency          struct {
		Kind  string  `json:"kind"`
		Count uint64  `json:"count"`
		P50   float64 `json:"p50_us"`
		P99   float64 `json:"p99_us"`
		P999  float64 `json:"p999_us"`
	} `json:"latency"`
	file string
}

func main() {
	out := flag.String("out", "results/plots", "directory for the SVG files")
	png := flag.Bool("png", false, "write a PNG beside each SVG")
	table := flag.Bool("table", false, "print a Markdown table of the results on stdout instead of writing SVG")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: plot [-out DIR] result.json...")
		os.Exit(2)
	}
	var rs []result
	for _, f := range flag.Args() {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "plot:", err)
			os.Exit(1)
		}
		var r result
		if err := json.Unmarshal(b, &r); err != nil || r.Scenario == "" {
			fmt.Fprintf(os.Stderr, "plot: skipping %s: not a loadgen result\n", f)
			continue
		}
		r.file = f
		rs = append(rs, r)
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].Date < rs[j].Date })
	if *table {
		writeTable(os.Stdout, rs)
		return
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
	cs, err := charts(rs)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
	for name, c := range cs {
		paths := []string{filepath.Join(*out, name+".svg")}
		if *png {
			paths = append(paths, filepath.Join(*out, name+".png"))
		}
		for _, p := range paths {
			if err := writePlot(c, p); err != nil {
				fmt.Fprintln(os.Stderr, "plot:", err)
				os.Exit(1)
			}
			fmt.Println(p)
		}
	}
}

// label names r's server in charts and tables: with " deflate" for a
// permessage-deflate run, which is a configuration of its own.
func (r *result) label() string {
	if r.Deflate {
		return r.Server + " deflate"
	}
	return r.Server
}

// incomplete reports whether r is a run over a partial delivery, which
// carries no rate: marked so by loadgen, or (files written before loadgen
// checked completeness) fewer window deliveries than expected, failed
// connections or failed churn cycles.
func (r *result) incomplete() bool {
	traffic := r.Mode == "open" || r.Mode == "closed" || r.Mode == "flood" || r.Mode == "noisy"
	return r.Incomplete || (traffic && r.DeliveredWindow < r.ExpectedWindow) ||
		r.ConnectFailures > 0 || r.ChurnFailures > 0
}

// latest keeps, for each configuration (scenario, server, mode, load,
// connections), only its most recent run; rs is sorted oldest first.
func latest(rs []result) []result {
	type cfg struct {
		scen, server, mode string
		rate               float64
		window, conns      int
	}
	idx := map[cfg]int{}
	var out []result
	for _, r := range rs {
		k := cfg{r.Scenario, r.label(), r.Mode, r.Rate, r.Window, r.Conns}
		if i, ok := idx[k]; ok {
			out[i] = r
			continue
		}
		idx[k] = len(out)
		out = append(out, r)
	}
	return out
}

// charts builds every chart the results allow, by file name, from the
// latest run of each configuration.
func charts(rs []result) (map[string]*plot.Plot, error) {
	rs = latest(rs)
	// A rate over a partial delivery is not a rate: the latest run of a
	// configuration that was incomplete is left out (not replaced by an
	// older complete one), and named.
	kept := rs[:0:0]
	for _, r := range rs {
		if r.incomplete() {
			fmt.Fprintf(os.Stderr, "plot: leaving out incomplete run %s\n", filepath.Base(r.file))
			continue
		}
		kept = append(kept, r)
	}
	rs = kept
	out := map[string]*plot.Plot{}
	var err error
	keep := func(name string, p *plot.Plot, e error) {
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
		out[name] = p
	}
	// Per scenario: throughput against connections (saturation runs) and
	// latency against load (open-loop runs, p99 solid, p50 dashed).
	tp := map[string]map[string][]point{}
	lat := map[string]map[string][]point{}
	add := func(m map[string]map[string][]point, scen, series string, p point) {
		if m[scen] == nil {
			m[scen] = map[string][]point{}
		}
		m[scen][series] = append(m[scen][series], p)
	}
	for _, r := range rs {
		if (r.Mode == "closed" || r.Mode == "flood") && r.DeliveriesPerSec > 0 {
			add(tp, r.Scenario, r.label(), point{float64(r.Conns), r.DeliveriesPerSec})
		}
		if r.Mode == "open" && r.Latency.Count > 0 {
			add(lat, r.Scenario, r.label()+" p99", point{r.DeliveriesPerSec, r.Latency.P99 / 1e3})
			add(lat, r.Scenario, r.label()+" p50", point{r.DeliveriesPerSec, r.Latency.P50 / 1e3})
		}
	}
	for scen, series := range tp {
		p, e := lineChart(scen+": deliveries/s at saturation against connections",
			"connections", "deliveries/s", series, true, false)
		keep(scen+"-throughput-vs-conns", p, e)
	}
	for scen, series := range lat {
		p, e := lineChart(scen+": latency against load (open loop; p99 solid, p50 dashed)",
			"deliveries/s", "latency (ms)", series, true, true)
		keep(scen+"-latency-vs-load", p, e)
	}
	// Per scenario and mode: the latest run of each server, side by side.
	type key struct{ scen, mode string }
	latest := map[key]map[string]result{}
	for _, r := range rs {
		k := key{r.Scenario, r.Mode}
		if latest[k] == nil {
			latest[k] = map[string]result{}
		}
		latest[k][r.label()] = r
	}
	for k, m := range latest {
		var bars []bar
		what := "deliveries/s"
		for _, r := range m {
			b := bar{label: r.label(), value: r.DeliveriesPerSec, note: fmt.Sprintf("cpu %.0f%%", r.ServerCPU)}
			switch {
			case k.mode == "idle":
				what, b.value, b.note = "server RSS bytes per connection", r.RSSPerConn, fmt.Sprintf("%s conns", human(float64(r.Conns)))
			case k.mode == "churn":
				what, b.value, b.note = "p99 cycle time (ms)", r.Latency.P99/1e3, fmt.Sprintf("%.0f cycles/s", r.ChurnPerSec)
			case k.mode == "open" && r.Latency.Count > 0:
				b.note = fmt.Sprintf("p99 %.1f ms", r.Latency.P99/1e3)
			}
			bars = append(bars, b)
		}
		sort.Slice(bars, func(i, j int) bool { return bars[i].value > bars[j].value })
		title := fmt.Sprintf("%s %s: %s by server (latest run)", k.scen, k.mode, what)
		p, e := barChart(title, what, bars)
		keep(fmt.Sprintf("%s-%s-servers", k.scen, k.mode), p, e)
	}
	return out, err
}
