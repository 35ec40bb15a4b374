package servicekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/event"
)

// Handler handles one event. nil means handled: the event is marked
// processed and its offset committed. An error is retried with backoff up
// to MaxAttempts, then the event goes to the dead-letter topic. An error
// wrapping ErrPermanent or event.ErrInvalidEnvelope (data that does not
// decode) is not retried, and a panic counts as permanent too. The ctx carries the event's
// correlation id (errctx.CorrelationID), the service name and, when the
// producer sent a traceparent header, the producer's trace.
type Handler func(ctx context.Context, env *event.Envelope) error

// ErrPermanent marks a handler error that no retry can fix (a payload that
// does not decode, a reference to something that does not exist): the
// event goes to the dead-letter topic at once. Wrap it with Permanent.
var ErrPermanent = errors.New("servicekit: permanent failure")

// Permanent wraps err so the consumer dead-letters the event without
// retrying. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}

// RecordPublisher publishes an already-encoded record; the consumer sends
// dead letters through it. kafkabus.ResilientBus implements it (so dead
// letters survive a Kafka outage in the fallback queue); ProducerPublisher
// adapts the plain kafkabus.KafkaBus.
type RecordPublisher interface {
	PublishRecord(ctx context.Context, rec event.Record) error
}

// ProducerPublisher adapts a kafkabus.Producer (such as *KafkaBus) to
// RecordPublisher.
type ProducerPublisher struct {
	Producer interface {
		Produce(ctx context.Context, recs []event.Record) []error
	}
}

// PublishRecord produces rec and returns its outcome.
func (p ProducerPublisher) PublishRecord(ctx context.Context, rec event.Record) error {
	return p.Producer.Produce(ctx, []event.Record{rec})[0]
}

// DeadLetterTopic is the default dead-letter topic of topic: "<topic>.dlq".
func DeadLetterTopic(topic string) string { return topic + ".dlq" }

// Headers the consumer adds to a dead-lettered record, next to the
// original headers.
const (
	HeaderDLQError             = "dlq_error"
	HeaderDLQReason            = "dlq_reason" // "handler_failed" or "malformed_envelope"
	HeaderDLQAttempts          = "dlq_attempts"
	HeaderDLQOriginalTopic     = "dlq_original_topic"
	HeaderDLQOriginalPartition = "dlq_original_partition"
	HeaderDLQOriginalOffset    = "dlq_original_offset"
	HeaderDLQService           = "dlq_service"
	HeaderDLQFailedAt          = "dlq_failed_at"
)

// ConsumerOptions configure a Consumer.
type ConsumerOptions struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// Group is the consumer group. Required.
	Group string
	// Handlers maps each topic to consume to its handler. Required, at
	// least one.
	Handlers map[string]Handler
	// DeadLetters receives dead-lettered records. Required.
	DeadLetters RecordPublisher
	// DeadLetterTopic names a topic's dead-letter topic. Default
	// DeadLetterTopic ("<topic>.dlq").
	DeadLetterTopic func(topic string) string
	// MaxAttempts is how often a failing handler runs per event. Default 5.
	MaxAttempts int
	// RetryBackoff is the wait after the first failure, doubling per
	// attempt up to RetryMaxBackoff. Defaults 200ms and 5s.
	RetryBackoff, RetryMaxBackoff time.Duration
	// Store deduplicates by event_id. Default a MemoryIdempotencyStore
	// with its defaults.
	Store IdempotencyStore
	// Service names the service in the handler's ctx, logs and dead-letter
	// headers.
	Service string
	// Logger receives consumer events (nil: discard).
	Logger *slog.Logger
	// Metrics, when set, counts events by topic and result.
	Metrics *ConsumerMetrics
	// TracerProvider makes the consumer span each event is handled in
	// (default OpenTelemetry's global provider).
	TracerProvider trace.TracerProvider
	// MaxPollRecords bounds the records handled between commits. Default 100.
	MaxPollRecords int
	// CommitTimeout bounds one offset commit. Default 5s.
	CommitTimeout time.Duration
	// SessionTimeout is how long the group waits for a member that stopped
	// heartbeating (a crashed or cut-off process) before its partitions go
	// to the others. Default franz-go's 45s; the broker's
	// group.min.session.timeout.ms and group.max.session.timeout.ms bound
	// it. Heartbeats go every SessionTimeout/3, at most every 3s.
	SessionTimeout time.Duration
	// KgoOpts are extra franz-go options, applied last.
	KgoOpts []kgo.Opt
}

func (o *ConsumerOptions) fill() error {
	switch {
	case len(o.Brokers) == 0:
		return errors.New("servicekit: ConsumerOptions.Brokers is empty: at least one host:port is required")
	case o.Group == "":
		return errors.New("servicekit: ConsumerOptions.Group is empty")
	case len(o.Handlers) == 0:
		return errors.New("servicekit: ConsumerOptions.Handlers is empty: nothing to consume")
	case o.DeadLetters == nil:
		return errors.New("servicekit: ConsumerOptions.DeadLetters is nil: failed events need a dead-letter publisher")
	case o.MaxAttempts < 0 || o.RetryBackoff < 0 || o.RetryMaxBackoff < 0 || o.MaxPollRecords < 0 || o.CommitTimeout < 0 || o.SessionTimeout < 0:
		return fmt.Errorf("servicekit: ConsumerOptions: MaxAttempts=%d RetryBackoff=%v RetryMaxBackoff=%v MaxPollRecords=%d CommitTimeout=%v SessionTimeout=%v: none may be negative (0 means the default)",
			o.MaxAttempts, o.RetryBackoff, o.RetryMaxBackoff, o.MaxPollRecords, o.CommitTimeout, o.SessionTimeout)
	}
	for topic, h := range o.Handlers {
		if topic == "" || h == nil {
			return fmt.Errorf("servicekit: ConsumerOptions.Handlers[%q]: topic and handler must both be set", topic)
		}
	}
	if o.DeadLetterTopic == nil {
		o.DeadLetterTopic = DeadLetterTopic
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = 5
	}
	if o.RetryBackoff == 0 {
		o.RetryBackoff = 200 * time.Millisecond
	}
	if o.RetryMaxBackoff == 0 {
		o.RetryMaxBackoff = 5 * time.Second
	}
	if o.RetryMaxBackoff < o.RetryBackoff {
		return fmt.Errorf("servicekit: ConsumerOptions.RetryMaxBackoff = %v: must be >= RetryBackoff (%v)", o.RetryMaxBackoff, o.RetryBackoff)
	}
	if o.MaxPollRecords == 0 {
		o.MaxPollRecords = 100
	}
	if o.CommitTimeout == 0 {
		o.CommitTimeout = 5 * time.Second
	}
	if o.Store == nil {
		s, err := NewMemoryIdempotencyStore(MemoryIdempotencyOptions{})
		if err != nil {
			return err
		}
		o.Store = s
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	return nil
}

// Consumer consumes topics in a Kafka consumer group (franz-go) and hands
// each event to its topic's handler:
//
//   - Each event_id is handled once per IdempotencyStore: a redelivered or
//     duplicated event is skipped once its first delivery succeeded, and a
//     duplicate arriving while the first is in progress waits for it.
//   - Offsets are committed manually, after the records were handled (or
//     dead-lettered), never before: a crash means redelivery, not loss.
//   - A failing handler is retried with exponential backoff up to
//     MaxAttempts; then the record goes to the dead-letter topic with the
//     error in its headers. A record that is not a valid envelope goes
//     there at once. Nothing is skipped silently: if the dead-letter
//     publish itself is not accepted, it is retried until it is, or until
//     Stop, and the offset stays uncommitted.
//
// Records are handled one at a time, in partition order. Rebalances wait
// until the records of a poll are handled and committed
// (kgo.BlockRebalanceOnPoll), so a member never commits for partitions it
// lost.
type Consumer struct {
	opts   ConsumerOptions
	topics []string
	log    *slog.Logger
	tracer trace.Tracer

	// Set by Start, read by the loop goroutine and Stop.
	cl         *kgo.Client
	pollCtx    context.Context // canceled when Stop begins: finish the record in hand, poll no more
	stopPoll   context.CancelFunc
	handleCtx  context.Context // canceled when Stop gives up: abandon the record in hand
	stopHandle context.CancelFunc
	done       chan struct{} // closed when the loop goroutine exits

	// mu serialises Start and Stop.
	mu               sync.Mutex
	started, stopped bool
	stopErr          error
}

// NewConsumer validates opts and returns a consumer; Start starts it.
func NewConsumer(opts ConsumerOptions) (*Consumer, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	c := &Consumer{opts: opts, log: opts.Logger.With("group", opts.Group), done: make(chan struct{}),
		tracer: opts.TracerProvider.Tracer(tracerName)}
	c.topics = slices.Sorted(maps.Keys(opts.Handlers))
	return c, nil
}

// Topics returns the consumed topics, sorted.
func (c *Consumer) Topics() []string { return slices.Clone(c.topics) }

// Start joins the group and starts consuming in a goroutine. New groups
// start at the earliest offset, so events published before the service
// first started are handled too. Start may be called once.
func (c *Consumer) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started || c.stopped {
		return fmt.Errorf("servicekit: consumer group %s: Start after Start or Stop", c.opts.Group)
	}
	if err := c.start(); err != nil {
		return err
	}
	c.started = true
	return nil
}

func (c *Consumer) start() error {
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.opts.Brokers...),
		kgo.ClientID(c.opts.Service + "-consumer"),
		kgo.ConsumerGroup(c.opts.Group),
		kgo.ConsumeTopics(c.topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
	}
	if st := c.opts.SessionTimeout; st > 0 {
		opts = append(opts, kgo.SessionTimeout(st), kgo.HeartbeatInterval(min(st/3, 3*time.Second)))
	}
	opts = append(opts, c.opts.KgoOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("servicekit: consumer group %s: %w", c.opts.Group, err)
	}
	c.cl = cl
	c.pollCtx, c.stopPoll = context.WithCancel(context.Background())
	c.handleCtx, c.stopHandle = context.WithCancel(context.Background())
	go c.loop()
	c.log.Info("consumer started", "topics", c.topics)
	return nil
}

// Stop stops consuming: the record in hand is finished (until ctx ends,
// then abandoned uncommitted), the handled records are committed, the
// group is left and the client closed. Stop is idempotent; it returns
// ctx's error when it had to abandon work.
func (c *Consumer) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.stopErr
	}
	c.stopped = true
	if c.started {
		c.stopErr = c.stop(ctx)
	}
	return c.stopErr
}

func (c *Consumer) stop(ctx context.Context) error {
	c.stopPoll()
	var err error
	select {
	case <-c.done:
	case <-ctx.Done():
		err = fmt.Errorf("servicekit: consumer group %s: stop: abandoned the event in hand: %w", c.opts.Group, ctx.Err())
		c.stopHandle()
		<-c.done
	}
	c.stopHandle()
	// A leave the brokers cannot hear (Kafka down) must not hold up the
	// shutdown: the session timeout removes the member anyway.
	leaveCtx, cancel := context.WithTimeout(ctx, c.opts.CommitTimeout)
	defer cancel()
	if lerr := c.cl.LeaveGroupContext(leaveCtx); lerr != nil {
		c.log.Warn("leaving the consumer group did not finish; the session timeout will remove this member", "err", lerr)
	}
	c.cl.Close()
	c.log.Info("consumer stopped")
	return err
}

// loop is the consumer goroutine: poll, handle in order, commit, allow a
// rebalance, repeat until Stop.
func (c *Consumer) loop() {
	defer close(c.done)
	var lastFetchErr string
	for {
		fetches := c.cl.PollRecords(c.pollCtx, c.opts.MaxPollRecords)
		if c.pollCtx.Err() != nil || fetches.IsClientClosed() {
			// Records polled after Stop began are left for redelivery.
			c.cl.AllowRebalance()
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			// Repeated identical errors (an outage) are logged once.
			if msg := err.Error(); msg != lastFetchErr {
				lastFetchErr = msg
				c.log.Warn("fetch failed; franz-go retries", "topic", topic, "partition", partition, "err", err)
			}
		})
		recs := fetches.Records()
		handled := make([]*kgo.Record, 0, len(recs))
		stopped := false
		for _, r := range recs {
			if !c.process(r) {
				stopped = true
				break
			}
			handled = append(handled, r)
		}
		c.commit(handled)
		c.cl.AllowRebalance()
		if stopped {
			return
		}
	}
}

// commit commits the offsets of handled. A failed commit is logged: the
// records will be delivered again after a rebalance or restart, and the
// idempotency store skips those already handled.
func (c *Consumer) commit(handled []*kgo.Record) {
	if len(handled) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(c.handleCtx, c.opts.CommitTimeout)
	defer cancel()
	if err := c.cl.CommitRecords(ctx, handled...); err != nil {
		c.log.Warn("offset commit failed; these records may be delivered again", "records", len(handled), "err", err)
	}
}

// sleep waits d, or until Stop begins; it reports whether to go on.
func (c *Consumer) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.pollCtx.Done():
		return false
	}
}

// DeadLetterPublisher returns where the service's consumer sends dead
// letters: the resilient bus when there is one, so a dead letter survives
// a Kafka outage too, else the plain bus.
func (k *Kafka) DeadLetterPublisher() RecordPublisher {
	if k.Resilient != nil {
		return k.Resilient
	}
	return ProducerPublisher{Producer: k.Plain}
}
