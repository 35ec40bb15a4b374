// Package processed is the consumer's deduplication in a service's own
// database: a kafkaconsumer.IdempotencyStore whose mark that an event was
// processed commits in the same transaction as the state change the
// event made, on PostgreSQL and SQLite alike (package sqldb).
//
// A processed_events table (Migrations) holds one row per consumer group
// and event_id. Process begins a transaction, inserts the row, runs the
// handler with the transaction in its context, and commits when the
// handler succeeds:
//
//	consumer → Store.Process → sqldb.DB.Transact { INSERT processed_events
//	         → handler → repository.Update → sqldb.DB.Transact (joins, savepoint)
//	         → servicekit.OutboxBus.Publish → outbox.Enqueue (same tx) } → COMMIT
//
// Guarantees:
//
//   - An event delivered twice changes state once: the second delivery
//     finds the mark and its handler does not run, also after a restart
//     and on another instance sharing the database.
//   - A handler that fails does not mark its event: its transaction rolls
//     back, state change, outbox rows and mark together.
//   - Concurrent deliveries of one event (two instances, a rebalance) run
//     the handler once: the second waits at the mark's primary key until
//     the first transaction ends.
//   - A database outage is waited out, not counted as a failed attempt:
//     Process retries while sqldb.IsRetriable says the database is
//     unavailable, for as long as it takes, so no event is dead-lettered
//     because the database was down.
//
// A handler reaches the transaction only through its ctx: a repository's
// sqldb.DB.Transact and Conn join it, and servicekit's OutboxBus refuses
// a publish without it (servicekit.ErrNoTransaction), so a publish that
// lost the context fails at once instead of committing on its own. A
// statement run on the *sql.DB itself, or with a context that dropped the
// transaction (context.Background()), runs outside it: on PostgreSQL it
// commits on its own, on SQLite it waits for the handler's transaction,
// and so for itself.
//
// The transaction lasts as long as the handler: on SQLite, whose one
// connection it holds, the service's other statements (its API, its
// outbox relay) wait for it. Handlers keep their work between the mark
// and the commit short.
//
// Usage:
//
//	db, err := sqldb.Open(ctx, dsn, sqldb.Options{Migrations: []sqldb.Migrations{outbox.Migrations(), processed.Migrations()}})
//	store, err := processed.New(ctx, db, processed.Options{Logger: logger})
//	consumer, err := kafkaconsumer.New(kafkaconsumer.Options{Store: store, ...})
package processed
