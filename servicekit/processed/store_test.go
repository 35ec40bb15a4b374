package processed_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/kafkaconsumer/kafkaconsumertest"
	"github.com/huleedu/huleedu/servicekit/processed"
	"github.com/huleedu/huleedu/sqldb"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// essays is a service's own table, for handlers that change state.
var essays = sqldb.Migrations{
	Name:     "essays",
	Postgres: fstest.MapFS{"00001_essays.sql": {Data: []byte("-- +goose Up\nCREATE TABLE essays (id text PRIMARY KEY, changes int NOT NULL);\n")}},
	SQLite:   fstest.MapFS{"00001_essays.sql": {Data: []byte("-- +goose Up\nCREATE TABLE essays (id TEXT PRIMARY KEY, changes INTEGER NOT NULL);\n")}},
}

// backends returns, for each dialect, a function that opens a new, empty
// database with the processed_events and essays tables: on PostgreSQL a
// new schema of one database per test (creating a database takes half a
// second, a schema next to nothing).
func backends(t *testing.T) map[sqldb.Dialect]func(t *testing.T) *sqldb.DB {
	url := pgtest.NewDatabase(t)
	seq := 0
	return map[sqldb.Dialect]func(t *testing.T) *sqldb.DB{
		sqldb.Postgres: func(t *testing.T) *sqldb.DB {
			seq++
			return openSchema(t, url, fmt.Sprintf("s%d", seq))
		},
		sqldb.SQLite: func(t *testing.T) *sqldb.DB { return openDB(t, filepath.Join(t.TempDir(), "svc.db")) },
	}
}

func openDB(t *testing.T, dsn string) *sqldb.DB { return openSchema(t, dsn, "") }

func openSchema(t *testing.T, dsn, schema string) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), dsn, sqldb.Options{Schema: schema, Migrations: []sqldb.Migrations{processed.Migrations(), essays}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newStore(t *testing.T, db *sqldb.DB, opts processed.Options) *processed.Store {
	t.Helper()
	s, err := processed.New(context.Background(), db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStoreKeepsTheIdempotencyStoreContract(t *testing.T) {
	for dialect, open := range backends(t) {
		t.Run(string(dialect), func(t *testing.T) {
			kafkaconsumertest.TestIdempotencyStore(t, func(t *testing.T) kafkaconsumer.IdempotencyStore {
				return newStore(t, open(t), processed.Options{})
			})
		})
	}
}

// change is a handler's state change: it counts the changes of essay id,
// in the transaction ctx carries.
func change(ctx context.Context, db *sqldb.DB, id string) error {
	return db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO essays (id, changes) VALUES ($1, 1)
			ON CONFLICT (id) DO UPDATE SET changes = essays.changes + 1`, id)
		return err
	})
}

func changes(t *testing.T, db *sqldb.DB, id string) int {
	t.Helper()
	var n int
	err := db.SQL().QueryRowContext(context.Background(), `SELECT changes FROM essays WHERE id = $1`, id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestARedeliveredEventChangesStateOnce(t *testing.T) {
	for dialect, open := range backends(t) {
		t.Run(string(dialect), func(t *testing.T) {
			db := open(t)
			key := kafkaconsumer.EventKey{Consumer: "essay_lifecycle_service", EventID: uuid.NewString()}
			for range 3 {
				// A new Store each time: a restarted process remembers too.
				s := newStore(t, db, processed.Options{})
				if _, err := s.Process(context.Background(), key, func(ctx context.Context) error { return change(ctx, db, "e-1") }); err != nil {
					t.Fatal(err)
				}
			}
			if n := changes(t, db, "e-1"); n != 1 {
				t.Fatalf("the essay changed %d times for one event delivered three times, want once", n)
			}
		})
	}
}

func TestAFailedHandlerLeavesNoStateChangeAndNoMark(t *testing.T) {
	for dialect, open := range backends(t) {
		t.Run(string(dialect), func(t *testing.T) {
			db := open(t)
			s := newStore(t, db, processed.Options{})
			key := kafkaconsumer.EventKey{Consumer: "essay_lifecycle_service", EventID: uuid.NewString()}
			boom := errors.New("publish refused after the change")
			_, err := s.Process(context.Background(), key, func(ctx context.Context) error {
				if err := change(ctx, db, "e-1"); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Process = %v, want the handler's error", err)
			}
			marked, err := s.Processed(context.Background(), key)
			if err != nil {
				t.Fatal(err)
			}
			if n := changes(t, db, "e-1"); n != 0 || marked {
				t.Fatalf("after a failed handler: %d changes, marked %v; want neither (they roll back together)", n, marked)
			}
		})
	}
}

// logSignal is a slog handler that closes a channel at the first record
// whose message contains want.
type logSignal struct {
	want string
	once sync.Once
	seen chan struct{}
}

func (l *logSignal) Enabled(context.Context, slog.Level) bool { return true }
func (l *logSignal) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, l.want) {
		l.once.Do(func() { close(l.seen) })
	}
	return nil
}
func (l *logSignal) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logSignal) WithGroup(string) slog.Handler      { return l }

func TestProcessWaitsOutAPostgresOutageInsteadOfFailing(t *testing.T) {
	db := openDB(t, pgtest.NewDatabase(t))
	server := pgtest.Private(t)
	waiting := &logSignal{want: "database unavailable", seen: make(chan struct{})}
	s := newStore(t, db, processed.Options{RetryMin: 10 * time.Millisecond, RetryMax: 50 * time.Millisecond, Logger: slog.New(waiting)})
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	key := kafkaconsumer.EventKey{Consumer: "spellchecker_service", EventID: uuid.NewString()}
	done := make(chan error, 1)
	go func() {
		_, err := s.Process(context.Background(), key, func(ctx context.Context) error { return change(ctx, db, "e-1") })
		done <- err
	}()
	select {
	case <-waiting.seen:
	case err := <-done:
		_ = server.Start()
		t.Fatalf("Process returned %v while the database was down, want it to wait", err)
	case <-time.After(30 * time.Second):
		_ = server.Start()
		t.Fatal("Process neither waited nor returned within 30s")
	}
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Process after the database came back = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Process did not finish within 30s of the database coming back")
	}
	if n := changes(t, db, "e-1"); n != 1 {
		t.Fatalf("%d changes, want 1", n)
	}
}

func TestProcessGivesUpWaitingForTheDatabaseWhenItsContextEnds(t *testing.T) {
	db := openDB(t, pgtest.NewDatabase(t))
	server := pgtest.Private(t)
	waiting := &logSignal{want: "database unavailable", seen: make(chan struct{})}
	s := newStore(t, db, processed.Options{RetryMin: 10 * time.Millisecond, Logger: slog.New(waiting)})
	if err := server.Stop(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := server.Start(); err != nil {
			t.Error(err)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := s.Process(ctx, kafkaconsumer.EventKey{Consumer: "c", EventID: uuid.NewString()}, func(context.Context) error { return nil })
		done <- err
	}()
	<-waiting.seen
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "last error") {
		t.Fatalf("Process = %v, want the context's error and the database's last one", err)
	}
}

func TestPruneForgetsOnlyOldMarks(t *testing.T) {
	for dialect, open := range backends(t) {
		t.Run(string(dialect), func(t *testing.T) {
			db := open(t)
			now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
			clock := now.Add(-48 * time.Hour)
			s := newStore(t, db, processed.Options{Now: func() time.Time { return clock }})
			old := kafkaconsumer.EventKey{Consumer: "c", EventID: uuid.NewString()}
			recent := kafkaconsumer.EventKey{Consumer: "c", EventID: uuid.NewString()}
			ctx := context.Background()
			noop := func(context.Context) error { return nil }
			if _, err := s.Process(ctx, old, noop); err != nil {
				t.Fatal(err)
			}
			clock = now
			if _, err := s.Process(ctx, recent, noop); err != nil {
				t.Fatal(err)
			}
			n, err := s.Prune(ctx, now.Add(-24*time.Hour), 100)
			if err != nil || n != 1 {
				t.Fatalf("Prune = %d, %v; want 1 mark deleted", n, err)
			}
			for key, want := range map[kafkaconsumer.EventKey]bool{old: false, recent: true} {
				if got, err := s.Processed(ctx, key); err != nil || got != want {
					t.Errorf("%s marked %v (%v), want %v", key.EventID, got, err, want)
				}
			}
		})
	}
}

func TestNewRefusesADatabaseWithoutTheTable(t *testing.T) {
	db, err := sqldb.Open(context.Background(), filepath.Join(t.TempDir(), "empty.db"), sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := processed.New(context.Background(), db, processed.Options{}); err == nil || !strings.Contains(err.Error(), "processed.Migrations") {
		t.Fatalf("New on a database without the table = %v, want an error naming the migrations", err)
	}
}
