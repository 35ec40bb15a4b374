package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/sqldb"
)

// SQLiteStore is the Store of a SQLite database opened by sqldb (one
// connection, WAL, transactions that begin IMMEDIATE). Times are stored as
// microseconds since 1970 UTC. It is safe for concurrent use.
//
// Wake-ups are in-process: Insert signals this process's listeners at
// once. Their next read waits for the single connection, which the
// inserting transaction holds until it commits or rolls back, so they
// read after the commit. Relays in other processes on the same file poll.
type SQLiteStore struct {
	db *sql.DB
	// now is the clock of the lease and heartbeat times (the database's
	// clock, for SQLite the machine's).
	now func() time.Time

	mu        sync.Mutex // guards listeners
	listeners map[chan<- struct{}]struct{}
}

var _ Store = (*SQLiteStore)(nil)

// NewSQLiteStore returns the Store of the outbox table in db.
func NewSQLiteStore(db *sql.DB) *SQLiteStore {
	return &SQLiteStore{db: db, now: time.Now, listeners: map[chan<- struct{}]struct{}{}}
}

// Dialect implements Store.
func (s *SQLiteStore) Dialect() sqldb.Dialect { return sqldb.SQLite }

func (s *SQLiteStore) exists(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('outbox', 'outbox_leases')`).Scan(&n)
	return n == 2, err
}

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64)
}

// Insert implements Store.
func (s *SQLiteStore) Insert(ctx context.Context, tx *sql.Tx, rows []Row) error {
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO outbox (aggregate_type, aggregate_id, event_id, event_type, topic,
		event_key, lease_partition, envelope, headers, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range rows {
		r := &rows[i]
		if _, err := stmt.ExecContext(ctx, r.AggregateType, r.AggregateID, r.EventID.String(), r.EventType, r.Topic,
			r.Key, r.Partition, string(r.Envelope), string(encodeHeaders(r.Headers)), micros(r.CreatedAt)); err != nil {
			return err
		}
	}
	s.mu.Lock()
	for l := range s.listeners {
		signal(l)
	}
	s.mu.Unlock()
	return nil
}

const sqliteRowColumns = `id, aggregate_type, aggregate_id, event_id, event_type, topic, event_key, lease_partition,
	envelope, headers, created_at, attempts, coalesce(last_error, ''), next_attempt_at, published_at, dead_at`

// sqlitePendingColumns mirror PostgresStore's pendingColumns.
const sqlitePendingColumns = `id, event_id, topic, event_key, lease_partition, envelope, headers, created_at, attempts`

func collectSQLitePending(rows *sql.Rows, err error) ([]Row, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var (
			r              Row
			eid, env, hdrs string
			created        int64
		)
		if err := rows.Scan(&r.ID, &eid, &r.Topic, &r.Key, &r.Partition, &env, &hdrs, &created, &r.Attempts); err != nil {
			return nil, err
		}
		if r.EventID, err = uuid.Parse(eid); err != nil {
			return nil, fmt.Errorf("row %d: event_id: %w", r.ID, err)
		}
		if r.Headers, err = decodeHeaders([]byte(hdrs)); err != nil {
			return nil, fmt.Errorf("row %d: %w", r.ID, err)
		}
		r.Envelope, r.CreatedAt = []byte(env), time.UnixMicro(created)
		out = append(out, r)
	}
	return out, rows.Err()
}

func collectSQLite(rows *sql.Rows, err error) ([]Row, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var (
			r               Row
			eid, env, hdrs  string
			created         int64
			next, pub, dead sql.NullInt64
		)
		if err := rows.Scan(&r.ID, &r.AggregateType, &r.AggregateID, &eid, &r.EventType, &r.Topic, &r.Key, &r.Partition,
			&env, &hdrs, &created, &r.Attempts, &r.LastError, &next, &pub, &dead); err != nil {
			return nil, err
		}
		if r.EventID, err = uuid.Parse(eid); err != nil {
			return nil, fmt.Errorf("row %d: event_id: %w", r.ID, err)
		}
		if r.Headers, err = decodeHeaders([]byte(hdrs)); err != nil {
			return nil, fmt.Errorf("row %d: %w", r.ID, err)
		}
		r.Envelope, r.CreatedAt = []byte(env), time.UnixMicro(created)
		r.NextAttemptAt, r.PublishedAt, r.DeadAt = fromMicros(next), fromMicros(pub), fromMicros(dead)
		out = append(out, r)
	}
	return out, rows.Err()
}

// jsonInts is a JSON array for json_each, SQLite's way to bind a list.
func jsonInts[T int | int64](vs []T) string {
	b, _ := json.Marshal(vs)
	return string(b)
}

// Pending implements Store; see PostgresStore's query, which this mirrors.
func (s *SQLiteStore) Pending(ctx context.Context, partitions []int, now time.Time, limit int) ([]Row, error) {
	if len(partitions) == 0 || limit <= 0 {
		return nil, nil
	}
	return collectSQLitePending(s.db.QueryContext(ctx, `
		SELECT `+sqlitePendingColumns+` FROM outbox o
		WHERE o.published_at IS NULL AND o.dead_at IS NULL
		  AND o.lease_partition IN (SELECT value FROM json_each($1))
		  AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= $2)
		  AND NOT EXISTS (
		      SELECT 1 FROM outbox w
		      WHERE w.published_at IS NULL AND w.dead_at IS NULL AND w.next_attempt_at > $2
		        AND w.lease_partition = o.lease_partition AND w.topic = o.topic
		        AND w.event_key = o.event_key AND w.id < o.id)
		ORDER BY o.id
		LIMIT $3`, jsonInts(partitions), micros(now), limit))
}

// inTx runs fn in a transaction (IMMEDIATE: sqldb's SQLite begins so).
func (s *SQLiteStore) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Settle implements Store.
func (s *SQLiteStore) Settle(ctx context.Context, st Settlement) error {
	if len(st.Published)+len(st.Retry)+len(st.Dead) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if len(st.Published) > 0 {
			q, args := `DELETE FROM outbox WHERE id IN (SELECT value FROM json_each($1))`, []any{jsonInts(st.Published)}
			if st.Keep {
				q, args = `UPDATE outbox SET published_at = $2 WHERE id IN (SELECT value FROM json_each($1))`, append(args, micros(st.At))
			}
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
		}
		for _, f := range st.Retry {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3
				WHERE id = $1`, f.ID, f.Err, micros(f.NextAttemptAt)); err != nil {
				return err
			}
		}
		for _, f := range st.Dead {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts + 1, last_error = $2, dead_at = $3,
				next_attempt_at = NULL WHERE id = $1`, f.ID, f.Err, micros(st.At)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Leases implements Store. The transaction holds SQLite's write lock from
// its start, so the clock is read after every other process's lease
// change has committed.
func (s *SQLiteStore) Leases(ctx context.Context, t LeaseTick) (LeaseState, error) {
	var st LeaseState
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		st = LeaseState{}
		now := micros(s.now())
		until := now + t.TTL.Microseconds()
		if _, err := tx.ExecContext(ctx, `INSERT INTO outbox_relays (relay_id, started_at, expires_at) VALUES ($1, $2, $3)
			ON CONFLICT (relay_id) DO UPDATE SET expires_at = excluded.expires_at`, t.RelayID, now, until); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox_relays WHERE expires_at <= $1`, now); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM outbox_relays WHERE expires_at > $1`, now).Scan(&st.Relays); err != nil {
			return err
		}
		st.Share = fairShare(st.Relays)
		if len(t.Release) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE outbox_leases SET owner = NULL, expires_at = 0
				WHERE owner = $1 AND lease_partition IN (SELECT value FROM json_each($2))`, t.RelayID, jsonInts(t.Release)); err != nil {
				return err
			}
		}
		held, err := sqlitePartitions(tx.QueryContext(ctx, `UPDATE outbox_leases SET expires_at = $2 WHERE owner = $1
			RETURNING lease_partition`, t.RelayID, until))
		if err != nil {
			return err
		}
		if want := st.Share - len(held); t.Acquire && want > 0 {
			got, err := sqlitePartitions(tx.QueryContext(ctx, `UPDATE outbox_leases SET owner = $1, expires_at = $2
				WHERE lease_partition IN (
					SELECT lease_partition FROM outbox_leases WHERE owner IS NULL OR expires_at <= $3
					ORDER BY lease_partition LIMIT $4)
				RETURNING lease_partition`, t.RelayID, until, now, want))
			if err != nil {
				return err
			}
			held = append(held, got...)
		}
		st.Held = held
		return nil
	})
	return st, err
}

func sqlitePartitions(rows *sql.Rows, err error) ([]int, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var p int
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Leave implements Store.
func (s *SQLiteStore) Leave(ctx context.Context, relayID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE outbox_leases SET owner = NULL, expires_at = 0 WHERE owner = $1`, relayID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM outbox_relays WHERE relay_id = $1`, relayID)
		return err
	})
}

// Prune implements Store.
func (s *SQLiteStore) Prune(ctx context.Context, partitions []int, before time.Time, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id IN (
		SELECT id FROM outbox WHERE published_at < $2 AND lease_partition IN (SELECT value FROM json_each($1)) LIMIT $3)`,
		jsonInts(partitions), micros(before), limit)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Listen implements Store: in-process Inserts only.
func (s *SQLiteStore) Listen(ctx context.Context, wake chan<- struct{}) error {
	s.mu.Lock()
	s.listeners[wake] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, wake)
		s.mu.Unlock()
	}()
	signal(wake)
	<-ctx.Done()
	return ctx.Err()
}

// Stats implements Store.
func (s *SQLiteStore) Stats(ctx context.Context) (TableStats, error) {
	var (
		st                 TableStats
		oldest, oldestDead sql.NullInt64
	)
	err := s.db.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM outbox WHERE published_at IS NULL AND dead_at IS NULL),
			(SELECT count(*) FROM outbox WHERE published_at IS NULL AND dead_at IS NULL AND next_attempt_at IS NOT NULL),
			(SELECT min(created_at) FROM (SELECT created_at FROM outbox WHERE published_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT 1000)),
			(SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL),
			(SELECT min(dead_at) FROM outbox WHERE dead_at IS NOT NULL),
			(SELECT count(*) FROM outbox WHERE published_at IS NOT NULL)`).
		Scan(&st.Pending, &st.Retrying, &oldest, &st.DeadLetters, &oldestDead, &st.Published)
	if err != nil {
		return TableStats{}, err
	}
	st.OldestPendingAt, st.OldestDeadAt = fromMicros(oldest), fromMicros(oldestDead)
	now := micros(s.now())
	rows, err := s.db.QueryContext(ctx, `SELECT r.relay_id, r.started_at, r.expires_at,
			(SELECT count(*) FROM outbox_leases l WHERE l.owner = r.relay_id AND l.expires_at > $1)
		FROM outbox_relays r WHERE r.expires_at > $1 ORDER BY r.relay_id`, now)
	if err != nil {
		return TableStats{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			rl               RelayLease
			started, expires int64
		)
		if err := rows.Scan(&rl.ID, &started, &expires, &rl.Partitions); err != nil {
			return TableStats{}, err
		}
		rl.StartedAt, rl.ExpiresAt = time.UnixMicro(started), time.UnixMicro(expires)
		st.Relays = append(st.Relays, rl)
	}
	return st, rows.Err()
}

// DeadLetters implements Store.
func (s *SQLiteStore) DeadLetters(ctx context.Context, afterID int64, limit int) ([]Row, error) {
	return collectSQLite(s.db.QueryContext(ctx, `SELECT `+sqliteRowColumns+` FROM outbox
		WHERE dead_at IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`, afterID, limit))
}

// idFilter is the "only these ids" clause of Redrive and
// PurgeDeadLetters: none for nil (all).
func idFilter(ids []int64) (string, []any) {
	if ids == nil {
		return "", nil
	}
	return ` AND id IN (SELECT value FROM json_each($1))`, []any{jsonInts(ids)}
}

// Redrive implements Store.
func (s *SQLiteStore) Redrive(ctx context.Context, ids []int64) (int64, error) {
	where, args := idFilter(ids)
	return s.exec(ctx, `UPDATE outbox SET dead_at = NULL, next_attempt_at = NULL WHERE dead_at IS NOT NULL`+where, args...)
}

// PurgeDeadLetters implements Store.
func (s *SQLiteStore) PurgeDeadLetters(ctx context.Context, ids []int64) (int64, error) {
	where, args := idFilter(ids)
	return s.exec(ctx, `DELETE FROM outbox WHERE dead_at IS NOT NULL`+where, args...)
}

func (s *SQLiteStore) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.db.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
