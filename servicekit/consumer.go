package servicekit

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/kafkaconsumer"
)

// newConsumer builds the service's consumer of subs from its settings:
// group, retries and session timeout from the KAFKA_CONSUMER_* variables,
// dead letters through the service's bus (so they survive a Kafka outage
// in the fallback queue), deduplication by store.
func newConsumer(s Settings, subs []Subscription, k *Kafka, store kafkaconsumer.IdempotencyStore,
	metrics *kafkaconsumer.Metrics, log *slog.Logger, tp trace.TracerProvider) (*kafkaconsumer.Consumer, error) {
	handlers := make(map[string]kafkaconsumer.Handler, len(subs))
	for _, sub := range subs {
		if _, dup := handlers[sub.Topic]; dup {
			return nil, fmt.Errorf("servicekit: %s: two subscriptions for topic %q", s.Service, sub.Topic)
		}
		handlers[sub.Topic] = sub.Handler
	}
	c, err := kafkaconsumer.New(kafkaconsumer.Options{
		Brokers:         s.Kafka.Brokers,
		Group:           s.ConsumerGroup,
		Handlers:        handlers,
		DeadLetters:     k.DeadLetterPublisher(),
		MaxAttempts:     s.ConsumerMaxAttempts,
		RetryBackoff:    time.Duration(s.ConsumerRetryBackoff),
		RetryMaxBackoff: time.Duration(s.ConsumerRetryMaxBackoff),
		SessionTimeout:  time.Duration(s.ConsumerSessionTimeout),
		Store:           store,
		Service:         s.Service,
		Logger:          log.With("component", "kafka_consumer"),
		Metrics:         metrics,
		TracerProvider:  tp,
		KgoOpts:         []kgo.Opt{kgo.MetadataMinAge(s.Kafka.MetadataMinAge)},
	})
	if err != nil {
		return nil, fmt.Errorf("servicekit: %s: %w", s.Service, err)
	}
	return c, nil
}

// DeadLetterPublisher returns where the service's consumer sends dead
// letters: in outbox mode the outbox, in a transaction of their own; the
// resilient bus when there is one, so a dead letter survives a Kafka
// outage too; else the plain bus.
func (k *Kafka) DeadLetterPublisher() kafkaconsumer.RecordPublisher {
	direct := kafkaconsumer.ProducerPublisher{Producer: k.Plain}
	switch {
	case k.Outbox != nil:
		return outboxDeadLetters{bus: k.Outbox, direct: direct}
	case k.Resilient != nil:
		return k.Resilient
	}
	return direct
}

// newConsumerMetrics returns the consumer's counters, registered on reg.
func newConsumerMetrics(s Settings, reg *prometheus.Registry) (*kafkaconsumer.Metrics, error) {
	m := kafkaconsumer.NewMetrics(s.Service)
	if err := reg.Register(m); err != nil {
		return nil, err
	}
	return m, nil
}

// newIdempotencyStore is the consumer's deduplication: with a database,
// its processed_events table, marked in the handler's transaction;
// otherwise in memory, bounded by KAFKA_CONSUMER_IDEMPOTENCY_*.
func newIdempotencyStore(s Settings, db *Database) (kafkaconsumer.IdempotencyStore, error) {
	if db != nil {
		return db.Processed, nil
	}
	return kafkaconsumer.NewMemoryIdempotencyStore(kafkaconsumer.MemoryIdempotencyOptions{
		TTL:        time.Duration(s.IdempotencyTTL),
		MaxEntries: s.IdempotencyMaxEntries,
	})
}
