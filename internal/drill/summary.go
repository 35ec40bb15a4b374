package drill

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/huleedu/huleedu/kafkabus"
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
	if r.LeftInSpool > 0 || r.UndeliveredAtClose > 0 {
		row("  left in spool", itoa(r.LeftInSpool), "undelivered at close", itoa(r.UndeliveredAtClose), "", "")
	}
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
	if note := r.spoolNote(); note != "" {
		if _, err := fmt.Fprintf(w, "  note      %s\n", note); err != nil {
			return err
		}
	}
	if _, err := fmt.Fprintf(w, "  configuration (kafkabus.Config, what a service's KAFKA_* variables set)\n"); err != nil {
		return err
	}
	for _, line := range busSummary(r.Settings.Bus) {
		if _, err := fmt.Fprintf(w, "    %-9s %s\n", line[0], line[1]); err != nil {
			return err
		}
	}
	return nil
}

// spoolNote explains records left in the disk spool, or is empty.
func (r *Report) spoolNote() string {
	if r.LeftInSpool == 0 {
		return ""
	}
	return fmt.Sprintf("%d accepted records are not in Kafka but left in the disk spool %s when the drain timeout ended: "+
		"durable, not lost; the next publisher to open that spool delivers them first", r.LeftInSpool, r.SpoolDir)
}

// busSummary is the bus configuration in four lines: Kafka, breaker,
// fallback queue, drainer.
func busSummary(c kafkabus.Config) [][2]string {
	short := kafkabus.ShortDuration
	fallback := fmt.Sprintf("memory queue of %d records, overflow %s", c.Fallback.QueueSize, c.Fallback.Overflow)
	if c.Fallback.Mode == kafkabus.FallbackDisk {
		fallback = fmt.Sprintf("disk spool %s, at most %d bytes, overflow %s", c.Fallback.Dir, c.Fallback.MaxBytes, c.Fallback.Overflow)
	}
	return [][2]string{
		{"kafka", fmt.Sprintf("client %s, publish timeout %s, metadata min age %s, max record %d bytes, linger %s, auto-create %v, start-up check %s",
			c.ClientID, short(c.PublishTimeout), short(c.MetadataMinAge), c.MaxRecordBytes, short(c.Linger), c.AllowAutoTopicCreation, short(c.StartupCheck))},
		{"breaker", fmt.Sprintf("%s: opens after %d failures, probes after %s, closes after %d successes",
			c.Breaker.Name, c.Breaker.FailureThreshold, short(c.Breaker.RecoveryTimeout), c.Breaker.SuccessThreshold)},
		{"fallback", fallback},
		{"drain", fmt.Sprintf("batches of %d, %d in flight, retry %s to %s, open poll %s",
			c.Drain.Batch, c.Drain.InFlight, short(c.Drain.RetryMin), short(c.Drain.RetryMax), short(c.Drain.OpenPoll))},
	}
}

// busRows lists every field of the bus configuration with its value, named
// by its JSON path ("breaker.failure_threshold"): the HTML report's table,
// which a field added to kafkabus.Config joins by itself.
func busRows(c kafkabus.Config) [][2]string {
	var rows [][2]string
	var walk func(prefix string, v reflect.Value)
	walk = func(prefix string, v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			f, fv := t.Field(i), v.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if f.Anonymous {
				walk(prefix, fv)
				continue
			}
			if fv.Kind() == reflect.Struct {
				walk(prefix+name+".", fv)
				continue
			}
			rows = append(rows, [2]string{prefix + name, valueText(fv)})
		}
	}
	walk("", reflect.ValueOf(c))
	return rows
}

// valueText formats a configuration value: durations as Go writes them,
// lists comma-separated, the rest with their String or %v.
func valueText(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case time.Duration:
		return kafkabus.ShortDuration(x)
	case []string:
		return strings.Join(x, ",")
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v.Interface())
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
	return fmt.Sprintf("%s, %s queue%s, %.0fs at %d/s on %s", fault, s.Bus.Fallback.Mode, crash, float64(s.DurationMs)/1000, s.Rate, s.Brokers)
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
