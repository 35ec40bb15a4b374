package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Dialect is the SQL dialect of an open database.
type Dialect string

// The dialects Open supports.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// DefaultBusyTimeout is how long a SQLite statement waits for another
// process's write lock before it fails with SQLITE_BUSY.
const DefaultBusyTimeout = 10 * time.Second

// DefaultConnectTimeout bounds opening one PostgreSQL connection, so that
// a server that does not answer (stopped, or cut off) fails a statement
// within it instead of holding it for the TCP timeout.
const DefaultConnectTimeout = 5 * time.Second

// ErrNotFound is wrapped by Open's error for a SQLite file that does not
// exist when Options.MustExist is set.
var ErrNotFound = errors.New("sqldb: database file does not exist")

// Options configure Open. Every zero value means the documented default.
type Options struct {
	// Migrations are applied in order at Open, each set in its own
	// version table. Empty: none (a tool that must not change the schema).
	Migrations []Migrations

	// Schema, on PostgreSQL, is the schema the service's tables live in:
	// Open creates it if missing and sets search_path to it on every
	// connection, so several services can share one database without
	// their tables (or their outboxes) meeting. Empty: the server's
	// default search_path (public). Ignored for SQLite, where each
	// service has a file of its own.
	Schema string

	// MaxConns bounds the PostgreSQL pool. Default pgxpool's: the greater
	// of 4 and the number of CPUs. A pool_max_conns in the URL wins.
	MaxConns int32

	// BusyTimeout is how long a SQLite statement waits for another
	// process's lock. Default DefaultBusyTimeout.
	BusyTimeout time.Duration

	// ConnectTimeout bounds opening one PostgreSQL connection. Default
	// DefaultConnectTimeout; a connect_timeout in the URL wins.
	ConnectTimeout time.Duration

	// MustExist refuses to create a SQLite file that is not there (an
	// operator's tool pointed at the wrong path must not leave an empty
	// database behind); the error wraps ErrNotFound.
	MustExist bool

	// Logger receives one line per applied migration (nil: discard).
	Logger *slog.Logger
}

// DB is an open database: a *sql.DB for the service's statements and
// transactions, its dialect, and on PostgreSQL the pgx pool beneath it. It
// is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	pool    *pgxpool.Pool // nil for SQLite
	dialect Dialect
	source  string // what was opened, password redacted, for messages
	schema  string // PostgreSQL: the schema of Options.Schema, or ""
	log     *slog.Logger
}

// Open opens the database dsn names and applies opts.Migrations:
//
//   - postgres://... or postgresql://... (a libpq URL, as DATABASE_URL
//     holds it): PostgreSQL, through a pgx pool; the server must answer.
//   - sqlite:PATH, file:PATH?..., or any other string, taken as a file
//     path: SQLite, created (with its directory) unless opts.MustExist.
//
// Every error names the database, with any password redacted.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("sqldb: open: the database is empty: want a postgres:// URL or a SQLite file path")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var (
		db  *DB
		err error
	)
	if isPostgres(dsn) {
		db, err = openPostgres(ctx, dsn, opts)
	} else {
		db, err = openSQLite(ctx, dsn, opts)
	}
	if err != nil {
		return nil, err
	}
	db.log = log
	if err := db.Migrate(ctx, opts.Migrations...); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// schemaName is what Options.Schema may be: an unquoted identifier.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func openPostgres(ctx context.Context, dsn string, opts Options) (*DB, error) {
	source := Redact(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the URL; say only what is wrong.
		return nil, fmt.Errorf("sqldb: open %s: invalid PostgreSQL URL: %w", source, redactErr(err, dsn))
	}
	if opts.MaxConns < 0 {
		return nil, fmt.Errorf("sqldb: open %s: Options.MaxConns is %d, want >= 0 (0 means pgxpool's default)", source, opts.MaxConns)
	}
	if opts.MaxConns > 0 && !strings.Contains(dsn, "pool_max_conns") {
		cfg.MaxConns = opts.MaxConns
	}
	switch ct := opts.ConnectTimeout; {
	case ct < 0:
		return nil, fmt.Errorf("sqldb: open %s: Options.ConnectTimeout is %v, want >= 0 (0 means %v)", source, ct, DefaultConnectTimeout)
	case !strings.Contains(dsn, "connect_timeout"):
		cfg.ConnConfig.ConnectTimeout = cmp.Or(ct, DefaultConnectTimeout)
	}
	if opts.Schema != "" {
		if !schemaName.MatchString(opts.Schema) {
			return nil, fmt.Errorf("sqldb: open %s: schema %q: want lower-case letters, digits and _, starting with a letter or _, at most 63", source, opts.Schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = opts.Schema
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s: %w", source, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("sqldb: open %s: server unreachable: %w", source, err)
	}
	if opts.Schema != "" {
		if _, err := pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{opts.Schema}.Sanitize()); err != nil {
			pool.Close()
			return nil, fmt.Errorf("sqldb: open %s: create schema %s: %w", source, opts.Schema, err)
		}
	}
	return &DB{sql: stdlib.OpenDBFromPool(pool), pool: pool, dialect: Postgres, source: source, schema: opts.Schema}, nil
}

func openSQLite(ctx context.Context, dsn string, opts Options) (*DB, error) {
	path := strings.TrimPrefix(dsn, "sqlite:")
	query := url.Values{}
	if rest, ok := strings.CutPrefix(path, "file:"); ok {
		p, q, _ := strings.Cut(rest, "?")
		path = p
		var err error
		if query, err = url.ParseQuery(q); err != nil {
			return nil, fmt.Errorf("sqldb: open %s: invalid query: %w", dsn, err)
		}
	}
	if path == "" || path == ":memory:" {
		return nil, fmt.Errorf("sqldb: open %q: want a SQLite file path (an in-memory database would be lost with the process)", dsn)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s: %w", path, err)
	}
	switch _, err := os.Stat(abs); {
	case errors.Is(err, os.ErrNotExist):
		if opts.MustExist {
			return nil, fmt.Errorf("sqldb: open %s: %w", abs, ErrNotFound)
		}
		if err := os.MkdirAll(filepath.Dir(abs), 0o750); err != nil {
			return nil, fmt.Errorf("sqldb: open %s: create its directory: %w", abs, err)
		}
	case err != nil:
		// Not a directory on the way, no permission: say which, rather
		// than SQLite's "unable to open database file".
		return nil, fmt.Errorf("sqldb: open %s: %w", abs, err)
	}
	busy := opts.BusyTimeout
	switch {
	case busy < 0:
		return nil, fmt.Errorf("sqldb: open %s: Options.BusyTimeout is %v, want >= 0 (0 means %v)", abs, busy, DefaultBusyTimeout)
	case busy == 0:
		busy = DefaultBusyTimeout
	}
	// busy_timeout first: setting journal_mode needs the lock another
	// process may hold.
	query.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	query.Add("_pragma", "journal_mode(WAL)")
	query.Add("_pragma", "synchronous(FULL)")
	query.Add("_pragma", "foreign_keys(1)")
	query.Set("_txlock", "immediate")
	if opts.MustExist {
		query.Set("mode", "rw")
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: query.Encode()}
	sdb, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s: %w", abs, err)
	}
	// One connection: see the package documentation.
	sdb.SetMaxOpenConns(1)
	sdb.SetConnMaxLifetime(0)
	sdb.SetConnMaxIdleTime(0)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("sqldb: open %s: %w", abs, err)
	}
	var mode string
	if err := sdb.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		sdb.Close()
		return nil, fmt.Errorf("sqldb: open %s: journal mode is %q (%v), want wal", abs, mode, err)
	}
	return &DB{sql: sdb, dialect: SQLite, source: abs}, nil
}

// SQL returns the *sql.DB: begin the service's transactions on it (or use
// InTx).
func (db *DB) SQL() *sql.DB { return db.sql }

// Pool returns the pgx pool beneath SQL on PostgreSQL, for code that
// wants pgx itself (batches, LISTEN); nil for SQLite.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Dialect returns the database's dialect.
func (db *DB) Dialect() Dialect { return db.dialect }

// Schema returns Options.Schema on PostgreSQL ("" for the default
// search_path, and for SQLite).
func (db *DB) Schema() string { return db.schema }

// String names the database for messages: the URL with its password
// redacted, or the SQLite file's absolute path.
func (db *DB) String() string { return db.source }

// Ping reports whether the database answers, for readiness checks.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.sql.PingContext(ctx); err != nil {
		return fmt.Errorf("sqldb: ping %s: %w", db.source, err)
	}
	return nil
}

// Close closes the database (and the pgx pool). It waits for statements
// in progress on PostgreSQL's pool to return their connections.
func (db *DB) Close() error {
	err := db.sql.Close()
	if db.pool != nil {
		db.pool.Close()
	}
	if err != nil {
		return fmt.Errorf("sqldb: close %s: %w", db.source, err)
	}
	return nil
}

// Redact returns dsn with the password of a URL replaced by "xxxxx", for
// messages and logs. Strings that are not URLs come back unchanged.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		if isPostgres(dsn) {
			return "(an unparsable postgres URL)"
		}
		return dsn
	}
	if u.Scheme == "" {
		return dsn // a file path
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// redactErr strips dsn's password from err's message.
func redactErr(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	pw, has := u.User.Password()
	if !has || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
}
