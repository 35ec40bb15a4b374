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
// dead-lettered. It returns false when Stop interrupted it before the
// record was settled; the record must then not be committed.
func (c *Consumer) process(r *kgo.Record) bool {
	env, err := event.ParseEnvelope(r.Value)
	if err != nil {
		c.opts.Metrics.observe(r.Topic, resultMalformed)
		return c.deadLetter(c.handleCtx, r, reasonMalformed, 0, err)
	}
	ctx, span := c.recordContext(r, env)
	defer span.End()
	id := env.EventID.String()

	seen, err := c.opts.Store.Acquire(ctx, id)
	if err != nil {
		if ctx.Err() != nil {
			return false
		}
		// The store cannot say: handling twice is better than skipping.
		c.log.ErrorContext(ctx, "idempotency store failed; handling the event without deduplication", "event_id", id, "err", err)
	} else if seen {
		c.opts.Metrics.observe(r.Topic, resultDuplicate)
		c.log.DebugContext(ctx, "duplicate event skipped", "event_id", id, "event_type", env.EventType, "topic", r.Topic)
		return true
	}
	held := err == nil

	handler := c.opts.Handlers[r.Topic]
	backoff := c.opts.RetryBackoff
	var herr error
	attempt := 1
	for ; ; attempt++ {
		herr = call(ctx, handler, env)
		if herr == nil {
			if held {
				c.opts.Store.Complete(id)
			}
			c.opts.Metrics.observe(r.Topic, resultHandled)
			return true
		}
		if c.handleCtx.Err() != nil {
			c.release(held, id)
			return false
		}
		c.opts.Metrics.observe(r.Topic, resultFailedAttempt)
		if isPermanent(herr) || attempt >= c.opts.MaxAttempts {
			break
		}
		c.log.WarnContext(ctx, "handler failed; retrying", "event_id", id, "event_type", env.EventType,
			"topic", r.Topic, "attempt", attempt, "retry_in", backoff, "err", herr)
		if !c.sleep(backoff) {
			c.release(held, id)
			return false
		}
		backoff = min(2*backoff, c.opts.RetryMaxBackoff)
	}
	span.RecordError(herr)
	span.SetStatus(codes.Error, "handler failed")
	// Released, not completed: a redelivery after an operator fixed the
	// cause (a re-drive from the dead-letter topic) must run again.
	c.release(held, id)
	return c.deadLetter(ctx, r, reasonHandlerFailed, attempt, herr)
}

func (c *Consumer) release(held bool, id string) {
	if held {
		c.opts.Store.Release(id)
	}
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
