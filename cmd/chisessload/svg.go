package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// A chart is a line chart of a run's per-second series, drawn as SVG by
// hand: axes, one polyline per series, and the fault windows shaded.
type chart struct {
	Name   string // file name part: latency, errors, goroutines, heap
	Title  string
	Unit   string // of the y axis
	Series []series
	Shade  []window // the seconds a fault covered
}

type series struct {
	Name   string
	Color  string
	Values []float64 // one per second
}

// window is a span of seconds of the run, from From to To.
type window struct {
	From, To float64
	Label    string
}

// maxPoints bounds the points of one polyline: longer series are reduced
// to the maximum of each bucket, so a spike stays visible and a chart of a
// long run stays small.
const maxPoints = 600

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 720, 260
	padL, padR     = 64, 16
	padT, padB     = 28, 40
)

// charts returns the charts of a run: latency p50 and p99, errors and
// problems, goroutines, and heap, each over the run's seconds.
func charts(r Result) []chart {
	n := len(r.Series)
	p50, p99 := make([]float64, n), make([]float64, n)
	errs, probs := make([]float64, n), make([]float64, n)
	gor, heap := make([]float64, n), make([]float64, n)
	for i, s := range r.Series {
		p50[i], p99[i] = s.Latency.P50, s.Latency.P99
		errs[i], probs[i] = float64(s.Errors), float64(s.Problems)
		gor[i], heap[i] = float64(s.Goroutines), float64(s.HeapBytes)/(1<<20)
	}
	shade := faultWindows(r)
	return []chart{
		{Name: "latency", Title: "Latency per second", Unit: "ms", Shade: shade,
			Series: []series{{"p50", "#1f77b4", p50}, {"p99", "#d62728", p99}}},
		{Name: "errors", Title: "Errors and problems per second", Unit: "per s", Shade: shade,
			Series: []series{{"errors", "#d62728", errs}, {"lost + resurrected + wrong", "#9467bd", probs}}},
		{Name: "goroutines", Title: "Goroutines", Unit: "", Shade: shade,
			Series: []series{{"goroutines", "#2ca02c", gor}}},
		{Name: "heap", Title: "Heap in use", Unit: "MiB", Shade: shade,
			Series: []series{{"heap", "#ff7f0e", heap}}},
	}
}

// faultWindows returns the spans the run's faults kept the store away.
func faultWindows(r Result) []window {
	var ws []window
	if f := r.Fault; f != nil && f.KilledAt > 0 {
		to := f.UpAt
		if to <= 0 {
			to = r.Elapsed
		}
		ws = append(ws, window{From: f.KilledAt, To: to, Label: f.Kind})
	}
	return ws
}

// svg renders the chart.
func (c chart) svg() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="11">`+"\n",
		chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`+"\n", chartW, chartH)
	fmt.Fprintf(&b, `<text x="%d" y="16" font-size="13">%s</text>`+"\n", padL, html.EscapeString(c.Title))

	n, top := 0, 0.0
	for _, s := range c.Series {
		n = max(n, len(s.Values))
		for _, v := range s.Values {
			top = max(top, v)
		}
	}
	top = niceCeil(top)
	secs := max(1, float64(n))
	pw, ph := float64(chartW-padL-padR), float64(chartH-padT-padB)
	x := func(t float64) float64 { return padL + t/secs*pw }
	y := func(v float64) float64 { return padT + ph - v/top*ph }

	for _, w := range c.Shade {
		fmt.Fprintf(&b, `<rect x="%s" y="%d" width="%s" height="%s" fill="#f5c6c6" opacity="0.6"/>`+"\n",
			num(x(w.From)), padT, num(max(1, x(w.To)-x(w.From))), num(ph))
		fmt.Fprintf(&b, `<text x="%s" y="%d" fill="#a33">%s</text>`+"\n", num(x(w.From)+2), padT+12, html.EscapeString(w.Label))
	}
	// Axes, with ticks at 0, half and the top, and at five times.
	fmt.Fprintf(&b, `<path d="M%d %d V%d H%d" stroke="#333" fill="none"/>`+"\n", padL, padT, padT+int(ph), chartW-padR)
	for _, f := range []float64{0, 0.5, 1} {
		fmt.Fprintf(&b, `<text x="%d" y="%s" text-anchor="end">%s</text>`+"\n", padL-4, num(y(f*top)+4), num(f*top))
		fmt.Fprintf(&b, `<path d="M%d %s H%d" stroke="#ddd"/>`+"\n", padL, num(y(f*top)), chartW-padR)
	}
	for i := range 5 {
		t := secs * float64(i) / 4
		fmt.Fprintf(&b, `<text x="%s" y="%d" text-anchor="middle">%s</text>`+"\n", num(x(t)), chartH-padB+14, num(t))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">seconds</text>`+"\n", padL+int(pw/2), chartH-8)
	if c.Unit != "" {
		fmt.Fprintf(&b, `<text x="4" y="%d">%s</text>`+"\n", padT-6, html.EscapeString(c.Unit))
	}
	// One polyline per series, and its legend.
	for i, s := range c.Series {
		vals, step := reduce(s.Values)
		var pts strings.Builder
		for j, v := range vals {
			if j > 0 {
				pts.WriteByte(' ')
			}
			pts.WriteString(num(x(float64(j*step)+0.5)) + "," + num(y(v)))
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="1.5" points="%s"><title>%s</title></polyline>`+"\n",
			s.Color, pts.String(), html.EscapeString(s.Name))
		lx := chartW - padR - 170
		ly := padT + 4 + 14*i
		fmt.Fprintf(&b, `<path d="M%d %d h16" stroke="%s" stroke-width="2"/><text x="%d" y="%d">%s</text>`+"\n",
			lx, ly, s.Color, lx+20, ly+4, html.EscapeString(s.Name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

// reduce returns at most maxPoints values, each the maximum of step
// consecutive seconds.
func reduce(vals []float64) ([]float64, int) {
	step := max(1, (len(vals)+maxPoints-1)/maxPoints)
	if step == 1 {
		return vals, 1
	}
	out := make([]float64, 0, maxPoints)
	for i := 0; i < len(vals); i += step {
		m := vals[i]
		for _, v := range vals[i:min(i+step, len(vals))] {
			m = max(m, v)
		}
		out = append(out, m)
	}
	return out, step
}

// niceCeil rounds v up to 1, 2 or 5 times a power of ten (1 for 0).
func niceCeil(v float64) float64 {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// num formats a coordinate or a tick with at most one decimal.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// writeCharts writes each run's charts into dir as
// <run>-<chart>.svg and returns the files' paths.
func writeCharts(dir string, rep Report) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var files []string
	for i, r := range rep.Runs {
		name := r.Backend
		if r.Fault != nil {
			name += "-" + r.Fault.Kind
		}
		if len(rep.Runs) > 1 {
			name = fmt.Sprintf("%d-%s", i+1, name)
		}
		for _, c := range charts(r) {
			f := filepath.Join(dir, name+"-"+c.Name+".svg")
			if err := os.WriteFile(f, c.svg(), 0o644); err != nil {
				return files, err
			}
			files = append(files, f)
		}
	}
	return files, nil
}
