package kafkabus

import (
	"context"
	"errors"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

// drain is the drainer goroutine: it replays the queue from the head, in
// order, through the breaker, until Close tells it to finish. It is the only
// goroutine that acknowledges or dead-letters queue entries.
func (b *ResilientBus) drain() {
	defer close(b.drained)
	ctx := b.drainCtx
	backoff := b.opts.RetryMin
	for {
		if b.backlog.Load() == 0 {
			select {
			case <-b.closing:
				if b.backlog.Load() == 0 {
					return
				}
			case <-b.q.Notify():
			case <-ctx.Done():
				return
			}
			continue
		}

		n := b.opts.DrainBatch
		if b.cb.State() != resilience.StateClosed {
			n = 1 // probe with one record while half-open
		}
		entries, err := b.q.Peek(ctx, n)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, spool.ErrClosed) {
				return
			}
			b.log.Error("fallback queue read failed; retrying", "err", err)
			if !b.sleep(ctx, backoff) {
				return
			}
			backoff = b.nextBackoff(backoff)
			continue
		}
		if len(entries) == 0 {
			// A publisher counted its record but has not finished appending.
			select {
			case <-b.q.Notify():
			case <-time.After(b.opts.RetryMin):
			case <-ctx.Done():
				return
			}
			continue
		}

		permit, err := b.cb.Acquire(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if !b.sleep(ctx, b.untilProbe(err)) {
				return
			}
			continue
		}

		infraErr := b.replay(ctx, entries)
		switch {
		case ctx.Err() != nil:
			permit.ReportOutcome(resilience.OutcomeIgnore)
			return
		case infraErr != nil:
			permit.Report(infraErr)
			b.log.Warn("replay failed; the record stays at the head", "err", infraErr, "retry_in", backoff)
			if !b.sleep(ctx, backoff) {
				return
			}
			backoff = b.nextBackoff(backoff)
		default:
			permit.Report(nil)
			backoff = b.opts.RetryMin
		}
	}
}

// replay produces entries and settles the queue from their results, in
// order: successes are acknowledged, a record Kafka rejects for good is
// dead-lettered, and the first infrastructure failure stops the walk so that
// record stays at the head. Records after it that did land will be sent
// again (duplicates, never loss or reordering).
func (b *ResilientBus) replay(ctx context.Context, entries []spool.Entry) (infraErr error) {
	ctx, span := b.tracer.Start(ctx, spanReplay, producerKind)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("messaging.system", messagingSys), attrRecords.Int(len(entries)), attrBreaker.String(b.cb.Name()))
	}
	defer func() {
		if infraErr != nil {
			span.RecordError(infraErr)
			span.SetStatus(codes.Error, infraErr.Error())
		}
		span.End()
	}()
	recs := make([]event.Record, len(entries))
	for i := range entries {
		recs[i] = entries[i].Record
	}
	errs := b.producer.Produce(ctx, recs)

	var ackSeq uint64
	acked := 0
	flush := func() bool {
		if acked == 0 {
			return true
		}
		if err := b.q.Ack(ackSeq); err != nil {
			b.log.Error("fallback queue ack failed; records will be replayed again", "seq", ackSeq, "err", err)
			return false
		}
		b.backlog.Add(-int64(acked))
		b.replayed.Add(uint64(acked))
		acked = 0
		return true
	}
	defer flush()

	for i, e := range entries {
		perr := errs[i]
		switch {
		case perr == nil:
			ackSeq = e.Seq
			acked++
		case ctx.Err() != nil || IsRetriable(perr):
			return perr
		default:
			if !flush() {
				return nil
			}
			if err := b.q.DeadLetter(e, perr.Error()); err != nil {
				b.log.Error("moving a rejected record to the dead-letter store failed", "seq", e.Seq, "err", err)
				return nil
			}
			b.backlog.Add(-1)
			b.deadLettered.Add(1)
			b.log.Warn("record rejected by Kafka moved to the dead-letter store",
				"seq", e.Seq, "topic", e.Topic, "reason", perr.Error())
		}
	}
	return nil
}

// untilProbe says how long to wait after the breaker refused a permit: until
// the announced probe time, measured on the breaker's own clock, but never
// longer than OpenPoll.
func (b *ResilientBus) untilProbe(err error) time.Duration {
	wait := b.opts.OpenPoll
	var oe *resilience.OpenError
	if errors.As(err, &oe) && !oe.RetryAt.IsZero() {
		now := time.Now()
		if c := b.cb.Settings().Clock; c != nil {
			now = c.Now()
		}
		wait = min(wait, max(oe.RetryAt.Sub(now), time.Millisecond))
	}
	return wait
}

func (b *ResilientBus) nextBackoff(d time.Duration) time.Duration {
	return min(2*d, b.opts.RetryMax)
}

// sleep waits d or until ctx ends; it reports whether to go on.
func (b *ResilientBus) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
