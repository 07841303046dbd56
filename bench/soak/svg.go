package main

import (
	"fmt"
	"strings"
)

// series is one line of a panel.
type series struct {
	name  string
	color string
	value func(sample) float64
}

// panel is one chart: lines sharing a y axis.
type panel struct {
	title string
	unit  string
	lines []series
}

// chart draws the samples as stacked panels over time, with the idle phase
// shaded, as a self-contained SVG.
func chart(samples []sample) []byte {
	panels := []panel{
		{"Memory", "MiB", []series{
			{"RSS", "#1f77b4", func(s sample) float64 { return float64(s.RSS) / (1 << 20) }},
			{"Go heap in use", "#ff7f0e", func(s sample) float64 { return float64(s.HeapInuse) / (1 << 20) }},
		}},
		{"Goroutines, threads, descriptors", "", []series{
			{"goroutines", "#2ca02c", func(s sample) float64 { return float64(s.Goroutines) }},
			{"descriptors", "#d62728", func(s sample) float64 { return float64(s.FDs) }},
			{"OS threads", "#9467bd", func(s sample) float64 { return float64(s.Threads) }},
		}},
		{"Open WebSockets", "", []series{
			{"connections", "#8c564b", func(s sample) float64 { return float64(s.Open) }},
		}},
	}
	const (
		width   = 900
		ph      = 190 // panel height
		left    = 70
		right   = 180
		top     = 30
		gap     = 50
		plotW   = width - left - right
		heightP = ph - 20
	)
	height := top + len(panels)*(ph+gap)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	if len(samples) < 2 {
		b.WriteString("</svg>\n")
		return []byte(b.String())
	}
	t0, t1 := samples[0].At, samples[len(samples)-1].At
	span := t1.Sub(t0).Seconds()
	x := func(s sample) float64 { return left + s.At.Sub(t0).Seconds()/span*plotW }
	idleStart := -1.0
	for _, s := range samples {
		if s.Phase == "idle" {
			idleStart = x(s)
			break
		}
	}
	for pi, p := range panels {
		y0 := float64(top + pi*(ph+gap))
		maxV := 0.0
		for _, l := range p.lines {
			for _, s := range samples {
				maxV = max(maxV, l.value(s))
			}
		}
		maxV = niceCeil(maxV)
		y := func(v float64) float64 { return y0 + heightP - v/maxV*heightP }
		fmt.Fprintf(&b, `<text x="%d" y="%.0f" font-weight="bold">%s</text>`+"\n", left, y0-8, p.title)
		if idleStart >= 0 {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="#eeeeee"/>`+"\n", idleStart, y0, left+plotW-idleStart, heightP)
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" fill="#777">idle</text>`+"\n", idleStart+4, y0+14)
		}
		for i := 0; i <= 4; i++ {
			v := maxV * float64(i) / 4
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", left, left+plotW, y(v), y(v))
			fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y(v)+4, label(v, p.unit))
		}
		for i := 0; i <= 5; i++ {
			sec := span * float64(i) / 5
			xv := left + plotW*float64(i)/5
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%.0fs</text>`+"\n", xv, y0+heightP+16, sec)
		}
		for li, l := range p.lines {
			var pts []string
			for _, s := range samples {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(s), y(l.value(s))))
			}
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"/>`+"\n", l.color, strings.Join(pts, " "))
			ly := y0 + 12 + float64(li)*18
			fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="%s" stroke-width="3"/>`+"\n", left+plotW+12, left+plotW+32, ly-4, ly-4, l.color)
			fmt.Fprintf(&b, `<text x="%d" y="%.1f">%s</text>`+"\n", left+plotW+38, ly, l.name)
		}
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := 1.0
	for p*10 <= v {
		p *= 10
	}
	for p > v {
		p /= 10
	}
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func label(v float64, unit string) string {
	s := fmt.Sprintf("%.0f", v)
	if v != float64(int64(v)) {
		s = fmt.Sprintf("%.1f", v)
	}
	if unit != "" {
		s += " " + unit
	}
	return s
}
