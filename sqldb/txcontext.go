package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// ErrNestedTx is wrapped by InTx's error when ctx already carries a
// transaction of the same database: InTx would begin a second one beside
// it (on SQLite, waiting for the first forever). Transact joins it.
var ErrNestedTx = errors.New("sqldb: a transaction of this database is already in the context")

// Querier runs statements: a *sql.DB or a *sql.Tx. Conn returns the one a
// statement in a given context must use.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var (
	_ Querier = (*sql.DB)(nil)
	_ Querier = (*sql.Tx)(nil)
)

// txKey is the context key of the transactions a context carries.
type txKey struct{}

// txFrame is one transaction in a context, at one savepoint depth. The
// frames of other databases' transactions are reached through outer, so a
// context can carry one transaction per database.
type txFrame struct {
	db    *DB
	tx    *sql.Tx
	state *txState
	depth int      // 0 for the transaction itself, n inside n savepoints
	outer *txFrame // the frame that was in the context before this one
}

// txState is shared by the frames of one transaction.
type txState struct {
	mu    sync.Mutex // guards hooks
	hooks []func()   // AfterCommit's functions, in registration order
}

func (s *txState) addHook(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = append(s.hooks, fn)
}

// mark returns the number of hooks registered so far; truncate forgets
// those registered after it (a savepoint rolled back).
func (s *txState) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.hooks)
}

func (s *txState) truncate(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hooks = s.hooks[:min(n, len(s.hooks))]
}

func (s *txState) takeHooks() []func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	hs := s.hooks
	s.hooks = nil
	return hs
}

// frameOf returns the innermost frame of db's transaction in ctx, or nil.
func frameOf(ctx context.Context, db *DB) *txFrame {
	f, _ := ctx.Value(txKey{}).(*txFrame)
	for ; f != nil; f = f.outer {
		if f.db == db {
			return f
		}
	}
	return nil
}

// withFrame returns ctx carrying f, which replaces the frame of f's
// database and keeps the others'.
func withFrame(ctx context.Context, f *txFrame) context.Context {
	cur, _ := ctx.Value(txKey{}).(*txFrame)
	f.outer = withoutDB(cur, f.db)
	return context.WithValue(ctx, txKey{}, f)
}

// withoutDB returns the chain f without db's frames.
func withoutDB(f *txFrame, db *DB) *txFrame {
	if f == nil {
		return nil
	}
	if f.db == db {
		return withoutDB(f.outer, db)
	}
	rest := withoutDB(f.outer, db)
	if rest == f.outer {
		return f
	}
	c := *f
	c.outer = rest
	return &c
}

// Transact runs fn in a transaction that fn's ctx carries, so that the
// repositories, the outbox and the consumer's processed-events mark that
// fn reaches through ctx all write in it:
//
//   - When ctx carries a transaction of db (fn runs inside another
//     Transact, or inside the consumer's), fn joins it within a
//     savepoint: fn's error undoes fn's writes only (ROLLBACK TO
//     SAVEPOINT) and is returned; fn's success keeps them, and they
//     commit with the outer transaction. No second transaction is
//     begun, which on SQLite, whose one connection the first holds,
//     would wait forever.
//   - Otherwise Transact begins a transaction, runs fn, and commits when
//     fn returns nil; when fn fails or panics it rolls back and passes
//     the error (or panic) on. A failed commit is returned, and then
//     nothing fn did is stored.
//
// fn must run every statement on tx (or on Conn(ctx)), never on the
// *sql.DB. A transaction is used by one goroutine at a time.
func (db *DB) Transact(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if f := frameOf(ctx, db); f != nil {
		return f.savepoint(ctx, fn)
	}
	tx, err := db.sql.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqldb: begin on %s: %w", db.source, err)
	}
	st := &txState{}
	committed := false
	defer func() {
		if !committed {
			// fn's error (or panic) is what matters; a rollback on a
			// broken connection says nothing more.
			_ = tx.Rollback()
		}
	}()
	if err := fn(withFrame(ctx, &txFrame{db: db, tx: tx, state: st}), tx); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit(); err != nil {
		if errors.Is(err, sql.ErrTxDone) {
			return fmt.Errorf("sqldb: commit on %s: fn ended the transaction itself: %w", db.source, err)
		}
		return fmt.Errorf("sqldb: commit on %s: %w", db.source, err)
	}
	for _, h := range st.takeHooks() {
		h()
	}
	return nil
}

// savepoint runs fn within a savepoint of f's transaction.
func (f *txFrame) savepoint(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	name := fmt.Sprintf("sqldb_sp%d", f.depth+1)
	if _, err := f.tx.ExecContext(ctx, "SAVEPOINT "+name); err != nil {
		return fmt.Errorf("sqldb: savepoint on %s: %w", f.db.source, err)
	}
	hooks := f.state.mark()
	inner := &txFrame{db: f.db, tx: f.tx, state: f.state, depth: f.depth + 1}
	if err := fn(withFrame(ctx, inner), f.tx); err != nil {
		f.state.truncate(hooks)
		// Not canceled with ctx: a caller whose context ended still
		// wants the outer transaction back in a usable state.
		rctx := context.WithoutCancel(ctx)
		if _, rerr := f.tx.ExecContext(rctx, "ROLLBACK TO SAVEPOINT "+name); rerr != nil {
			return errors.Join(err, fmt.Errorf("sqldb: roll back to savepoint on %s: %w", f.db.source, rerr))
		}
		_, _ = f.tx.ExecContext(rctx, "RELEASE SAVEPOINT "+name)
		return err
	}
	if _, err := f.tx.ExecContext(ctx, "RELEASE SAVEPOINT "+name); err != nil {
		return fmt.Errorf("sqldb: release savepoint on %s: %w", f.db.source, err)
	}
	return nil
}

// Tx returns the transaction of db that ctx carries (see Transact), and
// whether there is one.
func (db *DB) Tx(ctx context.Context) (*sql.Tx, bool) {
	if f := frameOf(ctx, db); f != nil {
		return f.tx, true
	}
	return nil, false
}

// Conn returns what a statement in ctx runs on: the transaction of db that
// ctx carries, so that it sees (and, on SQLite, does not wait for) the
// transaction's own writes; otherwise the *sql.DB.
func (db *DB) Conn(ctx context.Context) Querier {
	if f := frameOf(ctx, db); f != nil {
		return f.tx
	}
	return db.sql
}

// AfterCommit runs fn once the transaction ctx carries (the innermost, of
// any database) has committed: not when it rolls back, nor when the
// savepoint fn was registered in rolls back. Without a transaction in ctx
// fn runs at once. fn runs on the committing goroutine, after the commit
// returned, and must not block for long.
func AfterCommit(ctx context.Context, fn func()) {
	f, _ := ctx.Value(txKey{}).(*txFrame)
	if f == nil {
		fn()
		return
	}
	f.state.addHook(fn)
}
