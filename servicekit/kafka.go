package servicekit

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
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

	pub *kafkabus.Publisher // what kafkabus.Open built; closed by Close
}

// NewKafka opens the publishing side s.Kafka describes with kafkabus.Open:
// with breakers enabled the fallback queue (memory, or the disk spool in
// KAFKA_FALLBACK_DIR), the breaker "<service>.kafka_producer", registered
// in breakers, and a ResilientBus around the plain bus, whose drainer
// starts at once, so records a previous process left in the disk spool
// are replayed before any new one; without, the plain bus, as before
// breakers existed. With KAFKA_STARTUP_CHECK_TIMEOUT set the brokers must
// answer a ping within it. When metrics is not nil, the bus collector and
// the publish latency histogram are registered on it, before the bus
// starts: a registration that fails leaves nothing to undo. Logs go to
// logger (nil: slog.Default()).
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
		logger = slog.Default()
	}
	cfg := s.Kafka
	cfg.Logger, cfg.Registry, cfg.Tracer = logger, breakers, tracer
	source := &busStats{}
	var collectors []prometheus.Collector
	if metrics != nil && !cfg.Breaker.Disabled {
		latency := observability.NewPublishLatency(s.Service)
		cfg.Latency = latency
		for _, c := range []prometheus.Collector{latency, observability.NewBusCollector(s.Service, source)} {
			if err := metrics.Register(c); err != nil {
				unregister(metrics, collectors)
				return nil, fmt.Errorf("servicekit: %s: registering the kafka bus metrics: %w", s.Service, err)
			}
			collectors = append(collectors, c)
		}
	}
	p, err := kafkabus.Open(cfg)
	if err != nil {
		unregister(metrics, collectors)
		return nil, fmt.Errorf("servicekit: %s: kafka: %w", s.Service, err)
	}
	source.rb.Store(p.Resilient)
	return &Kafka{Bus: p.Bus, Plain: p.Kafka, Resilient: p.Resilient, pub: p}, nil
}

func unregister(metrics *prometheus.Registry, collectors []prometheus.Collector) {
	for _, c := range collectors {
		metrics.Unregister(c)
	}
}

// busStats is the bus collector's source. It is registered before the bus
// exists, so that a failed registration comes before anything starts, and
// reads nothing until NewKafka sets the bus.
type busStats struct {
	rb atomic.Pointer[kafkabus.ResilientBus]
}

func (b *busStats) Stats() kafkabus.Stats {
	if rb := b.rb.Load(); rb != nil {
		return rb.Stats()
	}
	return kafkabus.Stats{}
}

// Close closes the bus: with breakers enabled the drainer delivers what it
// can until ctx ends; the disk spool keeps the rest for the next start,
// the memory queue's rest is reported in a *kafkabus.UndeliveredError (see
// kafkabus.ResilientBus.Close).
func (k *Kafka) Close(ctx context.Context) error {
	if k.pub != nil {
		return k.pub.Close(ctx)
	}
	return k.Bus.Close(ctx)
}
