package kafkaconsumer

import (
	"context"
	"errors"
)

// EventKey is what an IdempotencyStore remembers as processed: one event
// for one consumer. Consumer is the consumer group (Options.Group), so
// each service that consumes an event processes it once, whichever of its
// instances receives it.
type EventKey struct {
	Consumer string
	EventID  string
}

// IdempotencyStore decides whether the consumer runs an event's handler,
// so an event Kafka delivers twice changes state once (the original
// platform's @idempotent_consumer).
//
// The consumer calls Process once per handler attempt, with handle
// running the handler. Process runs handle unless key was processed
// already, and marks key processed exactly when handle returns nil: a
// handler's failure does not mark the event, so the retry, or a
// redelivery after a crash, runs it again. Its results:
//
//   - true, nil: key was processed before and handle did not run; the
//     consumer commits the offset and counts a duplicate.
//   - false, nil: handle ran and succeeded, and key is marked.
//   - false, err: handle failed, and err is its error (wrapped or not:
//     errors.Is must still find ErrPermanent), or the store failed; key
//     is not marked. The consumer retries as for any handler error.
//
// Concurrent duplicates (two instances of a service, a rebalance that
// hands a partition over mid-event) must be safe: while one Process of
// key runs handle, another Process of key waits until the first ends,
// then reports a duplicate (the first succeeded) or runs handle itself
// (the first failed), or returns an error when its ctx ends first.
//
// Three implementations: MemoryIdempotencyStore, for services without a
// database (it forgets at a restart); EveryDelivery, which runs handle for
// every delivery, for handlers that deduplicate themselves; and a store of
// the service's database, which makes the mark part of the handler's own
// state change.
//
// # A store in the handler's transaction
//
// A database store begins a transaction, inserts (consumer, event_id)
// into a processed-events table whose primary key they are, runs handle
// with the transaction in its context (the store's package says how
// handlers and repositories reach it), and commits only when handle
// succeeded. The state change, the events it enqueues in an outbox and
// the mark then commit together or not at all; the key's uniqueness makes
// a concurrent duplicate's insert wait for the first transaction; and a
// commit whose answer was lost shows on the retry as a duplicate. With
// database/sql:
//
//	func (s *Store) Process(ctx context.Context, key kafkaconsumer.EventKey, handle func(context.Context) error) (bool, error) {
//		tx, err := s.db.BeginTx(ctx, nil)
//		if err != nil {
//			return false, fmt.Errorf("processed events: begin: %w", err)
//		}
//		defer tx.Rollback() // a no-op after Commit
//		res, err := tx.ExecContext(ctx, `INSERT INTO processed_events (consumer, event_id)
//			VALUES ($1, $2) ON CONFLICT DO NOTHING`, key.Consumer, key.EventID)
//		if err != nil {
//			return false, fmt.Errorf("processed events: mark %s: %w", key.EventID, err)
//		}
//		n, err := res.RowsAffected()
//		if err != nil {
//			return false, err
//		}
//		if n == 0 {
//			return true, nil // processed before: handle does not run
//		}
//		if err := handle(withTx(ctx, tx)); err != nil {
//			return false, err // rolled back: not marked
//		}
//		return false, tx.Commit()
//	}
//
// Package kafkaconsumertest checks these rules against any store.
type IdempotencyStore interface {
	// Process runs handle unless key was processed, and marks key
	// processed when handle succeeds; see IdempotencyStore.
	Process(ctx context.Context, key EventKey, handle func(ctx context.Context) error) (duplicate bool, err error)
}

// EveryDelivery is the IdempotencyStore that remembers nothing: it runs
// handle for every delivery, duplicates included. Use it where the
// handler deduplicates itself, inside its own transaction, or where a
// program wants to see every copy of a record.
type EveryDelivery struct{}

// Process runs handle and returns its error.
func (EveryDelivery) Process(ctx context.Context, _ EventKey, handle func(context.Context) error) (bool, error) {
	return false, handle(ctx)
}

// ErrEmptyEventID is returned by MemoryIdempotencyStore.Process for an
// empty event id: an event without an id cannot be deduplicated.
var ErrEmptyEventID = errors.New("kafkaconsumer: empty event id")

var (
	_ IdempotencyStore = EveryDelivery{}
	_ IdempotencyStore = (*MemoryIdempotencyStore)(nil)
)
