package servicekittest

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/servicekit/processed"
	"github.com/huleedu/huleedu/sqldb"
)

// Opener opens a new, empty database for t, closed when t ends.
type Opener func(t *testing.T) *sqldb.DB

// schemas numbers the schemas Databases hands out in one test binary.
var schemas atomic.Int64

// Databases returns an Opener per dialect for a repository's conformance
// suite: each opens a new, empty database with the outbox's, the
// processed-events table's and migrations applied, as a service's own is.
// SQLite gets a file in t's temp dir; PostgreSQL a schema of its own in
// one database per call of Databases (a schema costs next to nothing,
// a database half a second), on the test binary's server (pgtest: call
// pgtest.Main from TestMain). Without a PostgreSQL server t is skipped,
// unless CI is set (pgtest.Require).
//
//	for dialect, open := range servicekittest.Databases(t, essaylifecycle.Migrations()) {
//		t.Run(string(dialect), func(t *testing.T) { suite(t, essaylifecycle.NewSQLBatchRepository(open(t))) })
//	}
func Databases(t *testing.T, migrations ...sqldb.Migrations) map[sqldb.Dialect]Opener {
	t.Helper()
	url := pgtest.NewDatabase(t)
	sets := append([]sqldb.Migrations{outbox.Migrations(), processed.Migrations()}, migrations...)
	return map[sqldb.Dialect]Opener{
		sqldb.SQLite: func(t *testing.T) *sqldb.DB {
			return OpenDB(t, filepath.Join(t.TempDir(), "service.sqlite"), sqldb.Options{Migrations: sets})
		},
		sqldb.Postgres: func(t *testing.T) *sqldb.DB {
			schema := fmt.Sprintf("t%d", schemas.Add(1))
			return OpenDB(t, url, sqldb.Options{Schema: schema, Migrations: sets})
		},
	}
}

// OpenDB opens dsn with opts and closes it when t ends.
func OpenDB(t *testing.T, dsn string, opts sqldb.Options) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), dsn, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
