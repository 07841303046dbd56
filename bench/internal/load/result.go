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
//
// Completeness comes first: a run is complete when every message stamped
// inside the window reached every receiver it was addressed to exactly
// once (delivered_window == expected_window, no duplicates, nothing
// misrouted), every connection was established and none was lost or
// closed by the server. An incomplete run carries no rate:
// deliveries_per_s (and deliveries per CPU-second) are 0, incomplete is
// true and incomplete_reason says what was missing; the rate over the
// partial delivery is kept as partial_deliveries_per_s for diagnosis only.
type Result struct {
	Scenario  string  `json:"scenario"`
	Server    string  `json:"server"`
	Date      string  `json:"date"`
	Mode      string  `json:"mode"`
	Class     string  `json:"class"`
	Deflate   bool    `json:"deflate,omitempty"`
	Conns     int     `json:"conns"`
	Confs     int     `json:"confs"`
	Endpoints int     `json:"endpoints_per_conf"`
	Senders   int     `json:"senders_per_conf"`
	MsgSize   int     `json:"msg_size"`
	Rate      float64 `json:"offered_rate"`
	Window    int     `json:"window"`
	Procs     int     `json:"procs"`
	Duration  float64 `json:"duration_s"`

	Incomplete       bool   `json:"incomplete"`
	IncompleteReason string `json:"incomplete_reason,omitempty"`

	Sent             uint64  `json:"sent"`
	SentWindow       uint64  `json:"sent_window"`
	Delivered        uint64  `json:"delivered"`
	DeliveredWindow  uint64  `json:"delivered_window"`
	ExpectedWindow   uint64  `json:"expected_window"`
	MissingWindow    uint64  `json:"missing_window"`
	Duplicates       uint64  `json:"duplicates"`
	Misrouted        uint64  `json:"misrouted"`
	SeqGaps          uint64  `json:"seq_gaps"`
	SentPerSec       float64 `json:"sent_per_s"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	PartialPerSec    float64 `json:"partial_deliveries_per_s,omitempty"`
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

	Other        uint64 `json:"other_msgs"`
	FromBad      uint64 `json:"from_bad"`
	FromMissing  uint64 `json:"from_missing"`
	ServerClose  uint64 `json:"server_closes"`
	PolicyCloses uint64 `json:"server_closes_1008"`
	WriteErrors  uint64 `json:"write_errors"`
	Inflated     uint64 `json:"inflated_msgs,omitempty"` // compressed messages received (-deflate)

	Cycles     uint64 `json:"churn_cycles,omitempty"`
	CycleFails uint64 `json:"churn_failures,omitempty"`
	// Cycles not started because every slot was still busy (server too slow).
	CycleSkipped uint64  `json:"churn_skipped,omitempty"`
	CyclesPerS   float64 `json:"churn_per_s,omitempty"`

	// S8 only: the other conferences without and with the flooder.
	Phases []Phase `json:"phases,omitempty"`

	Tallies []Tally `json:"tallies,omitempty"` // worker to parent only
}

// Phase is one measured window of S8: the ordinary conferences' traffic
// (sent, delivered, completeness, latency) and the flooder's, with the
// server's CPU and resident memory over that window.
type Phase struct {
	Name             string  `json:"name"` // "without flooder" or "with flooder"
	Incomplete       bool    `json:"incomplete"`
	IncompleteReason string  `json:"incomplete_reason,omitempty"`
	SentWindow       uint64  `json:"sent_window"`
	DeliveredWindow  uint64  `json:"delivered_window"`
	ExpectedWindow   uint64  `json:"expected_window"`
	DeliveriesPerSec float64 `json:"deliveries_per_s"`
	Latency          Latency `json:"latency"`
	ServerCPUPercent float64 `json:"server_cpu_pct"`
	ServerRSS        int64   `json:"server_rss_end"`
	// The flooder shares the generator's core with everyone else's senders
	// and readers: read the others' latency beside this.
	LoadgenCPUPercent float64 `json:"loadgen_cpu_pct"`

	FloodSent       uint64  `json:"flood_sent_window,omitempty"`
	FloodDelivered  uint64  `json:"flood_delivered_window,omitempty"`
	FloodExpected   uint64  `json:"flood_expected_window,omitempty"`
	FloodPerSec     float64 `json:"flood_deliveries_per_s,omitempty"`
	FloodIncomplete string  `json:"flood_incomplete,omitempty"`
	FloodClosed1008 bool    `json:"flood_closed_1008,omitempty"`
}

// Tally is one group's counts of one worker, carried to the parent.
type Tally struct {
	Sent, Delivered, Duplicates, Misrouted, Gaps uint64
	Other, FromBad, FromMissing                  uint64
	Dropped, ServerClose, PolicyClose            uint64
	WriteErrors, ConnFail, Inflated              uint64
	Win                                          [nPhases]WinTally
}

// WinTally is one (phase, group) window share of a Tally.
type WinTally struct {
	Sent, Delivered uint64
	Hist            hist.Snapshot
}

// result snapshots this worker's tallies.
func (w *worker) result() *Result {
	r := &Result{}
	for g := range w.stats {
		s := &w.stats[g]
		t := Tally{
			Sent: s.sent.Load(), Delivered: s.delivered.Load(), Duplicates: s.duplicates.Load(),
			Misrouted: s.misrouted.Load(), Gaps: s.gaps.Load(), Other: s.other.Load(),
			FromBad: s.fromBad.Load(), FromMissing: s.fromMissing.Load(), Dropped: s.dropped.Load(),
			ServerClose: s.serverClose.Load(), PolicyClose: s.policyClose.Load(),
			WriteErrors: s.writeErr.Load() + s.protoErr.Load(), ConnFail: s.connFail.Load(), Inflated: s.inflated.Load(),
		}
		for p := range w.win {
			t.Win[p] = WinTally{Sent: w.win[p][g].sent.Load(), Delivered: w.win[p][g].delivered.Load(),
				Hist: w.win[p][g].hist.Snapshot()}
		}
		r.Tallies = append(r.Tallies, t)
	}
	return r
}

// merge adds a worker's tallies to r (whose Tallies are the running sums).
func (r *Result) merge(o *Result) {
	for len(r.Tallies) < len(o.Tallies) {
		r.Tallies = append(r.Tallies, Tally{})
	}
	for g := range o.Tallies {
		a, b := &r.Tallies[g], &o.Tallies[g]
		a.Sent += b.Sent
		a.Delivered += b.Delivered
		a.Duplicates += b.Duplicates
		a.Misrouted += b.Misrouted
		a.Gaps += b.Gaps
		a.Other += b.Other
		a.FromBad += b.FromBad
		a.FromMissing += b.FromMissing
		a.Dropped += b.Dropped
		a.ServerClose += b.ServerClose
		a.PolicyClose += b.PolicyClose
		a.WriteErrors += b.WriteErrors
		a.ConnFail += b.ConnFail
		a.Inflated += b.Inflated
		for p := range a.Win {
			a.Win[p].Sent += b.Win[p].Sent
			a.Win[p].Delivered += b.Win[p].Delivered
			var h hist.Histogram
			h.AddSnapshot(a.Win[p].Hist)
			h.AddSnapshot(b.Win[p].Hist)
			a.Win[p].Hist = h.Snapshot()
		}
	}
	r.Cycles += o.Cycles
	r.ClientCPUPercent += o.ClientCPUPercent
	r.ClientWaitPercent += o.ClientWaitPercent
	r.CycleFails += o.CycleFails
	r.CycleSkipped += o.CycleSkipped
}

func us(ns int64) float64 { return float64(ns) / 1e3 }

// latency summarises a histogram snapshot.
func latency(s hist.Snapshot, kind string) Latency {
	var h hist.Histogram
	h.AddSnapshot(s)
	return Latency{Kind: kind, Count: h.Count(),
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

// PrintTable writes a human summary. Completeness comes first: an
// incomplete run is announced in a banner before anything else, and its
// delivery line says "incomplete: X of Y delivered" instead of a rate.
func (r *Result) PrintTable(out io.Writer) {
	if r.Incomplete {
		fmt.Fprintf(out, "!!! INCOMPLETE RUN: %s\n!!! no rate is reported for it\n", r.IncompleteReason)
	} else {
		switch r.Mode {
		case "idle":
			fmt.Fprintf(out, "complete: %d connections up, none lost or closed\n", r.Conns)
		case "churn":
			fmt.Fprintf(out, "complete: %d cycles in the window, none failed\n", r.Cycles)
		default:
			fmt.Fprintf(out, "complete: %d of %d delivered, 0 duplicates, 0 misrouted\n", r.DeliveredWindow, r.ExpectedWindow)
		}
	}
	for _, p := range r.Phases {
		if p.Incomplete {
			fmt.Fprintf(out, "!!! INCOMPLETE %s: %s\n", p.Name, p.IncompleteReason)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	row := func(k string, f string, a ...any) { fmt.Fprintf(tw, "%s\t"+f+"\n", append([]any{k}, a...)...) }
	row("scenario", "%s (%s, %s%s)", r.Scenario, r.Mode, r.Class, map[bool]string{true: ", permessage-deflate"}[r.Deflate])
	row("server", "%s pids=%v", r.Server, r.ServerPIDs)
	row("conns", "%d = %d confs x %d endpoints (%d senders/conf), %d proc(s)", r.Conns, r.Confs, r.Endpoints, r.Senders, r.Procs)
	row("connect", "%.2fs, %.0f conns/s, %d failures, %d lost", r.ConnectSec, r.ConnectRate, r.ConnectFailures, r.ConnsLost)
	switch {
	case r.Mode == "churn" && r.Incomplete:
		row("churn", "%d cycles (%d failed, %d skipped: no free slot), incomplete: no rate", r.Cycles, r.CycleFails, r.CycleSkipped)
	case r.Mode == "churn":
		row("churn", "%d cycles (%d failed, %d skipped: no free slot), %.1f cycles/s", r.Cycles, r.CycleFails, r.CycleSkipped, r.CyclesPerS)
	case r.Mode != "idle":
		row("window", "%.1fs x %d, offered %.0f msg/s, window %d", r.Duration, max(1, len(r.Phases)), r.Rate, r.Window)
		row("sent", "%d in window (%.0f/s), %d total", r.SentWindow, r.SentPerSec, r.Sent)
		if r.Incomplete {
			row("delivered", "incomplete: %d of %d delivered, %d duplicates, %d misrouted, %d total", r.DeliveredWindow, r.ExpectedWindow, r.Duplicates, r.Misrouted, r.Delivered)
		} else {
			row("delivered", "%d of %d expected (%.0f deliveries/s), %d total", r.DeliveredWindow, r.ExpectedWindow, r.DeliveriesPerSec, r.Delivered)
		}
	}
	if r.Latency.Count > 0 {
		row("latency "+r.Latency.Kind, "%s", fmtLatency(r.Latency))
	}
	for _, p := range r.Phases {
		deliv := fmt.Sprintf("%d of %d (%.0f deliveries/s)", p.DeliveredWindow, p.ExpectedWindow, p.DeliveriesPerSec)
		if p.Incomplete {
			deliv = fmt.Sprintf("incomplete: %d of %d delivered", p.DeliveredWindow, p.ExpectedWindow)
		}
		row(p.Name, "others: %s, %s; server cpu %.1f%%, rss %s; loadgen cpu %.1f%%", deliv, fmtLatency(p.Latency), p.ServerCPUPercent, mb(p.ServerRSS), p.LoadgenCPUPercent)
		if p.FloodSent > 0 || p.FloodClosed1008 {
			fl := fmt.Sprintf("%d of %d delivered (%.0f deliveries/s)", p.FloodDelivered, p.FloodExpected, p.FloodPerSec)
			if p.FloodIncomplete != "" {
				fl = fmt.Sprintf("no rate: %s", p.FloodIncomplete)
			}
			if p.FloodClosed1008 {
				fl = "closed by the server with 1008 (past the inbound bound); " + fl
			}
			row("  flooder", "%s", fl)
		}
	}
	row("cpu", "server %.1f%% of a core (waited %.1f%%), loadgen %.1f%% (waited %.1f%%)",
		r.ServerCPUPercent, r.ServerWaitPercent, r.ClientCPUPercent, r.ClientWaitPercent)
	row("server rss", "before %s, connected %s, after %s, %.0f B/conn",
		mb(r.ServerRSSBefore), mb(r.ServerRSSConn), mb(r.ServerRSSAfter), r.RSSPerConn)
	if r.Deflate {
		row("deflate", "every connection negotiated permessage-deflate; %d compressed messages received", r.Inflated)
	}
	row("anomalies", "duplicates %d, misrouted %d, seq gaps %d, from bad %d, from missing %d, other msgs %d, server closes %d (1008: %d), write errors %d",
		r.Duplicates, r.Misrouted, r.SeqGaps, r.FromBad, r.FromMissing, r.Other, r.ServerClose, r.PolicyCloses, r.WriteErrors)
	tw.Flush()
}

func fmtLatency(l Latency) string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  p99.9 %s  max %s  (n=%d)",
		fmtUS(l.P50), fmtUS(l.P90), fmtUS(l.P99), fmtUS(l.P999), fmtUS(l.Max), l.Count)
}

func fmtUS(v float64) string {
	return time.Duration(v * 1e3).Round(time.Microsecond).String()
}

func mb(b int64) string { return fmt.Sprintf("%.1fMB", float64(b)/(1<<20)) }
