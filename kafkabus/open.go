package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// Publisher is the publishing side Open built: the bus to publish through
// and its parts. It is a Bus itself, publishing through Bus.
type Publisher struct {
	// Bus is what to publish through: Resilient, or Kafka when the
	// breaker is disabled.
	Bus Bus
	// Kafka is the franz-go bus. With the breaker enabled Resilient sends
	// through it; health checks ping Kafka with it (Ping).
	Kafka *KafkaBus
	// Resilient is the breaker-guarded bus with its fallback queue, nil
	// with Breaker.Disabled.
	Resilient *ResilientBus
	// Config is the configuration Open ran with, defaults filled in.
	Config Config
}

var _ Bus = (*Publisher)(nil)

// Open builds the publishing side cfg describes, after EnsureDefaults and
// Validate: a KafkaBus, then, unless Breaker.Disabled, the breaker
// (registered in cfg.Registry when set), the fallback queue (the memory
// queue, or the disk spool in Fallback.Dir) and the ResilientBus around
// the KafkaBus. The ResilientBus's drainer starts at once, so records a
// previous process left in the disk spool are replayed before any new
// one. With StartupCheck set, the brokers must answer a ping within it
// first.
//
// Invalid configuration is reported before anything is opened. When a
// later step fails, what was opened is closed again without waiting.
// The caller owns the result and must Close it.
func Open(cfg Config) (*Publisher, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.logger()
	opts := cfg.Options
	opts.Logger = log.With("component", "kafka_producer")
	kb, err := NewKafkaBus(opts)
	if err != nil {
		return nil, err
	}
	abandon := func(err error) (*Publisher, error) { return nil, errors.Join(err, closeAtOnce(kb)) }
	if cfg.StartupCheck > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), cfg.StartupCheck)
		err := kb.Ping(ctx)
		cancel()
		if err != nil {
			return abandon(fmt.Errorf("kafkabus: start-up check: no broker of %v answered within %v: %w",
				cfg.Brokers, ShortDuration(cfg.StartupCheck), err))
		}
	}
	p := &Publisher{Bus: kb, Kafka: kb, Config: cfg}
	if cfg.Breaker.Disabled {
		return p, nil
	}
	cb, err := resilience.NewCircuitBreaker(cfg.breakerSettings())
	if err != nil {
		return abandon(fmt.Errorf("kafkabus: breaker %s: %w", cfg.Breaker.Name, err))
	}
	q, err := cfg.Fallback.open(log.With("component", "kafka_fallback_queue"))
	if err != nil {
		return abandon(fmt.Errorf("kafkabus: fallback queue (%s): %w", cfg.Fallback.Mode, err))
	}
	// Registered last but one: the registry cannot give a breaker back, so
	// nothing that can still fail comes after it but NewResilientBus,
	// whose options Validate has checked.
	if cfg.Registry != nil {
		if err := cfg.Registry.Register(cb); err != nil {
			return abandon(errors.Join(fmt.Errorf("kafkabus: breaker %s: %w", cfg.Breaker.Name, err), q.Close()))
		}
	}
	var producer Producer = kb
	if cfg.WrapProducer != nil {
		producer = cfg.WrapProducer(kb)
	}
	rb, err := NewResilientBus(producer, ResilientOptions{
		Breaker:       cb,
		Queue:         q,
		DrainBatch:    cfg.Drain.Batch,
		DrainInFlight: cfg.Drain.InFlight,
		RetryMin:      cfg.Drain.RetryMin,
		RetryMax:      cfg.Drain.RetryMax,
		OpenPoll:      cfg.Drain.OpenPoll,
		Latency:       cfg.Latency,
		Logger:        log.With("component", "kafka_bus"),
		Tracer:        cfg.Tracer,
	})
	if err != nil {
		return abandon(errors.Join(err, q.Close()))
	}
	p.Bus, p.Resilient = rb, rb
	return p, nil
}

// closeAtOnce closes kb without waiting for anything: on Open's error
// paths nothing has been produced through it.
func closeAtOnce(kb *KafkaBus) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return kb.Close(ctx)
}

// open opens the queue f describes.
func (f FallbackConfig) open(logger *slog.Logger) (spool.Queue, error) {
	if f.Mode == FallbackDisk {
		return spool.OpenDisk(f.Dir, spool.DiskOptions{MaxBytes: f.MaxBytes, Overflow: f.Overflow, Logger: logger})
	}
	return spool.NewMemory(spool.MemoryOptions{MaxRecords: f.QueueSize, Overflow: f.Overflow})
}

// Publish publishes through Bus, with its contract.
func (p *Publisher) Publish(ctx context.Context, topic, key string, env *event.Envelope) error {
	return p.Bus.Publish(ctx, topic, key, env)
}

// Ping reports whether a broker answers (KafkaBus.Ping), for readiness
// checks.
func (p *Publisher) Ping(ctx context.Context) error { return p.Kafka.Ping(ctx) }

// Close closes Bus (see ResilientBus.Close and KafkaBus.Close for what it
// reports), then the KafkaBus, in case a WrapProducer did not pass Close
// on; closing it twice is harmless.
func (p *Publisher) Close(ctx context.Context) error {
	err := p.Bus.Close(ctx)
	if p.Resilient != nil {
		err = errors.Join(err, p.Kafka.Close(ctx))
	}
	return err
}
