package drill

import (
	"fmt"
	"html/template"
	"io"
	"sort"
)

// Colours of the breaker states in the report (and of "down": no
// publisher process running, during a crash drill's restart).
var stateColors = map[string]string{
	"closed":    "#43a047",
	"open":      "#e53935",
	"half_open": "#ffb300",
	"down":      "#9e9e9e",
}

// WriteHTML writes the report as one self-contained HTML page: the summary
// and inline SVG charts over time (publish and ack rates, breaker state as
// bands, queue depth, latency percentiles). It references nothing on the
// network.
func (r *Report) WriteHTML(w io.Writer) error {
	xMax := float64(r.WorkloadMs+r.DrainMs) / 1000
	if n := len(r.Timeline); n > 0 {
		xMax = max(xMax, float64(r.Timeline[n-1].AtMs)/1000)
	}
	xMax = max(xMax, 0.1)
	var outageBands []band
	for _, o := range r.Outages {
		outageBands = append(outageBands, band{
			x0: float64(o.FaultAtMs) / 1000, x1: float64(o.HealedAtMs) / 1000, color: "#f6e3e3",
			label: fmt.Sprintf("fault %s %.1fs–%.1fs", o.Fault, float64(o.FaultAtMs)/1000, float64(o.HealedAtMs)/1000),
		})
	}
	var markers []marker
	for _, c := range r.Crashes {
		markers = append(markers, marker{x: float64(c.AtMs) / 1000, label: "SIGKILL"})
	}

	const width, height = 960.0, 240.0
	rates := chart{
		title: "Publish and ack rate", yLabel: "records/s", width: width, height: height, xMax: xMax,
		bands: outageBands, markers: markers,
		series: []series{
			{name: "sent/s", color: "#1e88e5", pts: r.rate(func(s Sample) int64 { return s.Sent })},
			{name: "acked/s", color: "#8e24aa", pts: r.rate(func(s Sample) int64 { return s.Acked })},
		},
		legend: []legendItem{{"sent/s (Publish called)", "#1e88e5"}, {"acked/s (Kafka)", "#8e24aa"}, {"fault", "#f6e3e3"}},
	}
	breaker := chart{
		title: "Breaker state", width: width, height: 96, xMax: xMax, strip: true, markers: markers,
		bands: r.stateBands(xMax),
		legend: []legendItem{{"closed", stateColors["closed"]}, {"open", stateColors["open"]},
			{"half_open", stateColors["half_open"]}, {"down", stateColors["down"]}},
	}
	var depth []point
	for _, s := range r.Timeline {
		depth = append(depth, point{float64(s.AtMs) / 1000, float64(s.Depth)})
	}
	queue := chart{
		title: "Fallback queue depth", yLabel: "records", width: width, height: height, xMax: xMax,
		bands: outageBands, markers: markers,
		series: []series{{name: "queue depth", color: "#fb8c00", pts: depth, area: true}},
		legend: []legendItem{{"records queued", "#fb8c00"}, {"fault", "#f6e3e3"}},
	}
	var p50, p99, pmax []point
	for _, b := range r.LatencySeries {
		if b.Count == 0 {
			continue
		}
		x := float64(b.AtMs+b.WidthMs/2) / 1000
		p50 = append(p50, point{x, b.P50})
		p99 = append(p99, point{x, b.P99})
		pmax = append(pmax, point{x, b.Max})
	}
	latency := chart{
		title: "Publish latency by completion time", yLabel: "ms (log)", width: width, height: height, xMax: xMax, logY: true,
		bands: outageBands, markers: markers,
		series: []series{
			{name: "max", color: "#bdbdbd", pts: pmax},
			{name: "p99", color: "#e53935", pts: p99},
			{name: "p50", color: "#1e88e5", pts: p50},
		},
		legend: []legendItem{{"p50", "#1e88e5"}, {"p99", "#e53935"}, {"max", "#bdbdbd"}},
	}

	data := struct {
		R       *Report
		Verdict string
		Desc    string
		Note    string
		Charts  []template.HTML
		Rows    [][2]string
		Bus     [][2]string
		Trans   []Transition
		More    int
	}{R: r, Verdict: map[bool]string{true: "PASSED", false: "FAILED"}[r.Passed], Desc: r.Settings.describe(),
		Note: r.spoolNote(), Bus: busRows(r.Settings.Bus)}
	for _, c := range []*chart{&rates, &breaker, &queue, &latency} {
		// The SVG is built from numbers and html.EscapeString'd labels.
		data.Charts = append(data.Charts, template.HTML(c.svg()))
	}
	l := r.PublishLatencyMs
	data.Rows = [][2]string{
		{"sent", itoa(r.Sent)}, {"accepted", itoa(r.Accepted)}, {"rejected", itoa(r.Rejected)},
		{"delivered", itoa(r.Delivered)}, {"lost (gone)", itoa(r.Lost)},
		{"left in the disk spool (durable, not lost)", itoa(r.LeftInSpool)},
		{"undelivered at close (memory queue, gone)", itoa(r.UndeliveredAtClose)}, {"reordered", itoa(r.Reordered)},
		{"duplicates", itoa(r.Duplicates)}, {"delivered but not accepted", itoa(r.DeliveredUnaccepted)},
		{"spooled", itoa(r.Spooled)}, {"max spool depth", itoa(r.MaxSpoolDepth)},
		{"time to open", msOrDash(r.TimeToOpenMs)}, {"time to drain", msOrDash(r.TimeToDrainMs)},
		{"publish latency p50 / p99 / p99.9 / max", fmt.Sprintf("%s / %s / %s / %s", fmtMs(l.P50), fmtMs(l.P99), fmtMs(l.P999), fmtMs(l.Max))},
		{"throughput", fmt.Sprintf("%.0f records/s", r.ThroughputPerS)},
		{"workload / drain / verify", fmt.Sprintf("%.1fs / %.1fs / %.1fs", float64(r.WorkloadMs)/1000, float64(r.DrainMs)/1000, float64(r.VerifyMs)/1000)},
	}
	for _, c := range r.Crashes {
		data.Rows = append(data.Rows, [2]string{"crash", fmt.Sprintf("SIGKILL at %.1fs, %d calls in flight, restarted at %.1fs",
			float64(c.AtMs)/1000, c.InFlight, float64(c.RestartedAtMs)/1000)})
	}
	data.Trans = r.BreakerTransitions
	if len(data.Trans) > 50 {
		data.More = len(data.Trans) - 50
		data.Trans = data.Trans[:50]
	}
	return pageTemplate.Execute(w, data)
}

// rate turns a cumulative counter of the timeline into a per-second rate
// over a 500 ms window.
func (r *Report) rate(counter func(Sample) int64) []point {
	var pts []point
	j := 0
	for i, s := range r.Timeline {
		for j < i && s.AtMs-r.Timeline[j].AtMs > 500 {
			j++
		}
		if j == i {
			continue
		}
		dt := float64(s.AtMs-r.Timeline[j].AtMs) / 1000
		pts = append(pts, point{float64(s.AtMs) / 1000, float64(counter(s)-counter(r.Timeline[j])) / dt})
	}
	return pts
}

// stateBands turns the breaker transitions (and the crash drill's
// restarts, where a new process starts with a closed breaker) into
// coloured bands from 0 to end seconds.
func (r *Report) stateBands(end float64) []band {
	type change struct {
		at    float64
		state string
	}
	changes := []change{{0, "closed"}}
	for _, t := range r.BreakerTransitions {
		changes = append(changes, change{float64(t.AtMs) / 1000, t.To})
	}
	for _, c := range r.Crashes {
		changes = append(changes, change{float64(c.AtMs) / 1000, "down"}, change{float64(c.RestartedAtMs) / 1000, "closed"})
	}
	sort.SliceStable(changes, func(i, j int) bool { return changes[i].at < changes[j].at })
	var bands []band
	for i, c := range changes {
		to := end
		if i+1 < len(changes) {
			to = changes[i+1].at
		}
		bands = append(bands, band{x0: c.at, x1: to, color: stateColors[c.state],
			label: fmt.Sprintf("%s %.2fs–%.2fs", c.state, c.at, to)})
	}
	return bands
}

var pageTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>HuleEdu outage drill: {{.Verdict}}</title>
<style>
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #212121; margin: 24px auto; max-width: 1000px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 4px; color: #fff; font-weight: 600; }
.PASSED { background: #2e7d32; } .FAILED { background: #c62828; }
.desc { color: #616161; margin: 0 0 16px; }
.note { background: #fff8e1; border-left: 4px solid #ffb300; padding: 6px 10px; }
table { border-collapse: collapse; margin: 8px 0 20px; }
td, th { padding: 3px 12px 3px 0; text-align: left; vertical-align: top; }
td.num { font-variant-numeric: tabular-nums; }
tr + tr td { border-top: 1px solid #eeeeee; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 32px; }
svg { display: block; margin: 8px 0 12px; max-width: 100%; height: auto; }
svg .title { font-weight: 600; font-size: 13px; fill: #212121; }
svg .legend, svg .tick, svg .axis, svg .markerlabel { font-size: 11px; fill: #616161; }
svg .grid { stroke: #eeeeee; }
svg .frame { fill: none; stroke: #bdbdbd; }
svg .tickmark { stroke: #9e9e9e; }
svg .marker { stroke: #212121; stroke-dasharray: 4 3; }
footer { color: #9e9e9e; font-size: 12px; margin-top: 24px; }
</style>
</head>
<body>
<h1>HuleEdu outage drill <span class="verdict {{.Verdict}}">{{.Verdict}}</span></h1>
<p class="desc">{{.Desc}}; started {{.R.StartedAt.Format "2006-01-02 15:04:05 UTC"}}</p>
{{if .Note}}<p class="note">{{.Note}}</p>
{{end}}<table>
{{range .Rows}}<tr><td>{{index . 0}}</td><td class="num">{{index . 1}}</td></tr>
{{end}}</table>
{{range .Charts}}{{.}}
{{end}}
<h2>Breaker transitions</h2>
<table>
<tr><th>at</th><th>from</th><th>to</th></tr>
{{range .Trans}}<tr><td class="num">{{.AtMs}} ms</td><td>{{.From}}</td><td>{{.To}}</td></tr>
{{else}}<tr><td colspan="3">none</td></tr>
{{end}}{{if .More}}<tr><td colspan="3">… and {{.More}} more (see the JSON report)</td></tr>{{end}}
</table>
<h2>Configuration</h2>
<p class="desc">The kafkabus.Config the publisher ran, as a service's KAFKA_* variables set it.</p>
<table>
{{range .Bus}}<tr><td><code>{{index . 0}}</code></td><td class="num">{{index . 1}}</td></tr>
{{end}}</table>
<footer>Written by <code>huleedu drill</code>. Passed means nothing accepted was lost or reordered: lost = accepted seqs neither in the topic nor left in the disk spool (records left in the spool are durable and delivered when it is next opened); reordered = per key, an accepted seq read after a larger one.</footer>
</body>
</html>
`))
