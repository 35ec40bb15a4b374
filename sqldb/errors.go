package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
)

// ErrUnavailable is matched by IsUnavailable. Code that finds the database
// unusable by other means (a failed readiness ping, say) wraps it, so that
// callers branch on one condition.
var ErrUnavailable = errors.New("sqldb: database unavailable")

// IsUnavailable reports whether err says the database could not serve a
// statement for reasons of its own, not the statement's: the server is
// unreachable, refuses connections, is shutting down or starting up, lost
// the connection mid-statement, has run out of connections, memory or
// disk; or, for SQLite, the file is locked by another process beyond the
// busy timeout, cannot be opened, or its disk failed. Such a statement may
// succeed once the database is back; the statement itself is fine.
//
// It looks through wrapping (errors.As), so an error that a repository
// wrapped with its context is classified like the driver's own. It knows
// the database drivers' errors only: a network error of another client
// (an HTTP call that failed inside the same handler) is not the
// database's, and is not reported.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) {
		return true
	}
	if ce, ok := errors.AsType[*pgconn.ConnectError](err); ok && ce != nil {
		return true
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"), // insufficient resources: disk full, out of memory, too many connections
			strings.HasPrefix(pe.Code, "58"), // system error: I/O
			pe.Code == "57P01",               // admin_shutdown
			pe.Code == "57P02",               // crash_shutdown
			pe.Code == "57P03":               // cannot_connect_now: starting up or shutting down
			return true
		}
		return false
	}
	if le, ok := errors.AsType[*sqlite.Error](err); ok {
		switch le.Code() & 0xff { // the primary result code
		case 5, // SQLITE_BUSY
			6,  // SQLITE_LOCKED
			7,  // SQLITE_NOMEM
			10, // SQLITE_IOERR
			13, // SQLITE_FULL
			14, // SQLITE_CANTOPEN
			15: // SQLITE_PROTOCOL
			return true
		}
		return false
	}
	// pgconn's own failures (a connection that broke or closed mid-
	// statement, a timeout) all carry SafeToRetry; only pgconn's errors do.
	_, ok := errors.AsType[interface {
		error
		SafeToRetry() bool
	}](err)
	return ok
}

// IsRetriable reports whether a transaction that failed with err may
// succeed if run again from the start: the database was unavailable
// (IsUnavailable), or PostgreSQL aborted the transaction to resolve a
// conflict with another one (a serialization failure, a deadlock). Run
// again, not continued: the failed transaction is over.
func IsRetriable(err error) bool {
	if IsUnavailable(err) {
		return true
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		return pe.Code == "40001" || pe.Code == "40P01" // serialization_failure, deadlock_detected
	}
	return false
}
