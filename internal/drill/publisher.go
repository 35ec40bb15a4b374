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
// the process boundary as JSON when the publisher is a child: Bus is the
// kafkabus.Config the drill runs, without its live objects.
type publisherConfig struct {
	Bus     kafkabus.Config `json:"bus"`
	Topic   string          `json:"topic"`
	Run     string          `json:"run"`
	Start   time.Time       `json:"start"`
	Size    int             `json:"size"`
	Keys    int             `json:"keys"`
	Workers int             `json:"workers"`
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
	pub   *kafkabus.Publisher // what kafkabus.Open built from cfg.Bus
	bus   *kafkabus.ResilientBus
	sink  sink
	log   *slog.Logger
	pad   string
	queue []chan int64
	wg    sync.WaitGroup
	// unsubscribe stops the breaker's transitions reaching sink.
	unsubscribe func()
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

// startLocal opens the bus cfg.Bus describes, exactly as a service would
// (kafkabus.Open), and starts the workers. wrap, when set, sits between
// the bus and Kafka (tests plant misbehaviour there).
func startLocal(ctx context.Context, cfg publisherConfig, s sink, log *slog.Logger, wrap func(kafkabus.Producer) kafkabus.Producer) (*localPublisher, error) {
	pad, err := padding(cfg)
	if err != nil {
		return nil, fmt.Errorf("drill: building the record template: %w", err)
	}
	// The breaker is registered in a registry of the drill's own, whose
	// listeners hear every transition from the breaker's first.
	breakers := resilience.NewRegistry(resilience.Settings{})
	start := cfg.Start
	unsubscribe := breakers.Subscribe(func(_ string, from, to resilience.State) {
		s.transition(time.Since(start), from.String(), to.String())
	})
	bus := cfg.Bus
	bus.Logger, bus.Registry, bus.WrapProducer = log, breakers, wrap
	pub, err := kafkabus.Open(bus)
	if err != nil {
		unsubscribe()
		return nil, fmt.Errorf("drill: opening the bus: %w", err)
	}
	p := &localPublisher{cfg: cfg, pub: pub, bus: pub.Resilient, sink: s, log: log, pad: pad, ctx: ctx, unsubscribe: unsubscribe}
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
		State:        p.bus.Breaker().State().String(),
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
// and the verifier judges what reached Kafka and what is left in the
// disk spool.
func (p *localPublisher) finish(ctx context.Context) (pubStatus, error) {
	for _, q := range p.queue {
		close(q)
	}
	p.wg.Wait()
	err := p.pub.Close(ctx)
	p.unsubscribe()
	st := p.status()
	st.Up = false
	if ue, ok := errors.AsType[*kafkabus.UndeliveredError](err); ok {
		st.Undelivered = int64(ue.Count)
	}
	if err != nil {
		st.CloseErr = err.Error()
		p.log.Warn("closing the bus did not finish cleanly", "err", err)
	}
	return st, nil
}
