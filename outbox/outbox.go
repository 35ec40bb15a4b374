package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/huleedu/huleedu/sqldb"
)

// Options configure New. Every zero value means the documented default.
type Options struct {
	// Now stamps the rows' created_at, from which the relay measures the
	// latency from commit to Kafka's acknowledgement. Default time.Now.
	Now func() time.Time
}

// Outbox is the outbox table of a service's database: Enqueue writes
// events into it inside the caller's transaction; a Relay publishes them;
// the operator methods inspect and repair it. It is safe for concurrent
// use.
type Outbox struct {
	store Store
	name  string // the database, for messages
	now   func() time.Time
}

// New returns the Outbox of db, whose migrations (Migrations) must have
// run: a database without the outbox table is an error wrapping
// ErrNoOutbox, naming the database.
func New(ctx context.Context, db *sqldb.DB, opts Options) (*Outbox, error) {
	var (
		store Store
		ok    bool
		err   error
	)
	switch db.Dialect() {
	case sqldb.Postgres:
		s := NewPostgresStore(db.Pool(), db.Schema())
		ok, err = s.exists(ctx)
		store = s
	case sqldb.SQLite:
		s := NewSQLiteStore(db.SQL())
		ok, err = s.exists(ctx)
		store = s
	default:
		return nil, fmt.Errorf("outbox: %s: unsupported dialect %q", db, db.Dialect())
	}
	if err != nil {
		return nil, fmt.Errorf("outbox: %s: %w", db, err)
	}
	if !ok {
		return nil, fmt.Errorf("%w in %s: its migrations have not run there (outbox.Migrations); is this a service's database?", ErrNoOutbox, db)
	}
	return NewWithStore(store, db.String(), opts), nil
}

// NewWithStore returns the Outbox of store; name names the database in
// messages.
func NewWithStore(store Store, name string, opts Options) *Outbox {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Outbox{store: store, name: name, now: now}
}

// Store returns the outbox's Store, for a Relay.
func (o *Outbox) Store() Store { return o.store }

// String names the database the outbox is in.
func (o *Outbox) String() string { return o.name }

// Enqueue writes msgs into the outbox inside tx, in order, so that they
// exist exactly when tx commits: a rollback leaves none of them, a commit
// all of them, and the relay publishes them after the commit. Each
// message's envelope is encoded now, once, as the Kafka record the relay
// will send (event.Envelope.RecordContext): its event_id is kept, and the
// trace context of ctx becomes the record's traceparent header, so the
// consumer's span joins the trace of the request that caused the event.
//
// An invalid message is an error wrapping ErrInvalidMessage, and then
// nothing is written; the caller should roll back. Other errors are the
// database's, and the transaction is then best rolled back too.
func (o *Outbox) Enqueue(ctx context.Context, tx *sql.Tx, msgs ...Message) error {
	if tx == nil {
		return errors.New("outbox: Enqueue: tx is nil: events are written in the caller's transaction")
	}
	if len(msgs) == 0 {
		return nil
	}
	now := o.now()
	rows := make([]Row, len(msgs))
	for i, m := range msgs {
		r, err := newRow(ctx, m, now)
		if err != nil {
			if len(msgs) > 1 {
				return fmt.Errorf("outbox: Enqueue message %d of %d: %w", i+1, len(msgs), err)
			}
			return fmt.Errorf("outbox: Enqueue: %w", err)
		}
		rows[i] = r
	}
	if err := o.store.Insert(ctx, tx, rows); err != nil {
		return fmt.Errorf("outbox: Enqueue %d events into %s: %w", len(rows), o.name, err)
	}
	return nil
}

// Stats reads the table: depth, oldest pending row, dead letters, live
// relays.
func (o *Outbox) Stats(ctx context.Context) (TableStats, error) {
	st, err := o.store.Stats(ctx)
	if err != nil {
		return TableStats{}, fmt.Errorf("outbox: stats of %s: %w", o.name, err)
	}
	return st, nil
}

// DeadLetters calls fn for every dead row, oldest first, reading them in
// pages; fn's error stops the walk and is returned.
func (o *Outbox) DeadLetters(ctx context.Context, fn func(Row) error) error {
	after := int64(0)
	for {
		rows, err := o.store.DeadLetters(ctx, after, 500)
		if err != nil {
			return fmt.Errorf("outbox: dead letters of %s: %w", o.name, err)
		}
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
			after = r.ID
		}
		if len(rows) < 500 {
			return nil
		}
	}
}

// Redrive makes dead rows pending again, due at once, so that the relay
// publishes them; nil ids means every dead row. It returns how many rows
// it changed. A re-driven row keeps its place (its id): rows of its topic
// and key still pending wait behind it, rows already published are not
// sent again.
func (o *Outbox) Redrive(ctx context.Context, ids []int64) (int64, error) {
	n, err := o.store.Redrive(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("outbox: redrive dead letters in %s: %w", o.name, err)
	}
	return n, nil
}

// PurgeDeadLetters deletes dead rows for good (every one when ids is nil)
// and returns how many it deleted. Pending rows are never deleted.
func (o *Outbox) PurgeDeadLetters(ctx context.Context, ids []int64) (int64, error) {
	n, err := o.store.PurgeDeadLetters(ctx, ids)
	if err != nil {
		return 0, fmt.Errorf("outbox: purge dead letters in %s: %w", o.name, err)
	}
	return n, nil
}
