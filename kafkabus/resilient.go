package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
	"go.opentelemetry.io/otel/trace"
)

// ResilientOptions configure NewResilientBus. Breaker and Queue are
// required; every other zero value means the default of the matching
// Config field (Config.Drain, Config.Latency, Config.Logger,
// Config.Tracer), where its range is documented too. Open fills them from
// a Config.
type ResilientOptions struct {
	// Breaker guards every produce, direct and replayed. Only
	// infrastructure failures are reported to it (see IsRetriable); a record
	// Kafka rejects for good leaves it untouched.
	Breaker *resilience.CircuitBreaker
	// Queue holds accepted records while Kafka is unavailable. The bus owns
	// it from here on and closes it in Close.
	Queue spool.Queue
	// DrainBatch is the most records one replay produce carries while the
	// circuit is closed (DrainConfig.Batch, default 500). While half-open
	// the drainer probes with a single record.
	DrainBatch int
	// DrainInFlight is how many replay batches may be produced at once
	// while the circuit is closed, the queue can read ahead and the
	// producer is an AsyncProducer (DrainConfig.InFlight, default 8).
	DrainInFlight int
	// RetryMin and RetryMax bound the drainer's exponential back-off after a
	// failed replay that did not open the circuit (defaults 100ms and 5s).
	RetryMin, RetryMax time.Duration
	// OpenPoll is the longest the drainer sleeps while the circuit is open
	// before asking the breaker again (default 1s). It also sleeps no longer
	// than until the breaker's announced probe time, and wakes at once when
	// the breaker leaves the open state (Reset, Disable).
	OpenPoll time.Duration
	// Latency, when set, observes every Publish call's duration in seconds
	// (a prometheus.Histogram fits).
	Latency interface{ Observe(float64) }
	// Logger receives the breaker's transitions (each once, when it
	// happens), replay failures and shutdown events. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Tracer makes the kafka.publish and kafka.replay spans (nil: the
	// global OpenTelemetry provider's, a no-op unless one is installed).
	Tracer trace.Tracer
}

// ErrUndelivered is wrapped by the error Close returns when records were
// still queued in a queue that does not survive the process (the memory
// queue). The *UndeliveredError carries them.
var ErrUndelivered = errors.New("kafkabus: records undelivered at close")

// UndeliveredError reports exactly what Close could not deliver from a
// memory queue. Records are the undelivered records in acceptance order, so
// the caller can still log or persist them: nothing vanishes silently.
type UndeliveredError struct {
	Count   int
	Records []event.Record
}

func (e *UndeliveredError) Error() string {
	return fmt.Sprintf("kafkabus: close: %d accepted records undelivered (memory queue discarded)", e.Count)
}

// Unwrap makes errors.Is(err, ErrUndelivered) hold.
func (e *UndeliveredError) Unwrap() error { return ErrUndelivered }

// ResilientBus is a Bus that keeps the delivery contract of docs/design.md §2:
//
//   - Publish returning nil means accepted: Kafka acknowledged the record
//     (acks=all), or the queue stored it (the disk spool: fsynced).
//   - Publish returning an error means not accepted, and the record was not
//     queued either.
//   - While the queue holds anything, new records go to its tail, so they
//     never overtake older ones; a drainer goroutine replays from the head
//     through the same breaker, also when no new traffic arrives.
//   - Records Kafka rejects for good during replay go to the dead-letter
//     store with the reason.
//
// The data path: Publish → (queue empty and breaker admits) → Producer →
// Kafka; otherwise → Queue.Append → drainer → breaker → Producer → Kafka →
// Queue.Ack.
type ResilientBus struct {
	producer Producer
	async    AsyncProducer // producer, when it can keep batches in flight
	kafka    *KafkaBus     // producer, when it is one: its one-record path costs less
	cb       *resilience.CircuitBreaker
	q        spool.Queue
	opts     ResilientOptions
	log      *slog.Logger
	tracer   trace.Tracer
	maxBytes int // 0: the producer states no limit

	// backlog counts records appended (or being appended) and not yet
	// acknowledged or dead-lettered. A publisher adds before it appends and
	// the drainer subtracts after it acks, so a publisher that sees zero
	// knows every record accepted before its call has reached Kafka.
	backlog atomic.Int64

	published, spooled, replayed, deadLettered, rejected atomic.Uint64

	// inflight counts Publish calls in progress; Close waits for them.
	inflight sync.WaitGroup
	// mu guards closed against the inflight.Add race in Publish.
	mu     sync.RWMutex
	closed bool

	drainCtx  context.Context    // canceled when Close gives up
	drainStop context.CancelFunc // cancels drainCtx
	closing   chan struct{}      // closed when Close starts: drain to empty, then exit
	drained   chan struct{}      // closed when the drainer goroutine exits
	// breakerMoved receives (without blocking the breaker) after the
	// breaker leaves the open state, so that a drainer waiting for a probe
	// starts at once after Reset, not up to OpenPoll later.
	breakerMoved chan struct{}
	closeOnce    sync.Once
	closeErr     error
}

// NewResilientBus wraps p. It starts the drainer at once: records a crashed
// process left in a disk spool are replayed before any new record.
func NewResilientBus(p Producer, opts ResilientOptions) (*ResilientBus, error) {
	if p == nil {
		return nil, errors.New("kafkabus: NewResilientBus: producer is nil")
	}
	if opts.Breaker == nil {
		return nil, errors.New("kafkabus: ResilientOptions.Breaker is nil: a breaker is required")
	}
	if opts.Queue == nil {
		return nil, errors.New("kafkabus: ResilientOptions.Queue is nil: a fallback queue is required")
	}
	if err := opts.fill(); err != nil {
		return nil, err
	}
	b := &ResilientBus{
		producer: p,
		cb:       opts.Breaker,
		q:        opts.Queue,
		opts:     opts,
		log:      opts.Logger,
		tracer:   opts.tracer(),
		closing:  make(chan struct{}),
		drained:  make(chan struct{}),

		breakerMoved: make(chan struct{}, 1),
	}
	b.async, _ = p.(AsyncProducer)
	b.kafka, _ = p.(*KafkaBus)
	if l, ok := p.(interface{ MaxRecordBytes() int }); ok {
		b.maxBytes = l.MaxRecordBytes()
	}
	recovered := opts.Queue.Stats().Records
	b.backlog.Store(recovered)
	if recovered > 0 {
		b.log.Info("replaying records left in the fallback queue", "records", recovered)
	}
	b.drainCtx, b.drainStop = context.WithCancel(context.Background())
	go b.drain()
	return b, nil
}

// fill validates o and fills in the defaults, with Config's ranges.
func (o *ResilientOptions) fill() error {
	d := DrainConfig{Batch: o.DrainBatch, InFlight: o.DrainInFlight, RetryMin: o.RetryMin, RetryMax: o.RetryMax, OpenPoll: o.OpenPoll}
	d.ensureDefaults()
	ck := checker{in: "ResilientOptions"}
	d.check(&ck, resilientField)
	if err := ck.err(); err != nil {
		return err
	}
	o.DrainBatch, o.DrainInFlight, o.RetryMin, o.RetryMax, o.OpenPoll = d.Batch, d.InFlight, d.RetryMin, d.RetryMax, d.OpenPoll
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// resilientField names DrainConfig's fields as ResilientOptions has them.
func resilientField(f string) string {
	switch f {
	case "Batch", "InFlight":
		return "Drain" + f
	}
	return f
}

// breakerMovedTo is the drainer's breaker listener (it runs outside the
// breaker's lock): it logs the transition, once, and wakes a drainer
// waiting for the open breaker.
func (b *ResilientBus) breakerMovedTo(name string, from, to resilience.State) {
	queued := b.backlog.Load()
	switch to {
	case resilience.StateOpen:
		b.log.Warn("kafka unavailable: circuit breaker open, accepted records go to the fallback queue",
			"breaker", name, "from", from.String(), "queued", queued, "probe_in", b.cb.Settings().RecoveryTimeout)
	case resilience.StateHalfOpen:
		b.log.Info("circuit breaker half-open: probing kafka", "breaker", name, "queued", queued)
	case resilience.StateClosed:
		b.log.Info("kafka available: circuit breaker closed", "breaker", name, "from", from.String(), "queued", queued)
	}
	if from == resilience.StateOpen {
		select {
		case b.breakerMoved <- struct{}{}:
		default:
		}
	}
}

// Publish implements Bus with the delivery contract described on
// ResilientBus.
//
// The call runs in a kafka.publish span, which the record's traceparent
// header names as parent, so consumers continue the publisher's trace.
func (b *ResilientBus) Publish(ctx context.Context, topic, key string, env *event.Envelope) error {
	ctx, span := b.startPublishSpan(ctx, topic)
	rec, err := env.RecordContext(ctx, topic, key) // a nil env too: ErrInvalidRecord
	if err != nil {
		b.rejected.Add(1)
		endPublishSpan(span, pathRefused, err)
		return err
	}
	path, err := b.publishTimed(ctx, &rec)
	endPublishSpan(span, path, err)
	return err
}

// PublishRecord is Publish for a record that is already encoded (its
// headers included), with the same contract.
func (b *ResilientBus) PublishRecord(ctx context.Context, rec event.Record) error {
	ctx, span := b.startPublishSpan(ctx, rec.Topic)
	path, err := b.publishTimed(ctx, &rec)
	endPublishSpan(span, path, err)
	return err
}

// The functions below take the record by pointer: passed by value, its
// eleven words would be copied onto the stack at every level.

func (b *ResilientBus) publishTimed(ctx context.Context, rec *event.Record) (path string, err error) {
	if b.opts.Latency == nil {
		path, err = b.publish(ctx, rec)
	} else {
		start := time.Now()
		path, err = b.publish(ctx, rec)
		b.opts.Latency.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		b.rejected.Add(1)
		path = pathRefused
	}
	return path, err
}

// publish returns the path the record took: direct to Kafka, or spooled.
func (b *ResilientBus) publish(ctx context.Context, rec *event.Record) (string, error) {
	// What Kafka would refuse for sure is refused here as well as by
	// Kafka, so that a record that could never be delivered is refused
	// even while it would be queued (and only dead-lettered at replay).
	if err := checkRecord(rec); err != nil {
		return "", err
	}
	if b.maxBytes > 0 && rec.Size() > b.maxBytes {
		return "", b.errTooLarge(rec)
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return "", ErrBusClosed
	}
	b.inflight.Add(1)
	b.mu.RUnlock()
	defer b.inflight.Done()

	if b.backlog.Load() == 0 {
		done, err := b.direct(ctx, rec)
		if done {
			return pathDirect, err
		}
	}
	return pathSpooled, b.enqueue(ctx, rec)
}

// errTooLarge is publish's error for a record over the producer's limit,
// out of line to keep publish's frame small (see spool.Memory.Append).
func (b *ResilientBus) errTooLarge(rec *event.Record) error {
	return fmt.Errorf("%w: record of %d bytes, limit %d", ErrMessageTooLarge, rec.Size(), b.maxBytes)
}

// direct tries to produce rec straight to Kafka. done=false means the
// record was not accepted and not refused either: the caller queues it.
func (b *ResilientBus) direct(ctx context.Context, rec *event.Record) (done bool, err error) {
	permit, err := b.cb.Acquire(ctx)
	if err != nil {
		if errors.Is(err, resilience.ErrCircuitOpen) {
			noteRejection(ctx, err)
			return false, nil
		}
		return true, err
	}
	var perr error
	if b.kafka != nil {
		// A direct call, not through an interface, so rec need not
		// escape (produceOne keeps only its contents).
		perr = b.kafka.produceOne(ctx, rec)
	} else {
		perr = b.producer.Produce(ctx, []event.Record{*rec})[0]
	}
	switch {
	case perr == nil:
		permit.Report(nil)
		b.published.Add(1)
		return true, nil
	case ctx.Err() != nil:
		// The caller gave up before Kafka answered. That says nothing about
		// Kafka, and the caller, told so, still owns the record.
		permit.ReportOutcome(resilience.OutcomeIgnore)
		return true, fmt.Errorf("kafkabus: not accepted: %w (%w)", ctx.Err(), perr)
	case IsRetriable(perr):
		permit.Report(perr)
		return false, nil
	default:
		// Kafka rejected this record for good: no replay could fix it.
		permit.ReportOutcome(resilience.OutcomeIgnore)
		return true, perr
	}
}

func (b *ResilientBus) enqueue(ctx context.Context, rec *event.Record) error {
	b.backlog.Add(1)
	one := oneRecord.Get().(*[1]event.Record)
	one[0] = *rec
	err := b.q.Append(ctx, one[:]...)
	one[0] = event.Record{}
	oneRecord.Put(one)
	if err != nil {
		b.backlog.Add(-1)
		return fmt.Errorf("kafkabus: not accepted: fallback queue: %w", err)
	}
	b.spooled.Add(1)
	return nil
}

// oneRecord holds the one-record slices enqueue hands to Queue.Append,
// which does not keep them (spool.Queue's contract). Built per call, the
// slice would escape through the interface call: an allocation per
// spooled record, and on a fresh publishing goroutine during a garbage
// collection an assist that costs tens of microseconds.
var oneRecord = sync.Pool{New: func() any { return new([1]event.Record) }}

// Stats returns the cumulative counters and the queue's contents.
func (b *ResilientBus) Stats() Stats {
	return Stats{
		Published:    b.published.Load(),
		Spooled:      b.spooled.Load(),
		Replayed:     b.replayed.Load(),
		DeadLettered: b.deadLettered.Load(),
		Rejected:     b.rejected.Load(),
		Queue:        b.q.Stats(),
	}
}

// Breaker returns the breaker guarding the bus.
func (b *ResilientBus) Breaker() *resilience.CircuitBreaker { return b.cb }

// Queue returns the fallback queue (for operator inspection).
func (b *ResilientBus) Queue() spool.Queue { return b.q }

// Close stops accepting (later Publish calls fail with ErrBusClosed), waits
// for Publish calls in progress, lets the drainer deliver what it can until
// ctx ends, then closes the queue and the producer. It waits as long as ctx
// allows: with a context that never ends and Kafka down, until Kafka is
// back, so give it a deadline (a shutdown timeout).
//
// Close says exactly what happened:
//
//   - nil: every accepted record was delivered, or is durably queued. A
//     disk spool keeps what is left for the next process, which replays it
//     before any new record; Close logs how many there are, and Stats
//     still counts them. An expired ctx does not matter when nothing was
//     left to wait for.
//   - an *UndeliveredError (errors.Is ErrUndelivered): the memory queue
//     still held records, which are gone with it; the error carries
//     exactly those records, in acceptance order.
//   - a *QueueCloseError: a durable queue did not close cleanly; it counts
//     the records left in it.
//
// Close is idempotent: later calls return the first call's result.
func (b *ResilientBus) Close(ctx context.Context) error {
	b.closeOnce.Do(func() { b.closeErr = b.close(ctx) })
	return b.closeErr
}

func (b *ResilientBus) close(ctx context.Context) error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()

	published := make(chan struct{})
	go func() { b.inflight.Wait(); close(published) }()
	select {
	case <-published:
		// Every accepted record is in Kafka or in the queue: drain until
		// the queue is empty or ctx ends.
		close(b.closing)
		select {
		case <-b.drained:
		case <-ctx.Done():
		}
	case <-ctx.Done():
	}
	b.drainStop()
	<-b.drained

	// Closing the queue fails the appends still waiting for room (they are
	// not accepted, and say so), so no Publish outlives Close by more than
	// a direct produce's publish timeout.
	qerr := b.q.Close()
	<-published

	var errs []error
	if v, ok := b.q.(volatileQueue); ok {
		if rest := v.Remaining(); len(rest) > 0 {
			recs := make([]event.Record, len(rest))
			for i, e := range rest {
				recs[i] = e.Record
			}
			errs = append(errs, &UndeliveredError{Count: len(recs), Records: recs})
		}
		errs = append(errs, qerr)
	} else {
		left := b.q.Stats().Records
		switch {
		case qerr != nil:
			errs = append(errs, &QueueCloseError{Left: left, Err: qerr})
		case left > 0:
			b.log.Info("records left in the disk spool for the next start", "records", left)
		}
	}
	// Every record this bus handed the producer has been answered (the
	// drainer and the publishers waited for their outcomes), so closing it
	// has nothing left to flush: an error here is the producer's own.
	if c, ok := b.producer.(interface{ Close(context.Context) error }); ok {
		errs = append(errs, c.Close(ctx))
	}
	return errors.Join(errs...)
}

// QueueCloseError is what Close returns when a durable fallback queue (the
// disk spool) did not close cleanly, a failed head update for instance.
// The Left accepted records it still held stay on disk for the next
// process; records delivered since the last good head update may be
// replayed again (duplicates, never loss).
type QueueCloseError struct {
	Left int64 // records in the queue at Close
	Err  error // what closing it reported
}

func (e *QueueCloseError) Error() string {
	return fmt.Sprintf("kafkabus: close: fallback queue holding %d records did not close cleanly: %v", e.Left, e.Err)
}

// Unwrap returns Err.
func (e *QueueCloseError) Unwrap() error { return e.Err }

// volatileQueue is a queue whose contents do not outlive the process (the
// memory queue). Remaining returns what it still holds, also after Close.
type volatileQueue interface {
	Remaining() []spool.Entry
}

var _ Bus = (*ResilientBus)(nil)
