package kafkaconsumer

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
	"go.opentelemetry.io/otel/trace"
)

// Consumer consumes topics in a Kafka consumer group (franz-go) and hands
// each event to its topic's handler:
//
//   - Each event_id is handled once per IdempotencyStore: a redelivered or
//     duplicated event is skipped once its first delivery succeeded, and a
//     duplicate arriving while the first is in progress waits for it. A
//     failed attempt does not mark the event processed.
//   - Offsets are committed manually, after the records were handled (or
//     dead-lettered), never before: a crash means redelivery, not loss.
//   - A failing handler is retried with exponential backoff up to
//     MaxAttempts; then the record goes to the dead-letter topic with the
//     error in its headers. A record that is not a valid envelope goes
//     there at once. Nothing is skipped silently: if the dead-letter
//     publish itself is not accepted, it is retried until it is, or until
//     Stop, and the offset stays uncommitted. Without a dead-letter
//     publisher such a record stops the consumer instead: it and the
//     records after it stay uncommitted, Done is closed and Err returns
//     an *UnhandledError naming it.
//
// Records are handled one at a time, in partition order. Rebalances wait
// until the records of a poll are handled and committed
// (kgo.BlockRebalanceOnPoll), so a member never commits for partitions it
// lost.
type Consumer struct {
	opts   Options
	topics []string
	log    *slog.Logger
	tracer trace.Tracer

	// Set by Start, read by the loop goroutine and Stop.
	cl         *kgo.Client
	pollCtx    context.Context // canceled when Stop begins: finish the record in hand, poll no more
	stopPoll   context.CancelFunc
	handleCtx  context.Context // canceled when Stop gives up: abandon the record in hand
	stopHandle context.CancelFunc
	done       chan struct{} // closed when consuming ended: the loop goroutine exited, or Stop without Start
	// failure is the record that stopped the loop, set by the loop
	// goroutine before it closes done; read only after done is closed.
	failure *UnhandledError

	// mu serialises Start and Stop.
	mu               sync.Mutex
	started, stopped bool
	stopErr          error
}

// UnhandledError is why a Consumer without a dead-letter publisher
// stopped: the record it could not handle (its handler failed
// MaxAttempts times or permanently, or it is not a valid envelope). The
// record and those after it in its partition are not committed, so the
// group's next consumer begins with it.
type UnhandledError struct {
	Group     string
	Topic     string
	Partition int32
	Offset    int64
	// EventID is the envelope's event_id; empty for a malformed
	// envelope.
	EventID string
	// Reason is "handler_failed" or "malformed_envelope", as in the
	// dlq_reason header of a dead letter.
	Reason string
	// Attempts is how often the handler ran (0 for a malformed envelope).
	Attempts int
	// Err is the handler's last error, or why the envelope is malformed.
	Err error
}

// Error names the record, the cause and what became of it.
func (e *UnhandledError) Error() string {
	what := fmt.Sprintf("event %s failed %d attempt(s)", e.EventID, e.Attempts)
	if e.Reason == reasonMalformed {
		what = "not a valid event envelope"
	}
	return fmt.Sprintf("kafkaconsumer: consumer group %s: %s partition %d offset %d: %s: %v "+
		"(no dead-letter publisher: consuming stopped, the record stays uncommitted)",
		e.Group, e.Topic, e.Partition, e.Offset, what, e.Err)
}

// Unwrap returns the cause.
func (e *UnhandledError) Unwrap() error { return e.Err }

// New validates opts and returns a consumer; Start starts it.
func New(opts Options) (*Consumer, error) {
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
		return fmt.Errorf("kafkaconsumer: consumer group %s: Start after Start or Stop", c.opts.Group)
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
		return fmt.Errorf("kafkaconsumer: consumer group %s: %w", c.opts.Group, err)
	}
	c.cl = cl
	c.pollCtx, c.stopPoll = context.WithCancel(context.Background())
	c.handleCtx, c.stopHandle = context.WithCancel(context.Background())
	go c.loop()
	c.log.Info("consumer started", "topics", c.topics)
	return nil
}

// Done is closed when the consumer no longer consumes: after Stop, or
// when a record without a dead-letter publisher stopped it (Err says
// which). A program reading a topic waits on it beside its own signal.
func (c *Consumer) Done() <-chan struct{} { return c.done }

// Err returns the *UnhandledError that stopped the consumer on its own,
// or nil: while it runs, after a Stop, and always with a dead-letter
// publisher.
func (c *Consumer) Err() error {
	select {
	case <-c.done:
		if c.failure != nil {
			return c.failure
		}
	default:
	}
	return nil
}

// Stop stops consuming: the record in hand is finished (until ctx ends,
// then abandoned uncommitted), the handled records are committed, the
// group is left and the client closed. A consumer that stopped on its own
// (Done, Err) must be stopped too, to leave the group. Stop is idempotent;
// it returns Err's error, and ctx's when it had to abandon work.
func (c *Consumer) Stop(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.stopErr
	}
	c.stopped = true
	if !c.started {
		close(c.done)
		return nil
	}
	c.stopErr = c.stop(ctx)
	return c.stopErr
}

func (c *Consumer) stop(ctx context.Context) error {
	c.stopPoll()
	var err error
	select {
	case <-c.done:
	case <-ctx.Done():
		err = fmt.Errorf("kafkaconsumer: consumer group %s: stop: abandoned the event in hand: %w", c.opts.Group, ctx.Err())
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
	return errors.Join(c.Err(), err)
}

// loop is the consumer goroutine: poll, handle in order, commit, allow a
// rebalance, repeat until Stop or a record that cannot be settled.
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
				// Stop began, or the record failed with nowhere to go
				// (c.failure): it and the rest stay uncommitted.
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
