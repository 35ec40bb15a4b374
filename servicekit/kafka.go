package servicekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

// Kafka is a service's Kafka publishing side, built from its Settings by
// NewKafka. Services publish through Bus and nothing else.
type Kafka struct {
	// Bus is what services publish through: Resilient when
	// CIRCUIT_BREAKER_ENABLED=true, else Plain.
	Bus kafkabus.Bus
	// Plain is the franz-go bus; with breakers enabled, Resilient sends
	// through it. Readiness pings Kafka with it.
	Plain *kafkabus.KafkaBus
	// Resilient is the breaker-guarded bus with its fallback queue, nil
	// when CIRCUIT_BREAKER_ENABLED=false.
	Resilient *kafkabus.ResilientBus
}

// NewKafka builds the bus s describes. With CircuitBreakerEnabled it opens
// the fallback queue (memory, or the disk spool in s.FallbackDir), creates
// the breaker "<service>.kafka_producer" in breakers with the configured
// thresholds and returns a ResilientBus around the plain bus; its drainer
// starts at once, so records a previous process left in the disk spool
// are replayed before any new one. Without, the plain bus is returned as
// before breakers existed. When metrics is not nil, the bus collector and
// the publish latency histogram are registered on it.
//
// The bus's kafka.publish and kafka.replay spans come from OpenTelemetry's
// global tracer provider. The caller owns the result and must Close it.
func NewKafka(s Settings, breakers *resilience.Registry, metrics *prometheus.Registry, logger *slog.Logger) (*Kafka, error) {
	return newKafkaTraced(s, breakers, metrics, logger, nil)
}

// kafkabusTracerName is the instrumentation scope kafkabus gives its own
// spans, kept for the tracer servicekit hands it.
const kafkabusTracerName = "github.com/huleedu/huleedu/kafkabus"

// newKafkaTraced is NewKafka with the ResilientBus's spans from tracer
// (nil: the global provider's).
func newKafkaTraced(s Settings, breakers *resilience.Registry, metrics *prometheus.Registry, logger *slog.Logger, tracer trace.Tracer) (*Kafka, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	plain, err := kafkabus.NewKafkaBus(kafkabus.Options{
		Brokers:                s.BootstrapServers,
		ClientID:               s.Service,
		PublishTimeout:         time.Duration(s.PublishTimeout),
		AllowAutoTopicCreation: s.AutoCreateTopics,
		Logger:                 logger.With("component", "kafka_producer"),
		KgoOpts:                []kgo.Opt{kgo.MetadataMinAge(time.Duration(s.MetadataMinAge))},
	})
	if err != nil {
		return nil, fmt.Errorf("servicekit: %s: kafka bus: %w", s.Service, err)
	}
	if !s.CircuitBreakerEnabled {
		return &Kafka{Bus: plain, Plain: plain}, nil
	}
	abandon := func(err error) (*Kafka, error) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // nothing was published: close without waiting
		return nil, errors.Join(err, plain.Close(ctx))
	}
	cb, err := breakers.Create(s.KafkaBreakerSettings())
	if err != nil {
		return abandon(fmt.Errorf("servicekit: %s: kafka producer breaker: %w", s.Service, err))
	}
	q, err := s.OpenQueue(logger.With("component", "kafka_fallback_queue"))
	if err != nil {
		return abandon(fmt.Errorf("servicekit: %s: kafka fallback queue (%s): %w", s.Service, s.FallbackMode, err))
	}
	var latency prometheus.Histogram
	if metrics != nil {
		latency = observability.NewPublishLatency(s.Service)
	}
	opts := kafkabus.ResilientOptions{Breaker: cb, Queue: q, Logger: logger.With("component", "kafka_bus"), Tracer: tracer}
	if latency != nil {
		opts.Latency = latency
	}
	rb, err := kafkabus.NewResilientBus(plain, opts)
	if err != nil {
		return abandon(errors.Join(fmt.Errorf("servicekit: %s: resilient bus: %w", s.Service, err), q.Close()))
	}
	if metrics != nil {
		if err := metrics.Register(latency); err != nil {
			return abandon(errors.Join(err, rb.Close(context.Background())))
		}
		if err := metrics.Register(observability.NewBusCollector(s.Service, rb)); err != nil {
			return abandon(errors.Join(err, rb.Close(context.Background())))
		}
	}
	return &Kafka{Bus: rb, Plain: plain, Resilient: rb}, nil
}

// Close closes the bus: with breakers enabled the drainer delivers what it
// can until ctx ends; the disk spool keeps the rest for the next start,
// the memory queue's rest is reported in a *kafkabus.UndeliveredError.
func (k *Kafka) Close(ctx context.Context) error { return k.Bus.Close(ctx) }
