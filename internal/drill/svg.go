package drill

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// This file draws the HTML report's charts as inline SVG: a time axis in
// seconds, lines, shaded bands (outages) and vertical markers (crashes).
// Hand-written rather than a plotting library, so the report needs no
// dependency and stays a few kilobytes.

type point struct{ x, y float64 }

type series struct {
	name  string
	color string
	pts   []point
	area  bool // fill under the line
}

// band shades [x0, x1) across the plot, or paints a strip when the chart
// is a state strip.
type band struct {
	x0, x1 float64
	color  string
	label  string
}

type marker struct {
	x     float64
	label string
}

type chart struct {
	title   string
	yLabel  string
	width   float64
	height  float64
	xMax    float64
	logY    bool
	series  []series
	bands   []band
	markers []marker
	strip   bool // a state strip: bands only, no y axis
	legend  []legendItem
}

type legendItem struct{ name, color string }

// plot margins
const (
	padLeft   = 64.0
	padRight  = 16.0
	padTop    = 28.0
	padBottom = 34.0
)

func (c *chart) svg() string {
	var b strings.Builder
	pw := c.width - padLeft - padRight
	ph := c.height - padTop - padBottom
	xMax := math.Max(c.xMax, 1e-9)
	// Points past the end (the last latency bucket's centre) are drawn at
	// the edge rather than outside the frame.
	x := func(v float64) float64 { return padLeft + min(max(v, 0), xMax)/xMax*pw }

	yMin, yMax := 0.0, 0.0
	for _, s := range c.series {
		for _, p := range s.pts {
			yMax = math.Max(yMax, p.y)
		}
	}
	var yTicks []float64
	if c.logY {
		yMin = 0.01
		yMax = math.Max(yMax, 1)
		top := math.Pow(10, math.Ceil(math.Log10(yMax)))
		yMax = top
		for t := yMin; t <= top*1.0001; t *= 10 {
			yTicks = append(yTicks, t)
		}
	} else {
		step := niceStep(math.Max(yMax, 1), 5)
		yMax = math.Max(step*math.Ceil(math.Max(yMax, 1)/step), step)
		for t := 0.0; t <= yMax*1.0001; t += step {
			yTicks = append(yTicks, t)
		}
	}
	y := func(v float64) float64 {
		if c.logY {
			v = math.Max(v, yMin)
			return padTop + ph - (math.Log10(v)-math.Log10(yMin))/(math.Log10(yMax)-math.Log10(yMin))*ph
		}
		return padTop + ph - (v-yMin)/(yMax-yMin)*ph
	}

	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="%.0f" height="%.0f" role="img" aria-label="%s">`,
		c.width, c.height, c.width, c.height, html.EscapeString(c.title))
	fmt.Fprintf(&b, `<text x="%.1f" y="17" class="title">%s</text>`, padLeft, html.EscapeString(c.title))
	c.writeLegend(&b)

	// bands under everything
	for _, bd := range c.bands {
		x0, x1 := x(math.Max(bd.x0, 0)), x(math.Min(bd.x1, xMax))
		if x1 <= x0 {
			continue
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`,
			x0, padTop, x1-x0, ph, bd.color, html.EscapeString(bd.label))
	}
	if !c.strip {
		for _, t := range yTicks {
			fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="grid"/>`, padLeft, padLeft+pw, y(t), y(t))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="end">%s</text>`, padLeft-6, y(t)+4, fmtTick(t))
		}
		fmt.Fprintf(&b, `<text transform="translate(14 %.1f) rotate(-90)" class="axis" text-anchor="middle">%s</text>`,
			padTop+ph/2, html.EscapeString(c.yLabel))
	}
	xStep := niceStep(xMax, 10)
	for t := 0.0; t <= xMax*1.0001; t += xStep {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="tickmark"/>`, x(t), x(t), padTop+ph, padTop+ph+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="tick" text-anchor="middle">%s</text>`, x(t), padTop+ph+16, fmtTick(t)+"s")
	}
	fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" class="frame"/>`, padLeft, padTop, pw, ph)

	for _, s := range c.series {
		if len(s.pts) == 0 {
			continue
		}
		var path strings.Builder
		for i, p := range s.pts {
			cmd := "L"
			if i == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", cmd, x(p.x), y(p.y))
		}
		if s.area {
			last, first := s.pts[len(s.pts)-1], s.pts[0]
			fmt.Fprintf(&b, `<path d="%sL%.1f %.1f L%.1f %.1f Z" fill="%s" fill-opacity="0.25" stroke="none"/>`,
				path.String(), x(last.x), y(yMin), x(first.x), y(yMin), s.color)
		}
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.6" stroke-linejoin="round"><title>%s</title></path>`,
			strings.TrimSpace(path.String()), s.color, html.EscapeString(s.name))
	}
	for _, m := range c.markers {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" class="marker"/>`, x(m.x), x(m.x), padTop, padTop+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" class="markerlabel">%s</text>`, x(m.x)+3, padTop+11, html.EscapeString(m.label))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func (c *chart) writeLegend(b *strings.Builder) {
	xPos := c.width - padRight
	// right-aligned: lay out from the right edge
	for i := len(c.legend) - 1; i >= 0; i-- {
		it := c.legend[i]
		w := 16 + 7*float64(len(it.name))
		xPos -= w + 12
		fmt.Fprintf(b, `<rect x="%.1f" y="8" width="12" height="10" fill="%s"/>`, xPos, it.color)
		fmt.Fprintf(b, `<text x="%.1f" y="17" class="legend">%s</text>`, xPos+16, html.EscapeString(it.name))
	}
}

// niceStep returns a 1, 2 or 5 times a power of ten step that divides
// span into about n intervals.
func niceStep(span float64, n int) float64 {
	raw := span / float64(n)
	if raw <= 0 {
		return 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*mag {
			return m * mag
		}
	}
	return 10 * mag
}

func fmtTick(v float64) string {
	switch {
	case v == 0:
		return "0"
	case v >= 1e6:
		return trimZero(fmt.Sprintf("%.1f", v/1e6)) + "M"
	case v >= 1e4:
		return trimZero(fmt.Sprintf("%.1f", v/1e3)) + "k"
	case v >= 1:
		return trimZero(fmt.Sprintf("%.1f", v))
	default:
		return trimZero(fmt.Sprintf("%.2f", v))
	}
}

func trimZero(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
