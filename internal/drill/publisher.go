package drill

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// Drill records are envelopes of this type from this source.
const (
	recordType   = "huleedu.drill.record.v1"
	recordSource = "huleedu-drill"
)

// recordData is the data of every drill envelope. Run tells this drill's
// records from those of earlier drills on the same topic.
type recordData struct {
	Run string `json:"run"`
	Seq int64  `json:"seq"`
	Key string `json:"key"`
	Pad string `json:"pad,omitempty"`
}

// publisher is where the scheduler hands seqs: the bus in this process
// (localPublisher) or in a child process (childPublisher).
type publisher interface {
	// submit hands seq to the worker that owns its key. It blocks while
	// that worker's backlog is full, which slows the workload down the way
	// a synchronous caller would be slowed.
	submit(ctx context.Context, seq int64) error
	// status is the bus's state now.
	status() pubStatus
	// finish publishes what was submitted, then closes the bus, letting it
	// drain until ctx ends. It returns the final status.
	finish(ctx context.Context) (pubStatus, error)
}

// pubStatus is a publisher's bus as seen at one moment. Counters are
// cumulative over every publisher process of the drill.
type pubStatus struct {
	Up           bool   `json:"up"`
	State        string `json:"state"`
	Depth        int64  `json:"depth"`
	Bytes        int64  `json:"bytes"`
	Published    int64  `json:"published"`
	Spooled      int64  `json:"spooled"`
	Replayed     int64  `json:"replayed"`
	DeadLettered int64  `json:"dead_lettered"`
	Undelivered  int64  `json:"undelivered"`         // memory queue leftovers at Close
	CloseErr     string `json:"close_err,omitempty"` // what the bus's Close reported
}

// publisherConfig is what a publisher needs to build its bus. It crosses
// the process boundary as JSON when the publisher is a child.
type publisherConfig struct {
	Brokers          []string      `json:"brokers"`
	Topic            string        `json:"topic"`
	Run              string        `json:"run"`
	Start            time.Time     `json:"start"`
	Size             int           `json:"size"`
	Keys             int           `json:"keys"`
	Workers          int           `json:"workers"`
	Fallback         string        `json:"fallback"`
	SpoolDir         string        `json:"spool_dir"`
	SpoolMaxBytes    int64         `json:"spool_max_bytes"`
	QueueSize        int           `json:"queue_size"`
	Overflow         string        `json:"overflow"`
	PublishTimeout   time.Duration `json:"publish_timeout"`
	FailureThreshold int           `json:"failure_threshold"`
	RecoveryTimeout  time.Duration `json:"recovery_timeout"`
	SuccessThreshold int           `json:"success_threshold"`
}

// keyOf returns the partition key of seq and its index.
func keyOf(seq int64, keys int) (string, int) {
	n := int(seq % int64(keys))
	return "key-" + strconv.Itoa(n), n
}

// padding returns the pad that brings a record's value to about size
// bytes, measured on an envelope with a seven-digit seq.
func padding(cfg publisherConfig) (string, error) {
	env, err := event.NewEnvelope(recordType, recordSource, recordData{Run: cfg.Run, Seq: 1_000_000, Key: "key-" + strconv.Itoa(cfg.Keys)})
	if err != nil {
		return "", err
	}
	rec, err := env.Record(cfg.Topic, "k")
	if err != nil {
		return "", err
	}
	const padField = len(`,"pad":""`)
	return strings.Repeat("x", max(cfg.Size-len(rec.Value)-padField, 0)), nil
}

// localPublisher runs the bus in this process: Workers goroutines, each
// owning the keys k with k % Workers == its index and publishing their
// records one at a time.
type localPublisher struct {
	cfg   publisherConfig
	bus   *kafkabus.ResilientBus
	kb    *kafkabus.KafkaBus // closed by bus.Close, and again (idempotent) in case a wrapper hid it
	cb    *resilience.CircuitBreaker
	sink  sink
	log   *slog.Logger
	pad   string
	queue []chan int64
	wg    sync.WaitGroup
	// ctx ends the workers' Publish calls early (interrupt); it is the
	// context the publisher was started with.
	ctx context.Context
	// warned limits how many rejections are logged; guarded by warnMu.
	warnMu sync.Mutex
	warned int
}

// workerBacklog is how many seqs may wait for one worker before submit
// blocks.
const workerBacklog = 512

// startLocal builds the bus and starts the workers. wrap, when set, sits
// between the bus and Kafka (tests plant misbehaviour there).
func startLocal(ctx context.Context, cfg publisherConfig, s sink, log *slog.Logger, wrap func(kafkabus.Producer) kafkabus.Producer) (*localPublisher, error) {
	pad, err := padding(cfg)
	if err != nil {
		return nil, fmt.Errorf("drill: building the record template: %w", err)
	}
	kb, err := kafkabus.NewKafkaBus(kafkabus.Options{
		Brokers:        cfg.Brokers,
		ClientID:       "huleedu-drill",
		PublishTimeout: cfg.PublishTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("drill: kafka producer: %w", err)
	}
	var producer kafkabus.Producer = kb
	if wrap != nil {
		producer = wrap(kb)
	}
	closeProducer := func() { _ = kb.Close(context.Background()) }

	start := cfg.Start
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{
		Name:             "drill.kafka_producer",
		FailureThreshold: cfg.FailureThreshold,
		RecoveryTimeout:  cfg.RecoveryTimeout,
		SuccessThreshold: cfg.SuccessThreshold,
		OnStateChange: func(_ string, from, to resilience.State) {
			s.transition(time.Since(start), from.String(), to.String())
		},
	})
	if err != nil {
		closeProducer()
		return nil, fmt.Errorf("drill: circuit breaker: %w", err)
	}
	overflow, err := spool.ParseOverflow(cfg.Overflow)
	if err != nil {
		closeProducer()
		return nil, err
	}
	var q spool.Queue
	switch cfg.Fallback {
	case FallbackMemory:
		q, err = spool.NewMemory(spool.MemoryOptions{MaxRecords: cfg.QueueSize, Overflow: overflow})
	default:
		q, err = spool.OpenDisk(cfg.SpoolDir, spool.DiskOptions{MaxBytes: cfg.SpoolMaxBytes, Overflow: overflow, Logger: log})
	}
	if err != nil {
		closeProducer()
		return nil, fmt.Errorf("drill: fallback queue: %w", err)
	}
	bus, err := kafkabus.NewResilientBus(producer, kafkabus.ResilientOptions{
		Breaker: cb,
		Queue:   q,
		// Short back-off and poll: the drill measures how fast the bus
		// recovers, so it should not sleep long past a healed fault.
		RetryMin: 50 * time.Millisecond,
		RetryMax: time.Second,
		OpenPoll: 250 * time.Millisecond,
		Logger:   log,
	})
	if err != nil {
		_ = q.Close()
		closeProducer()
		return nil, fmt.Errorf("drill: resilient bus: %w", err)
	}
	p := &localPublisher{cfg: cfg, bus: bus, kb: kb, cb: cb, sink: s, log: log, pad: pad, ctx: ctx}
	p.queue = make([]chan int64, cfg.Workers)
	for i := range p.queue {
		p.queue[i] = make(chan int64, workerBacklog)
		p.wg.Add(1)
		go p.work(p.queue[i])
	}
	return p, nil
}

func (p *localPublisher) work(seqs <-chan int64) {
	defer p.wg.Done()
	for seq := range seqs {
		p.publish(seq)
	}
}

func (p *localPublisher) publish(seq int64) {
	key, _ := keyOf(seq, p.cfg.Keys)
	env, err := event.NewEnvelope(recordType, recordSource, recordData{Run: p.cfg.Run, Seq: seq, Key: key, Pad: p.pad})
	p.sink.started(seq)
	t0 := time.Now()
	if err == nil {
		err = p.bus.Publish(p.ctx, p.cfg.Topic, key, env)
	}
	now := time.Now()
	p.sink.finished(seq, err == nil, now.Sub(t0), now.Sub(p.cfg.Start))
	if err != nil {
		p.warnMu.Lock()
		p.warned++
		n := p.warned
		p.warnMu.Unlock()
		if n <= 5 {
			p.log.Warn("publish not accepted", "seq", seq, "key", key, "err", err)
		}
	}
}

func (p *localPublisher) submit(ctx context.Context, seq int64) error {
	_, n := keyOf(seq, p.cfg.Keys)
	select {
	case p.queue[n%len(p.queue)] <- seq:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *localPublisher) status() pubStatus {
	st := p.bus.Stats()
	return pubStatus{
		Up:           true,
		State:        p.cb.State().String(),
		Depth:        st.Queue.Records,
		Bytes:        st.Queue.Bytes,
		Published:    int64(st.Published),
		Spooled:      int64(st.Spooled),
		Replayed:     int64(st.Replayed),
		DeadLettered: int64(st.DeadLettered),
	}
}

// finish stops the workers once they have published every submitted seq,
// then closes the bus within ctx. What Close could not do is not an error
// of the drill but part of its result: leftovers of a memory queue are
// counted in Undelivered, anything else Close reports is kept in CloseErr,
// and the verifier judges what reached Kafka.
func (p *localPublisher) finish(ctx context.Context) (pubStatus, error) {
	for _, q := range p.queue {
		close(q)
	}
	p.wg.Wait()
	err := errors.Join(p.bus.Close(ctx), p.kb.Close(ctx))
	st := p.status()
	st.Up = false
	var ue *kafkabus.UndeliveredError
	if errors.As(err, &ue) {
		st.Undelivered = int64(ue.Count)
	}
	if err != nil {
		st.CloseErr = err.Error()
		p.log.Warn("closing the bus did not finish cleanly", "err", err)
	}
	return st, nil
}
