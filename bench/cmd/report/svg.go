package main

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// Chart geometry, in pixels.
const (
	labelW   = 190 // library names
	panelW   = 430 // one mode's bars
	gapW     = 70  // between the panels, room for value labels
	rowH     = 15
	barH     = 11
	groupGap = 26 // a scenario's heading
	topH     = 92 // title, legend, mode headings
	bottomH  = 40 // axis labels
)

// family colours: chisess, scs, gorilla.
func barColor(lib string) string {
	switch {
	case strings.HasPrefix(lib, "chisess"):
		return "#1f9e89"
	case strings.HasPrefix(lib, "scs"):
		return "#e4572e"
	case strings.HasPrefix(lib, "gorilla"):
		return "#4c72b0"
	}
	return "#888888"
}

// writeSVG draws, for each scenario B–E, a bar per library of its ratio to
// bare chi on a log scale, serial on the left and parallel on the right.
func writeSVG(w io.Writer, res *results) {
	lo, hi := 1.0, 2.0
	for k := range res.rows {
		if k.Lib == bareLib {
			continue
		}
		if x, ok := res.ratio(k.Scenario, k.Lib, k.Mode); ok {
			lo = math.Min(lo, x)
			hi = math.Max(hi, x)
		}
	}
	ticks := logTicks(lo, hi)
	lo, hi = ticks[0], ticks[len(ticks)-1]
	scale := func(x float64) float64 {
		return float64(panelW) * (math.Log10(x) - math.Log10(lo)) / (math.Log10(hi) - math.Log10(lo))
	}

	groups := scenarios[1:]
	height := topH + len(groups)*(groupGap+len(res.libs)*rowH) + bottomH
	width := labelW + len(modes)*panelW + len(modes)*gapW
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }

	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">`+"\n",
		width, height, width, height)
	p(`<rect width="100%%" height="100%%" fill="#ffffff"/>` + "\n")
	p(`<text x="%d" y="22" font-size="15" font-weight="bold">Time per request as a multiple of bare chi (log scale; lower is better)</text>`+"\n", 10)
	p(`<text x="%d" y="40" fill="#555">Median of each row; session of ten small strings and a counter; 1× = chi without a session library, same mode, same run.</text>`+"\n", 10)
	// Legend.
	lx := 10
	for _, l := range []struct{ name, lib string }{{"chisess", "chisess"}, {"alexedwards/scs", "scs"}, {"gorilla/sessions", "gorilla"}} {
		p(`<rect x="%d" y="50" width="12" height="12" fill="%s"/><text x="%d" y="60">%s</text>`+"\n", lx, barColor(l.lib), lx+17, l.name)
		lx += 30 + 7*len(l.name)
	}

	for mi, mode := range modes {
		x0 := labelW + mi*(panelW+gapW)
		p(`<text x="%d" y="80" font-size="13" font-weight="bold">%s</text>`+"\n", x0, mode)
		// Grid lines and tick labels.
		yTop, yBottom := topH-4, height-bottomH+4
		for _, t := range ticks {
			x := float64(x0) + scale(t)
			stroke, dash := "#dddddd", ""
			if t == 1 {
				stroke, dash = "#333333", ` stroke-dasharray="4 3"`
			}
			p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"%s/>`+"\n", x, yTop, x, yBottom, stroke, dash)
			p(`<text x="%.1f" y="%d" text-anchor="middle" fill="#333">%s</text>`+"\n", x, yBottom+14, tickLabel(t))
			if t == 1 {
				p(`<text x="%.1f" y="%d" fill="#333">bare chi</text>`+"\n", x+3, yTop+6)
			}
		}
		p(`<text x="%d" y="%d" text-anchor="middle" fill="#333">× bare chi (%s)</text>`+"\n", x0+panelW/2, yBottom+30, mode)
	}

	y := topH
	for _, sc := range groups {
		y += groupGap
		p(`<text x="10" y="%d" font-size="12" font-weight="bold">%s</text>`+"\n", y-8, html.EscapeString(sc.Title))
		for _, lib := range res.libs {
			ty := y + rowH - 4
			p(`<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", labelW-8, ty, html.EscapeString(lib))
			for mi, mode := range modes {
				x0 := float64(labelW + mi*(panelW+gapW))
				x, ok := res.ratio(sc.Base, lib, mode)
				if !ok {
					p(`<text x="%.1f" y="%d" fill="#999">skipped</text>`+"\n", x0+4, ty)
					continue
				}
				wBar := math.Max(scale(x), 1)
				p(`<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s %s: %s</title></rect>`+"\n",
					x0, y+(rowH-barH)/2, wBar, barH, barColor(lib), html.EscapeString(sc.Short), html.EscapeString(lib), mode, fmtRatio(x))
				p(`<text x="%.1f" y="%d" fill="#222">%s</text>`+"\n", x0+wBar+4, ty, fmtRatio(x))
			}
			y += rowH
		}
	}
	p("</svg>\n")
}

// logTicks returns 1-2-5 ticks from the last one at or below lo to the
// first one at or above hi.
func logTicks(lo, hi float64) []float64 {
	var ticks []float64
	for e := math.Floor(math.Log10(lo)); ; e++ {
		for _, s := range []float64{1, 2, 5} {
			t := s * math.Pow(10, e)
			ticks = append(ticks, t)
			if t >= hi {
				return trimBelow(ticks, lo)
			}
		}
	}
}

// trimBelow drops the ticks before the last one at or below lo.
func trimBelow(ticks []float64, lo float64) []float64 {
	start := 0
	for i, t := range ticks {
		if t <= lo {
			start = i
		}
	}
	return ticks[start:]
}

func tickLabel(t float64) string {
	if t >= 1000 {
		return fmt.Sprintf("%.0fk×", t/1000)
	}
	if t >= 1 {
		return fmt.Sprintf("%.0f×", t)
	}
	return fmt.Sprintf("%g×", t)
}
