package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

// batch is a replay produce under way: entries handed to the producer
// under one breaker permit. errs is set before done is closed.
type batch struct {
	entries []spool.Entry
	recs    []event.Record // the entries' records, as handed to the producer
	permit  *resilience.Permit
	errs    []error
	done    chan struct{}
}

// recSlices keeps the record slices of settled batches for later ones: a
// replay batch of 500 records would otherwise allocate 36 KB for the
// collector. A slice is reused only once its batch is done, when the
// producer no longer holds it. Owned by the drainer goroutine.
type recSlices struct{ free [][]event.Record }

// get returns a slice holding the records of entries.
func (rs *recSlices) get(entries []spool.Entry) []event.Record {
	var recs []event.Record
	if k := len(rs.free); k > 0 && cap(rs.free[k-1]) >= len(entries) {
		recs = rs.free[k-1][:len(entries)]
		rs.free[k-1] = nil
		rs.free = rs.free[:k-1]
	} else {
		recs = make([]event.Record, len(entries))
	}
	for i := range entries {
		recs[i] = entries[i].Record
	}
	return recs
}

// put takes back the slices of batches that are done, zeroed: a drainer
// gone idle must not keep the read buffers and headers of its last
// batches reachable.
func (rs *recSlices) put(batches []*batch) {
	for _, f := range batches {
		if len(rs.free) < maxFreeRecSlices {
			clear(f.recs)
			rs.free = append(rs.free, f.recs[:0])
		}
		f.recs = nil
	}
}

// maxFreeRecSlices is enough for a full pipeline of batches.
const maxFreeRecSlices = 16

// drain is the drainer goroutine: it replays the queue from the head, in
// order, through the breaker, until Close tells it to finish. It is the only
// goroutine that reads, acknowledges or dead-letters queue entries.
//
// While the circuit is closed and the queue can read ahead
// (spool.ReadAhead), up to DrainInFlight batches are produced at once: the
// next batch is read, and the oldest acknowledged, while later ones are on
// the wire. Results are settled strictly oldest first, so order and the
// dead-letter rule are those of a single batch; after a failure every
// batch in flight is abandoned (their records are read again from the
// head: duplicates, never loss or reordering).
func (b *ResilientBus) drain() {
	defer close(b.drained)
	defer b.cb.Subscribe(func(_ string, from, _ resilience.State) {
		if from == resilience.StateOpen {
			select {
			case b.breakerMoved <- struct{}{}:
			default:
			}
		}
	})()
	ctx := b.drainCtx
	ra, _ := b.q.(spool.ReadAhead)
	backoff := b.opts.RetryMin
	var (
		pending  []*batch
		lastRead uint64 // seq of the newest entry in flight
		ack      = &acker{b: b}
		rs       recSlices
	)
	abandon := func() {
		for _, f := range pending {
			<-f.done
			f.permit.ReportOutcome(resilience.OutcomeIgnore)
		}
		rs.put(pending)
		pending, lastRead = nil, 0
	}
	defer abandon()
	// queueFailed handles an Ack or DeadLetter the queue refused:
	// everything in flight is abandoned and read again from the head after
	// a back-off. It reports whether to go on.
	queueFailed := func(err error) bool {
		abandon()
		if errors.Is(err, spool.ErrClosed) {
			return false
		}
		b.log.Error("fallback queue update failed; the batch will be replayed", "err", err, "retry_in", backoff)
		if !b.sleep(ctx, backoff) {
			return false
		}
		backoff = b.nextBackoff(backoff)
		return true
	}
	defer func() {
		if err := ack.flush(); err != nil && !errors.Is(err, spool.ErrClosed) {
			b.log.Error("fallback queue ack failed at shutdown; those records will be replayed", "err", err)
		}
	}()

	for {
		if len(pending) == 0 && b.backlog.Load() == 0 {
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

		wait, onAppend, err := b.fill(ctx, ra, &rs, &pending, &lastRead)
		if ctx.Err() != nil {
			return
		}
		if len(pending) == 0 && ack.owes() {
			// Nothing more to send for now: acknowledge what was
			// delivered, so that the backlog reaches zero once the queue
			// is empty. Only here, not whenever the pipeline happens to be
			// empty: a drain that fell behind would wait for the head
			// file's fsync after every batch.
			if ferr := ack.flush(); ferr != nil && !queueFailed(ferr) {
				return
			}
			continue
		}
		if len(pending) == 0 {
			if errors.Is(err, spool.ErrClosed) {
				return
			}
			if err != nil {
				b.log.Error("fallback queue read failed; retrying", "err", err)
				wait, backoff = backoff, b.nextBackoff(backoff)
			}
			if !b.sleepOrNotify(ctx, wait, onAppend) {
				return
			}
			continue
		}

		// Settle the oldest batch together with every later one that has
		// finished too.
		<-pending[0].done
		n := 1
		for n < len(pending) && isDone(pending[n]) {
			n++
		}
		settled := pending[:n]
		pending = pending[n:]
		// A queue that cannot read ahead is read from the head: what was
		// delivered must be acknowledged before the next read.
		var infraErr, queueErr error
		for _, f := range settled {
			if infraErr, queueErr = b.replay(ack, f.entries, f.errs, ra == nil); infraErr != nil || queueErr != nil {
				break
			}
		}
		rs.put(settled) // done: the producer is through with their records
		switch {
		case ctx.Err() != nil:
			reportSettled(settled, nil, true)
			return
		case queueErr != nil:
			// Not Kafka's doing: the breaker hears nothing of it.
			reportSettled(settled, nil, true)
			if !queueFailed(queueErr) {
				return
			}
		case infraErr != nil:
			reportSettled(settled, infraErr, false)
			abandon()
			b.log.Warn("replay failed; the record stays at the head", "err", infraErr, "retry_in", backoff)
			if !b.sleep(ctx, backoff) {
				return
			}
			backoff = b.nextBackoff(backoff)
		default:
			reportSettled(settled, nil, false)
			backoff = b.opts.RetryMin
		}
	}
}

// reportSettled gives the breaker one outcome per settled batch: all
// ignored (the drain was stopped, or the queue failed), one failure for a
// replay that hit an infrastructure error (the rest ignored, since they are
// sent again), or a success each.
func reportSettled(settled []*batch, infraErr error, ignore bool) {
	for i, f := range settled {
		switch {
		case ignore || (infraErr != nil && i > 0):
			f.permit.ReportOutcome(resilience.OutcomeIgnore)
		default:
			f.permit.Report(infraErr)
		}
	}
}

func isDone(f *batch) bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// fill starts batches until DrainInFlight are under way, the queue has no
// more to read, or the breaker refuses. With nothing in flight it returns
// how long to wait before trying again, and whether an append may end the
// wait early: not when the breaker refused, since new records change
// nothing about when it will let a probe through.
//
// The permit is taken before the queue is read, so that an open breaker
// costs the publishers nothing: no wake-up per append, no copy of the
// head under the queue's lock.
func (b *ResilientBus) fill(ctx context.Context, ra spool.ReadAhead, rs *recSlices, pending *[]*batch, lastRead *uint64) (wait time.Duration, onAppend bool, err error) {
	for len(*pending) < b.opts.DrainInFlight {
		closed := b.cb.State() == resilience.StateClosed
		if len(*pending) > 0 && (ra == nil || b.async == nil || !closed) {
			return 0, false, nil // one batch at a time: no read-ahead, or probing
		}
		permit, err := b.cb.Acquire(ctx)
		if err != nil {
			return b.untilProbe(err), false, nil
		}
		n := b.opts.DrainBatch
		if !closed {
			n = 1 // probe with one record while half-open
		}
		// With nothing in flight everything up to lastRead has been
		// delivered (acknowledged, or counted in the acker), so continuing
		// after it reads what a Peek from the head would once those are
		// acknowledged, and keeps the spool's read-ahead. After a failure
		// lastRead is 0: reread from the head.
		var entries []spool.Entry
		if ra == nil || *lastRead == 0 {
			entries, err = b.q.Peek(ctx, n)
		} else {
			entries, err = ra.PeekAfter(ctx, *lastRead, n)
		}
		if err != nil || len(entries) == 0 {
			// Nothing was sent: the permit says nothing about Kafka.
			permit.ReportOutcome(resilience.OutcomeIgnore)
			// Empty: a publisher counted its record but has not finished
			// appending, or everything is in flight.
			return b.opts.RetryMin, err == nil, err
		}
		f := &batch{entries: entries, recs: rs.get(entries), permit: permit, done: make(chan struct{})}
		b.replayProduce(ctx, f.recs, func(errs []error) { f.errs = errs; close(f.done) })
		*pending = append(*pending, f)
		*lastRead = entries[len(entries)-1].Seq
	}
	return 0, false, nil
}

// replayProduce hands one replay batch to the producer inside a
// kafka.replay span and reports its outcomes through done. With an
// AsyncProducer the records are on their way when it returns, so the next
// batch follows them in order; otherwise it produces synchronously.
func (b *ResilientBus) replayProduce(ctx context.Context, recs []event.Record, done func([]error)) {
	ctx, span := b.tracer.Start(ctx, spanReplay, producerKind)
	if span.IsRecording() {
		span.SetAttributes(attribute.String("messaging.system", messagingSys), attrRecords.Int(len(recs)), attrBreaker.String(b.cb.Name()))
	}
	finish := func(errs []error) {
		for _, err := range errs {
			if err != nil && IsRetriable(err) {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
				break
			}
		}
		span.End()
		done(errs)
	}
	if b.async != nil {
		b.async.ProduceAsync(ctx, recs, finish)
		return
	}
	finish(b.producer.Produce(ctx, recs))
}

// sleepOrNotify waits d, or until ctx ends, or (if onAppend) until a
// record is appended, or until the breaker leaves the open state (Reset or
// Disable, or a probe admitted to another caller; the end of the open
// period itself is no transition until someone asks, which untilProbe
// already times); it reports whether to go on.
func (b *ResilientBus) sleepOrNotify(ctx context.Context, d time.Duration, onAppend bool) bool {
	var notify <-chan struct{}
	if onAppend {
		notify = b.q.Notify()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-notify:
	case <-b.breakerMoved:
	case <-ctx.Done():
		return false
	}
	return true
}

// acker batches acknowledgements across replay batches: an Ack of the
// disk spool persists the head with an fsync, so acknowledging every few
// thousand records instead of every batch keeps the drain from waiting on
// the disk, and those periodic Acks run in the background while the drain
// goes on. Records delivered but not yet acknowledged are replayed again
// after a crash: duplicates, never loss. Owned by the drainer goroutine,
// but for the background Ack, which reports only through ackIn.
type acker struct {
	b     *ResilientBus
	seq   uint64     // highest delivered seq not yet acknowledged
	count int        // records delivered and not yet handed to an Ack
	ackIn chan error // non-nil while an Ack runs in the background: its result
}

// ackEvery is how many delivered records wait for one Ack: at least this
// many, more while the previous Ack is still writing (see flushBehind).
const ackEvery = 4096

func (a *acker) delivered(seq uint64) { a.seq, a.count = seq, a.count+1 }

// owes reports whether anything delivered is not yet acknowledged.
func (a *acker) owes() bool { return a.count > 0 || a.ackIn != nil }

// flush acknowledges everything delivered so far and waits for it. If an
// Ack fails, what was delivered since the last good one is dropped all the
// same: the drainer then replays from the head, and those records are
// counted again when they are delivered again.
func (a *acker) flush() error {
	seq, count, err := a.take()
	if err != nil || count == 0 {
		return err
	}
	return a.b.ack(seq, count)
}

// flushBehind hands everything delivered so far to an Ack in the
// background; the error is the previous one's. While the previous Ack is
// still writing the head file it does nothing: the drain goes on rather
// than wait for that fsync, and the next call acknowledges what was
// delivered meanwhile as well.
func (a *acker) flushBehind() error {
	if running, err := a.reap(false); running || err != nil {
		return err
	}
	seq, count, err := a.take()
	if err != nil || count == 0 {
		return err
	}
	done := make(chan error, 1)
	a.ackIn = done
	go func() { done <- a.b.ack(seq, count) }()
	return nil
}

// take returns what was delivered since the last Ack and clears it, once
// the background Ack, if one runs, has finished; an error is that Ack's.
func (a *acker) take() (seq uint64, count int, err error) {
	if _, err := a.reap(true); err != nil {
		return 0, 0, err
	}
	seq, count = a.seq, a.count
	a.count = 0
	return seq, count, nil
}

// reap collects the result of the background Ack, if one runs: waiting
// for it if block, else only if it has finished (running reports one still
// under way). A failed Ack drops the count, as flush explains.
func (a *acker) reap(block bool) (running bool, err error) {
	if a.ackIn == nil {
		return false, nil
	}
	if block {
		err = <-a.ackIn
	} else {
		select {
		case err = <-a.ackIn:
		default:
			return true, nil
		}
	}
	a.ackIn = nil
	if err != nil {
		a.count = 0
	}
	return false, err
}

// ack acknowledges count delivered records, up to seq, and only then
// counts them out of the backlog: a publisher that sees the backlog at
// zero may go straight to Kafka.
func (b *ResilientBus) ack(seq uint64, count int) error {
	if err := b.q.Ack(seq); err != nil {
		return fmt.Errorf("acknowledging up to seq %d: %w", seq, err)
	}
	b.backlog.Add(-int64(count))
	b.replayed.Add(uint64(count))
	return nil
}

// replay settles the queue from the results of one batch (called for each
// settled batch in turn, oldest first, until one fails), in order:
// successes are recorded as delivered (acknowledged in groups, see acker),
// a record Kafka rejects for good is dead-lettered, and the first
// infrastructure failure (infraErr) stops the walk so that record stays at
// the head. Records after it that did land will be sent again (duplicates,
// never loss or reordering). queueErr reports an Ack or DeadLetter the
// queue refused: the batches in flight behind this one must then not be
// settled either. ackNow acknowledges everything delivered at once, rather
// than every ackEvery records.
func (b *ResilientBus) replay(a *acker, entries []spool.Entry, errs []error, ackNow bool) (infraErr, queueErr error) {
	for i, e := range entries {
		perr := errs[i]
		switch {
		case perr == nil:
			a.delivered(e.Seq)
		case IsRetriable(perr) || errors.Is(perr, context.Canceled):
			return perr, a.flush()
		default:
			if err := a.flush(); err != nil {
				return nil, err
			}
			if err := b.q.DeadLetter(e, perr.Error()); err != nil {
				return nil, fmt.Errorf("dead-lettering seq %d: %w", e.Seq, err)
			}
			b.backlog.Add(-1)
			b.deadLettered.Add(1)
			b.log.Warn("record rejected by Kafka moved to the dead-letter store",
				"seq", e.Seq, "topic", e.Topic, "reason", perr.Error())
		}
	}
	switch {
	case ackNow:
		return nil, a.flush()
	case a.count >= ackEvery:
		return nil, a.flushBehind()
	}
	return nil, nil
}

// untilProbe says how long to wait after the breaker refused a permit: until
// the announced probe time, measured on the breaker's own clock, but never
// longer than OpenPoll.
func (b *ResilientBus) untilProbe(err error) time.Duration {
	wait := b.opts.OpenPoll
	if oe, ok := errors.AsType[*resilience.OpenError](err); ok && !oe.RetryAt.IsZero() {
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
	return b.sleepOrNotify(ctx, d, false)
}
