package kafkaconsumer

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/event"
)

// tracerName names the tracer of consumer spans.
const tracerName = "github.com/huleedu/huleedu/kafkaconsumer"

// process settles one record: handled (or skipped as a duplicate), or
// failed for good and then dead-lettered or, without a dead-letter
// publisher, recorded as the consumer's failure. It returns false when the
// record was not settled (Stop interrupted it, or it failed with nowhere
// to go); it must then not be committed.
func (c *Consumer) process(r *kgo.Record) bool {
	env, err := event.ParseEnvelope(r.Value)
	if err != nil {
		c.opts.Metrics.observe(r.Topic, resultMalformed)
		return c.settleFailed(c.handleCtx, r, "", reasonMalformed, 0, err)
	}
	ctx, span := c.recordContext(r, env)
	defer span.End()
	key := EventKey{Consumer: c.opts.Group, EventID: env.EventID.String()}
	handler := c.opts.Handlers[r.Topic]
	handle := func(ctx context.Context) error { return call(ctx, handler, env) }

	backoff := c.opts.RetryBackoff
	for attempt := 1; ; attempt++ {
		// The store marks the event processed only when handle succeeds
		// (in the handler's transaction, for a database store), so a
		// failed attempt is retried, and redelivered after a crash.
		duplicate, err := c.opts.Store.Process(ctx, key, handle)
		if err == nil {
			if duplicate {
				c.opts.Metrics.observe(r.Topic, resultDuplicate)
				c.log.DebugContext(ctx, "duplicate event skipped", "event_id", key.EventID, "event_type", env.EventType, "topic", r.Topic)
			} else {
				c.opts.Metrics.observe(r.Topic, resultHandled)
			}
			return true
		}
		if c.handleCtx.Err() != nil {
			return false
		}
		c.opts.Metrics.observe(r.Topic, resultFailedAttempt)
		if isPermanent(err) || attempt >= c.opts.MaxAttempts {
			span.RecordError(err)
			span.SetStatus(codes.Error, "handler failed")
			return c.settleFailed(ctx, r, key.EventID, reasonHandlerFailed, attempt, err)
		}
		c.log.WarnContext(ctx, "handler failed; retrying", "event_id", key.EventID, "event_type", env.EventType,
			"topic", r.Topic, "attempt", attempt, "retry_in", backoff, "err", err)
		if !c.sleep(backoff) {
			return false
		}
		backoff = min(2*backoff, c.opts.RetryMaxBackoff)
	}
}

// settleFailed settles a record that failed for good: it goes to the
// dead-letter topic, or, without a dead-letter publisher, becomes the
// consumer's failure, which stops it with the record uncommitted. It
// returns whether the record was settled.
func (c *Consumer) settleFailed(ctx context.Context, r *kgo.Record, eventID, reason string, attempts int, cause error) bool {
	if c.opts.DeadLetters != nil {
		return c.deadLetter(ctx, r, reason, attempts, cause)
	}
	c.opts.Metrics.observe(r.Topic, resultUnhandled)
	c.failure = &UnhandledError{Group: c.opts.Group, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		EventID: eventID, Reason: reason, Attempts: attempts, Err: cause}
	c.log.ErrorContext(ctx, "consumer stopped: a record could not be handled and there is no dead-letter publisher; it stays uncommitted",
		"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "event_id", eventID,
		"reason", reason, "attempts", attempts, "err", cause)
	return false
}

// recordContext returns the handler's context: the producer's trace
// continued in a consumer span, the correlation id and the service name.
func (c *Consumer) recordContext(r *kgo.Record, env *event.Envelope) (context.Context, trace.Span) {
	ctx := event.ExtractTraceContext(c.handleCtx, toEventRecord(r))
	ctx = errctx.WithService(ctx, c.opts.Service)
	corr := env.CorrelationID
	if corr == "" {
		corr = headerValue(r, event.HeaderCorrelationID)
	}
	ctx = errctx.WithCorrelation(ctx, corr)
	return c.tracer.Start(ctx, "consume "+r.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", r.Topic),
			attribute.String("messaging.consumer.group.name", c.opts.Group),
			attribute.String("event_id", env.EventID.String()),
			attribute.String("event_type", env.EventType),
		))
}
