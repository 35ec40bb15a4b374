package drill

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteSummary writes the short human summary of r: the verdict, the
// counts, the timings and the breaker's path.
func (r *Report) WriteSummary(w io.Writer) error {
	verdict := "PASSED"
	if !r.Passed {
		verdict = "FAILED"
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }

	fmt.Fprintf(tw, "drill %s: %s\n", verdict, r.Settings.describe())
	row("  sent", itoa(r.Sent), "accepted", itoa(r.Accepted), "rejected", itoa(r.Rejected))
	row("  delivered", itoa(r.Delivered), "lost", itoa(r.Lost), "reordered", itoa(r.Reordered))
	row("  duplicates", itoa(r.Duplicates), "spooled", itoa(r.Spooled), "max spool depth", itoa(r.MaxSpoolDepth))
	row("  time to open", msOrDash(r.TimeToOpenMs), "time to drain", msOrDash(r.TimeToDrainMs), "throughput", fmt.Sprintf("%.0f/s", r.ThroughputPerS))
	l := r.PublishLatencyMs
	row("  latency p50", fmtMs(l.P50), "p99", fmtMs(l.P99), "p99.9 / max", fmtMs(l.P999)+" / "+fmtMs(l.Max))
	for _, c := range r.Crashes {
		row("  crash", fmt.Sprintf("at %.1fs", float64(c.AtMs)/1000), "in flight", itoa(c.InFlight), "restarted", fmt.Sprintf("at %.1fs", float64(c.RestartedAtMs)/1000))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if path := r.breakerPath(); path != "" {
		if _, err := fmt.Fprintf(w, "  breaker   %s\n", path); err != nil {
			return err
		}
	}
	if !r.Passed {
		if _, err := fmt.Fprintf(w, "  lost seqs %s\n  reordered seqs %s\n", seqList(r.LostSeqs), seqList(r.ReorderedSeqs)); err != nil {
			return err
		}
	}
	return nil
}

// describe is the one-line description of the drill's settings.
func (s ReportSettings) describe() string {
	fault := "no fault"
	if s.Fault != "none" && len(s.Outages) > 0 {
		fault = "fault " + s.Fault + " " + strings.Join(s.Outages, ", ")
	}
	crash := ""
	if s.CrashAtMs > 0 {
		crash = fmt.Sprintf(", crash at %.1fs", float64(s.CrashAtMs)/1000)
	}
	return fmt.Sprintf("%s, %s queue%s, %.0fs at %d/s on %s", fault, s.Fallback, crash, float64(s.DurationMs)/1000, s.Rate, s.Brokers)
}

// breakerPath is "closed→open 9.0s, open→half_open 11.0s, ...", shortened
// when the breaker flapped many times.
func (r *Report) breakerPath() string {
	const show = 8
	var parts []string
	for i, t := range r.BreakerTransitions {
		if i == show {
			parts = append(parts, fmt.Sprintf("... %d more", len(r.BreakerTransitions)-show))
			break
		}
		parts = append(parts, fmt.Sprintf("%s→%s %.1fs", t.From, t.To, float64(t.AtMs)/1000))
	}
	return strings.Join(parts, ", ")
}

func itoa(n int64) string { return fmt.Sprint(n) }

func fmtMs(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func msOrDash(v *int64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%d ms", *v)
}

func seqList(seqs []int64) string {
	if len(seqs) == 0 {
		return "none"
	}
	const show = 20
	var parts []string
	for i, s := range seqs {
		if i == show {
			parts = append(parts, fmt.Sprintf("... (%d listed)", len(seqs)))
			break
		}
		parts = append(parts, itoa(s))
	}
	return strings.Join(parts, " ")
}
