package essaylifecycle

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
// for sqldb.Open, versioned in essay_lifecycle_schema_version.
func Migrations() sqldb.Migrations {
	pg, _ := fs.Sub(migrationFiles, "migrations/postgres")
	lite, _ := fs.Sub(migrationFiles, "migrations/sqlite")
	return sqldb.Migrations{Name: "essay_lifecycle", Postgres: pg, SQLite: lite}
}

// SQLBatchRepository is the BatchRepository of the service's database
// (PostgreSQL or SQLite): one row per batch, the BatchState as JSON. A
// change runs in sqldb.DB.Transact, joining the transaction its ctx
// carries (the consumer's), and holds the batch's row lock on PostgreSQL
// (SELECT ... FOR UPDATE; SQLite's transactions take the write lock at
// once), so changes of one batch by several instances take turns. It is
// safe for concurrent use.
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

// Get implements BatchRepository.
func (r *SQLBatchRepository) Get(ctx context.Context, id string) (BatchState, error) {
	st, err := r.read(ctx, r.db.Conn(ctx), id, "")
	if errors.Is(err, sql.ErrNoRows) {
		return BatchState{}, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	return st, err
}

func (r *SQLBatchRepository) read(ctx context.Context, q sqldb.Querier, id, lock string) (BatchState, error) {
	var raw []byte
	if err := q.QueryRowContext(ctx, `SELECT state FROM batches WHERE batch_id = $1`+lock, id).Scan(&raw); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return BatchState{}, err
		}
		return BatchState{}, fmt.Errorf("essaylifecycle: read batch %s: %w", id, err)
	}
	var st BatchState
	if err := json.Unmarshal(raw, &st); err != nil {
		return BatchState{}, fmt.Errorf("essaylifecycle: batch %s: stored state does not decode: %w", id, err)
	}
	return st, nil
}

// Upsert implements BatchRepository. A batch not there yet is inserted
// first, so that concurrent Upserts of a new batch take turns on its row
// too, and deleted again in the same transaction when fn leaves it
// unchanged.
func (r *SQLBatchRepository) Upsert(ctx context.Context, id string, fn func(context.Context, *BatchState) (bool, error)) error {
	return r.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		empty, err := json.Marshal(newBatchState(id))
		if err != nil {
			return err
		}
		now := r.db.TimeArg(r.now())
		res, err := tx.ExecContext(ctx, `INSERT INTO batches (batch_id, registered, state, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $4) ON CONFLICT (batch_id) DO NOTHING`, id, false, string(empty), now)
		if err != nil {
			return fmt.Errorf("essaylifecycle: create batch %s: %w", id, err)
		}
		created, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("essaylifecycle: create batch %s: %w", id, err)
		}
		changed, err := r.change(ctx, tx, id, fn)
		if err == nil && !changed && created == 1 {
			_, err = tx.ExecContext(ctx, `DELETE FROM batches WHERE batch_id = $1`, id)
		}
		return err
	})
}

// Update implements BatchRepository.
func (r *SQLBatchRepository) Update(ctx context.Context, id string, fn func(context.Context, *BatchState) (bool, error)) error {
	return r.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := r.change(ctx, tx, id, fn)
		return err
	})
}

// change locks and reads batch id, runs fn and stores what it changed.
func (r *SQLBatchRepository) change(ctx context.Context, tx *sql.Tx, id string, fn func(context.Context, *BatchState) (bool, error)) (bool, error) {
	st, err := r.read(ctx, tx, id, r.lock)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("%w: %s", ErrBatchNotFound, id)
	}
	if err != nil {
		return false, err
	}
	changed, err := fn(ctx, &st)
	if err != nil || !changed {
		return false, err
	}
	raw, err := json.Marshal(st)
	if err != nil {
		return false, fmt.Errorf("essaylifecycle: batch %s: encode state: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE batches SET registered = $2, state = $3, updated_at = $4 WHERE batch_id = $1`,
		id, st.Registered, string(raw), r.db.TimeArg(r.now())); err != nil {
		return false, fmt.Errorf("essaylifecycle: store batch %s: %w", id, err)
	}
	return true, nil
}
