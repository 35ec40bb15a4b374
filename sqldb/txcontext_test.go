package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/sqldb"
)

// forEachBackend runs test on a fresh database of each dialect with the
// notes table.
func forEachBackend(t *testing.T, test func(t *testing.T, db *sqldb.DB)) {
	t.Helper()
	for dialect, dsn := range backends(t) {
		t.Run(string(dialect), func(t *testing.T) {
			test(t, open(t, dsn, sqldb.Options{Migrations: []sqldb.Migrations{notes}}))
		})
	}
}

func insertNote(ctx context.Context, q sqldb.Querier, id int, body string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO notes (id, body) VALUES ($1, $2)`, id, body)
	return err
}

func noteIDs(t *testing.T, db *sqldb.DB) []int {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), `SELECT id FROM notes ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func TestTransactJoinsTheTransactionInTheContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		boom := errors.New("outer fails after the inner succeeded")
		err := db.Transact(ctx, func(ctx context.Context, outer *sql.Tx) error {
			if err := insertNote(ctx, outer, 1, "outer"); err != nil {
				return err
			}
			err := db.Transact(ctx, func(ctx context.Context, inner *sql.Tx) error {
				if inner != outer {
					t.Error("the inner Transact began a transaction of its own")
				}
				// On SQLite a second transaction would wait here for the
				// first, which holds the one connection, forever.
				return insertNote(ctx, db.Conn(ctx), 2, "inner")
			})
			if err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Transact = %v, want the outer fn's error", err)
		}
		if ids := noteIDs(t, db); len(ids) != 0 {
			t.Fatalf("notes %v after the outer transaction rolled back, want none: the inner one joined it", ids)
		}
	})
}

func TestTransactUndoesOnlyTheFailedInnerPart(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		err := db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
			if err := insertNote(ctx, tx, 1, "kept"); err != nil {
				return err
			}
			inner := db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if err := insertNote(ctx, tx, 2, "undone"); err != nil {
					return err
				}
				// A statement that fails: on PostgreSQL this aborts the
				// whole transaction unless the savepoint is rolled back.
				return insertNote(ctx, tx, 2, "duplicate key")
			})
			if inner == nil {
				t.Error("inserting a duplicate key succeeded")
			}
			return insertNote(ctx, tx, 3, "after the failed part")
		})
		if err != nil {
			t.Fatalf("Transact = %v; the outer transaction must go on after an inner failure", err)
		}
		if ids := noteIDs(t, db); !slices.Equal(ids, []int{1, 3}) {
			t.Fatalf("notes %v, want [1 3]: the failed inner part undone, the rest kept", ids)
		}
	})
}

func TestInTxRefusesToNestInsideATransaction(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqldb.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error {
			return db.InTx(ctx, func(*sql.Tx) error { return nil })
		})
		if !errors.Is(err, sqldb.ErrNestedTx) {
			t.Fatalf("InTx inside Transact = %v, want ErrNestedTx (not a wait for the connection)", err)
		}
	})
}

func TestAfterCommitRunsOnlyForWhatCommitted(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		var ran []string
		note := func(s string) func() { return func() { ran = append(ran, s) } }
		_ = db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error {
			sqldb.AfterCommit(ctx, note("rolled back"))
			return errors.New("roll back")
		})
		err := db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error {
			sqldb.AfterCommit(ctx, note("committed"))
			_ = db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error {
				sqldb.AfterCommit(ctx, note("failed savepoint"))
				return errors.New("undo the savepoint")
			})
			if len(ran) != 0 {
				t.Errorf("hooks ran before the commit: %v", ran)
			}
			return db.Transact(ctx, func(ctx context.Context, _ *sql.Tx) error {
				sqldb.AfterCommit(ctx, note("released savepoint"))
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		sqldb.AfterCommit(ctx, note("no transaction"))
		if want := []string{"committed", "released savepoint", "no transaction"}; !slices.Equal(ran, want) {
			t.Fatalf("hooks ran %v, want %v", ran, want)
		}
	})
}

func TestAContextCarriesATransactionPerDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := open(t, filepath.Join(dir, "a.db"), sqldb.Options{Migrations: []sqldb.Migrations{notes}})
	b := open(t, filepath.Join(dir, "b.db"), sqldb.Options{Migrations: []sqldb.Migrations{notes}})
	err := a.Transact(ctx, func(ctx context.Context, txA *sql.Tx) error {
		return b.Transact(ctx, func(ctx context.Context, txB *sql.Tx) error {
			if got, _ := a.Tx(ctx); got != txA {
				t.Error("a's transaction is lost once b's is in the context")
			}
			if got, _ := b.Tx(ctx); got != txB || txA == txB {
				t.Error("b's Transact joined a's transaction")
			}
			if err := insertNote(ctx, a.Conn(ctx), 1, "a"); err != nil {
				return err
			}
			return insertNote(ctx, b.Conn(ctx), 2, "b")
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if ia, ib := noteIDs(t, a), noteIDs(t, b); !slices.Equal(ia, []int{1}) || !slices.Equal(ib, []int{2}) {
		t.Fatalf("a holds %v and b %v, want [1] and [2]", ia, ib)
	}
	if _, ok := a.Tx(ctx); ok {
		t.Fatal("a context without a transaction reports one")
	}
}

func TestIsUnavailableWhilePostgresIsDown(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db := open(t, url, sqldb.Options{Migrations: []sqldb.Migrations{notes}})
	server := pgtest.Private(t)
	ctx := context.Background()
	if err := insertNote(ctx, db.SQL(), 1, "before"); err != nil {
		t.Fatal(err)
	}
	if sqldb.IsUnavailable(errors.New("a statement's own error")) || sqldb.IsRetriable(insertNote(ctx, db.SQL(), 1, "duplicate")) {
		t.Fatal("an error of the statement itself is classified as the database's")
	}
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	err := db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error { return insertNote(ctx, tx, 2, "during") })
	if serr := server.Start(); serr != nil {
		t.Fatal(serr)
	}
	if !sqldb.IsUnavailable(err) || !sqldb.IsRetriable(err) {
		t.Fatalf("Transact with the server stopped = %v: want IsUnavailable and IsRetriable", err)
	}
	if err := insertNote(ctx, db.SQL(), 2, "after"); err != nil {
		t.Fatalf("after the restart: %v, want the pool to reconnect", err)
	}
}

func TestIsUnavailableWhenAnotherProcessHoldsTheSQLiteLock(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "busy.db")
	holder := open(t, dsn, sqldb.Options{Migrations: []sqldb.Migrations{notes}})
	waiter := open(t, dsn, sqldb.Options{BusyTimeout: 50 * time.Millisecond})
	ctx := context.Background()
	release := make(chan struct{})
	held := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- holder.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	err := waiter.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error { return insertNote(ctx, tx, 1, "x") })
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !sqldb.IsUnavailable(err) {
		t.Fatalf("Transact while another connection holds the write lock = %v, want IsUnavailable (SQLITE_BUSY)", err)
	}
}

func TestTimeScansBothDialects(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *sqldb.DB) {
		ctx := context.Background()
		typ := "timestamptz"
		if db.Dialect() == sqldb.SQLite {
			typ = "INTEGER"
		}
		if _, err := db.SQL().ExecContext(ctx, `CREATE TABLE times (at `+typ+`)`); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 3, 4, 5, 6, 7, 891011000, time.FixedZone("CET", 3600))
		if _, err := db.SQL().ExecContext(ctx, `INSERT INTO times (at) VALUES ($1), (NULL)`, db.TimeArg(at)); err != nil {
			t.Fatal(err)
		}
		var got, null sqldb.Time
		if err := db.SQL().QueryRowContext(ctx, `SELECT at FROM times WHERE at IS NOT NULL`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if err := db.SQL().QueryRowContext(ctx, `SELECT at FROM times WHERE at IS NULL`).Scan(&null); err != nil {
			t.Fatal(err)
		}
		if !got.Equal(at) || got.Location() != time.UTC || !null.IsZero() {
			t.Fatalf("scanned %v and %v, want %v in UTC and the zero time", got.Time, null.Time, at)
		}
		var n int
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM times WHERE at < $1`, db.TimeArg(at.Add(time.Microsecond))).Scan(&n); err != nil || n != 1 {
			t.Fatalf("times before %v: %d (%v), want 1: the column compares as time", at, n, err)
		}
	})
}
