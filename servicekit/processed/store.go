package processed

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/sqldb"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the processed_events table's migrations for
// sqldb.Open, versioned in processed_events_schema_version.
func Migrations() sqldb.Migrations {
	pg, _ := fs.Sub(migrationFiles, "migrations/postgres")
	lite, _ := fs.Sub(migrationFiles, "migrations/sqlite")
	return sqldb.Migrations{Name: "processed_events", Postgres: pg, SQLite: lite}
}

// Defaults of Options.
const (
	DefaultRetryMin = 200 * time.Millisecond
	DefaultRetryMax = 5 * time.Second
)

// Options configure New. Every zero value means the documented default.
type Options struct {
	// RetryMin and RetryMax bound the wait between attempts while the
	// database is unavailable: RetryMin, doubling up to RetryMax.
	// Defaults DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// Now stamps the marks (processed_at), which Prune compares with its
	// cutoff. Default time.Now.
	Now func() time.Time
	// Logger receives a line when an event waits for the database, and
	// when the database answers again (nil: discard).
	Logger *slog.Logger
}

// Store is the kafkaconsumer.IdempotencyStore of a service's database: it
// runs each handler in a transaction that begins with the event's mark
// and commits with the handler's state change. It is safe for concurrent
// use, by several processes on one database too.
type Store struct {
	db   *sqldb.DB
	opts Options
	log  *slog.Logger
}

var _ kafkaconsumer.IdempotencyStore = (*Store)(nil)

// New returns the Store of db, whose migrations (Migrations) must have
// run: a database without the processed_events table is an error naming
// the database.
func New(ctx context.Context, db *sqldb.DB, opts Options) (*Store, error) {
	switch {
	case opts.RetryMin < 0 || opts.RetryMax < 0:
		return nil, fmt.Errorf("processed: Options.RetryMin %v and RetryMax %v: want >= 0 (0 means %v and %v)",
			opts.RetryMin, opts.RetryMax, DefaultRetryMin, DefaultRetryMax)
	case opts.RetryMin == 0:
		opts.RetryMin = DefaultRetryMin
	}
	if opts.RetryMax == 0 {
		opts.RetryMax = max(DefaultRetryMax, opts.RetryMin)
	}
	if opts.RetryMax < opts.RetryMin {
		return nil, fmt.Errorf("processed: Options.RetryMax %v: want >= RetryMin (%v)", opts.RetryMax, opts.RetryMin)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var n int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM processed_events WHERE 1 = 0`).Scan(&n); err != nil {
		return nil, fmt.Errorf("processed: %s has no processed_events table (processed.Migrations has not run there): %w", db, err)
	}
	return &Store{db: db, opts: opts, log: log}, nil
}

// errDuplicate ends the transaction of an event that is marked already.
var errDuplicate = errors.New("processed: event marked already")

// Process implements kafkaconsumer.IdempotencyStore. In one transaction
// it inserts the mark (consumer, event_id), runs handle with the
// transaction in its context (so the repositories and the outbox that
// handle reaches through sqldb.DB.Transact write in it), and commits when
// handle returned nil. A mark that is there already means a duplicate:
// handle does not run. A concurrent Process of the same event, in this
// process or another, waits at the mark's insert until the first
// transaction ends, then sees a duplicate or, when the first rolled back,
// runs handle itself.
//
// While the database is unavailable (sqldb.IsRetriable: unreachable,
// restarting, full, busy) Process does not return: it waits and tries
// again, RetryMin doubling up to RetryMax, until the database answers or
// ctx ends. The consumer therefore never counts an outage as a failed
// attempt, however long it lasts, and never dead-letters an event for it.
// Any other error (handle's own, or a statement the database refused) is
// returned as it is, for the consumer to retry or dead-letter.
func (s *Store) Process(ctx context.Context, key kafkaconsumer.EventKey, handle func(ctx context.Context) error) (bool, error) {
	if key.EventID == "" {
		return false, kafkaconsumer.ErrEmptyEventID
	}
	wait := s.opts.RetryMin
	for attempt := 1; ; attempt++ {
		dup, err := s.once(ctx, key, handle)
		if err == nil || !sqldb.IsRetriable(err) || errors.Is(err, kafkaconsumer.ErrPermanent) || ctx.Err() != nil {
			if attempt > 1 && err == nil {
				s.log.InfoContext(ctx, "database available again; event handled", "event_id", key.EventID, "attempts", attempt)
			}
			return dup, err
		}
		// Once, then at doubling attempt counts: an outage of an hour
		// logs about a dozen lines per event, not thousands.
		if attempt&(attempt-1) == 0 {
			s.log.WarnContext(ctx, "database unavailable; the event waits and is retried until it answers",
				"event_id", key.EventID, "consumer", key.Consumer, "attempt", attempt, "retry_in", wait, "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false, fmt.Errorf("processed: event %s: gave up waiting for the database: %w (last error: %w)", key.EventID, ctx.Err(), err)
		}
		wait = min(2*wait, s.opts.RetryMax)
	}
}

// once is one attempt of Process.
func (s *Store) once(ctx context.Context, key kafkaconsumer.EventKey, handle func(ctx context.Context) error) (bool, error) {
	err := s.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO processed_events (consumer, event_id, processed_at)
			VALUES ($1, $2, $3) ON CONFLICT (consumer, event_id) DO NOTHING`, key.Consumer, key.EventID, s.db.TimeArg(s.opts.Now()))
		if err != nil {
			return fmt.Errorf("processed: mark event %s for %s in %s: %w", key.EventID, key.Consumer, s.db, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("processed: mark event %s for %s in %s: %w", key.EventID, key.Consumer, s.db, err)
		}
		if n == 0 {
			return errDuplicate
		}
		return handle(ctx)
	})
	if errors.Is(err, errDuplicate) {
		return true, nil
	}
	return false, err
}

// Processed reports whether key is marked: its handler committed.
func (s *Store) Processed(ctx context.Context, key kafkaconsumer.EventKey) (bool, error) {
	var n int
	err := s.db.Conn(ctx).QueryRowContext(ctx, `SELECT count(*) FROM processed_events WHERE consumer = $1 AND event_id = $2`,
		key.Consumer, key.EventID).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("processed: look up event %s in %s: %w", key.EventID, s.db, err)
	}
	return n > 0, nil
}

// Prune deletes up to limit marks made before before and returns how many
// it deleted. A mark must outlive every redelivery of its event: keep
// them longer than the topics' retention, or than any consumer group
// could lag.
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (int64, error) {
	res, err := s.db.Conn(ctx).ExecContext(ctx, `DELETE FROM processed_events WHERE (consumer, event_id) IN
		(SELECT consumer, event_id FROM processed_events WHERE processed_at < $1 LIMIT $2)`, s.db.TimeArg(before), limit)
	if err != nil {
		return 0, fmt.Errorf("processed: prune %s: %w", s.db, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("processed: prune %s: %w", s.db, err)
	}
	return n, nil
}
