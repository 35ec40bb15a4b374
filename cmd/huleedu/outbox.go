package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/sqldb"
)

// outboxOpenTimeout bounds connecting to the database.
const outboxOpenTimeout = 15 * time.Second

// outboxDeadLettersShown is how many dead letters inspect lists.
const outboxDeadLettersShown = 10

func (c *cli) outboxCommand() *cobra.Command {
	var database string
	cmd := &cobra.Command{
		Use:   "outbox",
		Short: "Inspect a service's transactional outbox and re-drive or purge its dead letters",
		Long: `The outbox commands work on a service's database (--database, default
$DATABASE_URL: a postgres:// URL or a SQLite file path). They are safe while
the service runs: its relays read the same table. They refuse, changing
nothing, when the database does not answer or has no outbox table.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown outbox command %q: want inspect, dead-letters, redrive or purge", args[0])
			}
			return cmd.Help()
		},
	}
	cmd.PersistentFlags().StringVar(&database, "database", "", "the service's database: postgres://... or a SQLite file (default $DATABASE_URL)")
	open := func(cmd *cobra.Command) (*outbox.Outbox, func(), error) {
		dsn := database
		if dsn == "" {
			dsn = os.Getenv("DATABASE_URL")
		}
		if dsn == "" {
			return nil, nil, errors.New("outbox: --database is required (a postgres:// URL or a SQLite file path), or set DATABASE_URL")
		}
		return openOutbox(cmd.Context(), dsn)
	}
	cmd.AddCommand(c.outboxInspect(open), c.outboxDeadLetters(open), c.outboxRedrive(open), c.outboxPurge(open))
	return cmd
}

type outboxOpener func(cmd *cobra.Command) (*outbox.Outbox, func(), error)

// openOutbox opens dsn without migrating it: a database without the
// outbox is refused, not given one.
func openOutbox(ctx context.Context, dsn string) (*outbox.Outbox, func(), error) {
	octx, cancel := context.WithTimeout(ctx, outboxOpenTimeout)
	defer cancel()
	db, err := sqldb.Open(octx, dsn, sqldb.Options{MustExist: true})
	if err != nil {
		return nil, nil, failed(fmt.Errorf("%w; nothing was changed", err))
	}
	ob, err := outbox.New(octx, db, outbox.Options{})
	if err != nil {
		db.Close()
		return nil, nil, failed(fmt.Errorf("%w; nothing was changed", err))
	}
	return ob, func() { db.Close() }, nil
}

// noArgs refuses positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("%s takes no arguments (the database is --database), got %q", cmd.CommandPath(), args[0])
	}
	return nil
}

// outboxReport is what inspect prints.
type outboxReport struct {
	Database        string              `json:"database"`
	Pending         int64               `json:"pending"`
	Retrying        int64               `json:"retrying"`
	OldestPendingAt *time.Time          `json:"oldest_pending_at,omitempty"`
	Published       int64               `json:"published_kept"`
	DeadLetters     int64               `json:"dead_letters"`
	OldestDeadAt    *time.Time          `json:"oldest_dead_at,omitempty"`
	Relays          []outbox.RelayLease `json:"relays"`
	Dead            []deadRowJSON       `json:"dead,omitempty"`
}

func (c *cli) outboxInspect(open outboxOpener) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "inspect",
		Short: "Show depth, retrying rows, oldest age, live relays and their leases, and the oldest dead letters with their reasons",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ob, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			st, err := ob.Stats(cmd.Context())
			if err != nil {
				return failed(err)
			}
			rep := outboxReport{Database: ob.String(), Pending: st.Pending, Retrying: st.Retrying, Published: st.Published,
				DeadLetters: st.DeadLetters, Relays: st.Relays}
			if !st.OldestPendingAt.IsZero() {
				rep.OldestPendingAt = &st.OldestPendingAt
			}
			if !st.OldestDeadAt.IsZero() {
				rep.OldestDeadAt = &st.OldestDeadAt
			}
			errShown := errors.New("shown enough")
			err = ob.DeadLetters(cmd.Context(), func(r outbox.Row) error {
				if len(rep.Dead) == outboxDeadLettersShown {
					return errShown
				}
				rep.Dead = append(rep.Dead, newDeadRowJSON(r))
				return nil
			})
			if err != nil && !errors.Is(err, errShown) {
				return failed(err)
			}
			if asJSON {
				enc := json.NewEncoder(c.stdout)
				enc.SetIndent("", "  ")
				return failed(enc.Encode(rep))
			}
			return failed(writeOutboxReport(c.stdout, rep, time.Now()))
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func writeOutboxReport(w io.Writer, r outboxReport, now time.Time) error {
	ago := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return fmt.Sprintf("%s ago (%s)", now.Sub(*t).Round(time.Second), t.UTC().Format(time.RFC3339))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "outbox\t%s\n", r.Database)
	fmt.Fprintf(tw, "pending\t%d rows (%d waiting for a retry)\n", r.Pending, r.Retrying)
	fmt.Fprintf(tw, "oldest pending\t%s\n", ago(r.OldestPendingAt))
	if r.Published > 0 {
		fmt.Fprintf(tw, "published, kept\t%d rows\n", r.Published)
	}
	fmt.Fprintf(tw, "relays\t%d alive\n", len(r.Relays))
	leased := 0
	for _, rl := range r.Relays {
		leased += rl.Partitions
		fmt.Fprintf(tw, "\t  %s\t%d of %d lease partitions, heartbeat valid until %s\n",
			rl.ID, rl.Partitions, outbox.LeasePartitions, rl.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if leased < outbox.LeasePartitions {
		fmt.Fprintf(tw, "\t  %d partitions held by no live relay: their rows wait until a relay takes them\n", outbox.LeasePartitions-leased)
	}
	fmt.Fprintf(tw, "dead letters\t%d (oldest %s)\n", r.DeadLetters, ago(r.OldestDeadAt))
	for _, d := range r.Dead {
		fmt.Fprintf(tw, "\t  id %d\t%s key %q event %s, dead %s: %s\n", d.ID, d.Topic, d.Key, d.EventID,
			d.DeadAt.UTC().Format(time.RFC3339), d.Reason)
	}
	if int64(len(r.Dead)) < r.DeadLetters {
		fmt.Fprintf(tw, "\t  ... and %d more: huleedu outbox dead-letters\n", r.DeadLetters-int64(len(r.Dead)))
	}
	return tw.Flush()
}

// deadRowJSON is how dead-letters and inspect show a dead row.
type deadRowJSON struct {
	ID            int64             `json:"id"`
	DeadAt        time.Time         `json:"dead_at"`
	Attempts      int               `json:"attempts"`
	Reason        string            `json:"reason"`
	Topic         string            `json:"topic"`
	Key           string            `json:"key,omitempty"`
	EventID       string            `json:"event_id"`
	EventType     string            `json:"event_type"`
	AggregateType string            `json:"aggregate_type,omitempty"`
	AggregateID   string            `json:"aggregate_id,omitempty"`
	CreatedAt     time.Time         `json:"created_at"`
	Headers       map[string]string `json:"headers,omitempty"`
	Envelope      json.RawMessage   `json:"envelope,omitempty"`
}

func newDeadRowJSON(r outbox.Row) deadRowJSON {
	d := deadRowJSON{ID: r.ID, DeadAt: r.DeadAt, Attempts: r.Attempts, Reason: r.LastError, Topic: r.Topic, Key: r.Key,
		EventID: r.EventID.String(), EventType: r.EventType, AggregateType: r.AggregateType, AggregateID: r.AggregateID,
		CreatedAt: r.CreatedAt}
	if len(r.Headers) > 0 {
		d.Headers = make(map[string]string, len(r.Headers))
		for _, h := range r.Headers {
			d.Headers[h.Key] = string(h.Value)
		}
	}
	if json.Valid(r.Envelope) {
		d.Envelope = r.Envelope
	}
	return d
}

func (c *cli) outboxDeadLetters(open outboxOpener) *cobra.Command {
	return &cobra.Command{
		Use:   "dead-letters",
		Short: "Print every dead letter (a row Kafka rejected for good) with its reason and envelope, as JSON lines",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ob, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			enc := json.NewEncoder(c.stdout)
			return failed(ob.DeadLetters(cmd.Context(), func(r outbox.Row) error { return enc.Encode(newDeadRowJSON(r)) }))
		},
	}
}

// idsOrAll is nil (every dead letter) without --id.
func idsOrAll(ids []int64) []int64 {
	if len(ids) == 0 {
		return nil
	}
	return ids
}

// deadLeft counts the dead letters after an operation, for its message.
func deadLeft(ctx context.Context, ob *outbox.Outbox) (int64, error) {
	st, err := ob.Stats(ctx)
	return st.DeadLetters, err
}

func (c *cli) outboxRedrive(open outboxOpener) *cobra.Command {
	var ids []int64
	cmd := &cobra.Command{
		Use:   "redrive [--id N ...]",
		Short: "Make dead letters pending again (all, or the given ids) so the service's relays publish them",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ob, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			n, err := ob.Redrive(cmd.Context(), idsOrAll(ids))
			if err != nil {
				return failed(err)
			}
			left, err := deadLeft(cmd.Context(), ob)
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(c.stdout, "re-drove %d dead letters in %s: they are pending again and the relays will publish them; %d dead letters remain\n",
				n, ob, left)
			return nil
		},
	}
	cmd.Flags().Int64SliceVar(&ids, "id", nil, "re-drive only these rows (repeat, or comma-separated); default every dead letter")
	return cmd
}

func (c *cli) outboxPurge(open outboxOpener) *cobra.Command {
	var (
		ids []int64
		yes bool
	)
	cmd := &cobra.Command{
		Use:   "purge --yes [--id N ...]",
		Short: "Delete dead letters for good (all, or the given ids; needs --yes); pending rows are never touched",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				return errors.New("outbox purge: refusing without --yes: purge deletes dead letters for good and they will never reach Kafka (see 'huleedu outbox dead-letters' first, and keep its output)")
			}
			ob, done, err := open(cmd)
			if err != nil {
				return err
			}
			defer done()
			n, err := ob.PurgeDeadLetters(cmd.Context(), idsOrAll(ids))
			if err != nil {
				return failed(err)
			}
			left, err := deadLeft(cmd.Context(), ob)
			if err != nil {
				return failed(err)
			}
			fmt.Fprintf(c.stdout, "purged %d dead letters from %s; %d dead letters remain; no pending row was touched\n", n, ob, left)
			return nil
		},
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm that the dead letters are to be deleted")
	cmd.Flags().Int64SliceVar(&ids, "id", nil, "purge only these rows (repeat, or comma-separated); default every dead letter")
	return cmd
}
