package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/huleedu/huleedu/internal/drill"
)

// drillFlags are the drill command's flags that do not map straight onto
// a drill.Config field.
type drillFlags struct {
	outages    []string
	overflow   string
	reportJSON string
	reportHTML string
	quiet      bool
	verbose    bool
}

func (c *cli) drillCommand() *cobra.Command {
	cfg := drill.DefaultConfig()
	// Defaults that depend on other flags stay unset, so Validate
	// derives them from what was given.
	cfg.Fault, cfg.Outages = "", nil
	var f drillFlags
	cmd := &cobra.Command{
		Use:   "drill",
		Short: "Break Kafka under a publishing workload and prove nothing accepted was lost or reordered",
		Long: `drill publishes a workload through the resilient Kafka bus on an embedded
3-broker cluster (or --brokers), breaks Kafka during each --outage, lets it
recover, closes the bus and reads the topic back with an independent consumer.

It passes when no accepted record was lost and none was reordered per key.
Exit status: 0 passed, 1 ran and failed, 2 bad flags.`,
		Example: `  huleedu drill
  huleedu drill --fault blackhole --outage 5s@5s --outage 5s@15s --duration 25s
  huleedu drill --fallback memory --rate 5000 --report-json - --quiet
  huleedu drill --crash-at 12s --report-html drill.html`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.runDrill(cmd, cfg, f)
		},
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	fl.StringSliceVar(&cfg.Brokers, "brokers", nil, "use an existing cluster (host:port,...); default: an embedded 3-broker kfake cluster")
	fl.StringVar(&cfg.Topic, "topic", cfg.Topic, "topic to publish to (created with --partitions when missing)")
	fl.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of a topic the drill creates")
	fl.DurationVar(&cfg.Duration, "duration", cfg.Duration, "workload length")
	fl.IntVar(&cfg.Rate, "rate", cfg.Rate, "records per second")
	fl.IntVar(&cfg.Size, "size", cfg.Size, "value bytes per record")
	fl.IntVar(&cfg.Keys, "keys", cfg.Keys, "distinct partition keys")
	fl.IntVar(&cfg.Workers, "workers", cfg.Workers, "publishing goroutines (each key always goes through the same one)")
	fl.StringVar(&cfg.Fault, "fault", "", "fault during outages: cut | blackhole | error | slow | restart | leader-move | none (default cut; none with --brokers)")
	fl.StringArrayVar(&f.outages, "outage", nil, "fault window LENGTH@START, repeatable (default a third of --duration from 8/30 of it: 10s@8s for 30s)")
	fl.StringVar(&cfg.Fallback, "fallback", cfg.Fallback, "fallback queue: disk | memory")
	fl.StringVar(&cfg.SpoolDir, "spool-dir", "", "disk spool directory (default a temp folder)")
	fl.IntVar(&cfg.QueueSize, "queue-size", cfg.QueueSize, "memory queue limit in records")
	fl.Int64Var(&cfg.SpoolMaxBytes, "spool-max-bytes", cfg.SpoolMaxBytes, "disk spool limit in bytes")
	fl.StringVar(&f.overflow, "overflow", "block", "when the queue is full: block | reject")
	fl.DurationVar(&cfg.CrashAt, "crash-at", 0, "SIGKILL the publishing process at this time and restart it on the same spool (disk only)")
	fl.StringVar(&f.reportJSON, "report-json", "", `write the JSON report to FILE ("-" for stdout)`)
	fl.StringVar(&f.reportHTML, "report-html", "", "write a self-contained HTML report with charts to FILE")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress display and no summary (for scripts)")
	fl.BoolVar(&f.verbose, "verbose", false, "log the bus's and the drill's events to stderr")
	fl.DurationVar(&cfg.PublishTimeout, "publish-timeout", cfg.PublishTimeout, "bound of one produce, retries included")
	fl.IntVar(&cfg.FailureThreshold, "failure-threshold", cfg.FailureThreshold, "consecutive failures that open the breaker")
	fl.DurationVar(&cfg.RecoveryTimeout, "recovery-timeout", cfg.RecoveryTimeout, "how long the breaker stays open before a probe")
	fl.IntVar(&cfg.SuccessThreshold, "success-threshold", cfg.SuccessThreshold, "successful probes that close the breaker")
	fl.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "how long closing the bus may drain the queue after the workload")
	fl.DurationVar(&cfg.VerifyTimeout, "verify-timeout", cfg.VerifyTimeout, "how long reading the topic back may take")
	fl.IntVar(&cfg.EmbeddedBrokers, "embedded-brokers", cfg.EmbeddedBrokers, "brokers of the embedded cluster")
	return cmd
}

func (c *cli) runDrill(cmd *cobra.Command, cfg drill.Config, f drillFlags) error {
	for _, s := range f.outages {
		o, err := drill.ParseOutage(s)
		if err != nil {
			return err
		}
		cfg.Outages = append(cfg.Outages, o)
	}
	if err := cfg.Overflow.UnmarshalText([]byte(f.overflow)); err != nil {
		return fmt.Errorf("--overflow %q: want block or reject", f.overflow)
	}
	cfg.ChildCommand = c.childCommand
	if err := cfg.Validate(); err != nil {
		return err
	}

	// Open the report files first: a typo in a path should not cost a
	// whole drill.
	jsonOut, closeJSON, err := c.openReport("--report-json", f.reportJSON)
	if err != nil {
		return err
	}
	htmlOut, closeHTML, err := c.openReport("--report-html", f.reportHTML)
	if err != nil {
		closeJSON(true)
		return err
	}

	// Progress and logs go to stderr; the summary to stdout unless the
	// JSON report is there.
	summaryOut := c.stdout
	if f.reportJSON == "-" {
		summaryOut = c.stderr
	}
	var pp *drill.ProgressPrinter
	if !f.quiet {
		pp = drill.NewProgressPrinter(c.stderr, c.isTTY(c.stderr))
		cfg.Progress = pp.Update
	}
	if f.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	rep, err := drill.Run(cmd.Context(), cfg)
	if pp != nil {
		pp.Done()
	}
	if err != nil {
		closeJSON(true)
		closeHTML(true)
		if errors.Is(err, drill.ErrInvalidConfig) {
			return err
		}
		return failed(err)
	}
	var errs []error
	if jsonOut != nil {
		errs = append(errs, rep.WriteJSON(jsonOut), closeJSON(false))
	}
	if htmlOut != nil {
		errs = append(errs, rep.WriteHTML(htmlOut), closeHTML(false))
	}
	if !f.quiet {
		errs = append(errs, rep.WriteSummary(summaryOut))
	}
	if err := errors.Join(errs...); err != nil {
		return failed(fmt.Errorf("writing the report: %w", err))
	}
	if !rep.Passed {
		return &exitError{code: exitFailed, err: fmt.Errorf("drill failed: %d lost, %d reordered", rep.Lost, rep.Reordered)}
	}
	return nil
}

// openReport opens a report destination: nothing for "", stdout for "-",
// else a new file. The returned close function removes the file when
// discard is set (the drill did not run).
func (c *cli) openReport(flag, path string) (io.Writer, func(discard bool) error, error) {
	switch path {
	case "":
		return nil, func(bool) error { return nil }, nil
	case "-":
		return c.stdout, func(bool) error { return nil }, nil
	}
	fh, err := os.Create(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return fh, func(discard bool) error {
		err := fh.Close()
		if discard {
			return os.Remove(path)
		}
		return err
	}, nil
}
