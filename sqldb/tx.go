package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// InTx runs fn in a new transaction and commits it when fn returns nil.
// When fn returns an error or panics, the transaction is rolled back and
// the error (or panic) passed on; a failed commit is returned too, and
// then nothing fn did is stored. fn must use tx only: on SQLite, the
// *sql.DB waits for this transaction to end.
//
// InTx does not put tx into a context and does not join one: when ctx
// already carries a transaction of db it refuses, with an error wrapping
// ErrNestedTx, rather than begin a second transaction beside the first.
// Code that runs inside other transactions uses Transact.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	if frameOf(ctx, db) != nil {
		return fmt.Errorf("sqldb: InTx on %s: %w; use Transact, which joins it", db.source, ErrNestedTx)
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqldb: begin on %s: %w", db.source, err)
	}
	committed := false
	defer func() {
		if !committed {
			// The error that matters is fn's (or the panic); a rollback
			// on a broken connection says nothing more.
			_ = tx.Rollback()
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		if errors.Is(err, sql.ErrTxDone) {
			return fmt.Errorf("sqldb: commit on %s: fn ended the transaction itself: %w", db.source, err)
		}
		return fmt.Errorf("sqldb: commit on %s: %w", db.source, err)
	}
	return nil
}
