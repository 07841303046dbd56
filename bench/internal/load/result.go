package load

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/colibri-bus/colibri/bench/internal/hist"
)

// Latency holds percentiles in microseconds.
type Latency struct {
	Kind  string  `json:"kind"` // one-way, rtt or cycle
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_us"`
	P90   float64 `json:"p90_us"`
	P99   float64 `json:"p99_us"`
	P999  float64 `json:"p999_us"`
	Max   float64 `json:"max_us"`
}

// Result is one run's outcome, as written to the JSON file.
type Result struct {
	Scenario  string  `json:"scenario"`
	Server    string  `json:"server"`
	Date      string  `json:"date"`
	Mode      string  `json:"mode"`
	Class     string  `json:"class"`
	Conns     int     `json:"conns"`
	Confs     int     `json:"confs"`
	Endpoints int     `json:"endpoints_per_conf"`
	Senders   int     `json:"senders_per_conf"`
	MsgSize   int     `json:"msg_size"`
	Rate      float64 `json:"offered_rate"`
	Window    int     `json:"window"`
	Procs     int     `json:"procs"`
	Duration  float64 `json:"duration_s"`

	Sent             uint64  `json:"sent"`
	SentWindow       uint64  `json:"sent_window"`
	Delivered        uint64  `json:"delivered"`
	DeliveredWindow  uint64  `json:"delivered_window"`
	ExpectedWindow   uint64  `json:"expected_window"`
	SentPerSec       float64 `json:"sent_per_s"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	Latency          Latency `json:"latency"`

	ConnectSec      float64 `json:"connect_s"`
	ConnectRate     float64 `json:"connect_per_s"`
	ConnectFailures uint64  `json:"connect_failures"`
	ConnsLost       uint64  `json:"conns_lost"`

	ServerPID        int     `json:"server_pid,omitempty"`
	ServerPIDs       []int   `json:"server_pids,omitempty"` // CPU and RSS are summed over these
	ServerCPUPercent float64 `json:"server_cpu_pct"`
	ServerRSSBefore  int64   `json:"server_rss_before"`
	ServerRSSConn    int64   `json:"server_rss_connected"`
	ServerRSSAfter   int64   `json:"server_rss_after"`
	RSSPerConn       float64 `json:"server_rss_per_conn"`
	DelivPerCPUSec   float64 `json:"deliveries_per_server_cpu_s,omitempty"`
	ClientCPUPercent float64 `json:"loadgen_cpu_pct"` // summed over worker processes
	// Runnable-but-waiting time as a share of the window: how much other
	// load on the machine stole from the server and from the generator.
	ServerWaitPercent float64 `json:"server_cpu_wait_pct"`
	ClientWaitPercent float64 `json:"loadgen_cpu_wait_pct"`

	Other       uint64 `json:"other_msgs"`
	FromBad     uint64 `json:"from_bad"`
	FromMissing uint64 `json:"from_missing"`
	ServerClose uint64 `json:"server_closes"`
	WriteErrors uint64 `json:"write_errors"`

	Cycles     uint64 `json:"churn_cycles,omitempty"`
	CycleFails uint64 `json:"churn_failures,omitempty"`
	// Cycles not started because every slot was still busy (server too slow).
	CycleSkipped uint64  `json:"churn_skipped,omitempty"`
	CyclesPerS   float64 `json:"churn_per_s,omitempty"`

	Hist *hist.Snapshot `json:"hist,omitempty"` // worker to parent only
}

// result snapshots this worker's tallies.
func (w *worker) result() *Result {
	s := &w.stats
	snap := w.hist.Snapshot()
	return &Result{
		Sent: s.sent.Load(), SentWindow: s.sentWin.Load(),
		Delivered: s.delivered.Load(), DeliveredWindow: s.deliveredWin.Load(),
		ConnectFailures: s.connFail.Load(), ConnsLost: s.dropped.Load(),
		Other: s.other.Load(), FromBad: s.fromBad.Load(), FromMissing: s.fromMissing.Load(),
		ServerClose: s.serverClose.Load(), WriteErrors: s.writeErr.Load() + s.protoErr.Load(),
		Hist: &snap,
	}
}

// merge adds a worker's tallies to r.
func (r *Result) merge(o *Result) {
	r.Sent += o.Sent
	r.SentWindow += o.SentWindow
	r.Delivered += o.Delivered
	r.DeliveredWindow += o.DeliveredWindow
	r.ConnectFailures += o.ConnectFailures
	r.ConnsLost += o.ConnsLost
	r.Other += o.Other
	r.FromBad += o.FromBad
	r.FromMissing += o.FromMissing
	r.ServerClose += o.ServerClose
	r.WriteErrors += o.WriteErrors
	r.Cycles += o.Cycles
	r.ClientCPUPercent += o.ClientCPUPercent
	r.ClientWaitPercent += o.ClientWaitPercent
	r.CycleFails += o.CycleFails
	r.CycleSkipped += o.CycleSkipped
}

func us(ns int64) float64 { return float64(ns) / 1e3 }

// setLatency fills r.Latency from a merged histogram.
func (r *Result) setLatency(h *hist.Histogram, kind string) {
	r.Latency = Latency{Kind: kind, Count: h.Count(),
		P50: us(h.Quantile(0.5)), P90: us(h.Quantile(0.9)), P99: us(h.Quantile(0.99)),
		P999: us(h.Quantile(0.999)), Max: us(h.Max())}
}

// WriteJSON writes r to path.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// PrintTable writes a human summary.
func (r *Result) PrintTable(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k string, f string, a ...any) { fmt.Fprintf(tw, "%s\t"+f+"\n", append([]any{k}, a...)...) }
	row("scenario", "%s (%s, %s)", r.Scenario, r.Mode, r.Class)
	row("server", "%s pids=%v", r.Server, r.ServerPIDs)
	row("conns", "%d = %d confs x %d endpoints (%d senders/conf), %d proc(s)", r.Conns, r.Confs, r.Endpoints, r.Senders, r.Procs)
	row("connect", "%.2fs, %.0f conns/s, %d failures, %d lost", r.ConnectSec, r.ConnectRate, r.ConnectFailures, r.ConnsLost)
	if r.Mode == "churn" {
		row("churn", "%d cycles (%d failed, %d skipped: no free slot), %.1f cycles/s", r.Cycles, r.CycleFails, r.CycleSkipped, r.CyclesPerS)
	} else if r.Mode != "idle" {
		row("window", "%.1fs, offered %.0f msg/s, window %d", r.Duration, r.Rate, r.Window)
		row("sent", "%d in window (%.0f/s), %d total", r.SentWindow, r.SentPerSec, r.Sent)
		row("delivered", "%d of %d expected (%.0f deliveries/s), %d total", r.DeliveredWindow, r.ExpectedWindow, r.DeliveriesPerSec, r.Delivered)
	}
	if r.Latency.Count > 0 {
		l := r.Latency
		row("latency "+l.Kind, "p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%d)",
			fmtUS(l.P50), fmtUS(l.P90), fmtUS(l.P99), fmtUS(l.P999), fmtUS(l.Max), l.Count)
	}
	row("cpu", "server %.1f%% of a core (waited %.1f%%), loadgen %.1f%% (waited %.1f%%)",
		r.ServerCPUPercent, r.ServerWaitPercent, r.ClientCPUPercent, r.ClientWaitPercent)
	row("server rss", "before %s, connected %s, after %s, %.0f B/conn",
		mb(r.ServerRSSBefore), mb(r.ServerRSSConn), mb(r.ServerRSSAfter), r.RSSPerConn)
	row("anomalies", "from bad %d, from missing %d, other msgs %d, server closes %d, write errors %d",
		r.FromBad, r.FromMissing, r.Other, r.ServerClose, r.WriteErrors)
	tw.Flush()
}

func fmtUS(v float64) string {
	return time.Duration(v * 1e3).Round(time.Microsecond).String()
}

func mb(b int64) string { return fmt.Sprintf("%.1fMB", float64(b)/(1<<20)) }
