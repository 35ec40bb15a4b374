package kafkaconsumer

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
)

// handled records what a test handler saw.
type handled struct {
	mu     sync.Mutex
	calls  map[uuid.UUID]int
	seen   chan *event.Envelope
	ctxs   map[uuid.UUID]context.Context
	result func(env *event.Envelope, call int) error
}

func newHandled(result func(env *event.Envelope, call int) error) *handled {
	return &handled{
		calls:  map[uuid.UUID]int{},
		ctxs:   map[uuid.UUID]context.Context{},
		seen:   make(chan *event.Envelope, 100),
		result: result,
	}
}

func (h *handled) handle(ctx context.Context, env *event.Envelope) error {
	h.mu.Lock()
	h.calls[env.EventID]++
	n := h.calls[env.EventID]
	h.ctxs[env.EventID] = ctx
	h.mu.Unlock()
	var err error
	if h.result != nil {
		err = h.result(env, n)
	}
	if err == nil {
		h.seen <- env
	}
	return err
}

func (h *handled) count(id uuid.UUID) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls[id]
}

// waitHandled waits until the handler succeeded for id.
func (h *handled) waitHandled(t *testing.T, id uuid.UUID) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case env := <-h.seen:
			if env.EventID == id {
				return
			}
		case <-deadline:
			t.Fatalf("event %s was not handled within 30s", id)
		}
	}
}

// startConsumer starts a consumer of topicA in group with the plain bus
// as dead-letter publisher; it is stopped when the test ends.
func startConsumer(t *testing.T, c *embeddedkafka.Cluster, group string, h Handler, tweak func(*Options)) *Consumer {
	t.Helper()
	bus, err := kafkabus.NewKafkaBus(kafkabus.Options{Brokers: c.Addrs(), PublishTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Brokers:         c.Addrs(),
		Group:           group,
		Handlers:        map[string]Handler{topicA: h},
		DeadLetters:     ProducerPublisher{Producer: bus},
		MaxAttempts:     3,
		RetryBackoff:    time.Millisecond,
		RetryMaxBackoff: 5 * time.Millisecond,
		Service:         "consumer_test",
		Metrics:         NewMetrics("consumer_test"),
		SessionTimeout:  time.Second,
		KgoOpts:         []kgo.Opt{kgo.MetadataMinAge(100 * time.Millisecond)},
	}
	if tweak != nil {
		tweak(&opts)
	}
	cons, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := cons.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// A test that stopped the consumer itself, or saw it stop at an
		// unhandled record, checked that result.
		var unhandled *UnhandledError
		if err := cons.Stop(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.As(err, &unhandled) {
			t.Errorf("stop: %v", err)
		}
		if err := bus.Close(ctx); err != nil {
			t.Errorf("close bus: %v", err)
		}
	})
	return cons
}

func TestConsumerHandlesDuplicateEventOnce(t *testing.T) {
	c := newCluster(t)
	h := newHandled(nil)
	cons := startConsumer(t, c, "dup", h.handle, nil)

	dup := newEnvelope(t, `{"n":1}`)
	sentinel := newEnvelope(t, `{"n":2}`)
	// Same key, so one partition keeps the order: dup, dup, sentinel.
	r1, r2, r3 := envelopeRecord(t, topicA, dup), envelopeRecord(t, topicA, dup), envelopeRecord(t, topicA, sentinel)
	r3.Key = r1.Key
	produce(t, c, r1, r2, r3)

	h.waitHandled(t, sentinel.EventID)
	if n := h.count(dup.EventID); n != 1 {
		t.Fatalf("duplicate event handled %d times, want 1", n)
	}
	if got := testutil.ToFloat64(cons.opts.Metrics.events.WithLabelValues(topicA, resultDuplicate)); got != 1 {
		t.Fatalf("duplicate counter = %v, want 1", got)
	}
}

func TestConsumerRetriesFailedHandlerUntilSuccess(t *testing.T) {
	c := newCluster(t)
	h := newHandled(func(_ *event.Envelope, call int) error {
		if call < 3 {
			return errors.New("transient failure " + strconv.Itoa(call))
		}
		return nil
	})
	startConsumer(t, c, "retry", h.handle, nil)

	env := newEnvelope(t, `{"n":1}`)
	produce(t, c, envelopeRecord(t, topicA, env))
	h.waitHandled(t, env.EventID)
	if n := h.count(env.EventID); n != 3 {
		t.Fatalf("handler ran %d times, want 3 (two failures, one success)", n)
	}
	if dlq := readTopic(t, c, DeadLetterTopic(topicA)); len(dlq) != 0 {
		t.Fatalf("dead-letter topic has %d records, want 0", len(dlq))
	}
}

func TestConsumerDeadLettersFailedEvents(t *testing.T) {
	cases := []struct {
		name         string
		value        func(t *testing.T) *kgo.Record
		handlerErr   error
		wantReason   string
		wantAttempts string
		wantCalls    int
	}{
		{
			name:         "handler fails every attempt",
			value:        func(t *testing.T) *kgo.Record { return envelopeRecord(t, topicA, newEnvelope(t, `{}`)) },
			handlerErr:   errors.New("database on fire"),
			wantReason:   reasonHandlerFailed,
			wantAttempts: "3",
			wantCalls:    3,
		},
		{
			name:         "permanent error is not retried",
			value:        func(t *testing.T) *kgo.Record { return envelopeRecord(t, topicA, newEnvelope(t, `{}`)) },
			handlerErr:   Permanent(errors.New("payload does not decode")),
			wantReason:   reasonHandlerFailed,
			wantAttempts: "1",
			wantCalls:    1,
		},
		{
			name:         "malformed envelope goes at once",
			value:        func(*testing.T) *kgo.Record { return &kgo.Record{Topic: topicA, Value: []byte("not json")} },
			wantReason:   reasonMalformed,
			wantAttempts: "0",
			wantCalls:    0,
		},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			var calls atomic.Int32
			startConsumer(t, c, "poison"+strconv.Itoa(i), func(context.Context, *event.Envelope) error {
				calls.Add(1)
				return tc.handlerErr
			}, nil)
			poison := tc.value(t)
			produce(t, c, poison)

			var dlq []*kgo.Record
			waitFor(t, 30*time.Second, "a dead letter", func() bool {
				dlq = readTopic(t, c, DeadLetterTopic(topicA))
				return len(dlq) > 0
			})
			if len(dlq) != 1 {
				t.Fatalf("dead-letter topic has %d records, want 1", len(dlq))
			}
			d := dlq[0]
			if string(d.Value) != string(poison.Value) {
				t.Errorf("dead letter value = %q, want the original %q", d.Value, poison.Value)
			}
			for k, want := range map[string]string{
				HeaderDLQReason:         tc.wantReason,
				HeaderDLQAttempts:       tc.wantAttempts,
				HeaderDLQOriginalTopic:  topicA,
				HeaderDLQOriginalOffset: "0",
				HeaderDLQService:        "consumer_test",
			} {
				if got := header(d, k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
			if header(d, HeaderDLQError) == "" {
				t.Error("dead letter has no error header")
			}
			if got := int(calls.Load()); got != tc.wantCalls {
				t.Errorf("handler ran %d times, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestConsumerPutsCorrelationAndTraceInContext(t *testing.T) {
	c := newCluster(t)
	h := newHandled(nil)
	startConsumer(t, c, "ctx", h.handle, nil)

	env := newEnvelope(t, `{}`)
	rec := envelopeRecord(t, topicA, env)
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: "traceparent", Value: []byte("00-" + traceID + "-00f067aa0ba902b7-01")})
	produce(t, c, rec)
	h.waitHandled(t, env.EventID)

	h.mu.Lock()
	ctx := h.ctxs[env.EventID]
	h.mu.Unlock()
	if got := errctx.CorrelationID(ctx); got != env.CorrelationID {
		t.Errorf("correlation id in ctx = %q, want %q", got, env.CorrelationID)
	}
	if got := errctx.Service(ctx); got != "consumer_test" {
		t.Errorf("service in ctx = %q, want consumer_test", got)
	}
	if got := trace.SpanContextFromContext(ctx).TraceID().String(); got != traceID {
		t.Errorf("trace id in ctx = %s, want the producer's %s", got, traceID)
	}
}

func TestConsumerCommitsHandledOffsets(t *testing.T) {
	c := newCluster(t)
	first := newHandled(nil)
	cons := startConsumer(t, c, "commit", first.handle, nil)
	env := newEnvelope(t, `{}`)
	produce(t, c, envelopeRecord(t, topicA, env))
	first.waitHandled(t, env.EventID)
	if err := cons.Stop(testContext(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}

	// A new member of the group with an empty idempotency store must
	// start after the committed offset, not see the event again.
	second := newHandled(nil)
	startConsumer(t, c, "commit", second.handle, nil)
	sentinel := newEnvelope(t, `{}`)
	produce(t, c, envelopeRecord(t, topicA, sentinel))
	second.waitHandled(t, sentinel.EventID)
	if n := second.count(env.EventID); n != 0 {
		t.Fatalf("committed event delivered again %d times", n)
	}
}

func TestConsumerStopAbandonsEventInHandUncommitted(t *testing.T) {
	c := newCluster(t)
	entered := make(chan struct{})
	cons := startConsumer(t, c, "abandon", func(ctx context.Context, _ *event.Envelope) error {
		close(entered)
		<-ctx.Done() // a handler that only ends when told to
		return ctx.Err()
	}, nil)
	env := newEnvelope(t, `{}`)
	produce(t, c, envelopeRecord(t, topicA, env))
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := cons.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop = %v, want it to report the abandoned event (DeadlineExceeded)", err)
	}

	again := newHandled(nil)
	startConsumer(t, c, "abandon", again.handle, nil)
	again.waitHandled(t, env.EventID) // redelivered: never skipped
	if dlq := readTopic(t, c, DeadLetterTopic(topicA)); len(dlq) != 0 {
		t.Fatalf("an abandoned event was dead-lettered (%d records)", len(dlq))
	}
}

// flakyPublisher refuses the first fails dead letters.
type flakyPublisher struct {
	fails atomic.Int32
	next  RecordPublisher
}

func (p *flakyPublisher) PublishRecord(ctx context.Context, rec event.Record) error {
	if p.fails.Add(-1) >= 0 {
		return kafkabus.ErrUnavailable
	}
	return p.next.PublishRecord(ctx, rec)
}

func TestConsumerRetriesDeadLetterPublishUntilAccepted(t *testing.T) {
	c := newCluster(t)
	var flaky *flakyPublisher
	startConsumer(t, c, "dlq-retry", func(context.Context, *event.Envelope) error {
		return Permanent(errors.New("bad"))
	}, func(o *Options) {
		flaky = &flakyPublisher{next: o.DeadLetters}
		flaky.fails.Store(3)
		o.DeadLetters = flaky
	})
	produce(t, c, envelopeRecord(t, topicA, newEnvelope(t, `{}`)))
	waitFor(t, 30*time.Second, "the dead letter", func() bool {
		return len(readTopic(t, c, DeadLetterTopic(topicA))) == 1
	})
	if n := flaky.fails.Load(); n >= 0 {
		t.Fatalf("dead-letter publisher was retried too few times (%d refusals left)", n+1)
	}
}

func TestNewConsumerRejectsIncompleteOptions(t *testing.T) {
	h := func(context.Context, *event.Envelope) error { return nil }
	pub := ProducerPublisher{}
	cases := []struct {
		name string
		opts Options
	}{
		{"no brokers", Options{Group: "g", Handlers: map[string]Handler{"t": h}, DeadLetters: pub}},
		{"no group", Options{Brokers: []string{"x:1"}, Handlers: map[string]Handler{"t": h}, DeadLetters: pub}},
		{"no handlers", Options{Brokers: []string{"x:1"}, Group: "g", DeadLetters: pub}},
		{"nil handler", Options{Brokers: []string{"x:1"}, Group: "g", Handlers: map[string]Handler{"t": nil}, DeadLetters: pub}},
		{"negative attempts", Options{Brokers: []string{"x:1"}, Group: "g", Handlers: map[string]Handler{"t": h}, DeadLetters: pub, MaxAttempts: -1}},
		{"max backoff below backoff", Options{Brokers: []string{"x:1"}, Group: "g", Handlers: map[string]Handler{"t": h}, DeadLetters: pub,
			RetryBackoff: time.Second, RetryMaxBackoff: time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil {
				t.Fatal("New accepted incomplete options")
			}
		})
	}
}

// txStore is an IdempotencyStore in the manner of a database store: each
// Process is a transaction that holds the processed mark and the
// handler's state change, and commits both only when the handler
// succeeded.
type txStore struct {
	mu        sync.Mutex
	processed map[EventKey]bool
	state     map[string]int // committed state: the handler's counters
}

// txKey carries the open transaction to the handler.
type txKey struct{}

// tx is one Process's uncommitted writes.
type tx struct{ writes map[string]int }

func (s *txStore) Process(ctx context.Context, key EventKey, handle func(context.Context) error) (bool, error) {
	// One transaction at a time, as a row lock on the mark would make
	// concurrent duplicates wait.
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.processed[key] {
		return true, nil
	}
	t := &tx{writes: map[string]int{}}
	if err := handle(context.WithValue(ctx, txKey{}, t)); err != nil {
		return false, err // rolled back: neither the mark nor the writes
	}
	s.processed[key] = true
	for k, v := range t.writes {
		s.state[k] += v
	}
	return false, nil
}

func TestConsumerChangesStateOnceThroughATransactionalStore(t *testing.T) {
	c := newCluster(t)
	store := &txStore{processed: map[EventKey]bool{}, state: map[string]int{}}
	var calls atomic.Int32
	cons := startConsumer(t, c, "tx", func(ctx context.Context, env *event.Envelope) error {
		ctx.Value(txKey{}).(*tx).writes[env.EventID.String()]++ // the state change, in the store's transaction
		if calls.Add(1) == 1 {
			return errors.New("the first attempt fails after writing")
		}
		return nil
	}, func(o *Options) { o.Store = store })

	env := newEnvelope(t, `{}`)
	// Kafka delivers the event twice (a producer retry that landed).
	r1, r2 := envelopeRecord(t, topicA, env), envelopeRecord(t, topicA, env)
	produce(t, c, r1, r2)
	waitFor(t, 30*time.Second, "both deliveries settled", func() bool {
		return testutil.ToFloat64(cons.opts.Metrics.events.WithLabelValues(topicA, resultDuplicate)) == 1
	})

	store.mu.Lock()
	defer store.mu.Unlock()
	if got := store.state[env.EventID.String()]; got != 1 {
		t.Fatalf("state changed %d times, want once: a failed attempt rolled back, the duplicate was skipped", got)
	}
	if !store.processed[EventKey{Consumer: "tx", EventID: env.EventID.String()}] {
		t.Fatalf("the event is not marked processed under the consumer group's name: %v", store.processed)
	}
	if n := calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times, want 2 (a failure, then the success; the duplicate not at all)", n)
	}
}
