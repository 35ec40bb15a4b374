package classmgmt

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/huleedu/huleedu/sqldb"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations returns the service's schema migrations (classes, students,
// essay_associations) for sqldb.Open, versioned in
// class_management_schema_version.
func Migrations() sqldb.Migrations {
	pg, _ := fs.Sub(migrationFiles, "migrations/postgres")
	lite, _ := fs.Sub(migrationFiles, "migrations/sqlite")
	return sqldb.Migrations{Name: "class_management", Postgres: pg, SQLite: lite}
}

// SQLStore is the Store of the service's database (PostgreSQL or SQLite):
// a table per kind of value, each row its value as JSON. Tx is a
// transaction of sqldb.DB.Transact that fn's ctx carries, so the events fn
// publishes go into the outbox in the same commit; on PostgreSQL a read
// inside it locks the row it read (FOR UPDATE), on SQLite the transaction
// holds the write lock from its start. It is safe for concurrent use.
type SQLStore struct {
	db   *sqldb.DB
	lock string // " FOR UPDATE" on PostgreSQL
}

var _ Store = (*SQLStore)(nil)

// NewSQLStore returns the store of db, whose migrations (Migrations) have
// run.
func NewSQLStore(db *sqldb.DB) *SQLStore {
	s := &SQLStore{db: db}
	if db.Dialect() == sqldb.Postgres {
		s.lock = " FOR UPDATE"
	}
	return s
}

// Tx implements Store.
func (s *SQLStore) Tx(ctx context.Context, fn func(context.Context, Tx) error) error {
	return s.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return fn(ctx, &sqlTx{s: s, ctx: ctx, tx: tx})
	})
}

// Class implements Store.
func (s *SQLStore) Class(ctx context.Context, id string) (Class, bool, error) {
	var c Class
	ok, err := s.get(ctx, s.db.Conn(ctx), &c, `SELECT class FROM classes WHERE class_id = $1`, "", id)
	return c, ok, err
}

// Student implements Store.
func (s *SQLStore) Student(ctx context.Context, id string) (Student, bool, error) {
	var st Student
	ok, err := s.get(ctx, s.db.Conn(ctx), &st, `SELECT student FROM students WHERE student_id = $1`, "", id)
	return st, ok, err
}

// Classes implements Store: every class, by creation time then id.
func (s *SQLStore) Classes(ctx context.Context) ([]Class, error) {
	rows, err := s.db.Conn(ctx).QueryContext(ctx, `SELECT class FROM classes ORDER BY created_at, class_id`)
	if err != nil {
		return nil, fmt.Errorf("classmgmt: list classes: %w", err)
	}
	defer rows.Close()
	out := []Class{}
	for rows.Next() {
		var raw []byte
		if err := rows.Scan(&raw); err != nil {
			return nil, fmt.Errorf("classmgmt: list classes: %w", err)
		}
		var c Class
		if err := json.Unmarshal(raw, &c); err != nil {
			return nil, fmt.Errorf("classmgmt: a stored class does not decode: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("classmgmt: list classes: %w", err)
	}
	// Again by the decoded times: the column holds microseconds on
	// SQLite, and classes created within one keep MemoryStore's order.
	sortClasses(out)
	return out, nil
}

// get reads the JSON value of the one row query (plus lock) finds into
// dst; ok is false when there is none.
func (s *SQLStore) get(ctx context.Context, q sqldb.Querier, dst any, query, lock string, args ...any) (bool, error) {
	var raw []byte
	err := q.QueryRowContext(ctx, query+lock, args...).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("classmgmt: read %v: %w", args, err)
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return false, fmt.Errorf("classmgmt: stored value %v does not decode: %w", args, err)
	}
	return true, nil
}

// sqlTx is SQLStore's Tx: one database transaction, with the context it
// runs in (the one Tx gave fn), used by one goroutine.
type sqlTx struct {
	s   *SQLStore
	ctx context.Context
	tx  *sql.Tx
}

func (t *sqlTx) Class(id string) (Class, bool, error) {
	var c Class
	ok, err := t.s.get(t.ctx, t.tx, &c, `SELECT class FROM classes WHERE class_id = $1`, t.s.lock, id)
	return c, ok, err
}

func (t *sqlTx) PutClass(c Class) error {
	return t.put(`INSERT INTO classes (class_id, created_at, class) VALUES ($1, $2, $3)
		ON CONFLICT (class_id) DO UPDATE SET class = excluded.class`, c, c.ClassID, t.s.db.TimeArg(c.CreatedAt))
}

func (t *sqlTx) Student(id string) (Student, bool, error) {
	var st Student
	ok, err := t.s.get(t.ctx, t.tx, &st, `SELECT student FROM students WHERE student_id = $1`, t.s.lock, id)
	return st, ok, err
}

func (t *sqlTx) PutStudent(st Student) error {
	return t.put(`INSERT INTO students (student_id, student) VALUES ($1, $2)
		ON CONFLICT (student_id) DO UPDATE SET student = excluded.student`, st, st.StudentID)
}

func (t *sqlTx) Association(batchID, essayID string) (EssayAssociation, bool, error) {
	var a EssayAssociation
	ok, err := t.s.get(t.ctx, t.tx, &a, `SELECT association FROM essay_associations WHERE batch_id = $1 AND essay_id = $2`,
		t.s.lock, batchID, essayID)
	return a, ok, err
}

func (t *sqlTx) PutAssociation(a EssayAssociation) error {
	return t.put(`INSERT INTO essay_associations (batch_id, essay_id, association) VALUES ($1, $2, $3)
		ON CONFLICT (batch_id, essay_id) DO UPDATE SET association = excluded.association`, a, a.BatchID, a.EssayID)
}

// put runs query with args and, as its last argument, v's JSON.
func (t *sqlTx) put(query string, v any, args ...any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("classmgmt: encode %v: %w", args[0], err)
	}
	if _, err := t.tx.ExecContext(t.ctx, query, append(args, string(raw))...); err != nil {
		return fmt.Errorf("classmgmt: store %v: %w", args[0], err)
	}
	return nil
}
