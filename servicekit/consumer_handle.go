package servicekit

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/event"
)

// tracerName names the tracer of consumer spans.
const tracerName = "github.com/huleedu/huleedu/servicekit"

// Reasons in the dlq_reason header.
const (
	reasonHandlerFailed = "handler_failed"
	reasonMalformed     = "malformed_envelope"
)

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

// isPermanent reports whether no retry can fix err: it wraps ErrPermanent,
// or event.ErrInvalidEnvelope (a payload that does not decode).
func isPermanent(err error) bool {
	return errors.Is(err, ErrPermanent) || errors.Is(err, event.ErrInvalidEnvelope)
}

func (c *Consumer) release(held bool, id string) {
	if held {
		c.opts.Store.Release(id)
	}
}

// call runs h, turning a panic into a permanent error so one bad event
// cannot crash the service.
func call(ctx context.Context, h Handler, env *event.Envelope) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = Permanent(fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack()))
		}
	}()
	return h(ctx, env)
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

// deadLetter publishes r to its dead-letter topic with the cause in the
// headers, retrying until the publisher accepts it; it returns false if
// Stop came first.
func (c *Consumer) deadLetter(ctx context.Context, r *kgo.Record, reason string, attempts int, cause error) bool {
	rec := c.deadLetterRecord(r, reason, attempts, cause)
	c.log.ErrorContext(ctx, "event moved to the dead-letter topic",
		"topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "dead_letter_topic", rec.Topic,
		"reason", reason, "attempts", attempts, "err", cause)
	backoff := c.opts.RetryBackoff
	for {
		err := c.opts.DeadLetters.PublishRecord(c.handleCtx, rec)
		if err == nil {
			c.opts.Metrics.observe(r.Topic, resultDeadLettered)
			return true
		}
		if c.handleCtx.Err() != nil {
			return false
		}
		c.log.ErrorContext(ctx, "dead-letter publish not accepted; retrying, offset stays uncommitted",
			"dead_letter_topic", rec.Topic, "retry_in", backoff, "err", err)
		if !c.sleep(backoff) {
			return false
		}
		backoff = min(2*backoff, c.opts.RetryMaxBackoff)
	}
}

func (c *Consumer) deadLetterRecord(r *kgo.Record, reason string, attempts int, cause error) event.Record {
	rec := toEventRecord(r)
	rec.Topic = c.opts.DeadLetterTopic(r.Topic)
	rec.Headers = append(rec.Headers,
		event.Header{Key: HeaderDLQReason, Value: []byte(reason)},
		event.Header{Key: HeaderDLQError, Value: []byte(cause.Error())},
		event.Header{Key: HeaderDLQAttempts, Value: []byte(strconv.Itoa(attempts))},
		event.Header{Key: HeaderDLQOriginalTopic, Value: []byte(r.Topic)},
		event.Header{Key: HeaderDLQOriginalPartition, Value: []byte(strconv.Itoa(int(r.Partition)))},
		event.Header{Key: HeaderDLQOriginalOffset, Value: []byte(strconv.FormatInt(r.Offset, 10))},
		event.Header{Key: HeaderDLQService, Value: []byte(c.opts.Service)},
		event.Header{Key: HeaderDLQFailedAt, Value: []byte(time.Now().UTC().Format(time.RFC3339Nano))},
	)
	return rec
}

// toEventRecord copies r's topic, key, value and headers.
func toEventRecord(r *kgo.Record) event.Record {
	rec := event.Record{Topic: r.Topic, Key: r.Key, Value: r.Value}
	if len(r.Headers) > 0 {
		rec.Headers = make([]event.Header, len(r.Headers), len(r.Headers)+8)
		for i, h := range r.Headers {
			rec.Headers[i] = event.Header{Key: h.Key, Value: h.Value}
		}
	}
	return rec
}

func headerValue(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}
