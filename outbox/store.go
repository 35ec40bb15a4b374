package outbox

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/huleedu/huleedu/sqldb"
)

// ErrNoOutbox is wrapped by New's error for a database without the outbox
// table: its migrations (Migrations) have not run there.
var ErrNoOutbox = errors.New("outbox: no outbox table")

// Store is the outbox table of one database, in one dialect: what Enqueue
// writes, what relays read and settle, how they share the table, and what
// operators inspect. PostgresStore and SQLiteStore implement it, and one
// conformance suite (store_conformance_test.go) holds both to the same
// behaviour. Times are the caller's clock except where a method says so.
type Store interface {
	// Dialect is the database's dialect.
	Dialect() sqldb.Dialect

	// Insert writes rows in tx. IDs are the database's; the rows' own
	// are ignored. On PostgreSQL it also notifies the relays, which hear
	// of it when tx commits.
	Insert(ctx context.Context, tx *sql.Tx, rows []Row) error

	// Pending returns up to limit rows of the given lease partitions that
	// are due at now: neither published nor dead, not waiting for a retry
	// (NextAttemptAt after now), and with no earlier row of the same topic
	// and key waiting for one. Oldest (lowest id) first. It reads every
	// committed row: there is no cursor that a late commit could fall
	// behind. The rows carry what publishing needs: ID, EventID, Topic,
	// Key, Partition, Envelope, Headers, CreatedAt and Attempts.
	Pending(ctx context.Context, partitions []int, now time.Time, limit int) ([]Row, error)

	// Settle records the outcome of one publish attempt in one
	// transaction.
	Settle(ctx context.Context, s Settlement) error

	// Leases does one round of a relay's lease upkeep in one transaction
	// (see LeaseTick): with the database's clock.
	Leases(ctx context.Context, t LeaseTick) (LeaseState, error)

	// Leave releases every lease relayID holds and removes its heartbeat,
	// so that the other relays take its partitions at their next tick.
	Leave(ctx context.Context, relayID string) error

	// Prune deletes up to limit published rows of partitions published
	// before before, returning how many it deleted.
	Prune(ctx context.Context, partitions []int, before time.Time, limit int) (int64, error)

	// Listen signals wake (without blocking) whenever rows may have been
	// committed by another process, and once after it starts listening,
	// until ctx ends; it returns ctx's error. On SQLite, which cannot tell
	// other processes' commits, it signals in-process Inserts only.
	Listen(ctx context.Context, wake chan<- struct{}) error

	// Stats reads the table's depth, ages and dead letters, and the live
	// relays (on the database's clock).
	Stats(ctx context.Context) (TableStats, error)

	// DeadLetters returns up to limit dead rows with id > afterID, oldest
	// first.
	DeadLetters(ctx context.Context, afterID int64, limit int) ([]Row, error)

	// Redrive makes the given dead rows pending again (all of them when
	// ids is nil), due at once, and returns how many it changed.
	Redrive(ctx context.Context, ids []int64) (int64, error)

	// PurgeDeadLetters deletes the given dead rows (all of them when ids
	// is nil) and returns how many it deleted. Pending rows are never
	// touched.
	PurgeDeadLetters(ctx context.Context, ids []int64) (int64, error)
}

// Settlement is the outcome of one publish attempt of a batch of rows.
type Settlement struct {
	// Published rows were acknowledged by Kafka: deleted, or, when Keep,
	// marked published at At.
	Published []int64
	Keep      bool
	// Retry rows failed with a retriable error: attempts + 1, their error,
	// due again at their NextAttemptAt.
	Retry []Failure
	// Dead rows were rejected for good: attempts + 1, their error as the
	// reason, dead at At.
	Dead []Failure
	At   time.Time
}

// Failure is one row's failed attempt.
type Failure struct {
	ID            int64
	Err           string
	NextAttemptAt time.Time // Retry only
}

// LeaseTick is one round of a relay's lease upkeep. In one transaction, on
// the database's clock: the relay's heartbeat is renewed for TTL and
// expired heartbeats removed; the Release partitions are given up; every
// other lease the relay holds is renewed for TTL; and, while it holds
// fewer than its fair share (LeasePartitions divided by the live relays,
// rounded up), it takes free or expired leases up to that share.
type LeaseTick struct {
	RelayID string
	TTL     time.Duration
	Release []int
	// Acquire false renews and releases only (a relay that is stopping).
	Acquire bool
}

// LeaseState is what a LeaseTick leaves: the partitions the relay holds,
// each valid for TTL from before the tick began, the live relays (this
// one included), and the relay's fair share.
type LeaseState struct {
	Held   []int
	Relays int
	Share  int
}

// fairShare is a relay's share of the lease partitions with n live
// relays: every partition is covered, none of them more than once.
func fairShare(relays int) int {
	relays = max(relays, 1)
	return (LeasePartitions + relays - 1) / relays
}

// TableStats describe the outbox table at one moment.
type TableStats struct {
	// Pending counts rows neither published nor dead; Retrying those of
	// them that failed at least once and wait for their next attempt.
	Pending  int64
	Retrying int64
	// OldestPendingAt is the CreatedAt of the oldest pending row; zero
	// when none is.
	OldestPendingAt time.Time
	// DeadLetters counts dead rows; OldestDeadAt is when the oldest died.
	DeadLetters  int64
	OldestDeadAt time.Time
	// Published counts published rows kept for Retention.
	Published int64
	// Relays are the relays with an unexpired heartbeat, and the lease
	// partitions each holds.
	Relays []RelayLease
}

// RelayLease is one live relay and the leases it holds.
type RelayLease struct {
	ID         string
	StartedAt  time.Time
	ExpiresAt  time.Time
	Partitions int
}
