package kafkaconsumer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// Options configure a Consumer.
type Options struct {
	// Brokers are the bootstrap addresses. Required.
	Brokers []string
	// Group is the consumer group. Required.
	Group string
	// Handlers maps each topic to consume to its handler. Required, at
	// least one.
	Handlers map[string]Handler
	// DeadLetters receives the records that cannot be handled, with the
	// error in their headers; kafkabus.ResilientBus is one (so a dead
	// letter survives a Kafka outage), ProducerPublisher adapts the plain
	// bus. Optional: without it a record that cannot be handled stops the
	// consumer at that record, uncommitted, and Err reports it (see
	// UnhandledError). Services set it; a program that reads a topic
	// back need not.
	DeadLetters RecordPublisher
	// DeadLetterTopic names a topic's dead-letter topic. Default
	// DeadLetterTopic ("<topic>.dlq").
	DeadLetterTopic func(topic string) string
	// MaxAttempts is how often a failing handler runs per event. Default 5.
	MaxAttempts int
	// RetryBackoff is the wait after the first failure, doubling per
	// attempt up to RetryMaxBackoff. Defaults 200ms and 5s.
	RetryBackoff, RetryMaxBackoff time.Duration
	// Store decides whether an event was processed already and marks it
	// when its handler succeeds. Default a MemoryIdempotencyStore with its
	// defaults; a service with a database gives a store that marks the
	// event in the handler's transaction (see IdempotencyStore);
	// EveryDelivery handles every delivery.
	Store IdempotencyStore
	// Service names the service in the handler's ctx, logs and dead-letter
	// headers.
	Service string
	// Logger receives consumer events: retries, dead letters, fetch and
	// commit failures, a stop at an unhandled record (nil: slog.Default()).
	Logger *slog.Logger
	// Metrics, when set, counts events by topic and result.
	Metrics *Metrics
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

func (o *Options) fill() error {
	switch {
	case len(o.Brokers) == 0:
		return errors.New("kafkaconsumer: Options.Brokers is empty: at least one host:port is required")
	case o.Group == "":
		return errors.New("kafkaconsumer: Options.Group is empty")
	case len(o.Handlers) == 0:
		return errors.New("kafkaconsumer: Options.Handlers is empty: nothing to consume")
	case o.MaxAttempts < 0 || o.RetryBackoff < 0 || o.RetryMaxBackoff < 0 || o.MaxPollRecords < 0 || o.CommitTimeout < 0 || o.SessionTimeout < 0:
		return fmt.Errorf("kafkaconsumer: Options: MaxAttempts=%d RetryBackoff=%v RetryMaxBackoff=%v MaxPollRecords=%d CommitTimeout=%v SessionTimeout=%v: none may be negative (0 means the default)",
			o.MaxAttempts, o.RetryBackoff, o.RetryMaxBackoff, o.MaxPollRecords, o.CommitTimeout, o.SessionTimeout)
	}
	for topic, h := range o.Handlers {
		if topic == "" || h == nil {
			return fmt.Errorf("kafkaconsumer: Options.Handlers[%q]: topic and handler must both be set", topic)
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
		return fmt.Errorf("kafkaconsumer: Options.RetryMaxBackoff = %v: must be >= RetryBackoff (%v)", o.RetryMaxBackoff, o.RetryBackoff)
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
		o.Logger = slog.Default()
	}
	if o.TracerProvider == nil {
		o.TracerProvider = otel.GetTracerProvider()
	}
	return nil
}
