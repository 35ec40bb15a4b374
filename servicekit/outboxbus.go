package servicekit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/sqldb"
)

// ErrNoTransaction is wrapped by OutboxBus.Publish's error for a publish
// whose context carries no transaction of the service's database: in
// outbox mode an event is written in the transaction of the state change
// it announces, and a publish outside one would be a state change's event
// committed on its own.
var ErrNoTransaction = errors.New("servicekit: publish outside a transaction of the service's database")

// OutboxBus is the kafkabus.Bus of a service that publishes through its
// outbox (KAFKA_FALLBACK_MODE=outbox, the default with a database).
// Publish writes the event into the outbox table in the transaction its
// context carries (sqldb.DB.Transact: the repository's, or the
// consumer's), so the event exists exactly when the state change it
// announces commits; the relay publishes it afterwards, through the
// producer breaker, in order per key.
//
// nil from Publish means the event is part of the transaction, not that
// it is stored: a transaction that then rolls back takes the event with
// it, which is the point. It is safe for concurrent use.
type OutboxBus struct {
	db     *sqldb.DB
	ob     *outbox.Outbox
	tracer trace.Tracer
	closed atomic.Bool
}

var _ kafkabus.Bus = (*OutboxBus)(nil)

// NewOutboxBus returns the bus that enqueues into ob, the outbox of db.
// Each publish runs in a kafka.publish producer span from tracer (nil:
// the global provider's), as the ResilientBus's do: the record's
// traceparent is that span's, so the consumer's span is its child.
func NewOutboxBus(db *sqldb.DB, ob *outbox.Outbox, tracer trace.Tracer) *OutboxBus {
	if tracer == nil {
		tracer = otel.Tracer(kafkabusTracerName)
	}
	return &OutboxBus{db: db, ob: ob, tracer: tracer}
}

// outboxPublishKind is built once: span options allocate.
var outboxPublishKind = trace.WithSpanKind(trace.SpanKindProducer)

// Publish enqueues env for topic and key in the transaction ctx carries.
// Without one it refuses with an error wrapping ErrNoTransaction; after
// Close, with one wrapping kafkabus.ErrBusClosed. An invalid event wraps
// outbox.ErrInvalidMessage; a database error is the database's
// (sqldb.IsRetriable tells an outage).
func (b *OutboxBus) Publish(ctx context.Context, topic, key string, env *event.Envelope) error {
	if b.closed.Load() {
		return fmt.Errorf("servicekit: outbox bus: %w", kafkabus.ErrBusClosed)
	}
	tx, ok := b.db.Tx(ctx)
	if !ok {
		id := "(nil envelope)"
		if env != nil {
			id = env.EventType + " " + env.EventID.String()
		}
		return fmt.Errorf("%w: event %s to %s: publish inside the state change's sqldb.DB.Transact (a repository's fn gets its ctx), or wrap a lone publish in one",
			ErrNoTransaction, id, topic)
	}
	ctx, span := b.tracer.Start(ctx, "kafka.publish", outboxPublishKind)
	defer span.End()
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", topic),
			attribute.String("huleedu.publish.path", "outbox"),
		)
	}
	err := b.ob.Enqueue(ctx, tx, outbox.Message{Topic: topic, Key: key, Envelope: env, AggregateID: key})
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "not enqueued")
	}
	return err
}

// Close makes later publishes fail with kafkabus.ErrBusClosed. What is in
// the outbox stays there for the relay (of this process until the Runner
// stops it, or of the next one).
func (b *OutboxBus) Close(context.Context) error {
	b.closed.Store(true)
	return nil
}

// outboxDeadLetters is the dead-letter publisher of a consumer in outbox
// mode: a dead letter is enqueued in a transaction of its own, so it is
// as durable as any event once PublishRecord returns. A record the outbox
// cannot store (its value is not an envelope: the consumer dead-letters
// malformed records as they came) is produced to Kafka directly; until
// Kafka acknowledges it the consumer retries it with the source record's
// offset uncommitted, so it is not lost either.
type outboxDeadLetters struct {
	bus    *OutboxBus
	direct kafkaconsumer.RecordPublisher
}

func (d outboxDeadLetters) PublishRecord(ctx context.Context, rec event.Record) error {
	if d.bus.closed.Load() {
		return fmt.Errorf("servicekit: outbox bus: %w", kafkabus.ErrBusClosed)
	}
	err := d.bus.db.Transact(ctx, func(ctx context.Context, tx *sql.Tx) error {
		return d.bus.ob.Enqueue(ctx, tx, outbox.Message{Record: &rec})
	})
	if errors.Is(err, outbox.ErrInvalidMessage) {
		return d.direct.PublishRecord(ctx, rec)
	}
	return err
}
