package main

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// point is one (x, y) sample.
type point struct{ x, y float64 }

// bar is one labelled value.
type bar struct {
	label string
	value float64
	note  string
}

// Chart size: what the hand-drawn SVGs used (720 × 440 px at 96 dpi).
const chartW, chartH = 7.5 * vg.Inch, 4.6 * vg.Inch

// humanTicks labels another ticker's major ticks with human (1.2M, 500k).
type humanTicks struct{ plot.Ticker }

func (h humanTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := h.Ticker.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = human(ts[i].Value)
		}
	}
	return ts
}

// newPlot is a plot with a title, axis labels, a grid and human tick labels.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = xlabel, ylabel
	p.X.Tick.Marker = humanTicks{plot.DefaultTicks{}}
	p.Y.Tick.Marker = humanTicks{plot.DefaultTicks{}}
	p.Add(plotter.NewGrid())
	return p
}

// serverOf is the server a series belongs to ("gws p99" -> "gws"): p50
// and p99 of one server share a colour.
func serverOf(series string) string {
	return strings.TrimSuffix(strings.TrimSuffix(series, " p50"), " p99")
}

// lineChart draws one line with markers per series (a p50 series dashed),
// on logarithmic axes where asked; points that a log axis cannot show
// (zero or negative) are left out.
func lineChart(title, xlabel, ylabel string, series map[string][]point, logX, logY bool) (*plot.Plot, error) {
	p := newPlot(title, xlabel, ylabel)
	if logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, humanTicks{plot.LogTicks{Prec: -1}}
	}
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, humanTicks{plot.LogTicks{Prec: -1}}
	}
	var names []string
	for n := range series {
		names = append(names, n)
	}
	sort.Strings(names)
	colour := map[string]int{}
	for _, n := range names {
		if _, ok := colour[serverOf(n)]; !ok {
			colour[serverOf(n)] = len(colour)
		}
	}
	for _, n := range names {
		var xys plotter.XYs
		for _, pt := range series[n] {
			if (logX && pt.x <= 0) || (logY && pt.y <= 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: pt.x, Y: pt.y})
		}
		if len(xys) == 0 {
			continue
		}
		sort.Slice(xys, func(a, b int) bool { return xys[a].X < xys[b].X })
		l, s, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		c := plotutil.Color(colour[serverOf(n)])
		l.Color, l.Width = c, vg.Points(1.5)
		if strings.HasSuffix(n, " p50") {
			l.Dashes = []vg.Length{vg.Points(5), vg.Points(4)}
		}
		s.Color, s.Shape, s.Radius = c, draw.CircleGlyph{}, vg.Points(2.5)
		p.Add(l, s)
		p.Legend.Add(n, l, s)
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

// barChart draws horizontal bars, largest on top, each labelled with its
// value and note.
func barChart(title, xlabel string, bars []bar) (*plot.Plot, error) {
	p := newPlot(title, xlabel, "")
	sort.SliceStable(bars, func(i, j int) bool { return bars[i].value < bars[j].value }) // index 0 is drawn at the bottom
	vals := make(plotter.Values, len(bars))
	names := make([]string, len(bars))
	lbl := plotter.XYLabels{XYs: make(plotter.XYs, len(bars)), Labels: make([]string, len(bars))}
	maxV := 1.0
	for i, b := range bars {
		vals[i], names[i] = b.value, b.label
		lbl.XYs[i] = plotter.XY{X: b.value, Y: float64(i)}
		lbl.Labels[i] = fmt.Sprintf(" %s (%s)", human(b.value), b.note)
		maxV = math.Max(maxV, b.value)
	}
	bc, err := plotter.NewBarChart(vals, vg.Points(16))
	if err != nil {
		return nil, err
	}
	bc.Horizontal, bc.Color, bc.LineStyle.Width = true, plotutil.Color(0), 0
	labels, err := plotter.NewLabels(lbl)
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].YAlign = draw.YCenter
	}
	p.Add(bc, labels)
	p.NominalY(names...)
	p.X.Min, p.X.Max = 0, maxV*1.45 // room for the value labels
	return p, nil
}

// writePlot writes p to path in the format its extension names (.svg, .png).
func writePlot(p *plot.Plot, path string) error {
	ext := path[strings.LastIndexByte(path, '.')+1:]
	wt, err := p.WriterTo(chartW, chartH, ext)
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := wt.WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
