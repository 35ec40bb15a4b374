package sqldb

import (
	"context"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Migrations is one versioned set of schema migrations: goose SQL files
// (NNNNN_what.sql with "-- +goose Up" and "-- +goose Down" sections),
// embedded in the binary, one directory per dialect. Each set records its
// versions in a table of its own, <Name>_schema_version.
//
// goose rather than golang-migrate: a migration is one plain SQL file with
// both directions, files come from any fs.FS (embed), a Provider has no
// global state and takes the version table's name, so several sets live
// side by side in one database; and its PostgreSQL session locker lets
// instances that start together migrate once.
type Migrations struct {
	// Name identifies the set: lower-case letters, digits and _.
	Name string
	// Postgres and SQLite hold the set's files for each dialect, at the
	// root of the fs.FS (fs.Sub of an embed.FS). A set without files for
	// the database's dialect is an error.
	Postgres fs.FS
	SQLite   fs.FS
}

var setName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// versionTable is the goose version table of set name.
func versionTable(name string) string { return name + "_schema_version" }

// Migrate applies every pending migration of each set, in order, and logs
// each one applied. Open calls it with Options.Migrations; call it again
// for sets known only later.
func (db *DB) Migrate(ctx context.Context, sets ...Migrations) error {
	for _, m := range sets {
		if err := db.migrate(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) migrate(ctx context.Context, m Migrations) error {
	if !setName.MatchString(m.Name) {
		return fmt.Errorf("sqldb: migrate %s: set name %q: want lower-case letters, digits and _, starting with a letter, at most 41", db.source, m.Name)
	}
	fsys, dialect := m.SQLite, goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true), goose.WithTableName(versionTable(m.Name))}
	if db.dialect == Postgres {
		fsys, dialect = m.Postgres, goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("sqldb: migrate %s: %s: %w", db.source, m.Name, err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	if fsys == nil {
		return fmt.Errorf("sqldb: migrate %s: set %q has no migrations for %s", db.source, m.Name, db.dialect)
	}
	p, err := goose.NewProvider(dialect, db.sql, fsys, opts...)
	if err != nil {
		return fmt.Errorf("sqldb: migrate %s: %s: %w", db.source, m.Name, err)
	}
	results, err := p.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			db.log.Info("database migration applied", "database", db.source, "set", m.Name,
				"version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	if err != nil {
		return fmt.Errorf("sqldb: migrate %s: %s: %w", db.source, m.Name, err)
	}
	return nil
}

// Version returns the newest applied version of set name, 0 when none is.
func (db *DB) Version(ctx context.Context, m Migrations) (int64, error) {
	fsys, dialect := m.SQLite, goose.DialectSQLite3
	if db.dialect == Postgres {
		fsys, dialect = m.Postgres, goose.DialectPostgres
	}
	p, err := goose.NewProvider(dialect, db.sql, fsys, goose.WithDisableGlobalRegistry(true), goose.WithTableName(versionTable(m.Name)))
	if err != nil {
		return 0, fmt.Errorf("sqldb: version of %s in %s: %w", m.Name, db.source, err)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("sqldb: version of %s in %s: %w", m.Name, db.source, err)
	}
	return v, nil
}
