package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// result is one S7 run.
type result struct {
	Bridges, Endpoints, Procs int
	Seed                      uint64
	PlaceSeconds              float64
	ConnectSeconds            float64
	ConnectRate               float64
	BridgeRSS                 []bridgeRSS
	Steps                     []step
	Exact                     bool // every step delivered every broadcast exactly once
}

type bridgeRSS struct {
	Name                string
	IdleMB, ConnectedMB float64
	BytesPerEndpoint    float64
}

// step is one offered rate.
type step struct {
	Rate                                      float64
	Broadcasts                                int
	Sent, Delivered, Expected                 uint64
	Lost, Duplicated, BadFrom, Other, Unknown uint64
	Exact                                     bool
	DeliveriesPerSec                          float64
	LocalP50, LocalP99, RelayP50, RelayP99    float64 // ms
	LocalN, RelayN                            uint64
	Split                                     split // the latency split, per broadcast
	SendLagMaxMs                              float64
	BoxBusyPercent                            float64 // both CPUs, everything running on the box
	PerBridge                                 []tally // receivers by bridge
	Links                                     []link
	CPU                                       []procCPU
}

type link struct {
	From, To string
	PerSec   float64
}

type procCPU struct {
	Name    string
	Percent float64 // of one core, over the step's wall time
	// WaitedPercent is time runnable but waiting for a CPU (schedstat), of
	// the wall time: high values mean the box, not the process, was short.
	WaitedPercent float64
}

// report writes r. A step whose deliveries are not exact shows only its
// account: figures of a lossy run are not figures.
func report(w io.Writer, r *result) {
	fmt.Fprintf(w, "scenario   S7: one conference of %d endpoints on %d bridges (full mesh), %d generator processes, seed %d\n",
		r.Endpoints, r.Bridges, r.Procs, r.Seed)
	fmt.Fprintf(w, "place      %.1fs (conference, endpoints and %d relay pairs through colibri2/client)\n", r.PlaceSeconds, r.Bridges*(r.Bridges-1)/2)
	fmt.Fprintf(w, "connect    %d endpoints in %.1fs, %.0f/s\n", r.Endpoints, r.ConnectSeconds, r.ConnectRate)
	for _, b := range r.BridgeRSS {
		fmt.Fprintf(w, "rss        %s: idle %.1f MB, connected %.1f MB, %.0f B/endpoint\n", b.Name, b.IdleMB, b.ConnectedMB, b.BytesPerEndpoint)
	}
	for _, s := range r.Steps {
		fmt.Fprintf(w, "\nstep       %g broadcasts/s: %d broadcasts, each to %d receivers\n", s.Rate, s.Broadcasts, r.Endpoints-1)
		verdict := "EXACT"
		if !s.Exact {
			verdict = "FAILED"
		}
		fmt.Fprintf(w, "check      %s: sent %d of %d, delivered %d of %d expected; lost %d, duplicated %d, wrong from %d, late or unknown %d, other %d\n",
			verdict, s.Sent, s.Broadcasts, s.Delivered, s.Expected, s.Lost, s.Duplicated, s.BadFrom, s.Unknown, s.Other)
		var per []string
		for b, t := range s.PerBridge {
			per = append(per, fmt.Sprintf("jvb%d %d/%d (lost %d, dup %d)", b+1, t.Delivered, t.Expected, t.Lost, t.Duplicated))
		}
		fmt.Fprintf(w, "per bridge %s\n", strings.Join(per, ", "))
		if !s.Exact {
			continue
		}
		fmt.Fprintf(w, "deliveries %.0f/s\n", s.DeliveriesPerSec)
		fmt.Fprintf(w, "latency    local p50 %.2f ms p99 %.2f ms (n=%d); across a relay p50 %.2f ms p99 %.2f ms (n=%d); worst send lag %.1f ms\n",
			s.LocalP50, s.LocalP99, s.LocalN, s.RelayP50, s.RelayP99, s.RelayN, s.SendLagMaxMs)
		fmt.Fprintf(w, "split      %s\n", s.Split)
		var links []string
		for _, l := range s.Links {
			links = append(links, fmt.Sprintf("%s>%s %.1f", l.From, l.To, l.PerSec))
		}
		fmt.Fprintf(w, "links      msgs/s: %s\n", strings.Join(links, ", "))
		var cpu []string
		sum, waited := 0.0, 0.0
		for _, c := range s.CPU {
			cpu = append(cpu, fmt.Sprintf("%s %.0f%% (waited %.0f%%)", c.Name, c.Percent, c.WaitedPercent))
			sum += c.Percent
			waited += c.WaitedPercent
		}
		fmt.Fprintf(w, "cpu        %s\n", strings.Join(cpu, ", "))
		fmt.Fprintf(w, "cpu total  this run %.0f%% of one core, %.0f%% waiting for a CPU; the box's 2 CPUs %.0f%% busy (all processes); load average %s\n",
			sum, waited, s.BoxBusyPercent, loadAverage())
	}
}

// String is the report's split line: each component's p50 and p99 (ms),
// grouped by where it is spent, with each group's count of samples (the
// JSON has every component's; RemoteBeyondLocal counts fewer than
// SendToFirstRemote only where the sender's bridge saw no arrival).
func (s split) String() string {
	return fmt.Sprintf("sending bridge: send to first local %s, local fan-out %s (n=%d); "+
		"relay: send to first remote %s, less send to first local %s (n=%d); receiving bridge: remote fan-out %s (n=%d)",
		s.SendToFirstLocal, s.LocalFanOut, s.SendToFirstLocal.N,
		s.SendToFirstRemote, s.RemoteBeyondLocal, s.SendToFirstRemote.N, s.RemoteFanOut, s.RemoteFanOut.N)
}

// String is the p50 and p99, in ms, as the latency line writes them.
func (q quantiles) String() string {
	return fmt.Sprintf("p50 %.2f ms p99 %.2f ms", q.P50, q.P99)
}

// chart is an SVG of one-way latency (p50 and p99, local and across a
// relay) against the offered rate, in deliveries/s.
func chart(r *result) string {
	const W, H, L, B, T, R = 640, 400, 70, 50, 30, 150
	var maxX, maxY float64
	for _, s := range r.Steps {
		maxX = max(maxX, s.DeliveriesPerSec)
		maxY = max(maxY, s.LocalP99, s.RelayP99)
	}
	if maxX == 0 || maxY == 0 {
		maxX, maxY = 1, 1
	}
	maxY *= 1.1
	x := func(v float64) float64 { return L + v/maxX*(W-L-R) }
	y := func(v float64) float64 { return H - B - v/maxY*(H-B-T) }
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", W, H)
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&sb, `<text x="%d" y="18" font-size="14">S7: %d endpoints on %d bridges, one-way latency against load</text>`+"\n", L, r.Endpoints, r.Bridges)
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", L, H-B, W-R, H-B)
	fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`+"\n", L, T, L, H-B)
	for k := 0; k <= 4; k++ {
		vx, vy := maxX*float64(k)/4, maxY*float64(k)/4
		fmt.Fprintf(&sb, `<text x="%.0f" y="%d" text-anchor="middle">%.0f</text>`+"\n", x(vx), H-B+16, vx)
		fmt.Fprintf(&sb, `<text x="%d" y="%.0f" text-anchor="end">%.1f</text>`+"\n", L-6, y(vy)+4, vy)
	}
	fmt.Fprintf(&sb, `<text x="%d" y="%d" text-anchor="middle">deliveries/s (offered broadcasts/s x receivers)</text>`+"\n", (L+W-R)/2, H-12)
	fmt.Fprintf(&sb, `<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">ms</text>`+"\n", (T+H-B)/2, (T+H-B)/2)
	series := []struct {
		name, color, dash string
		v                 func(step) float64
	}{
		{"local p50", "#1f77b4", "", func(s step) float64 { return s.LocalP50 }},
		{"local p99", "#1f77b4", "6,4", func(s step) float64 { return s.LocalP99 }},
		{"relay p50", "#d62728", "", func(s step) float64 { return s.RelayP50 }},
		{"relay p99", "#d62728", "6,4", func(s step) float64 { return s.RelayP99 }},
	}
	for k, se := range series {
		var pts []string
		for _, s := range r.Steps {
			if s.Exact {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s.DeliveriesPerSec), y(se.v(s))))
			}
		}
		fmt.Fprintf(&sb, `<polyline fill="none" stroke="%s" stroke-width="2" stroke-dasharray="%s" points="%s"/>`+"\n", se.color, se.dash, strings.Join(pts, " "))
		for _, pt := range pts {
			var px, py float64
			fmt.Sscanf(pt, "%f,%f", &px, &py)
			fmt.Fprintf(&sb, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px, py, se.color)
		}
		ly := T + 20 + k*18
		fmt.Fprintf(&sb, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2" stroke-dasharray="%s"/>`+"\n", W-R+12, ly, W-R+36, ly, se.color, se.dash)
		fmt.Fprintf(&sb, `<text x="%d" y="%d">%s</text>`+"\n", W-R+42, ly+4, se.name)
	}
	sb.WriteString("</svg>\n")
	return sb.String()
}

// loadAverage is /proc/loadavg's first three fields: other work on the box.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
