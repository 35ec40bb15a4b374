package sqldb_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing/fstest"

	"github.com/huleedu/huleedu/sqldb"
)

// A service opens its database from DATABASE_URL, or a SQLite file when
// none is set, with its migrations, and changes its state in
// transactions written once for both dialects.
func ExampleOpen() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sqldb-example")
	defer os.RemoveAll(dir)
	dsn := os.Getenv("EXAMPLE_DATABASE_URL") // a postgres:// URL in production
	if dsn == "" {
		dsn = filepath.Join(dir, "classes.db")
	}
	classes := sqldb.Migrations{
		Name:     "classes",
		Postgres: fstest.MapFS{"00001_classes.sql": {Data: []byte("-- +goose Up\nCREATE TABLE classes (id text PRIMARY KEY, name text NOT NULL);\n")}},
		SQLite:   fstest.MapFS{"00001_classes.sql": {Data: []byte("-- +goose Up\nCREATE TABLE classes (id TEXT PRIMARY KEY, name TEXT NOT NULL);\n")}},
	}
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{Migrations: []sqldb.Migrations{classes}})
	if err != nil {
		fmt.Println(err) // names the database; the service stops here
		return
	}
	defer db.Close()
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO classes (id, name) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET name = excluded.name`, "c-1", "Year 9 English")
		return err
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	var name string
	_ = db.SQL().QueryRowContext(ctx, `SELECT name FROM classes WHERE id = $1`, "c-1").Scan(&name)
	fmt.Println(db.Dialect(), name)
	// Output: sqlite Year 9 English
}

// A repository's write joins the transaction its caller's context
// carries: here the consumer's, which marks the event processed in the
// same commit. A repository called without one begins its own.
func ExampleDB_Transact() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "sqldb-example")
	defer os.RemoveAll(dir)
	schema := sqldb.Migrations{
		Name:     "essays",
		Postgres: fstest.MapFS{"00001_essays.sql": {Data: []byte("-- +goose Up\nCREATE TABLE essays (id text PRIMARY KEY);\nCREATE TABLE processed (event_id text PRIMARY KEY);\n")}},
		SQLite:   fstest.MapFS{"00001_essays.sql": {Data: []byte("-- +goose Up\nCREATE TABLE essays (id TEXT PRIMARY KEY);\nCREATE TABLE processed (event_id TEXT PRIMARY KEY);\n")}},
	}
	db, err := sqldb.Open(ctx, filepath.Join(dir, "els.db"), sqldb.Options{Migrations: []sqldb.Migrations{schema}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	saveEssay := func(ctx context.Context, id string) error { // a repository method
		return db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO essays (id) VALUES ($1)`, id)
			return err
		})
	}
	err = db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error { // the consumer
		if _, err := tx.ExecContext(ctx, `INSERT INTO processed (event_id) VALUES ($1)`, "ev-1"); err != nil {
			return err
		}
		if err := saveEssay(ctx, "e-1"); err != nil {
			return err
		}
		return fmt.Errorf("the handler fails after the save")
	})
	var essays, marks int
	_ = db.SQL().QueryRowContext(ctx, `SELECT (SELECT count(*) FROM essays), (SELECT count(*) FROM processed)`).Scan(&essays, &marks)
	fmt.Println(err, essays, marks)
	// Output: the handler fails after the save 0 0
}
