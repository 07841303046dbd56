package main

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strings"
)

// writeTable prints every result as one row of a Markdown table, in the
// order given (oldest first).
func writeTable(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| scenario | server | mode | load | conns | deliveries/s | p50 | p99 | p99.9 | server CPU % (waited) | loadgen CPU % (waited) | deliveries per server CPU-s | file |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rs {
		load := ""
		switch r.Mode {
		case "open":
			load = "rate " + human(r.Rate) + "/s"
		case "closed":
			load = fmt.Sprintf("window %d", r.Window)
		case "churn":
			load = "rate " + human(r.Rate) + "/s"
		}
		perCPU := ""
		if r.ServerCPU > 0 && r.DeliveriesPerSec > 0 {
			perCPU = human(r.DeliveriesPerSec / (r.ServerCPU / 100))
		}
		lat := func(us float64) string {
			if r.Latency.Count == 0 {
				return ""
			}
			return ms(us)
		}
		tp := human(r.DeliveriesPerSec)
		if r.Mode == "churn" {
			tp = fmt.Sprintf("%s cycles/s", human(r.ChurnPerSec))
		}
		if r.Mode == "idle" {
			tp = fmt.Sprintf("connect %s/s, %.0f B/conn", human(r.ConnectRate), r.RSSPerConn)
		}
		if r.incomplete() {
			tp, perCPU = fmt.Sprintf("**INCOMPLETE** %d of %d delivered", r.DeliveredWindow, r.ExpectedWindow), ""
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %d | %s | %s | %s | %s | %.0f (%.0f) | %.0f (%.0f) | %s | %s |\n",
			r.Scenario, r.label(), r.Mode, load, r.Conns, tp, lat(r.Latency.P50), lat(r.Latency.P99), lat(r.Latency.P999),
			r.ServerCPU, r.ServerWait, r.LoadgenCPU, r.LoadgenWait, perCPU, filepath.Base(r.file))
	}
}

// ms prints microseconds as milliseconds with sensible precision.
func ms(us float64) string {
	v := us / 1e3
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return strings.TrimSuffix(fmt.Sprintf("%.2f", v), "0") + " ms"
	}
}

// human prints 1234567 as 1.2M.
func human(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e6:
		return trim(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case a >= 1e3:
		return trim(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case a >= 1 || a == 0:
		return trim(fmt.Sprintf("%.1f", v))
	default:
		return trim(fmt.Sprintf("%.3f", v))
	}
}

func trim(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
