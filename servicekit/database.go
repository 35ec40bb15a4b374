package servicekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.uber.org/fx"

	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/servicekit/processed"
	"github.com/huleedu/huleedu/sqldb"
)

// databaseGroup is the value group of WithDatabase's requests.
const databaseGroup = `group:"servicekit.database"`

// databaseRequest is one WithDatabase of a service module.
type databaseRequest struct {
	migrations []sqldb.Migrations
}

// WithDatabase declares that the service keeps state in a database, with
// the given migrations (none: the service's state is only what it has
// processed and what it has yet to publish). servicekit then opens the
// service's database (see Database), applies the outbox's, the
// processed-events table's and these migrations, provides *Database and
// *sqldb.DB, deduplicates the consumer's events in the handlers'
// transactions, and, by default, publishes through the outbox. A service
// without WithDatabase keeps no database.
//
//	servicekit.WithDatabase(essaylifecycle.Migrations())
func WithDatabase(migrations ...sqldb.Migrations) fx.Option {
	req := databaseRequest{migrations: migrations}
	return fx.Provide(fx.Annotate(func() databaseRequest { return req }, fx.ResultTags(databaseGroup)))
}

// openTimeout bounds opening the database at start-up, migrations and
// the PostgreSQL migration lock included: a server that does not answer
// fails sooner, within DATABASE_CONNECT_TIMEOUT.
const openTimeout = 2 * time.Minute

// Database is a service's database: PostgreSQL when DATABASE_URL is set
// (the service's tables in the schema DATABASE_SCHEMA, by default the
// service's name, so services can share one database), otherwise the
// SQLite file <HULEEDU_DATA_DIR>/<service>/<service>.sqlite. Its
// migrations have run; its Outbox holds the events the service has yet to
// publish, and Processed the events its consumer has handled.
type Database struct {
	// DB is the database: repositories take it and write through
	// DB.Transact, which joins the consumer's transaction.
	DB *sqldb.DB
	// Outbox is the outbox table; OutboxBus writes into it.
	Outbox *outbox.Outbox
	// Processed is the consumer's deduplication in this database.
	Processed *processed.Store

	variable string        // the setting that named the database, for messages
	ttl      time.Duration // how long processed-event marks are kept
	log      *slog.Logger

	mu        sync.Mutex         // guards stopPrune and pruned
	stopPrune context.CancelFunc // nil until startPruning
	pruned    chan struct{}      // closed when the pruner returned
}

type databaseParams struct {
	fx.In

	Settings Settings
	Logger   *slog.Logger
	Requests []databaseRequest `group:"servicekit.database"`
}

// newDatabase opens the database the service's WithDatabase asked for,
// nil when it asked for none. The Runner closes it.
func newDatabase(p databaseParams) (*Database, error) {
	if len(p.Requests) == 0 {
		return nil, nil
	}
	var sets []sqldb.Migrations
	for _, r := range p.Requests {
		sets = append(sets, r.migrations...)
	}
	return OpenDatabase(p.Settings, p.Logger, sets...)
}

// OpenDatabase opens the database s describes (see Database) and applies
// the outbox's and the processed-events table's migrations and sets. An
// unreachable or misconfigured database is an error naming the variable
// that configured it and the database (URL with its password redacted, or
// the file's path). The caller owns the result and must Close it.
func OpenDatabase(s Settings, logger *slog.Logger, sets ...sqldb.Migrations) (*Database, error) {
	if logger == nil {
		logger = slog.Default()
	}
	dsn, variable := s.DatabaseSource()
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	all := append([]sqldb.Migrations{outbox.Migrations(), processed.Migrations()}, sets...)
	all = uniqueSets(all)
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{
		Migrations:     all,
		Schema:         s.DatabaseSchema,
		MaxConns:       int32(s.DatabaseMaxConns),
		ConnectTimeout: time.Duration(s.DatabaseConnectTimeout),
		Logger:         logger.With("component", "database"),
	})
	if err != nil {
		return nil, fmt.Errorf("servicekit: %s: the database (%s): %w", s.Service, variable, err)
	}
	ob, err := outbox.New(ctx, db, outbox.Options{})
	if err == nil {
		var store *processed.Store
		store, err = processed.New(ctx, db, processed.Options{Logger: logger.With("component", "kafka_consumer")})
		if err == nil {
			logger.Info("database open", "database", db.String(), "dialect", db.Dialect(), "configured_by", variable)
			return &Database{DB: db, Outbox: ob, Processed: store, variable: variable,
				ttl: time.Duration(s.IdempotencyTTL), log: logger.With("component", "database")}, nil
		}
	}
	db.Close()
	return nil, fmt.Errorf("servicekit: %s: the database (%s): %w", s.Service, variable, err)
}

// uniqueSets drops repeated sets (by name), keeping the first.
func uniqueSets(sets []sqldb.Migrations) []sqldb.Migrations {
	seen := map[string]bool{}
	out := sets[:0:0]
	for _, m := range sets {
		if !seen[m.Name] {
			seen[m.Name] = true
			out = append(out, m)
		}
	}
	return out
}

// String names the database: its URL (password redacted) or file.
func (d *Database) String() string { return d.DB.String() }

// Variable is the setting that configured the database, as set
// (FILE_SERVICE_DATABASE_URL, HULEEDU_DATA_DIR).
func (d *Database) Variable() string { return d.variable }

// startPruning forgets processed-event marks older than
// KAFKA_CONSUMER_IDEMPOTENCY_TTL, in a goroutine, every tenth of it (at
// most hourly), until Close.
func (d *Database) startPruning() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopPrune != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	pruned := make(chan struct{})
	d.stopPrune, d.pruned = cancel, pruned
	go func() {
		defer close(pruned)
		t := time.NewTicker(min(d.ttl/10, time.Hour))
		defer t.Stop()
		for {
			d.prune(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// prune deletes expired marks in chunks until none is left.
func (d *Database) prune(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := d.Processed.Prune(ctx, time.Now().Add(-d.ttl), 10_000)
		if err != nil {
			if ctx.Err() == nil {
				d.log.Warn("processed events not pruned; trying again later", "err", err)
			}
			return
		}
		if n < 10_000 {
			return
		}
	}
}

// Close stops the pruner and closes the database.
func (d *Database) Close() error {
	d.mu.Lock()
	stop, pruned := d.stopPrune, d.pruned
	d.mu.Unlock()
	if stop != nil {
		stop()
		<-pruned
	}
	if err := d.DB.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("servicekit: closing the database: %w", err)
	}
	return nil
}
