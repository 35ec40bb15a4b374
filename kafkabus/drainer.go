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

// drainer is the state of the drainer goroutine, which replays the queue
// from the head, in order, through the breaker, until Close tells it to
// finish. It is the only goroutine that reads, acknowledges or
// dead-letters queue entries, and it owns every field here: nothing else
// reads or writes them (the acker's background Ack reports only through
// its channel; a producer goroutine only sets a batch's errs and then
// closes its done).
//
// While the circuit is closed and the queue can read ahead
// (spool.ReadAhead), up to DrainInFlight batches are produced at once: the
// next batch is read, and the oldest acknowledged, while later ones are on
// the wire. Results are settled strictly oldest first, so order and the
// dead-letter rule are those of a single batch; after a failure every
// batch in flight is abandoned (their records are read again from the
// head: duplicates, never loss or reordering).
type drainer struct {
	b   *ResilientBus
	ctx context.Context // b.drainCtx: ends when Close gives up
	ra  spool.ReadAhead // the queue, when it can read ahead; else nil
	// backoff is the wait after the next failure: RetryMin after a
	// success, doubling per failure up to RetryMax.
	backoff  time.Duration
	pending  []*batch // batches in flight, oldest first
	lastRead uint64   // seq of the newest entry in flight; 0: read from the head
	ack      acker
	rs       recSlices
}

// drain is the drainer goroutine.
func (b *ResilientBus) drain() {
	defer close(b.drained)
	defer b.cb.Subscribe(b.breakerMovedTo)()
	d := &drainer{b: b, ctx: b.drainCtx, backoff: b.opts.RetryMin}
	d.ra, _ = b.q.(spool.ReadAhead)
	d.ack.b = b
	defer d.abandon()
	defer d.flushAtExit()
	d.run()
}

// run drains until the bus closes with the queue empty, or Close gives up.
func (d *drainer) run() {
	for {
		if len(d.pending) == 0 && d.b.backlog.Load() == 0 {
			if !d.waitForRecords() {
				return
			}
			continue
		}
		wait, onAppend, err := d.fill()
		if d.ctx.Err() != nil {
			return
		}
		if len(d.pending) == 0 {
			if !d.idle(wait, onAppend, err) {
				return
			}
			continue
		}
		if !d.settle() {
			return
		}
	}
}

// waitForRecords waits while the backlog is empty: until a record is
// appended, or the bus closes (with nothing left: stop), or Close gives up.
// It reports whether to go on.
func (d *drainer) waitForRecords() bool {
	select {
	case <-d.b.closing:
		return d.b.backlog.Load() != 0
	case <-d.b.q.Notify():
	case <-d.ctx.Done():
		return false
	}
	return true
}

// idle handles a fill that left nothing in flight: it acknowledges what
// was delivered, so that the backlog reaches zero once the queue is empty
// (only here, not whenever the pipeline happens to be empty: a drain that
// fell behind would wait for the head file's fsync after every batch), or
// else waits as fill said. It reports whether to go on.
func (d *drainer) idle(wait time.Duration, onAppend bool, err error) bool {
	if d.ack.owes() {
		if ferr := d.ack.flush(); ferr != nil && !d.queueFailed(ferr) {
			return false
		}
		return true
	}
	if errors.Is(err, spool.ErrClosed) {
		return false
	}
	if err != nil {
		d.b.log.Error("fallback queue read failed; retrying", "err", err)
		wait, d.backoff = d.backoff, d.b.nextBackoff(d.backoff)
	}
	return d.b.sleepOrNotify(d.ctx, wait, onAppend)
}

// settle waits for the oldest batch in flight and settles it together with
// every later one that has finished too. It reports whether to go on.
func (d *drainer) settle() bool {
	<-d.pending[0].done
	n := 1
	for n < len(d.pending) && isDone(d.pending[n]) {
		n++
	}
	settled := d.pending[:n]
	d.pending = d.pending[n:]
	var infraErr, queueErr error
	for _, f := range settled {
		if infraErr, queueErr = d.replay(f); infraErr != nil || queueErr != nil {
			break
		}
	}
	d.rs.put(settled) // done: the producer is through with their records
	switch {
	case d.ctx.Err() != nil:
		reportSettled(settled, nil, true)
		return false
	case queueErr != nil:
		// Not Kafka's doing: the breaker hears nothing of it.
		reportSettled(settled, nil, true)
		return d.queueFailed(queueErr)
	case infraErr != nil:
		reportSettled(settled, infraErr, false)
		d.abandon()
		d.b.log.Warn("replay failed; the record stays at the head", "err", infraErr, "retry_in", d.backoff)
		if !d.b.sleep(d.ctx, d.backoff) {
			return false
		}
		d.backoff = d.b.nextBackoff(d.backoff)
	default:
		reportSettled(settled, nil, false)
		d.backoff = d.b.opts.RetryMin
	}
	return true
}

// abandon waits for every batch in flight and forgets it: the next read
// starts from the head again.
func (d *drainer) abandon() {
	for _, f := range d.pending {
		<-f.done
		f.permit.ReportOutcome(resilience.OutcomeIgnore)
	}
	d.rs.put(d.pending)
	d.pending, d.lastRead = nil, 0
}

// queueFailed handles an Ack or DeadLetter the queue refused: everything
// in flight is abandoned and read again from the head after a back-off.
// It reports whether to go on.
func (d *drainer) queueFailed(err error) bool {
	d.abandon()
	if errors.Is(err, spool.ErrClosed) {
		return false
	}
	d.b.log.Error("fallback queue update failed; the batch will be replayed", "err", err, "retry_in", d.backoff)
	if !d.b.sleep(d.ctx, d.backoff) {
		return false
	}
	d.backoff = d.b.nextBackoff(d.backoff)
	return true
}

// flushAtExit acknowledges what was delivered before the drainer stops.
func (d *drainer) flushAtExit() {
	if err := d.ack.flush(); err != nil && !errors.Is(err, spool.ErrClosed) {
		d.b.log.Error("fallback queue ack failed at shutdown; those records will be replayed", "err", err)
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
func (d *drainer) fill() (wait time.Duration, onAppend bool, err error) {
	b, ctx, rs := d.b, d.ctx, &d.rs
	for len(d.pending) < b.opts.DrainInFlight {
		closed := b.cb.State() == resilience.StateClosed
		if len(d.pending) > 0 && (d.ra == nil || b.async == nil || !closed) {
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
		if d.ra == nil || d.lastRead == 0 {
			entries, err = b.q.Peek(ctx, n)
		} else {
			entries, err = d.ra.PeekAfter(ctx, d.lastRead, n)
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
		d.pending = append(d.pending, f)
		d.lastRead = entries[len(entries)-1].Seq
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

// replay settles the queue from the results of one batch (called for each
// settled batch in turn, oldest first, until one fails), in order:
// successes are recorded as delivered (acknowledged in groups, see acker),
// a record Kafka rejects for good is dead-lettered, and the first
// infrastructure failure (infraErr) stops the walk so that record stays at
// the head. Records after it that did land will be sent again (duplicates,
// never loss or reordering). queueErr reports an Ack or DeadLetter the
// queue refused: the batches in flight behind this one must then not be
// settled either. A queue that cannot read ahead is read from the head,
// so what was delivered is acknowledged at once, before the next read,
// rather than every ackEvery records.
func (d *drainer) replay(f *batch) (infraErr, queueErr error) {
	b, a, entries, errs := d.b, &d.ack, f.entries, f.errs
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
	case d.ra == nil:
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
