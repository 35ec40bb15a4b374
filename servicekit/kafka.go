package servicekit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/outbox"
	"github.com/huleedu/huleedu/resilience"
)

// Kafka is a service's Kafka publishing side, built from its Settings by
// NewKafka (and, for a service with a database, by servicekit's module).
// Services publish through Bus and nothing else.
type Kafka struct {
	// Mode is how the service publishes (Settings.PublishMode).
	Mode PublishMode
	// Bus is what services publish through: Outbox in outbox mode,
	// Resilient when CIRCUIT_BREAKER_ENABLED=true, else Plain.
	Bus kafkabus.Bus
	// Plain is the franz-go bus; Resilient and the outbox relay send
	// through it. Readiness pings Kafka with it.
	Plain *kafkabus.KafkaBus
	// Resilient is the breaker-guarded bus with its fallback queue, nil
	// unless Mode is PublishResilient.
	Resilient *kafkabus.ResilientBus
	// Outbox writes events into the service's outbox, in the state
	// change's transaction, and Relay publishes them, through the
	// producer breaker Breaker ("<service>.kafka_producer"); all three
	// nil unless Mode is PublishOutbox. The Runner runs the relay.
	Outbox  *OutboxBus
	Relay   *outbox.Relay
	Breaker *resilience.CircuitBreaker

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
	return newKafkaTraced(s, breakers, metrics, logger, nil, nil)
}

// kafkabusTracerName is the instrumentation scope kafkabus gives its own
// spans, kept for the tracer servicekit hands it.
const kafkabusTracerName = "github.com/huleedu/huleedu/kafkabus"

// newKafkaTraced is NewKafka with the ResilientBus's spans from tracer
// (nil: the global provider's), and for a service with a database (db
// not nil) the publish mode Settings.PublishMode chooses.
func newKafkaTraced(s Settings, breakers *resilience.Registry, metrics *prometheus.Registry, logger *slog.Logger,
	tracer trace.Tracer, db *Database) (*Kafka, error) {
	if logger == nil {
		logger = slog.Default()
	}
	mode, err := s.PublishMode(db != nil)
	if err != nil {
		return nil, err
	}
	if mode == PublishOutbox {
		return newOutboxKafka(s, breakers, metrics, logger, tracer, db)
	}
	if db != nil && mode == PublishResilient {
		logger.Warn("KAFKA_FALLBACK_MODE is not outbox: events are published before their state change commits, not with it",
			"fallback_mode", s.Kafka.Fallback.Mode)
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
	mode = PublishResilient
	if p.Resilient == nil {
		mode = PublishPlain
	}
	return &Kafka{Mode: mode, Bus: p.Bus, Plain: p.Kafka, Resilient: p.Resilient, pub: p}, nil
}

// newOutboxKafka builds the publishing side of outbox mode: the plain
// franz-go bus, the producer breaker "<service>.kafka_producer" (with the
// KAFKA_CIRCUIT_BREAKER_* settings) registered in breakers, the outbox bus
// services publish through (its kafka.publish spans from tracer), and the
// relay behind the breaker. The outbox
// metrics (depth, oldest age, dead letters, relays, latency) are
// registered on metrics first.
func newOutboxKafka(s Settings, breakers *resilience.Registry, metrics *prometheus.Registry, logger *slog.Logger,
	tracer trace.Tracer, db *Database) (*Kafka, error) {
	source := &relayStats{}
	latency := observability.NewOutboxPublishLatency(s.Service)
	var collectors []prometheus.Collector
	if metrics != nil {
		for _, c := range []prometheus.Collector{latency, observability.NewOutboxCollector(s.Service, db.Outbox, source)} {
			if err := metrics.Register(c); err != nil {
				unregister(metrics, collectors)
				return nil, fmt.Errorf("servicekit: %s: registering the outbox metrics: %w", s.Service, err)
			}
			collectors = append(collectors, c)
		}
	}
	fail := func(err error, p *kafkabus.Publisher) (*Kafka, error) {
		unregister(metrics, collectors)
		if p != nil {
			err = errors.Join(err, closeAtOnce(p))
		}
		return nil, err
	}
	cfg := s.Kafka
	cfg.Logger = logger
	cfg.Breaker.Disabled = true // the relay has the breaker; there is no fallback queue
	p, err := kafkabus.Open(cfg)
	if err != nil {
		return fail(fmt.Errorf("servicekit: %s: kafka: %w", s.Service, err), nil)
	}
	// The registry cannot give a breaker back: nothing that can fail but
	// the relay's options, which Validate has checked, comes after it.
	cb, err := breakers.Create(s.KafkaBreakerSettings())
	if err != nil {
		return fail(fmt.Errorf("servicekit: %s: breaker %s: %w", s.Service, s.Kafka.Breaker.Name, err), p)
	}
	opts := s.RelayOptions()
	opts.Latency = latency
	opts.Logger = logger.With("component", "outbox_relay")
	relay, err := outbox.NewRelay(db.Outbox, p.Kafka, cb, opts)
	if err != nil {
		return fail(fmt.Errorf("servicekit: %s: outbox relay: %w", s.Service, err), p)
	}
	source.relay.Store(relay)
	bus := NewOutboxBus(db.DB, db.Outbox, tracer)
	return &Kafka{Mode: PublishOutbox, Bus: bus, Plain: p.Kafka, Outbox: bus, Relay: relay, Breaker: cb, pub: p}, nil
}

// closeAtOnce closes p without waiting: on the error paths nothing was
// produced through it.
func closeAtOnce(p *kafkabus.Publisher) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return p.Close(ctx)
}

// relayStats is the outbox collector's view of the relay, which exists
// only after the collector was registered.
type relayStats struct {
	relay atomic.Pointer[outbox.Relay]
}

func (r *relayStats) Stats() outbox.RelayStats {
	if rl := r.relay.Load(); rl != nil {
		return rl.Stats()
	}
	return outbox.RelayStats{}
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
	if k.Outbox != nil {
		_ = k.Outbox.Close(ctx) // only refuses later publishes
	}
	if k.pub != nil {
		return k.pub.Close(ctx)
	}
	return k.Bus.Close(ctx)
}
