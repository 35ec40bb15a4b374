// Package sqldb opens the SQL database a service keeps its state in:
// PostgreSQL when given a postgres:// URL (DATABASE_URL), otherwise a
// SQLite file, the embedded default that needs nothing installed. It runs
// the embedded, versioned migrations the service hands it (the outbox's
// and its own) and tells the caller which dialect it got, so one service
// codebase runs on both.
//
// Both databases are used through database/sql, with *sql.Tx as the unit
// of work: a service's repository and outbox.Enqueue take the same
// transaction, whichever database is behind it. PostgreSQL is reached
// through pgx: Open makes one pgxpool.Pool and a *sql.DB on top of it
// (pgx's stdlib driver), so the service's statements, the outbox relay's
// batched queries (pgx directly) and its LISTEN connection share one pool
// of connections. SQLite is modernc.org/sqlite, pure Go, no cgo.
//
// Guarantees:
//
//   - Open fails at once, with the database named (password redacted),
//     when the URL is malformed, the server is unreachable, the SQLite
//     file cannot be opened, or a migration fails. A service stops at
//     start-up instead of failing its first request.
//   - Migrations are goose SQL files embedded in the binary, one directory
//     per dialect, versioned per set: each set records its versions in a
//     table of its own (<name>_schema_version), so the outbox's migrations
//     and a service's number independently in one database. On PostgreSQL
//     a session advisory lock serialises migrations, so several instances
//     starting at once apply each version once.
//   - SQLite runs in WAL mode with synchronous=FULL (a commit is on disk
//     when Commit returns), foreign keys on, a busy timeout for other
//     processes, and one connection: all of the process's statements take
//     turns on it, so in-process writers never see SQLITE_BUSY and never
//     deadlock on a lock upgrade. Transactions begin IMMEDIATE, taking the
//     write lock up front, so two processes on one file wait for each
//     other (busy timeout) instead of failing mid-transaction. The price:
//     with one connection, a statement run on the *sql.DB while a
//     transaction of the same process is open waits for that transaction.
//     Inside a transaction use the *sql.Tx only.
//   - Statements with $1, $2, ... placeholders run unchanged on both
//     databases (SQLite binds $N by number), as do INSERT ... ON CONFLICT
//     and RETURNING. Time columns are timestamptz on PostgreSQL and
//     INTEGER microseconds on SQLite: TimeArg and Time write and read
//     both.
//   - IsUnavailable and IsRetriable tell a database that is down, full
//     or busy (retry later; nothing is wrong with the statement) from a
//     statement the database refuses.
//
// # Transactions in the context
//
// Transact runs a function in a transaction that its context carries, so
// that everything the function reaches through the context writes in
// it: a repository's statements, the events it enqueues in the outbox,
// and a consumer's mark that the event was processed. A Transact inside
// another (the consumer's, say) joins the outer transaction within a
// savepoint instead of beginning one beside it, which on SQLite's one
// connection would wait for the outer one forever; Conn returns the
// transaction for statements that run in a context; AfterCommit defers
// work until the commit. InTx, which does not use the context, refuses to
// run inside a transaction of its database.
//
// Usage:
//
//	db, err := sqldb.Open(ctx, os.Getenv("DATABASE_URL"), sqldb.Options{
//		Migrations: []sqldb.Migrations{outbox.Migrations(), myservice.Migrations()},
//	})
//	if err != nil { return fmt.Errorf("DATABASE_URL: %w", err) }
//	defer db.Close()
//	err = db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
//		_, err := tx.ExecContext(ctx, `UPDATE batches SET state = $1 WHERE id = $2`, "ready", id)
//		return err // a repository called with ctx here writes in tx too
//	})
package sqldb
