package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/sqldb"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// notes is a migration set of two versions for both dialects.
var notes = sqldb.Migrations{
	Name: "notes",
	Postgres: fstest.MapFS{
		"00001_notes.sql": {Data: []byte("-- +goose Up\nCREATE TABLE notes (id bigint PRIMARY KEY, body text NOT NULL);\n-- +goose Down\nDROP TABLE notes;\n")},
		"00002_tags.sql":  {Data: []byte("-- +goose Up\nALTER TABLE notes ADD COLUMN tag text;\n-- +goose Down\nALTER TABLE notes DROP COLUMN tag;\n")},
	},
	SQLite: fstest.MapFS{
		"00001_notes.sql": {Data: []byte("-- +goose Up\nCREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n-- +goose Down\nDROP TABLE notes;\n")},
		"00002_tags.sql":  {Data: []byte("-- +goose Up\nALTER TABLE notes ADD COLUMN tag TEXT;\n-- +goose Down\nALTER TABLE notes DROP COLUMN tag;\n")},
	},
}

// other is a second set, numbered from 1 as well.
var other = sqldb.Migrations{
	Name:     "other",
	Postgres: fstest.MapFS{"00001_other.sql": {Data: []byte("-- +goose Up\nCREATE TABLE other (id bigint);\n-- +goose Down\nDROP TABLE other;\n")}},
	SQLite:   fstest.MapFS{"00001_other.sql": {Data: []byte("-- +goose Up\nCREATE TABLE other (id INTEGER);\n-- +goose Down\nDROP TABLE other;\n")}},
}

// backends returns a fresh database of each dialect.
func backends(t *testing.T) map[sqldb.Dialect]string {
	return map[sqldb.Dialect]string{
		sqldb.Postgres: pgtest.NewDatabase(t),
		sqldb.SQLite:   filepath.Join(t.TempDir(), "state", "svc.db"),
	}
}

func open(t *testing.T, dsn string, opts sqldb.Options) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOpenMigratesIndependentSetsOnBothDialects(t *testing.T) {
	for dialect, dsn := range backends(t) {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			db := open(t, dsn, sqldb.Options{Migrations: []sqldb.Migrations{notes, other}})
			if db.Dialect() != dialect {
				t.Fatalf("dialect %s, want %s", db.Dialect(), dialect)
			}
			for set, want := range map[*sqldb.Migrations]int64{&notes: 2, &other: 1} {
				if v, err := db.Version(ctx, *set); err != nil || v != want {
					t.Errorf("%s version %d (%v), want %d", set.Name, v, err, want)
				}
			}
			if _, err := db.SQL().ExecContext(ctx, `INSERT INTO notes (id, body, tag) VALUES ($1, $2, $3)`, 1, "hello", "x"); err != nil {
				t.Fatal(err)
			}
			db.Close()
			// Opening again applies nothing and keeps the data.
			db = open(t, dsn, sqldb.Options{Migrations: []sqldb.Migrations{notes, other}})
			var body string
			if err := db.SQL().QueryRowContext(ctx, `SELECT body FROM notes WHERE id = $1`, 1).Scan(&body); err != nil || body != "hello" {
				t.Fatalf("after reopen: %q, %v", body, err)
			}
		})
	}
}

func TestInTxCommitsOnNilAndRollsBackOnError(t *testing.T) {
	for dialect, dsn := range backends(t) {
		t.Run(string(dialect), func(t *testing.T) {
			ctx := context.Background()
			db := open(t, dsn, sqldb.Options{Migrations: []sqldb.Migrations{notes}})
			boom := errors.New("boom")
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO notes (id, body) VALUES (1, 'rolled back')`); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("InTx: %v, want fn's error", err)
			}
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO notes (id, body) VALUES (2, 'kept')`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var bodies []string
			rows, err := db.SQL().QueryContext(ctx, `SELECT body FROM notes ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var b string
				_ = rows.Scan(&b)
				bodies = append(bodies, b)
			}
			rows.Close()
			if strings.Join(bodies, ",") != "kept" {
				t.Fatalf("notes %v, want only the committed one", bodies)
			}
		})
	}
}

func TestOpenRefusesClearly(t *testing.T) {
	ctx := context.Background()
	missing := filepath.Join(t.TempDir(), "nope.db")
	for _, tc := range []struct {
		name, dsn string
		opts      sqldb.Options
		want      string
	}{
		{"empty", "", sqldb.Options{}, "the database is empty"},
		{"unreachable server", "postgres://u:secret@127.0.0.1:1/x?connect_timeout=2", sqldb.Options{}, "server unreachable"},
		{"bad url", "postgres://u:secret@host:notaport/x", sqldb.Options{}, "invalid PostgreSQL URL"},
		{"missing file", missing, sqldb.Options{MustExist: true}, "does not exist"},
		{"memory", ":memory:", sqldb.Options{}, "want a SQLite file path"},
		{"bad schema", "postgres://u@127.0.0.1:1/x", sqldb.Options{Schema: "Bad-Name"}, `schema "Bad-Name"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqldb.Open(ctx, tc.dsn, tc.opts)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("MustExist created %s", missing)
	}
}

func TestSchemaKeepsServicesApartInOneDatabase(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	a := open(t, url, sqldb.Options{Schema: "svc_a", Migrations: []sqldb.Migrations{notes}})
	b := open(t, url, sqldb.Options{Schema: "svc_b", Migrations: []sqldb.Migrations{notes}})
	if _, err := a.SQL().ExecContext(ctx, `INSERT INTO notes (id, body) VALUES (1, 'a')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.SQL().QueryRowContext(ctx, `SELECT count(*) FROM notes`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("service b sees %d notes (%v), want its own empty table", n, err)
	}
}

func TestRedactHidesPasswords(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:pw@h:5432/db":        "postgres://u:xxxxx@h:5432/db",
		"postgres://h/db?password=pw&x=1":  "postgres://h/db?password=xxxxx&x=1",
		"/var/lib/huleedu/file_service.db": "/var/lib/huleedu/file_service.db",
	} {
		if got := sqldb.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
