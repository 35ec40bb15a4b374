package batchorchestrator

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/huleedu/huleedu/sqldb"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the service's schema migrations (the batches table)
// for sqldb.Open, versioned in batch_orchestrator_schema_version.
func Migrations() sqldb.Migrations {
	pg, _ := fs.Sub(migrationFiles, "migrations/postgres")
	lite, _ := fs.Sub(migrationFiles, "migrations/sqlite")
	return sqldb.Migrations{Name: "batch_orchestrator", Postgres: pg, SQLite: lite}
}

// SQLBatchRepository is the BatchRepository of the service's database
// (PostgreSQL or SQLite): one row per batch, the Batch as JSON. Create
// and Update run in sqldb.DB.Transact, joining the transaction their ctx
// carries (the consumer's, for an event handler); Update holds the
// batch's row lock on PostgreSQL (SQLite's transactions take the write
// lock at once), so changes of one batch by several instances take
// turns. It is safe for concurrent use.
type SQLBatchRepository struct {
	db   *sqldb.DB
	lock string // " FOR UPDATE" on PostgreSQL
	now  func() time.Time
}

var _ BatchRepository = (*SQLBatchRepository)(nil)

// NewSQLBatchRepository returns the repository of db, whose migrations
// (Migrations) have run.
func NewSQLBatchRepository(db *sqldb.DB) *SQLBatchRepository {
	r := &SQLBatchRepository{db: db, now: time.Now}
	if db.Dialect() == sqldb.Postgres {
		r.lock = " FOR UPDATE"
	}
	return r
}

// Create implements BatchRepository. The insert does nothing for an id
// that is taken (no failed statement, which on PostgreSQL would abort a
// transaction the caller may go on with).
func (r *SQLBatchRepository) Create(ctx context.Context, b Batch, fn func(context.Context) error) error {
	raw, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("batchorchestrator: batch %s: encode: %w", b.BatchID, err)
	}
	return r.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		now := r.db.TimeArg(r.now())
		res, err := tx.ExecContext(ctx, `INSERT INTO batches (batch_id, status, batch, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) ON CONFLICT (batch_id) DO NOTHING`, b.BatchID, b.Status, string(raw), now)
		if err != nil {
			return fmt.Errorf("batchorchestrator: store batch %s: %w", b.BatchID, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("batchorchestrator: store batch %s: %w", b.BatchID, err)
		} else if n == 0 {
			return fmt.Errorf("%w: %s", ErrBatchExists, b.BatchID)
		}
		return fn(ctx)
	})
}

// Get implements BatchRepository.
func (r *SQLBatchRepository) Get(ctx context.Context, id string) (Batch, error) {
	return r.read(ctx, r.db.Conn(ctx), id, "")
}

func (r *SQLBatchRepository) read(ctx context.Context, q sqldb.Querier, id, lock string) (Batch, error) {
	var raw []byte
	err := q.QueryRowContext(ctx, `SELECT batch FROM batches WHERE batch_id = $1`+lock, id).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return Batch{}, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	if err != nil {
		return Batch{}, fmt.Errorf("batchorchestrator: read batch %s: %w", id, err)
	}
	var b Batch
	if err := json.Unmarshal(raw, &b); err != nil {
		return Batch{}, fmt.Errorf("batchorchestrator: batch %s: stored batch does not decode: %w", id, err)
	}
	return b, nil
}

// Update implements BatchRepository.
func (r *SQLBatchRepository) Update(ctx context.Context, id string, fn func(context.Context, *Batch) (bool, error)) error {
	return r.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		b, err := r.read(ctx, tx, id, r.lock)
		if err != nil {
			return err
		}
		changed, err := fn(ctx, &b)
		if err != nil || !changed {
			return err
		}
		raw, err := json.Marshal(b)
		if err != nil {
			return fmt.Errorf("batchorchestrator: batch %s: encode: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE batches SET status = $2, batch = $3, updated_at = $4 WHERE batch_id = $1`,
			id, b.Status, string(raw), r.db.TimeArg(r.now())); err != nil {
			return fmt.Errorf("batchorchestrator: store batch %s: %w", id, err)
		}
		return nil
	})
}
