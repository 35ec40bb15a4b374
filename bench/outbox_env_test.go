package bench

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"testing/fstest"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/internal/pgtest"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/sqldb"
)

// Shared set-up of the outbox benchmarks: a PostgreSQL database of their
// own on the test binary's server (internal/pgtest: a private instance,
// fsync off, or DATABASE_URL's), with the outbox and a small state table
// that every transaction changes, as a service's would.

// benchStateMigrations is the state the benchmarks' transactions change.
var benchStateMigrations = sqldb.Migrations{
	Name: "benchstate",
	Postgres: fstest.MapFS{"00001_state.sql": {Data: []byte(
		"-- +goose Up\nCREATE TABLE bench_state (key text PRIMARY KEY, n bigint NOT NULL);\n-- +goose Down\nDROP TABLE bench_state;\n")}},
	SQLite: fstest.MapFS{"00001_state.sql": {Data: []byte(
		"-- +goose Up\nCREATE TABLE bench_state (key TEXT PRIMARY KEY, n INTEGER NOT NULL);\n-- +goose Down\nDROP TABLE bench_state;\n")}},
}

// outboxDB opens a fresh PostgreSQL database with the outbox and the
// state table; both close with the benchmark.
func outboxDB(b *testing.B) (*sqldb.DB, *outbox.Outbox) {
	b.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, pgtest.NewDatabase(b), sqldb.Options{
		Migrations: []sqldb.Migrations{outbox.Migrations(), benchStateMigrations},
		MaxConns:   32,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	ob, err := outbox.New(ctx, db, outbox.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return db, ob
}

// changeBenchState is the state change of transaction i.
func changeBenchState(ctx context.Context, tx *sql.Tx, i int) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO bench_state (key, n) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET n = excluded.n`, benchKeys[i%keys], i)
	return err
}

// benchEnvelopes are 1 KiB envelopes, made once: building an envelope is
// the service's work, not the outbox's.
var benchEnvelopes = func() []*event.Envelope {
	envs := make([]*event.Envelope, keys)
	for i := range envs {
		env, err := event.NewEnvelope("huleedu.essay.spellcheck.completed.v1", "bench",
			map[string]string{"essay_id": fmt.Sprintf("essay-%03d", i), "text": string(benchValue[:valueBytes-100])})
		if err != nil {
			panic(err)
		}
		envs[i] = env
	}
	return envs
}()

// benchMessage is the outbox message of event i.
func benchMessage(i int) outbox.Message {
	return outbox.Message{Topic: benchTopic, Key: string(benchKeys[i%keys]), Envelope: benchEnvelopes[i%keys],
		AggregateType: "essay", AggregateID: string(benchKeys[i%keys])}
}

// fillOutbox commits n events into the outbox, fillBatch per transaction.
func fillOutbox(b *testing.B, db *sqldb.DB, ob *outbox.Outbox, n int) {
	b.Helper()
	const fillBatch = 500
	ctx := context.Background()
	for lo := 0; lo < n; lo += fillBatch {
		msgs := make([]outbox.Message, 0, fillBatch)
		for i := lo; i < min(lo+fillBatch, n); i++ {
			msgs = append(msgs, benchMessage(i))
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return ob.Enqueue(ctx, tx, msgs...) }); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRelay runs a relay on ob through kb behind cb until the benchmark
// ends.
func benchRelay(b *testing.B, ob *outbox.Outbox, kb *kafkabus.KafkaBus, cb *resilience.CircuitBreaker, opts outbox.RelayOptions) *outbox.Relay {
	b.Helper()
	opts.OpenPoll = cmpOr(opts.OpenPoll, time.Millisecond)
	r, err := outbox.NewRelay(ob, kb, cb, opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	waitUntil(b, time.Minute, time.Millisecond, "the relay to hold its leases", func() bool {
		return r.Stats().Leases == outbox.LeasePartitions
	})
	return r
}

func cmpOr(d, def time.Duration) time.Duration {
	if d != 0 {
		return d
	}
	return def
}
