package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/huleedu/huleedu/internal/drill"
	"github.com/huleedu/huleedu/kafkabus"
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
The bus is the one a service runs (kafkabus.Open); its flags are the service's
KAFKA_* settings, with the drill's defaults.

It passes when no accepted record was lost and none was reordered per key.
Records still in the disk spool when --drain-timeout ends are not lost (the
spool delivers them when it is next opened): the drill passes, and the
summary notes how many there are and where.
Exit status: 0 passed, 1 ran and failed (records lost or reordered), 2 bad flags.`,
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
	fl.StringVar((*string)(&cfg.Fallback.Mode), "fallback", string(cfg.Fallback.Mode), "fallback queue: disk | memory (KAFKA_FALLBACK_MODE)")
	fl.StringVar(&cfg.Fallback.Dir, "spool-dir", "", "disk spool directory (default a temp folder, kept if records are left in it)")
	fl.IntVar(&cfg.Fallback.QueueSize, "queue-size", cfg.Fallback.QueueSize, "memory queue limit in records (KAFKA_FALLBACK_QUEUE_SIZE)")
	fl.Int64Var(&cfg.Fallback.MaxBytes, "spool-max-bytes", cfg.Fallback.MaxBytes, "disk spool limit in bytes (KAFKA_FALLBACK_MAX_BYTES)")
	fl.StringVar(&f.overflow, "overflow", cfg.Fallback.Overflow.String(), "when the queue is full: block | reject (KAFKA_FALLBACK_OVERFLOW)")
	fl.DurationVar(&cfg.CrashAt, "crash-at", 0, "SIGKILL the publishing process at this time and restart it on the same spool (disk only; 0: no crash)")
	fl.StringVar(&f.reportJSON, "report-json", "", `write the JSON report to FILE ("-" for stdout)`)
	fl.StringVar(&f.reportHTML, "report-html", "", "write a self-contained HTML report with charts to FILE")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress display and no summary (for scripts)")
	fl.BoolVar(&f.verbose, "verbose", false, "log the bus's and the drill's events to stderr")
	fl.DurationVar(&cfg.PublishTimeout, "publish-timeout", cfg.PublishTimeout, "bound of one produce, retries included (KAFKA_PUBLISH_TIMEOUT)")
	fl.DurationVar(&cfg.MetadataMinAge, "metadata-min-age", cfg.MetadataMinAge, "least time between two metadata requests (KAFKA_METADATA_MIN_AGE; default a tenth of --publish-timeout)")
	fl.Int32Var(&cfg.MaxRecordBytes, "max-record-bytes", cfg.MaxRecordBytes, "largest record produced (KAFKA_MAX_RECORD_BYTES)")
	fl.DurationVar(&cfg.Linger, "linger", cfg.Linger, "how long a partition waits for more records before sending (KAFKA_LINGER)")
	fl.IntVar(&cfg.Breaker.FailureThreshold, "failure-threshold", cfg.Breaker.FailureThreshold, "consecutive failures that open the breaker (KAFKA_CIRCUIT_BREAKER_FAILURE_THRESHOLD)")
	fl.DurationVar(&cfg.Breaker.RecoveryTimeout, "recovery-timeout", cfg.Breaker.RecoveryTimeout, "how long the breaker stays open before a probe (KAFKA_CIRCUIT_BREAKER_RECOVERY_TIMEOUT)")
	fl.IntVar(&cfg.Breaker.SuccessThreshold, "success-threshold", cfg.Breaker.SuccessThreshold, "successful probes that close the breaker (KAFKA_CIRCUIT_BREAKER_SUCCESS_THRESHOLD)")
	fl.IntVar(&cfg.Drain.Batch, "drain-batch", cfg.Drain.Batch, "records per replay produce (KAFKA_DRAIN_BATCH_SIZE)")
	fl.IntVar(&cfg.Drain.InFlight, "drain-in-flight", cfg.Drain.InFlight, "replay batches on the wire at once (KAFKA_DRAIN_IN_FLIGHT)")
	fl.DurationVar(&cfg.Drain.RetryMin, "retry-min", cfg.Drain.RetryMin, "first back-off after a failed replay (KAFKA_DRAIN_RETRY_MIN)")
	fl.DurationVar(&cfg.Drain.RetryMax, "retry-max", cfg.Drain.RetryMax, "longest back-off after failed replays (KAFKA_DRAIN_RETRY_MAX)")
	fl.DurationVar(&cfg.Drain.OpenPoll, "open-poll", cfg.Drain.OpenPoll, "longest sleep before asking an open breaker again (KAFKA_DRAIN_OPEN_POLL)")
	fl.DurationVar(&cfg.StartupCheck, "startup-check", 0, "fail at once when no broker answers a ping within this time (KAFKA_STARTUP_CHECK_TIMEOUT; 0: no check)")
	fl.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "how long closing the bus may drain the queue after the workload")
	fl.DurationVar(&cfg.VerifyTimeout, "verify-timeout", cfg.VerifyTimeout, "how long reading the topic back may take")
	fl.IntVar(&cfg.EmbeddedBrokers, "embedded-brokers", cfg.EmbeddedBrokers, "brokers of the embedded cluster")
	return cmd
}

func (c *cli) runDrill(cmd *cobra.Command, cfg drill.Config, f drillFlags) error {
	fl := cmd.Flags()
	// Flags whose empty or zero value means a default in drill.Config are
	// refused when given so: on the command line an empty --fault is a
	// mistake, not a request for the default.
	if fl.Changed("fault") && cfg.Fault == "" {
		return fmt.Errorf("%w: --fault \"\": want one of %s", drill.ErrInvalidConfig, strings.Join(drill.FaultKinds(), ", "))
	}
	if fl.Changed("queue-size") && cfg.Fallback.Mode != kafkabus.FallbackMemory {
		return fmt.Errorf("%w: --queue-size needs --fallback memory (the disk spool is bounded by --spool-max-bytes)", drill.ErrInvalidConfig)
	}
	if fl.Changed("spool-max-bytes") && cfg.Fallback.Mode != kafkabus.FallbackDisk {
		return fmt.Errorf("%w: --spool-max-bytes needs --fallback disk (the memory queue is bounded by --queue-size)", drill.ErrInvalidConfig)
	}
	if !fl.Changed("metadata-min-age") {
		// It follows --publish-timeout, as kafkabus derives it.
		derived := kafkabus.Config{Options: kafkabus.Options{PublishTimeout: cfg.PublishTimeout}}
		derived.EnsureDefaults()
		cfg.MetadataMinAge = derived.MetadataMinAge
	}
	for _, s := range f.outages {
		o, err := drill.ParseOutage(s)
		if err != nil {
			return err
		}
		cfg.Outages = append(cfg.Outages, o)
	}
	if err := cfg.Fallback.Overflow.UnmarshalText([]byte(f.overflow)); err != nil {
		return fmt.Errorf("%w: --overflow %q: want block or reject", drill.ErrInvalidConfig, f.overflow)
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
