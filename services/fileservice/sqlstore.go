package fileservice

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/huleedu/huleedu/sqldb"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the service's schema migrations (the contents table)
// for sqldb.Open, versioned in file_service_schema_version.
func Migrations() sqldb.Migrations {
	pg, _ := fs.Sub(migrationFiles, "migrations/postgres")
	lite, _ := fs.Sub(migrationFiles, "migrations/sqlite")
	return sqldb.Migrations{Name: "file_service", Postgres: pg, SQLite: lite}
}

// SQLContentStore is the ContentStore of the service's database
// (PostgreSQL or SQLite): one row per content id. Transact is
// sqldb.DB.Transact, so an upload's contents and the events that announce
// them (in the outbox) commit together. It is safe for concurrent use.
type SQLContentStore struct {
	db  *sqldb.DB
	now func() time.Time
}

var _ ContentStore = (*SQLContentStore)(nil)

// NewSQLContentStore returns the store of db, whose migrations
// (Migrations) have run.
func NewSQLContentStore(db *sqldb.DB) *SQLContentStore {
	return &SQLContentStore{db: db, now: time.Now}
}

// Put implements ContentStore: a content id that holds the same bytes
// already is left alone; one that holds other bytes is
// ErrContentConflict.
func (s *SQLContentStore) Put(ctx context.Context, id string, content []byte) error {
	return s.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO contents (content_id, content, size, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (content_id) DO NOTHING`, id, content, len(content), s.db.TimeArg(s.now()))
		if err != nil {
			return fmt.Errorf("fileservice: store content %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("fileservice: store content %s: %w", id, err)
		} else if n == 1 {
			return nil
		}
		old, err := s.get(ctx, tx, id)
		if err != nil {
			return err
		}
		if !bytes.Equal(old, content) {
			return fmt.Errorf("%w: %s", ErrContentConflict, id)
		}
		return nil
	})
}

// Get implements ContentStore.
func (s *SQLContentStore) Get(ctx context.Context, id string) ([]byte, error) {
	return s.get(ctx, s.db.Conn(ctx), id)
}

func (s *SQLContentStore) get(ctx context.Context, q sqldb.Querier, id string) ([]byte, error) {
	var content []byte
	err := q.QueryRowContext(ctx, `SELECT content FROM contents WHERE content_id = $1`, id).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrContentNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("fileservice: read content %s: %w", id, err)
	}
	return content, nil
}

// Transact implements ContentStore with sqldb.DB.Transact: fn joins the
// transaction ctx carries, or runs in one of its own.
func (s *SQLContentStore) Transact(ctx context.Context, fn func(context.Context) error) error {
	return s.db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error { return fn(ctx) })
}
