package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// point is one (x, y) sample.
type point struct{ x, y float64 }

// bar is one labelled value.
type bar struct {
	label string
	value float64
	note  string
}

const (
	width, height = 720, 440
	left, right   = 80, 200
	top, bottom   = 40, 60
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf", "#bcbd22"}

// scale maps data values to pixels, linear or logarithmic.
type scale struct {
	lo, hi   float64
	p0, p1   float64
	log      bool
	reversed bool
}

func (s scale) at(v float64) float64 {
	lo, hi := s.lo, s.hi
	if s.log {
		v, lo, hi = math.Log10(math.Max(v, 1e-9)), math.Log10(lo), math.Log10(hi)
	}
	f := 0.0
	if hi > lo {
		f = (v - lo) / (hi - lo)
	}
	return s.p0 + f*(s.p1-s.p0)
}

// ticks returns tick values for the scale.
func (s scale) ticks() []float64 {
	var t []float64
	if s.log {
		for e := math.Floor(math.Log10(s.lo)); e <= math.Ceil(math.Log10(s.hi)); e++ {
			for _, m := range []float64{1, 2, 5} {
				v := m * math.Pow(10, e)
				if v >= s.lo && v <= s.hi {
					t = append(t, v)
				}
			}
		}
		return t
	}
	step := niceStep((s.hi - s.lo) / 5)
	for v := math.Ceil(s.lo/step) * step; v <= s.hi+step/1e6; v += step {
		t = append(t, v)
	}
	return t
}

func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*e {
			return m * e
		}
	}
	return 10 * e
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

func header(b *strings.Builder, title string) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">`+"\n", width, height)
	fmt.Fprintf(b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(b, `<text x="%d" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left, esc(title))
}

func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// bounds returns a padded range covering vs.
func bounds(vs []float64, log bool) (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		if log && v <= 0 {
			continue
		}
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if math.IsInf(lo, 0) {
		return 1, 10
	}
	if log {
		return math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)+1e-9))
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		hi = lo + 1
	}
	return lo, hi * 1.1
}

// axes draws the frame, grid and tick labels.
func axes(b *strings.Builder, xs, ys scale, xlabel, ylabel string) {
	x0, x1, y0, y1 := float64(left), float64(width-right), float64(height-bottom), float64(top)
	for _, t := range ys.ticks() {
		y := ys.at(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", x0, y, x1, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", x0-6, y+4, human(t))
	}
	for _, t := range xs.ticks() {
		x := xs.at(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x, y0, x, y1)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, y0+16, human(t))
	}
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333"/>`+"\n", x0, y1, x1-x0, y0-y1)
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", (x0+x1)/2, height-20, esc(xlabel))
	fmt.Fprintf(b, `<text transform="translate(18,%.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", (y0+y1)/2, esc(ylabel))
}

// lineChart draws one polyline with markers per series.
func lineChart(title, xlabel, ylabel string, series map[string][]point, logX, logY bool) string {
	var names []string
	var xv, yv []float64
	for n, ps := range series {
		names = append(names, n)
		for _, p := range ps {
			xv, yv = append(xv, p.x), append(yv, p.y)
		}
	}
	sort.Strings(names)
	colors := map[string]string{} // one colour per server, p50 and p99 alike
	for _, n := range names {
		k := strings.TrimSuffix(strings.TrimSuffix(n, " p50"), " p99")
		if _, ok := colors[k]; !ok {
			colors[k] = palette[len(colors)%len(palette)]
		}
	}
	xlo, xhi := bounds(xv, logX)
	ylo, yhi := bounds(yv, logY)
	xs := scale{lo: xlo, hi: xhi, p0: left, p1: width - right, log: logX}
	ys := scale{lo: ylo, hi: yhi, p0: height - bottom, p1: top, log: logY}
	var b strings.Builder
	header(&b, title)
	axes(&b, xs, ys, xlabel, ylabel)
	for i, n := range names {
		ps := append([]point(nil), series[n]...)
		sort.Slice(ps, func(a, c int) bool { return ps[a].x < ps[c].x })
		col := colors[strings.TrimSuffix(strings.TrimSuffix(n, " p50"), " p99")]
		dash := ""
		if strings.HasSuffix(n, " p50") {
			dash = ` stroke-dasharray="5,4"`
		}
		var pts []string
		for _, p := range ps {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", xs.at(p.x), ys.at(p.y)))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), col, dash)
		for _, p := range ps {
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>%s: %s, %s</title></circle>`+"\n",
				xs.at(p.x), ys.at(p.y), col, esc(n), human(p.x), human(p.y))
		}
		ly := top + 14 + 18*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"%s/>`+"\n", width-right+12, ly-4, width-right+32, ly-4, col, dash)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", width-right+38, ly, esc(n))
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// barChart draws horizontal bars, largest first.
func barChart(title, xlabel string, bars []bar) string {
	var b strings.Builder
	header(&b, title)
	maxV := 1.0
	for _, x := range bars {
		maxV = math.Max(maxV, x.value)
	}
	xs := scale{lo: 0, hi: maxV * 1.15, p0: left + 40, p1: width - 40}
	rowH := math.Min(40, float64(height-top-bottom)/math.Max(1, float64(len(bars))))
	for _, t := range xs.ticks() {
		x := xs.at(t)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`+"\n", x, top, x, height-bottom)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, height-bottom+16, human(t))
	}
	for i, x := range bars {
		y := float64(top) + 10 + rowH*float64(i)
		col := palette[i%len(palette)]
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"/>`+"\n", xs.at(0), y, xs.at(x.value)-xs.at(0), rowH*0.7, col)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", xs.at(0)-6, y+rowH*0.45, esc(x.label))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f">%s (%s)</text>`+"\n", xs.at(x.value)+6, y+rowH*0.45, human(x.value), esc(x.note))
	}
	fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", (xs.p0+xs.p1)/2, height-20, esc(xlabel))
	b.WriteString("</svg>\n")
	return b.String()
}
