package kafkaconsumer

import (
	"context"
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
	done       chan struct{} // closed when the loop goroutine exits

	// mu serialises Start and Stop.
	mu               sync.Mutex
	started, stopped bool
	stopErr          error
}

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
