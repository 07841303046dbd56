package main

import (
	"bytes"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// series is one line of a panel.
type series struct {
	name  string
	value func(sample) float64
}

// panel is one chart: lines sharing a y axis.
type panel struct {
	title string
	unit  string
	lines []series
}

// chart draws the samples as stacked panels over time (gonum.org/v1/plot),
// with the idle phase shaded, as an SVG.
func chart(samples []sample) ([]byte, error) {
	panels := []panel{
		{"Memory", "MiB", []series{
			{"RSS", func(s sample) float64 { return float64(s.RSS) / (1 << 20) }},
			{"Go heap in use", func(s sample) float64 { return float64(s.HeapInuse) / (1 << 20) }},
		}},
		{"Goroutines, threads, descriptors", "", []series{
			{"goroutines", func(s sample) float64 { return float64(s.Goroutines) }},
			{"descriptors", func(s sample) float64 { return float64(s.FDs) }},
			{"OS threads", func(s sample) float64 { return float64(s.Threads) }},
		}},
		{"Open WebSockets", "", []series{
			{"connections", func(s sample) float64 { return float64(s.Open) }},
		}},
	}
	const w, ph = 9 * vg.Inch, 2.4 * vg.Inch
	c := vgsvg.New(w, ph*vg.Length(len(panels)))
	if len(samples) < 2 {
		var b bytes.Buffer
		_, err := c.WriteTo(&b)
		return b.Bytes(), err
	}
	t0 := samples[0].At
	secs := func(s sample) float64 { return s.At.Sub(t0).Seconds() }
	end := secs(samples[len(samples)-1])
	idle := -1.0
	for _, s := range samples {
		if s.Phase == "idle" {
			idle = secs(s)
			break
		}
	}
	plots := make([][]*plot.Plot, len(panels))
	colour := 0
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text = pn.title
		p.X.Label.Text, p.Y.Label.Text = "seconds", pn.unit
		p.Add(plotter.NewGrid())
		maxV := 0.0
		for _, l := range pn.lines {
			for _, s := range samples {
				maxV = math.Max(maxV, l.value(s))
			}
		}
		maxV = niceCeil(maxV)
		if idle >= 0 {
			shade, err := plotter.NewPolygon(plotter.XYs{{X: idle, Y: 0}, {X: end, Y: 0}, {X: end, Y: maxV}, {X: idle, Y: maxV}})
			if err != nil {
				return nil, err
			}
			shade.Color, shade.LineStyle.Width = color.Gray{Y: 0xee}, 0
			p.Add(shade)
			p.Legend.Add("idle", shade)
		}
		for _, l := range pn.lines {
			xys := make(plotter.XYs, len(samples))
			for k, s := range samples {
				xys[k] = plotter.XY{X: secs(s), Y: l.value(s)}
			}
			ln, err := plotter.NewLine(xys)
			if err != nil {
				return nil, err
			}
			ln.Color, ln.Width = plotutil.Color(colour), vg.Points(1.2)
			colour++
			p.Add(ln)
			p.Legend.Add(l.name, ln)
		}
		p.Legend.Top, p.Legend.Left = true, true
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, end, 0, maxV
		plots[i] = []*plot.Plot{p}
	}
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(14)}
	canvases := plot.Align(plots, tiles, draw.New(c))
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	var b bytes.Buffer
	_, err := c.WriteTo(&b)
	return b.Bytes(), err
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}
