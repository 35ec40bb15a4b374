package kafkabus

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
	"github.com/huleedu/huleedu/spool"
)

// errBrokerDown stands for any infrastructure failure: IsRetriable is true.
var errBrokerDown = &ProduceError{Topic: "t", Partition: -1, Err: errors.New("dial tcp 127.0.0.1:9: connection refused"), Retriable: true}

// fakeProducer is a Kafka stand-in whose health the test scripts. It keeps
// the log of everything "Kafka" acknowledged, in order.
type fakeProducer struct {
	handoff sync.Mutex // orders ProduceAsync calls
	mu      sync.Mutex
	down    bool             // every record fails with errBrokerDown
	poison  map[string]error // value -> permanent error
	block   chan struct{}    // when non-nil, Produce waits for it or ctx
	calls   []int            // batch size of every Produce call
	log     []event.Record   // acknowledged records, in order
	onCall  func(n int)      // observes each call (under no lock)
	// failedAt is, per key, the value of a record that failed retriably:
	// like franz-go, the fake fails every later record of that key until
	// the failed one is sent again.
	failedAt map[string]string
}

func (f *fakeProducer) Produce(ctx context.Context, recs []event.Record) []error {
	f.mu.Lock()
	block, onCall := f.block, f.onCall
	f.calls = append(f.calls, len(recs))
	f.mu.Unlock()
	if onCall != nil {
		onCall(len(recs))
	}
	errs := make([]error, len(recs))
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			for i := range errs {
				errs[i] = ctx.Err()
			}
			return errs
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range recs {
		key, val := string(r.Key), string(r.Value)
		if fv, ok := f.failedAt[key]; ok && fv != val {
			errs[i] = errBrokerDown // behind a failed record of its key
			continue
		}
		switch {
		case f.down:
			errs[i] = errBrokerDown
			if f.failedAt == nil {
				f.failedAt = map[string]string{}
			}
			if _, ok := f.failedAt[key]; !ok {
				f.failedAt[key] = val
			}
		case f.poison[val] != nil:
			delete(f.failedAt, key)
			errs[i] = f.poison[val]
		default:
			delete(f.failedAt, key)
			// A copy, as Kafka keeps its own: the records' bytes are the
			// caller's (a disk spool reads over them once acknowledged).
			f.log = append(f.log, r.Clone())
		}
	}
	return errs
}

// ProduceAsync makes the fake an AsyncProducer, so the drainer keeps
// several batches in flight against it: outcomes are decided in call order
// (as franz-go keeps order per partition) and reported from another
// goroutine.
func (f *fakeProducer) ProduceAsync(ctx context.Context, recs []event.Record, done func([]error)) {
	f.handoff.Lock()
	errs := f.Produce(ctx, recs)
	f.handoff.Unlock()
	go done(errs)
}

func (f *fakeProducer) setDown(v bool) { f.mu.Lock(); f.down = v; f.mu.Unlock() }

func (f *fakeProducer) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]string, len(f.log))
	for i, r := range f.log {
		out[i] = string(r.Value)
	}
	return out
}

func (f *fakeProducer) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int(nil), f.calls...)
}

// rec builds the record for value v on key k.
func rec(k, v string) event.Record {
	return event.Record{Topic: "t", Key: []byte(k), Value: []byte(v)}
}

type harness struct {
	bus   *ResilientBus
	prod  *fakeProducer
	cb    *resilience.CircuitBreaker
	clock *resiliencetest.Clock
	q     spool.Queue
}

type harnessOpt func(*ResilientOptions, *resilience.Settings)

func newHarness(t *testing.T, q spool.Queue, opts ...harnessOpt) *harness {
	t.Helper()
	clock := resiliencetest.NewClock(time.Unix(1_700_000_000, 0))
	bs := resilience.Settings{
		Name:             "test.kafka_producer",
		FailureThreshold: 3,
		RecoveryTimeout:  30 * time.Second,
		SuccessThreshold: 2,
		Clock:            clock,
	}
	if q == nil {
		var err error
		q, err = spool.NewMemory(spool.MemoryOptions{MaxRecords: 10_000})
		if err != nil {
			t.Fatal(err)
		}
	}
	ro := ResilientOptions{Queue: q, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond, OpenPoll: time.Millisecond}
	for _, o := range opts {
		o(&ro, &bs)
	}
	cb, err := resilience.NewCircuitBreaker(bs)
	if err != nil {
		t.Fatal(err)
	}
	ro.Breaker = cb
	prod := &fakeProducer{poison: map[string]error{}}
	bus, err := NewResilientBus(prod, ro)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{bus: bus, prod: prod, cb: cb, clock: clock, q: q}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bus.Close(ctx)
	})
	return h
}

func (h *harness) publish(t *testing.T, k, v string) {
	t.Helper()
	if err := h.bus.PublishRecord(context.Background(), rec(k, v)); err != nil {
		t.Fatalf("publish %s: %v", v, err)
	}
}

// openBreaker takes "Kafka" down and publishes one record (accepted into
// the queue); the drainer's failing replays open the breaker.
func (h *harness) openBreaker(t *testing.T, v string) {
	t.Helper()
	h.prod.setDown(true)
	h.publish(t, "k", v)
	eventually(t, "breaker open", func() bool { return h.cb.State() == resilience.StateOpen })
}
