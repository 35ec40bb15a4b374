package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/spool"
)

func (c *cli) spoolCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "spool",
		Short: "Inspect and operate a durable fallback spool directory",
		Long: `The spool commands work on a disk spool directory (KAFKA_FALLBACK_DIR).
inspect, dump and dead-letters only read and are safe while a service runs;
redrive and purge take the spool's lock and refuse while a service owns it.`,
		// Runnable, so that a mistyped subcommand is an error rather than
		// a help page with exit status 0.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown spool command %q: want inspect, dump, dead-letters, redrive or purge", args[0])
			}
			return cmd.Help()
		},
	}
	cmd.AddCommand(c.spoolInspect(), c.spoolDump(), c.spoolDeadLetters(), c.spoolRedrive(), c.spoolPurge())
	return cmd
}

// dirArg validates the single DIR argument.
func dirArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 || args[0] == "" {
		return fmt.Errorf("%s: want exactly one spool directory, got %d arguments", cmd.CommandPath(), len(args))
	}
	return nil
}

// spoolFailure turns a spool error into a command failure with a message
// an operator can act on. A path that is not a spool is a usage error.
func spoolFailure(dir string, err error) error {
	if errors.Is(err, spool.ErrNotSpool) {
		return fmt.Errorf("%w; nothing was created or changed (the spool is the service's KAFKA_FALLBACK_DIR)", err)
	}
	var le *spool.LockedError
	if errors.As(err, &le) {
		owner := "another process"
		if le.PID > 0 {
			owner = fmt.Sprintf("pid %d", le.PID)
		}
		return failed(fmt.Errorf("spool %s is in use by %s (a running service owns it); nothing was changed — stop that process first", dir, owner))
	}
	return failed(err)
}

func (c *cli) spoolInspect() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect DIR",
		Short: "Show depth, bytes, oldest age, segments, damaged and quarantined ranges, missing records and dead letters",
		Args:  dirArg,
		RunE: func(_ *cobra.Command, args []string) error {
			rep, err := spool.Inspect(args[0])
			if err != nil {
				return spoolFailure(args[0], err)
			}
			if asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return failed(enc.Encode(rep))
			}
			return failed(writeInspect(c.stdout, rep, time.Now()))
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func writeInspect(w io.Writer, r spool.Report, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "spool\t%s\n", r.Dir)
	switch {
	case r.Locked && r.LockPID > 0:
		fmt.Fprintf(tw, "in use\tby pid %d (a running service owns it)\n", r.LockPID)
	case r.Locked:
		fmt.Fprintf(tw, "in use\tby another process\n")
	default:
		fmt.Fprintf(tw, "in use\tno\n")
	}
	fmt.Fprintf(tw, "head\t%s (acknowledged up to seq %d, next seq %d)\n", r.Head, r.AckedSeq, r.NextSeq)
	oldest := "-"
	if !r.OldestAt.IsZero() {
		oldest = fmt.Sprintf("%s ago (%s)", now.Sub(r.OldestAt).Round(time.Second), r.OldestAt.UTC().Format(time.RFC3339))
	}
	fmt.Fprintf(tw, "queued\t%d records, %s\n", r.Records, humanBytes(r.Bytes))
	fmt.Fprintf(tw, "oldest\t%s\n", oldest)
	fmt.Fprintf(tw, "segments\t%d\n", len(r.Segments))
	for _, s := range r.Segments {
		fmt.Fprintf(tw, "\t  %s\t%s, first seq %d, %d queued\n", s.Name, humanBytes(s.Size), s.FirstSeq, s.Records)
	}
	fmt.Fprintf(tw, "damaged\t%d ranges\n", len(r.Damaged))
	for _, d := range r.Damaged {
		what := "corrupt, quarantined on next open"
		if d.Torn {
			what = "torn tail, truncated on next open"
		}
		fmt.Fprintf(tw, "\t  %s\t%d bytes at offset %d: %s\n", d.File, d.Bytes, d.Offset, what)
	}
	switch len(r.Missing) {
	case 0:
		fmt.Fprintf(tw, "missing\tnone\n")
	default:
		gaps := "1 gap"
		if len(r.Missing) > 1 {
			gaps = fmt.Sprintf("%d gaps", len(r.Missing))
		}
		fmt.Fprintf(tw, "missing\t%d records in %s of the sequence (lost to damage or to files removed or cut short; every open reports them until the queue has drained past them)\n", r.MissingRecords, gaps)
		for _, g := range r.Missing {
			fmt.Fprintf(tw, "\t  seqs %s\t%d records\n", g, g.Records)
		}
	}
	fmt.Fprintf(tw, "quarantined\t%d files\n", len(r.Quarantined))
	for _, q := range r.Quarantined {
		fmt.Fprintf(tw, "\t  %s\t%s\n", q.Name, humanBytes(q.Size))
	}
	fmt.Fprintf(tw, "dead letters\t%d\n", r.DeadLetters)
	if len(r.Unknown) > 0 {
		fmt.Fprintf(tw, "unknown files\t%s\n", strings.Join(r.Unknown, ", "))
	}
	return tw.Flush()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// recordJSON is how dump and dead-letters print a record: the value as
// JSON when it is JSON (an envelope), else base64.
type recordJSON struct {
	Topic       string            `json:"topic"`
	Key         string            `json:"key,omitempty"`
	Headers     map[string]string `json:"headers,omitempty"`
	Value       json.RawMessage   `json:"value,omitempty"`
	ValueBase64 []byte            `json:"value_base64,omitempty"`
}

func newRecordJSON(r event.Record) recordJSON {
	out := recordJSON{Topic: r.Topic, Key: string(r.Key)}
	if len(r.Headers) > 0 {
		out.Headers = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			out.Headers[h.Key] = string(h.Value)
		}
	}
	if json.Valid(r.Value) {
		out.Value = r.Value
	} else {
		out.ValueBase64 = r.Value
	}
	return out
}

type entryJSON struct {
	Seq        uint64    `json:"seq"`
	AppendedAt time.Time `json:"appended_at"`
	recordJSON
}

func (c *cli) spoolDump() *cobra.Command {
	return &cobra.Command{
		Use:   "dump DIR",
		Short: "Print the queued records, oldest first, as JSON lines",
		Args:  dirArg,
		RunE: func(_ *cobra.Command, args []string) error {
			enc := json.NewEncoder(c.stdout)
			err := spool.Dump(args[0], func(e spool.Entry) error {
				return enc.Encode(entryJSON{Seq: e.Seq, AppendedAt: e.AppendedAt, recordJSON: newRecordJSON(e.Record)})
			})
			if err != nil {
				return spoolFailure(args[0], err)
			}
			return nil
		},
	}
}

type deadLetterJSON struct {
	ID         uint64    `json:"id"`
	At         time.Time `json:"at"`
	Reason     string    `json:"reason"`
	Seq        uint64    `json:"seq"`
	AppendedAt time.Time `json:"appended_at"`
	recordJSON
}

func (c *cli) spoolDeadLetters() *cobra.Command {
	return &cobra.Command{
		Use:   "dead-letters DIR",
		Short: "Print the dead letters (records Kafka rejected for good) with their reasons, as JSON lines",
		Args:  dirArg,
		RunE: func(_ *cobra.Command, args []string) error {
			enc := json.NewEncoder(c.stdout)
			err := spool.DumpDeadLetters(args[0], func(dl spool.DeadLetter) error {
				return enc.Encode(deadLetterJSON{ID: dl.ID, At: dl.At, Reason: dl.Reason, Seq: dl.Entry.Seq,
					AppendedAt: dl.Entry.AppendedAt, recordJSON: newRecordJSON(dl.Entry.Record)})
			})
			if err != nil {
				return spoolFailure(args[0], err)
			}
			return nil
		},
	}
}

func (c *cli) spoolRedrive() *cobra.Command {
	var brokers []string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "redrive DIR --brokers host:port,...",
		Short: "Send the dead letters to Kafka again, oldest first, removing each once Kafka acknowledged it",
		Args:  dirArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(brokers) == 0 {
				return errors.New("spool redrive: --brokers is required (host:port,...)")
			}
			d, err := spool.OpenDisk(args[0], spool.DiskOptions{Existing: true})
			if err != nil {
				return spoolFailure(args[0], err)
			}
			kb, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: brokers, ClientID: "huleedu-spool-redrive", PublishTimeout: timeout})
			if err != nil {
				_ = d.Close()
				return err
			}
			defer kb.Close(context.WithoutCancel(cmd.Context()))
			n, err := d.Redrive(cmd.Context(), func(ctx context.Context, dl spool.DeadLetter) error {
				return kb.Produce(ctx, []event.Record{dl.Entry.Record})[0]
			})
			left := d.Stats().DeadLetters
			if cerr := d.Close(); err == nil {
				err = cerr
			}
			fmt.Fprintf(c.stdout, "re-drove %d dead letters from %s to Kafka; %d remain\n", n, args[0], left)
			return failed(err)
		},
	}
	cmd.Flags().StringSliceVar(&brokers, "brokers", nil, "Kafka bootstrap servers (host:port,...), required")
	cmd.Flags().DurationVar(&timeout, "publish-timeout", 10*time.Second, "bound of each record's produce, retries included")
	return cmd
}

func (c *cli) spoolPurge() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "purge DIR --yes",
		Short: "Remove every queued record and dead letter for good (needs --yes)",
		Args:  dirArg,
		RunE: func(_ *cobra.Command, args []string) error {
			if !yes {
				return fmt.Errorf("spool purge %s: refusing without --yes: purge deletes every queued record and dead letter for good, and they will never reach Kafka (see 'huleedu spool inspect %s' first)", args[0], args[0])
			}
			res, err := spool.Purge(args[0])
			if err != nil {
				return spoolFailure(args[0], err)
			}
			fmt.Fprintf(c.stdout, "purged %s: removed %d records (%s) in %d segment files and %d dead letters\n",
				args[0], res.Records, humanBytes(res.Bytes), res.Segments, res.DeadLetters)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm that the records are to be deleted")
	return cmd
}
