package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/huleedu/huleedu/event"
)

// KafkaBus publishes to Kafka with franz-go: acks from all in-sync
// replicas, an idempotent producer, and a bound on every call. It is the
// plain bus (no breaker, no fallback queue) and the Producer a
// ResilientBus sends through. It is safe for concurrent use.
type KafkaBus struct {
	opts      Options
	client    *kgo.Client
	deadlines *deadlines // record contexts of calls that cannot end
	log       *slog.Logger

	// failing is set by the first retriable failure after a success (or
	// the start) and cleared by the next success, so that an outage is
	// logged once when it starts and once when it ends, not per record.
	failing atomic.Bool

	// mu is held shared while Produce hands records to franz-go and
	// exclusively by Close to set closed, so no record is handed over
	// after Close started to flush.
	mu     sync.RWMutex
	closed bool
}

var (
	_ Bus           = (*KafkaBus)(nil)
	_ Producer      = (*KafkaBus)(nil)
	_ AsyncProducer = (*KafkaBus)(nil)
)

// NewKafkaBus returns a bus for the cluster opts.Brokers names. It does not
// connect: the first Publish or Ping does (Open's Config.StartupCheck pings
// at once). Invalid options are reported as *ConfigError values naming the
// option and its range.
func NewKafkaBus(opts Options) (*KafkaBus, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(o.kgoOpts()...)
	if err != nil {
		return nil, fmt.Errorf("kafkabus: new franz-go client: %w", err)
	}
	return &KafkaBus{opts: o, client: cl, deadlines: newDeadlines(o.PublishTimeout), log: o.logger()}, nil
}

// Publish encodes env for topic with partition key key (event.Envelope's
// RecordContext: the caller's span becomes the traceparent header) and
// produces it. nil means Kafka acknowledged it with acks=all. Otherwise
// the error is a *ProduceError: see Produce and IsRetriable.
func (b *KafkaBus) Publish(ctx context.Context, topic, key string, env *event.Envelope) error {
	rec, err := env.RecordContext(ctx, topic, key)
	if err != nil {
		return &ProduceError{Topic: topic, Partition: -1, Err: err}
	}
	return b.produceOne(ctx, &rec)
}

// Produce sends recs and waits for the outcome of every one of them:
// errs[i] is nil when Kafka acknowledged recs[i] with acks=all, else a
// *ProduceError. Records with the same topic and key go to the same
// partition in slice order.
//
// The call takes Options.PublishTimeout at most, or less if ctx ends
// first, give or take the connection timeouts franz-go may still be
// waiting on (a quarter of PublishTimeout at worst). Permanent failures
// (ErrMessageTooLarge, ErrInvalidTopic, ErrAuthorization, ErrUnknownTopic,
// ErrInvalidRecord) come back as soon as they are known. A record still
// unacknowledged at the deadline fails with ErrUnknownOutcome. Produce
// returns only after franz-go has settled every record, so a record
// reported failed is not sent later behind the caller's back (see
// "Ordering and timeouts" in the package documentation).
func (b *KafkaBus) Produce(ctx context.Context, recs []event.Record) []error {
	var errs []error
	done := make(chan struct{})
	b.ProduceAsync(ctx, recs, func(e []error) { errs = e; close(done) })
	// No select on ctx here: franz-go calls every promise by the time the
	// publish timeout ends (or soon after, once an in-flight request is
	// abandoned), and returning earlier would leave records in franz-go
	// that could still be delivered after the caller was told they failed.
	<-done
	return errs
}

// ProduceAsync implements AsyncProducer: it hands recs to franz-go before
// it returns, in slice order, and calls done once with every outcome
// (errs[i] for recs[i]), from another goroutine or, when nothing was
// handed over, before returning. Records handed over by consecutive calls
// keep their order per partition, so a caller may have several calls in
// flight. The bounds of Produce apply to each record.
func (b *KafkaBus) ProduceAsync(ctx context.Context, recs []event.Record, done func(errs []error)) {
	errs := make([]error, len(recs))
	if len(recs) == 0 {
		done(errs)
		return
	}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		for i := range recs {
			errs[i] = &ProduceError{Topic: recs[i].Topic, Partition: -1, Err: ErrBusClosed}
		}
		done(errs)
		return
	}
	ab := asyncBatches.Get().(*asyncBatch)
	ab.start(b, ctx, recs, errs, done)
	hdrs := ab.hdrs
	for i := range recs {
		if err := checkRecord(&recs[i]); err != nil {
			errs[i] = err
			ab.finish()
			continue
		}
		hdrs = toKgo(&ab.krs[i], hdrs, &recs[i])
		b.client.Produce(ab.rctx, &ab.krs[i], ab.slots[i].promise)
	}
	b.mu.RUnlock()
	ab.finish()
}

// asyncBatch is one ProduceAsync call's franz-go records and promises,
// reused through asyncBatches: a replay batch of 500 records would
// otherwise allocate its records, their headers and a promise closure per
// record, about 300 bytes a record, all of it for the collector to scan.
type asyncBatch struct {
	b       *KafkaBus
	ctx     context.Context // the caller's, for produceError
	rctx    context.Context // the records' (recordContext)
	cancel  context.CancelFunc
	errs    []error // the caller's: handed to done, never reused
	done    func(errs []error)
	pending atomic.Int64 // promises still to come, plus one until all are handed over

	krs   []kgo.Record
	hdrs  []kgo.RecordHeader // room for every header of the call's records
	slots []asyncSlot        // slots[i].promise reports krs[i]
}

// asyncSlot binds one record's promise to its index once: a method value
// allocates, so it is made when the slot is, not per call.
type asyncSlot struct {
	ab      *asyncBatch
	i       int
	promise func(*kgo.Record, error)
}

var asyncBatches = sync.Pool{New: func() any { return new(asyncBatch) }}

// maxPooledBatch is the most records an asyncBatch may have room for and
// still be reused: one huge call should not keep its arrays in the pool.
const maxPooledBatch = 4096

func (s *asyncSlot) settle(r *kgo.Record, err error) {
	if err != nil {
		s.ab.errs[s.i] = s.ab.b.produceError(s.ab.ctx, r, err)
	}
	s.ab.finish()
}

// start prepares ab for a call with recs. b.mu is held shared.
func (ab *asyncBatch) start(b *KafkaBus, ctx context.Context, recs []event.Record, errs []error, done func([]error)) {
	ab.b, ab.ctx, ab.errs, ab.done = b, ctx, errs, done
	ab.rctx, ab.cancel = b.recordContext(ctx)
	ab.pending.Store(int64(len(recs)) + 1)
	if cap(ab.krs) < len(recs) {
		ab.krs = make([]kgo.Record, len(recs))
		ab.slots = make([]asyncSlot, len(recs))
		for i := range ab.slots {
			s := &ab.slots[i]
			s.ab, s.i = ab, i
			s.promise = s.settle
		}
	}
	ab.krs = ab.krs[:len(recs)]
	nh := 0
	for i := range recs {
		nh += len(recs[i].Headers)
	}
	if len(ab.hdrs) < nh {
		ab.hdrs = make([]kgo.RecordHeader, nh)
	}
}

// finish counts one promise (or the end of handing over) down; the last
// reports the outcomes and returns ab to the pool. franz-go is done with
// every record once its promise has run.
func (ab *asyncBatch) finish() {
	if ab.pending.Add(-1) != 0 {
		return
	}
	ab.cancel()
	if ab.b.failing.Load() {
		ab.b.noteSuccess(ab.errs)
	}
	done, errs := ab.done, ab.errs
	// Drop every reference to the caller's bytes before pooling.
	clear(ab.krs)
	clear(ab.hdrs)
	ab.b, ab.ctx, ab.rctx, ab.cancel, ab.errs, ab.done = nil, nil, nil, nil, nil, nil
	if cap(ab.krs) <= maxPooledBatch {
		asyncBatches.Put(ab)
	}
	done(errs)
}

// produceOne is Produce for one record, the healthy path of every
// ResilientBus publish, without Produce's per-call allocations: the
// waiter, with its franz-go record, promise and channel, is reused.
func (b *KafkaBus) produceOne(ctx context.Context, rec *event.Record) error {
	if err := checkRecord(rec); err != nil {
		return err
	}
	w := waiters.Get().(*waiter)
	defer w.release()
	w.fill(rec)

	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return &ProduceError{Topic: rec.Topic, Partition: -1, Err: ErrBusClosed}
	}
	rctx, cancel := b.recordContext(ctx)
	defer cancel()
	b.client.Produce(rctx, &w.rec, w.promise)
	b.mu.RUnlock()
	// As in Produce: no select on ctx, franz-go calls the promise by the
	// publish timeout.
	<-w.done
	if w.err != nil {
		return b.produceError(ctx, &w.rec, w.err)
	}
	if b.failing.Load() {
		b.noteSuccess(nil)
	}
	return nil
}

// waiter is one produceOne call's franz-go record and the promise that
// reports its outcome on done.
type waiter struct {
	rec     kgo.Record
	headers []kgo.RecordHeader
	err     error
	done    chan struct{}
	promise func(*kgo.Record, error) // bound once: a method value allocates
}

var waiters = sync.Pool{New: func() any {
	w := &waiter{done: make(chan struct{}, 1)}
	w.promise = w.settle
	return w
}}

func (w *waiter) settle(_ *kgo.Record, err error) {
	w.err = err
	w.done <- struct{}{}
}

// fill makes w.rec the record r, reusing w's header slice.
func (w *waiter) fill(r *event.Record) {
	if cap(w.headers) < len(r.Headers) {
		w.headers = make([]kgo.RecordHeader, len(r.Headers))
	}
	toKgo(&w.rec, w.headers[:cap(w.headers)], r)
}

// release drops the references to the caller's bytes and returns w to the
// pool. franz-go is done with w.rec once the promise has run.
func (w *waiter) release() {
	clear(w.headers[:cap(w.headers)])
	w.rec, w.err = kgo.Record{}, nil
	waiters.Put(w)
}

// recordContext returns the context the records of one call are handed to
// franz-go with: it ends at the publish timeout, or earlier with ctx.
// Callers hold b.mu shared and have seen the bus open, so no shared
// deadline is created after Close stopped them.
func (b *KafkaBus) recordContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Done() == nil {
		// ctx never ends: a context shared with the calls of the same
		// few milliseconds bounds the call just as well.
		return b.deadlines.get(), func() {}
	}
	return context.WithTimeout(ctx, b.opts.PublishTimeout)
}

// produceError classifies a franz-go failure of r and says, for a
// timeout, whose deadline it was.
func (b *KafkaBus) produceError(ctx context.Context, r *kgo.Record, err error) *ProduceError {
	classified, retriable := classify(err)
	if r.Partition >= 0 && errors.Is(err, kerr.UnknownTopicOrPartition) {
		// franz-go gave the record a partition, so the metadata lists
		// the topic: the partition's leader has not created its log
		// yet. Kafka answers so for a moment after a topic is created
		// (kfake never does); the topic is there.
		classified = fmt.Errorf("%w: the leader of partition %d does not serve it yet: %w", ErrUnavailable, r.Partition, err)
		retriable = true
	}
	if errors.Is(classified, ErrUnknownOutcome) && !errors.Is(err, ErrUnknownOutcome) {
		// The caller's context, or else ours: its deadline, or the
		// delivery timeout franz-go applies just before it.
		why := fmt.Sprintf("publish timeout of %v", b.opts.PublishTimeout)
		if ctx.Err() != nil {
			why = "the caller's context ended"
		}
		classified = fmt.Errorf("%w: not acknowledged before the %s, may have been written: %w", ErrUnknownOutcome, why, err)
	}
	pe := &ProduceError{Topic: r.Topic, Partition: r.Partition, Err: classified, Retriable: retriable}
	if retriable && ctx.Err() == nil && !b.failing.Load() && b.failing.CompareAndSwap(false, true) {
		b.log.Warn("kafka publish failed; further failures are not logged until a publish succeeds",
			"brokers", b.opts.Brokers, "err", pe)
	}
	return pe
}

// noteSuccess ends a logged outage if one of errs is a success (nil errs:
// the one record of produceOne was acknowledged).
func (b *KafkaBus) noteSuccess(errs []error) {
	ok := errs == nil
	for _, err := range errs {
		if err == nil {
			ok = true
			break
		}
	}
	if ok && b.failing.CompareAndSwap(true, false) {
		b.log.Info("kafka publish succeeded again", "brokers", b.opts.Brokers)
	}
}

// checkRecord catches what Kafka would reject for sure, before a round
// trip.
func checkRecord(r *event.Record) *ProduceError {
	if r.Topic == "" {
		return &ProduceError{Topic: r.Topic, Partition: -1, Err: fmt.Errorf("%w: topic is empty", ErrInvalidRecord)}
	}
	if err := checkTopicName(r.Topic); err != nil {
		return &ProduceError{Topic: r.Topic, Partition: -1, Err: err}
	}
	return nil
}

// checkTopicName applies Kafka's topic name rules.
func checkTopicName(topic string) error {
	if len(topic) > 249 {
		return fmt.Errorf("%w: name is %d characters long, the limit is 249", ErrInvalidTopic, len(topic))
	}
	if topic == "." || topic == ".." {
		return fmt.Errorf("%w: %q is reserved", ErrInvalidTopic, topic)
	}
	for _, c := range topic {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("%w: %q contains %q; allowed are ASCII letters, digits, '.', '_' and '-'", ErrInvalidTopic, topic, c)
		}
	}
	return nil
}

// toKgo makes dst the franz-go record for r, without copying r's bytes
// (franz-go does not modify them), with its headers in hdrs, which must
// have room for them (len(hdrs) >= len(r.Headers)); it returns the rest
// of hdrs, for the next record's. Partition -1 marks
// "not yet assigned" for produceError; the partitioner overwrites it.
func toKgo(dst *kgo.Record, hdrs []kgo.RecordHeader, r *event.Record) (rest []kgo.RecordHeader) {
	own := hdrs[:len(r.Headers):len(r.Headers)]
	for i, h := range r.Headers {
		own[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
	}
	if len(own) == 0 {
		own = nil
	}
	*dst = kgo.Record{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: own, Partition: -1}
	return hdrs[len(r.Headers):]
}

// Ping reports whether a broker answers a metadata request, for health
// checks. The error wraps ErrUnavailable when none does, ErrBusClosed after
// Close.
func (b *KafkaBus) Ping(ctx context.Context) error {
	b.mu.RLock()
	closed := b.closed
	b.mu.RUnlock()
	if closed {
		return ErrBusClosed
	}
	if err := b.client.Ping(ctx); err != nil {
		classified, _ := classify(err)
		if !errors.Is(classified, ErrUnavailable) && !errors.Is(classified, ErrAuthorization) {
			classified = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return fmt.Errorf("kafkabus: ping %v: %w", b.opts.Brokers, classified)
	}
	return nil
}

// Close stops accepting records (later calls fail with ErrBusClosed),
// waits until Kafka has answered for every record handed over so far or
// ctx ends, and closes the client. It returns nil when every record was
// answered, also if ctx had ended by then. Otherwise the records still
// unanswered fail with ErrBusClosed (one that was in flight may have been
// written) and the error says how many there were. Close is idempotent.
func (b *KafkaBus) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	err := b.client.Flush(ctx)
	// Flush may report a context that had ended although nothing was left
	// to wait for: it selects at random between the two.
	unanswered := b.client.BufferedProduceRecords()
	b.client.Close()
	b.deadlines.stop()
	if err != nil && unanswered > 0 {
		return fmt.Errorf("kafkabus: close: %d records still unanswered when the flush gave up were failed with ErrBusClosed: %w", unanswered, err)
	}
	return nil
}

// Client returns the franz-go client, for admin requests (kadm.NewClient)
// and metrics hooks on the same connections. It is the bus's: Close closes
// it, after which every use fails with kgo.ErrClientClosed, so nothing
// that outlives the bus may hold it. It is no consumer: franz-go fixes
// the topics and group a client consumes when it is created, so a
// consumer needs a client of its own (kgo.NewClient with the same seed
// brokers; servicekit's consumers make theirs). Producing through it
// bypasses this bus's guarantees.
//
// The bus does not take a client from its user instead: its guarantees
// rest on client-wide options (acks, idempotence, delivery and request
// timeouts) that only the client's creator can set.
func (b *KafkaBus) Client() *kgo.Client { return b.client }

// MaxRecordBytes is the largest record this bus will try to produce
// (Options.MaxRecordBytes). ResilientBus refuses larger records up front,
// so one that could never be delivered is not accepted into the fallback
// queue while Kafka is down.
func (b *KafkaBus) MaxRecordBytes() int { return int(b.opts.MaxRecordBytes) }
