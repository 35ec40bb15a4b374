package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/huleedu/huleedu/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func query(t *testing.T, url, q string, dst any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, q).Scan(dst); err != nil {
		t.Fatal(err)
	}
}

func TestNewDatabaseIsEmptyAndPrivateToTheTest(t *testing.T) {
	a, b := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases with one URL %s", a)
	}
	var n int
	query(t, a, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`, &n)
	if n != 0 {
		t.Fatalf("new database has %d tables", n)
	}
}

func TestServerKeepsDataAcrossRestart(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`); err != nil {
		t.Fatal(err)
	}
	pgtest.Restart(t)
	if err := conn.Ping(ctx); err == nil {
		t.Error("a connection from before the restart still works; the server did not restart")
	}
	conn.Close(ctx)
	var v int
	query(t, url, `SELECT v FROM kept`, &v)
	if v != 42 {
		t.Fatalf("after restart: %d, want 42", v)
	}
}
