package outbox

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/huleedu/huleedu/sqldb"
)

// PostgresStore is the Store of a PostgreSQL database. Enqueue's inserts
// run in the caller's *sql.Tx (pgx's stdlib driver); everything else runs
// on the pgx pool directly: batched statements, arrays, and a LISTEN
// connection. It is safe for concurrent use.
type PostgresStore struct {
	pool    *pgxpool.Pool
	channel string // the NOTIFY channel of this schema's outbox
	// listenRetry is how long Listen waits before reconnecting.
	listenRetry time.Duration
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns the Store of the outbox table that pool's
// search_path finds (schema is that schema's name, "" for the default; it
// names the NOTIFY channel, so that outboxes of different schemas wake
// only their own relays).
func NewPostgresStore(pool *pgxpool.Pool, schema string) *PostgresStore {
	ch := "huleedu_outbox"
	if schema != "" {
		ch += "_" + schema
	}
	return &PostgresStore{pool: pool, channel: ch, listenRetry: 250 * time.Millisecond}
}

// Dialect implements Store.
func (s *PostgresStore) Dialect() sqldb.Dialect { return sqldb.Postgres }

// exists reports whether the outbox table is where the search_path looks.
func (s *PostgresStore) exists(ctx context.Context) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT to_regclass('outbox') IS NOT NULL AND to_regclass('outbox_leases') IS NOT NULL`).Scan(&ok)
	return ok, err
}

// pgInsert writes every row with one statement, and notifies the relays
// in the same one: pg_notify's message is delivered when the transaction
// commits and dropped when it rolls back, and PostgreSQL folds the
// identical notifications of one transaction into one.
const pgInsert = `
WITH wake AS (SELECT pg_notify($11, ''))
INSERT INTO outbox (aggregate_type, aggregate_id, event_id, event_type, topic, event_key,
                    lease_partition, envelope, headers, created_at)
SELECT u.at, u.ai, u.eid::uuid, u.et, u.tp, u.k, u.p, u.env::json, u.h::json, u.c
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::smallint[], $8::text[], $9::text[], $10::timestamptz[])
     AS u(at, ai, eid, et, tp, k, p, env, h, c)
CROSS JOIN wake`

// Insert implements Store.
func (s *PostgresStore) Insert(ctx context.Context, tx *sql.Tx, rows []Row) error {
	n := len(rows)
	var (
		at, ai, eid, et, tp, k, env, h = make([]string, n), make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		p = make([]int16, n)
		c = make([]time.Time, n)
	)
	for i := range rows {
		r := &rows[i]
		at[i], ai[i], eid[i], et[i], tp[i], k[i] = r.AggregateType, r.AggregateID, r.EventID.String(), r.EventType, r.Topic, r.Key
		p[i], env[i], h[i], c[i] = int16(r.Partition), string(r.Envelope), string(encodeHeaders(r.Headers)), r.CreatedAt
	}
	_, err := tx.ExecContext(ctx, pgInsert, at, ai, eid, et, tp, k, p, env, h, c, s.channel)
	return err
}

// rowColumns are the columns scanRow reads, in its order.
const rowColumns = `id, aggregate_type, aggregate_id, event_id::text, event_type, topic, event_key, lease_partition,
	envelope, headers, created_at, attempts, coalesce(last_error, ''), next_attempt_at, published_at, dead_at`

// pendingColumns are what the relay needs of a row, for Pending: fewer
// columns to send and scan per row than rowColumns.
const pendingColumns = `id, event_id::text, topic, event_key, lease_partition, envelope, headers, created_at, attempts`

func collectPgPending(rows pgx.Rows, err error) ([]Row, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		var (
			r              Row
			eid            string
			part           int16
			envelope, hdrs []byte
		)
		if err := rows.Scan(&r.ID, &eid, &r.Topic, &r.Key, &part, &envelope, &hdrs, &r.CreatedAt, &r.Attempts); err != nil {
			return nil, err
		}
		if r.EventID, err = uuid.Parse(eid); err != nil {
			return nil, fmt.Errorf("row %d: event_id: %w", r.ID, err)
		}
		if r.Headers, err = decodeHeaders(hdrs); err != nil {
			return nil, fmt.Errorf("row %d: %w", r.ID, err)
		}
		r.Partition, r.Envelope = int(part), envelope
		out = append(out, r)
	}
	return out, rows.Err()
}

func scanPgRow(rows pgx.Rows) (Row, error) {
	var (
		r               Row
		eid             string
		part            int16
		next, pub, dead *time.Time
		envelope, hdrs  []byte
	)
	if err := rows.Scan(&r.ID, &r.AggregateType, &r.AggregateID, &eid, &r.EventType, &r.Topic, &r.Key, &part,
		&envelope, &hdrs, &r.CreatedAt, &r.Attempts, &r.LastError, &next, &pub, &dead); err != nil {
		return Row{}, err
	}
	var err error
	if r.EventID, err = uuid.Parse(eid); err != nil {
		return Row{}, fmt.Errorf("row %d: event_id: %w", r.ID, err)
	}
	if r.Headers, err = decodeHeaders(hdrs); err != nil {
		return Row{}, fmt.Errorf("row %d: %w", r.ID, err)
	}
	r.Partition, r.Envelope = int(part), envelope
	r.NextAttemptAt, r.PublishedAt, r.DeadAt = deref(next), deref(pub), deref(dead)
	return r, nil
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func collectPg(rows pgx.Rows, err error) ([]Row, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Row
	for rows.Next() {
		r, err := scanPgRow(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// pgPending scans the pending rows in id order (the outbox_pending index)
// and skips those held back by an earlier row of their topic and key that
// waits for a retry (a probe of the small outbox_retrying index).
const pgPending = `
SELECT ` + pendingColumns + `
FROM outbox o
WHERE o.published_at IS NULL AND o.dead_at IS NULL
  AND o.lease_partition = ANY($1::smallint[])
  AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= $2)
  AND NOT EXISTS (
      SELECT 1 FROM outbox w
      WHERE w.published_at IS NULL AND w.dead_at IS NULL AND w.next_attempt_at > $2
        AND w.lease_partition = o.lease_partition AND w.topic = o.topic
        AND w.event_key = o.event_key AND w.id < o.id)
ORDER BY o.id
LIMIT $3`

// Pending implements Store.
func (s *PostgresStore) Pending(ctx context.Context, partitions []int, now time.Time, limit int) ([]Row, error) {
	if len(partitions) == 0 || limit <= 0 {
		return nil, nil
	}
	return collectPgPending(s.pool.Query(ctx, pgPending, int16s(partitions), now, limit))
}

func int16s(ps []int) []int16 {
	out := make([]int16, len(ps))
	for i, p := range ps {
		out[i] = int16(p)
	}
	return out
}

// Settle implements Store. The transaction commits without waiting for
// its WAL to reach disk (synchronous_commit off): should the server crash
// before the flush, the settled rows are only published again
// (duplicates, which consumers drop by event_id), and the relay does not
// wait for a disk flush per batch.
func (s *PostgresStore) Settle(ctx context.Context, st Settlement) error {
	if len(st.Published)+len(st.Retry)+len(st.Dead) == 0 {
		return nil
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`SET LOCAL synchronous_commit = off`)
		if len(st.Published) > 0 {
			if st.Keep {
				b.Queue(`UPDATE outbox SET published_at = $2 WHERE id = ANY($1)`, st.Published, st.At)
			} else {
				b.Queue(`DELETE FROM outbox WHERE id = ANY($1)`, st.Published)
			}
		}
		if len(st.Retry) > 0 {
			ids, errs, at := failureArrays(st.Retry)
			b.Queue(`UPDATE outbox o SET attempts = o.attempts + 1, last_error = u.err, next_attempt_at = u.at
				FROM unnest($1::bigint[], $2::text[], $3::timestamptz[]) AS u(id, err, at) WHERE o.id = u.id`, ids, errs, at)
		}
		if len(st.Dead) > 0 {
			ids, errs, _ := failureArrays(st.Dead)
			b.Queue(`UPDATE outbox o SET attempts = o.attempts + 1, last_error = u.err, dead_at = $3, next_attempt_at = NULL
				FROM unnest($1::bigint[], $2::text[]) AS u(id, err) WHERE o.id = u.id`, ids, errs, st.At)
		}
		return tx.SendBatch(ctx, b).Close()
	})
}

func failureArrays(fs []Failure) (ids []int64, errs []string, at []time.Time) {
	ids, errs, at = make([]int64, len(fs)), make([]string, len(fs)), make([]time.Time, len(fs))
	for i, f := range fs {
		ids[i], errs[i], at[i] = f.ID, f.Err, f.NextAttemptAt
	}
	return ids, errs, at
}

// Leases implements Store, on the server's clock (now(), the start of the
// transaction, which is after the relay read its own clock).
func (s *PostgresStore) Leases(ctx context.Context, t LeaseTick) (LeaseState, error) {
	var st LeaseState
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		st = LeaseState{}
		if _, err := tx.Exec(ctx, `INSERT INTO outbox_relays (relay_id, started_at, expires_at) VALUES ($1, now(), now() + $2)
			ON CONFLICT (relay_id) DO UPDATE SET expires_at = EXCLUDED.expires_at`, t.RelayID, t.TTL); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM outbox_relays WHERE expires_at <= now()`); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM outbox_relays WHERE expires_at > now()`).Scan(&st.Relays); err != nil {
			return err
		}
		st.Share = fairShare(st.Relays)
		if len(t.Release) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE outbox_leases SET owner = NULL, expires_at = '-infinity'
				WHERE owner = $1 AND lease_partition = ANY($2::smallint[])`, t.RelayID, int16s(t.Release)); err != nil {
				return err
			}
		}
		// Renewing a lease this relay still owns is safe even when it has
		// expired: nobody took it over, since taking over sets the owner.
		held, err := pgPartitions(tx.Query(ctx, `UPDATE outbox_leases SET expires_at = now() + $2
			WHERE owner = $1 RETURNING lease_partition`, t.RelayID, t.TTL))
		if err != nil {
			return err
		}
		if want := st.Share - len(held); t.Acquire && want > 0 {
			got, err := pgPartitions(tx.Query(ctx, `UPDATE outbox_leases SET owner = $1, expires_at = now() + $2
				WHERE lease_partition IN (
					SELECT lease_partition FROM outbox_leases
					WHERE owner IS NULL OR expires_at <= now()
					ORDER BY lease_partition LIMIT $3 FOR UPDATE SKIP LOCKED)
				RETURNING lease_partition`, t.RelayID, t.TTL, want))
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

func pgPartitions(rows pgx.Rows, err error) ([]int, error) {
	if err != nil {
		return nil, err
	}
	ps, err := pgx.CollectRows(rows, pgx.RowTo[int16])
	out := make([]int, len(ps))
	for i, p := range ps {
		out[i] = int(p)
	}
	return out, err
}

// Leave implements Store.
func (s *PostgresStore) Leave(ctx context.Context, relayID string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE outbox_leases SET owner = NULL, expires_at = '-infinity' WHERE owner = $1`, relayID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM outbox_relays WHERE relay_id = $1`, relayID)
		return err
	})
}

// Prune implements Store.
func (s *PostgresStore) Prune(ctx context.Context, partitions []int, before time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM outbox WHERE id IN (
		SELECT id FROM outbox WHERE published_at < $2 AND lease_partition = ANY($1::smallint[]) LIMIT $3)`,
		int16s(partitions), before, limit)
	return tag.RowsAffected(), err
}

// Listen implements Store: LISTEN on a connection of its own, taken from
// the pool for as long as it listens, and reconnecting after the server
// went away (a restart, a network cut) with a wake-up for whatever was
// committed meanwhile.
func (s *PostgresStore) Listen(ctx context.Context, wake chan<- struct{}) error {
	for {
		err := s.listenOnce(ctx, wake)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		_ = err // the relay polls meanwhile; its database errors are counted there
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(s.listenRetry):
		}
	}
}

func (s *PostgresStore) listenOnce(ctx context.Context, wake chan<- struct{}) error {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// Hijacked: a connection that LISTENs must not go back to the pool.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return err
	}
	signal(wake)
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		signal(wake)
	}
}

// signal sends on wake without blocking: one pending signal is enough.
func signal(wake chan<- struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// Stats implements Store: small queries on the partial indexes, in one
// round trip.
func (s *PostgresStore) Stats(ctx context.Context) (TableStats, error) {
	var (
		st                 TableStats
		oldest, oldestDead *time.Time
	)
	b := &pgx.Batch{}
	b.Queue(`SELECT count(*), count(*) FILTER (WHERE next_attempt_at IS NOT NULL) FROM outbox
		WHERE published_at IS NULL AND dead_at IS NULL`).QueryRow(func(r pgx.Row) error { return r.Scan(&st.Pending, &st.Retrying) })
	b.Queue(`SELECT min(created_at) FROM (SELECT created_at FROM outbox WHERE published_at IS NULL AND dead_at IS NULL
		ORDER BY id LIMIT 1000) AS head`).QueryRow(func(r pgx.Row) error { return r.Scan(&oldest) })
	b.Queue(`SELECT count(*), min(dead_at) FROM outbox WHERE dead_at IS NOT NULL`).
		QueryRow(func(r pgx.Row) error { return r.Scan(&st.DeadLetters, &oldestDead) })
	b.Queue(`SELECT count(*) FROM outbox WHERE published_at IS NOT NULL`).QueryRow(func(r pgx.Row) error { return r.Scan(&st.Published) })
	b.Queue(`SELECT r.relay_id, r.started_at, r.expires_at,
			(SELECT count(*) FROM outbox_leases l WHERE l.owner = r.relay_id AND l.expires_at > now())
		FROM outbox_relays r WHERE r.expires_at > now() ORDER BY r.relay_id`).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var rl RelayLease
			if err := rows.Scan(&rl.ID, &rl.StartedAt, &rl.ExpiresAt, &rl.Partitions); err != nil {
				return err
			}
			st.Relays = append(st.Relays, rl)
		}
		return rows.Err()
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return TableStats{}, err
	}
	st.OldestPendingAt, st.OldestDeadAt = deref(oldest), deref(oldestDead)
	return st, nil
}

// DeadLetters implements Store.
func (s *PostgresStore) DeadLetters(ctx context.Context, afterID int64, limit int) ([]Row, error) {
	return collectPg(s.pool.Query(ctx, `SELECT `+rowColumns+` FROM outbox
		WHERE dead_at IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`, afterID, limit))
}

// Redrive implements Store.
func (s *PostgresStore) Redrive(ctx context.Context, ids []int64) (int64, error) {
	q, args := `UPDATE outbox SET dead_at = NULL, next_attempt_at = NULL WHERE dead_at IS NOT NULL`, []any{}
	if ids != nil {
		q, args = q+` AND id = ANY($1)`, []any{ids}
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}

// PurgeDeadLetters implements Store.
func (s *PostgresStore) PurgeDeadLetters(ctx context.Context, ids []int64) (int64, error) {
	q, args := `DELETE FROM outbox WHERE dead_at IS NOT NULL`, []any{}
	if ids != nil {
		q, args = q+` AND id = ANY($1)`, []any{ids}
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	return tag.RowsAffected(), err
}
