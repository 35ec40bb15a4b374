package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

func TestHealthyPublishGoesStraightToKafka(t *testing.T) {
	h := newHarness(t, nil)
	h.publish(t, "k", "a")
	h.publish(t, "k", "b")
	if got := h.prod.delivered(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("delivered %v, want [a b]", got)
	}
	st := h.bus.Stats()
	if st.Published != 2 || st.Spooled != 0 || st.Queue.Records != 0 {
		t.Fatalf("stats %+v: want 2 published, nothing spooled", st)
	}
}

func TestRetriableFailureIsAcceptedIntoTheQueue(t *testing.T) {
	h := newHarness(t, nil)
	h.prod.setDown(true)
	if err := h.bus.PublishRecord(context.Background(), rec("k", "a")); err != nil {
		t.Fatalf("publish during an outage returned %v; want nil (accepted into the queue)", err)
	}
	if st := h.bus.Stats(); st.Spooled != 1 {
		t.Fatalf("spooled = %d, want 1", st.Spooled)
	}
	h.prod.setDown(false)
	eventually(t, "replay", func() bool { return len(h.prod.delivered()) == 1 })
}

// The original platform raised an error AND queued the message, so callers
// that retried produced duplicates. A refused record must never be queued.
func TestNonRetriableErrorIsReturnedNotQueuedAndBreakerUntouched(t *testing.T) {
	for _, perm := range []error{
		&ProduceError{Topic: "t", Err: ErrMessageTooLarge},
		&ProduceError{Topic: "t", Err: ErrAuthorization},
		&ProduceError{Topic: "t", Err: ErrUnknownTopic},
	} {
		t.Run(perm.Error(), func(t *testing.T) {
			h := newHarness(t, nil)
			h.prod.poison["bad"] = perm
			for range 10 { // well past FailureThreshold
				err := h.bus.PublishRecord(context.Background(), rec("k", "bad"))
				if !errors.Is(err, perm) {
					t.Fatalf("err = %v, want %v", err, perm)
				}
			}
			st := h.bus.Stats()
			if st.Spooled != 0 || st.Queue.Records != 0 || st.Rejected != 10 {
				t.Fatalf("stats %+v: want nothing spooled, 10 rejected", st)
			}
			snap := h.cb.Snapshot()
			if snap.State != resilience.StateClosed || snap.Totals.Failures != 0 {
				t.Fatalf("breaker %v with %d failures; want closed and untouched", snap.State, snap.Totals.Failures)
			}
		})
	}
}

func TestInvalidInputIsRefusedBeforeAnythingIsSentOrQueued(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	env, err := event.NewEnvelope("test.event.v1", "test", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		call func() error
	}{
		{"nil envelope", func() error { return h.bus.Publish(ctx, "t", "k", nil) }},
		{"empty topic", func() error { return h.bus.Publish(ctx, "", "k", env) }},
		{"envelope without type", func() error {
			e := *env
			e.EventType = ""
			return h.bus.Publish(ctx, "t", "k", &e)
		}},
		{"record without topic", func() error { return h.bus.PublishRecord(ctx, rec("k", "v")) }},
	}
	cases[3].call = func() error { return h.bus.PublishRecord(ctx, event.Record{Value: []byte("v")}) }
	for _, c := range cases {
		if err := c.call(); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: err = %v, want ErrInvalidRecord", c.name, err)
		}
	}
	if n := len(h.prod.batchSizes()); n != 0 {
		t.Fatalf("%d produce calls for invalid input, want 0", n)
	}
	if st := h.bus.Stats(); st.Queue.Records != 0 {
		t.Fatalf("queued %d invalid records", st.Queue.Records)
	}
}

// A record Kafka would refuse for sure (larger than the producer's
// MaxRecordBytes, a topic name Kafka does not allow) is refused up front,
// also while the circuit is open: queued, it would only be dead-lettered at
// replay, after the caller was told it was accepted.
func TestUndeliverableRecordIsRefusedEvenWhileTheCircuitIsOpen(t *testing.T) {
	kb := newBus(t, []string{deadAddr(t)}, func(o *Options) { o.MaxRecordBytes = 1024 })
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "test.kafka_producer"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := NewResilientBus(kb, ResilientOptions{Breaker: cb, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bus.Close(ctx)
	})
	cb.ForceOpen()
	for _, tc := range []struct {
		name string
		rec  event.Record
		want error
	}{
		{"larger than MaxRecordBytes", event.Record{Topic: "t", Value: make([]byte, 2048)}, ErrMessageTooLarge},
		{"illegal topic name", event.Record{Topic: "bad topic!", Value: []byte("v")}, ErrInvalidTopic},
	} {
		if err := bus.PublishRecord(context.Background(), tc.rec); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if st := bus.Stats(); st.Spooled != 0 || st.Queue.Records != 0 || st.Rejected != 2 {
		t.Fatalf("stats %+v: want nothing spooled, 2 rejected", st)
	}
}

// The original let new publishes bypass a non-empty queue, so they
// overtook older records of the same key.
func TestNewPublishesQueueBehindANonEmptyQueue(t *testing.T) {
	h := newHarness(t, nil)
	h.openBreaker(t, "old")
	h.prod.setDown(false) // Kafka is back, but the breaker is still open
	h.publish(t, "k", "new1")
	h.publish(t, "k", "new2")
	if st := h.bus.Stats(); st.Queue.Records != 3 {
		t.Fatalf("queue holds %d, want 3: new records must queue behind the old one", st.Queue.Records)
	}
	h.clock.Advance(31 * time.Second)
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if got := h.prod.delivered(); !slices.Equal(got, []string{"old", "new1", "new2"}) {
		t.Fatalf("delivered %v, want [old new1 new2]", got)
	}
}

// The original's queue only drained when a new publish arrived.
func TestQueueDrainsWithNoNewTraffic(t *testing.T) {
	h := newHarness(t, nil)
	h.openBreaker(t, "a")
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second) // no publish from here on
	// Drained means acknowledged and the probe's success reported, not
	// merely delivered.
	eventually(t, "drain without traffic", func() bool {
		return len(h.prod.delivered()) == 1 && h.bus.backlog.Load() == 0 &&
			h.cb.Snapshot().Window.ConsecutiveSuccesses == 1
	})
	// One successful probe of SuccessThreshold 2: the next publish is the
	// second probe and closes the circuit.
	if s := h.cb.State(); s != resilience.StateHalfOpen {
		t.Fatalf("after one probe the breaker is %v, want half_open", s)
	}
	h.publish(t, "k", "b")
	if s := h.cb.State(); s != resilience.StateClosed {
		t.Fatalf("after two probes the breaker is %v, want closed", s)
	}
}

// The original dropped a record after 5 failed replays and re-queued failed
// replays at the tail. A record whose replay fails stays at the head, for as
// long as it takes.
func TestFailedReplayKeepsRecordAtHeadForever(t *testing.T) {
	h := newHarness(t, nil, func(_ *ResilientOptions, s *resilience.Settings) {
		s.FailureThreshold = 1000 // keep the breaker closed: many replays fail
	})
	h.prod.setDown(true)
	for i := range 5 {
		h.publish(t, "k", strconv.Itoa(i))
	}
	eventually(t, "20 failed replays", func() bool { return len(h.prod.batchSizes()) > 25 })
	h.prod.setDown(false)
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if got := h.prod.delivered(); !slices.Equal(got, []string{"0", "1", "2", "3", "4"}) {
		t.Fatalf("delivered %v, want [0 1 2 3 4] in order", got)
	}
}

// The original's replay bypassed the breaker: it hammered a dead Kafka.
func TestReplayGoesThroughTheBreaker(t *testing.T) {
	h := newHarness(t, nil)
	h.openBreaker(t, "a") // opened by the drainer's replay failures
	before := len(h.prod.batchSizes())
	// Open and no time passes: the drainer keeps asking the breaker, and
	// must not call Kafka at all.
	asked := h.cb.Snapshot().Totals.Rejected
	eventually(t, "the drainer to ask the open breaker again", func() bool {
		return h.cb.Snapshot().Totals.Rejected >= asked+3
	})
	if after := len(h.prod.batchSizes()); after != before {
		t.Fatalf("%d produce calls while the circuit was open", after-before)
	}
	if snap := h.cb.Snapshot(); snap.Totals.Rejected == 0 {
		t.Fatal("the drainer never asked the breaker while open")
	}
	// Let Close drain instead of waiting out its deadline.
	h.prod.setDown(false)
	h.cb.Reset()
}

// A drainer waiting for the open breaker is woken when the breaker is
// Reset or Disabled (an operator, or a health check that knows Kafka is
// back): it does not sleep out OpenPoll first.
func TestResetBreakerStartsTheDrainAtOnce(t *testing.T) {
	for name, move := range map[string]func(*resilience.CircuitBreaker){
		"Reset":   (*resilience.CircuitBreaker).Reset,
		"Disable": (*resilience.CircuitBreaker).Disable,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil, func(o *ResilientOptions, _ *resilience.Settings) {
				o.OpenPoll = time.Hour
			})
			h.openBreaker(t, "a")
			h.prod.setDown(false)
			// The drainer is asleep once the open breaker has refused it
			// (nothing else asks it): until the probe time, 30s away on
			// the breaker's clock, which does not move.
			eventually(t, "the drainer to ask the open breaker", func() bool {
				return h.cb.Snapshot().Totals.Rejected > 0
			})
			move(h.cb)
			eventually(t, "the drain after "+name, func() bool { return h.bus.Stats().Queue.Records == 0 })
			if got := h.prod.delivered(); !slices.Equal(got, []string{"a"}) {
				t.Fatalf("delivered %v, want [a]", got)
			}
		})
	}
}

func TestHalfOpenProbesWithOneRecordThenDrainsInBatches(t *testing.T) {
	h := newHarness(t, nil)
	h.openBreaker(t, "a")
	h.prod.setDown(false)
	for i := range 20 {
		h.publish(t, "k", strconv.Itoa(i))
	}
	start := len(h.prod.batchSizes())
	h.clock.Advance(31 * time.Second)
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	sizes := h.prod.batchSizes()[start:]
	// SuccessThreshold is 2: two single-record probes, then one batch.
	if len(sizes) != 3 || sizes[0] != 1 || sizes[1] != 1 || sizes[2] != 19 {
		t.Fatalf("replay batch sizes %v, want [1 1 19]", sizes)
	}
}

func TestPoisonRecordDuringReplayGoesToDeadLetters(t *testing.T) {
	q, _ := spool.NewMemory(spool.MemoryOptions{MaxRecords: 100})
	h := newHarness(t, q)
	h.openBreaker(t, "a")
	h.publish(t, "k", "poison")
	h.publish(t, "k", "b")
	h.prod.mu.Lock()
	h.prod.down = false
	h.prod.poison["poison"] = &ProduceError{Topic: "t", Err: ErrMessageTooLarge}
	h.prod.mu.Unlock()
	h.clock.Advance(31 * time.Second)
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if got := h.prod.delivered(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("delivered %v, want [a b]", got)
	}
	dl := q.DeadLetters()
	if len(dl) != 1 || string(dl[0].Entry.Value) != "poison" || dl[0].Reason == "" {
		t.Fatalf("dead letters %+v, want the poison record with a reason", dl)
	}
	if st := h.bus.Stats(); st.DeadLettered != 1 || st.Queue.DeadLetters != 1 {
		t.Fatalf("stats %+v, want 1 dead-lettered", st)
	}
}

func TestQueueFullUnderRejectPolicyIsAnErrorAndNothingQueued(t *testing.T) {
	q, _ := spool.NewMemory(spool.MemoryOptions{MaxRecords: 2, Overflow: spool.OverflowReject})
	h := newHarness(t, q)
	h.openBreaker(t, "a")
	h.publish(t, "k", "b")
	err := h.bus.PublishRecord(context.Background(), rec("k", "c"))
	if !errors.Is(err, spool.ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if got := h.prod.delivered(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("delivered %v: the refused record must not be delivered", got)
	}
}

func TestQueueFullUnderBlockPolicyWaitsForRoom(t *testing.T) {
	q, _ := spool.NewMemory(spool.MemoryOptions{MaxRecords: 1, Overflow: spool.OverflowBlock})
	h := newHarness(t, q)
	h.openBreaker(t, "a")

	// While full and open, a publish with a deadline gives up: not accepted.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	err := h.bus.PublishRecord(ctx, rec("k", "late"))
	cancel()
	if !errors.Is(err, spool.ErrFull) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrFull and DeadlineExceeded", err)
	}

	// A patient publish waits until the drainer makes room.
	done := make(chan error, 1)
	go func() { done <- h.bus.PublishRecord(context.Background(), rec("k", "b")) }()
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	if err := <-done; err != nil {
		t.Fatalf("blocked publish: %v", err)
	}
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if got := h.prod.delivered(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("delivered %v, want [a b]", got)
	}
}

func TestContextCanceledMidPublishIsNotAcceptedAndNotAFailure(t *testing.T) {
	h := newHarness(t, nil)
	h.prod.block = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	h.prod.onCall = func(int) { cancel() }
	err := h.bus.PublishRecord(ctx, rec("k", "a"))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if st := h.bus.Stats(); st.Queue.Records != 0 || st.Spooled != 0 {
		t.Fatalf("a canceled publish was queued: %+v", st)
	}
	if snap := h.cb.Snapshot(); snap.Totals.Failures != 0 {
		t.Fatalf("a caller's cancellation counted as %d breaker failures", snap.Totals.Failures)
	}
	close(h.prod.block)
}

// The original's in-memory queue was discarded on shutdown without a word.
func TestCloseReportsExactlyWhatTheMemoryQueueStillHeld(t *testing.T) {
	h := newHarness(t, nil)
	h.openBreaker(t, "a")
	h.publish(t, "k", "b")
	h.publish(t, "k", "c")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := h.bus.Close(ctx)
	var ue *UndeliveredError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Close = %v, want an *UndeliveredError", err)
	}
	var vals []string
	for _, r := range ue.Records {
		vals = append(vals, string(r.Value))
	}
	if ue.Count != 3 || !slices.Equal(vals, []string{"a", "b", "c"}) {
		t.Fatalf("undelivered %d %v, want 3 [a b c]", ue.Count, vals)
	}
}

func TestCloseDrainsWhatItCanBeforeTheDeadline(t *testing.T) {
	h := newHarness(t, nil)
	h.openBreaker(t, "a")
	h.publish(t, "k", "b")
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.bus.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := h.prod.delivered(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("delivered %v, want [a b]", got)
	}
}

func TestPublishAfterCloseFailsWithErrBusClosed(t *testing.T) {
	h := newHarness(t, nil)
	if err := h.bus.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := h.bus.PublishRecord(context.Background(), rec("k", "a")); !errors.Is(err, ErrBusClosed) {
		t.Fatalf("err = %v, want ErrBusClosed", err)
	}
}

func TestCloseWaitsForPublishesInFlight(t *testing.T) {
	h := newHarness(t, nil)
	h.prod.block = make(chan struct{})
	started := make(chan struct{})
	h.prod.onCall = func(int) { close(started) }
	done := make(chan error, 1)
	go func() { done <- h.bus.PublishRecord(context.Background(), rec("k", "a")) }()
	<-started
	closed := make(chan error, 1)
	go func() { closed <- h.bus.Close(context.Background()) }()
	eventually(t, "Close to refuse new records", func() bool {
		h.bus.mu.RLock()
		defer h.bus.mu.RUnlock()
		return h.bus.closed
	})
	// Close has begun; give it the chance to return too early.
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a publish was in flight", err)
	case <-time.After(20 * time.Millisecond):
	}
	close(h.prod.block)
	if err := <-done; err != nil {
		t.Fatalf("in-flight publish: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := h.prod.delivered(); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("delivered %v", got)
	}
}

// Flapping Kafka with concurrent publishers: every accepted record is
// delivered, and per key no record is delivered after a later one of the
// same publisher (duplicates allowed).
func TestFlappingKafkaLosesAndReordersNothing(t *testing.T) {
	h := newHarness(t, nil, func(_ *ResilientOptions, s *resilience.Settings) {
		s.RecoveryTimeout = time.Millisecond
		s.Clock = nil // real time: the breaker recovers on its own
	})
	const publishers, perPublisher = 4, 300
	// Kafka flaps by the calls it sees, not by the clock: down for four
	// produce calls (direct or replayed), up for the next four, so every
	// run goes through the same number of outages whatever the load.
	var calls atomic.Int64
	h.prod.mu.Lock()
	h.prod.onCall = func(int) { h.prod.setDown(calls.Add(1)/4%2 == 1) }
	h.prod.mu.Unlock()
	var wg sync.WaitGroup
	accepted := make([][]string, publishers)
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perPublisher {
				v := fmt.Sprintf("%d-%d", p, i)
				if err := h.bus.PublishRecord(context.Background(), rec(strconv.Itoa(p), v)); err == nil {
					accepted[p] = append(accepted[p], v)
				}
			}
		}()
	}
	wg.Wait()
	eventually(t, "the drain, with Kafka still flapping", func() bool { return h.bus.Stats().Queue.Records == 0 })
	h.prod.mu.Lock()
	h.prod.onCall, h.prod.down = nil, false
	h.prod.mu.Unlock()
	if opened := transitionsTo(h.cb, resilience.StateOpen); opened == 0 {
		t.Fatal("the breaker never opened: Kafka did not flap")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.bus.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkDelivery(t, accepted, h.prod.delivered())
}

// checkDelivery asserts every accepted value was delivered and, per
// publisher, first deliveries follow acceptance order.
func checkDelivery(t *testing.T, accepted [][]string, delivered []string) {
	t.Helper()
	pos := map[string]int{}
	for i, v := range delivered {
		if _, ok := pos[v]; !ok {
			pos[v] = i
		}
	}
	for p, vals := range accepted {
		last := -1
		for _, v := range vals {
			i, ok := pos[v]
			if !ok {
				t.Fatalf("publisher %d: accepted %s was never delivered", p, v)
			}
			if i < last {
				t.Fatalf("publisher %d: %s delivered before an earlier record", p, v)
			}
			last = i
		}
	}
}

// A publisher waiting for room in a full queue must not hold Close past its
// deadline: it is told its record was not accepted.
func TestCloseDeadlineReleasesPublishersBlockedOnAFullQueue(t *testing.T) {
	q, _ := spool.NewMemory(spool.MemoryOptions{MaxRecords: 1, Overflow: spool.OverflowBlock})
	h := newHarness(t, q)
	h.openBreaker(t, "a")
	blocked := make(chan error, 1)
	go func() { blocked <- h.bus.PublishRecord(context.Background(), rec("k", "b")) }()
	eventually(t, "publisher blocked", func() bool { return h.bus.backlog.Load() == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := h.bus.Close(ctx)
	var ue *UndeliveredError
	if !errors.As(err, &ue) || ue.Count != 1 || string(ue.Records[0].Value) != "a" {
		t.Fatalf("Close = %v, want exactly [a] undelivered", err)
	}
	if perr := <-blocked; !errors.Is(perr, spool.ErrClosed) {
		t.Fatalf("blocked publisher got %v, want a not-accepted error wrapping spool.ErrClosed", perr)
	}
}

// Several small batches in flight at once: order holds, a poison record in
// the middle is dead-lettered, and a failure mid-pipeline replays from the
// head without losing or reordering anything.
func TestPipelinedDrainKeepsOrderThroughPoisonAndFailures(t *testing.T) {
	q, _ := spool.NewMemory(spool.MemoryOptions{MaxRecords: 1000})
	h := newHarness(t, q, func(o *ResilientOptions, s *resilience.Settings) {
		o.DrainBatch, o.DrainInFlight = 3, 4
		s.FailureThreshold = 1000 // the injected failure must not open it
	})
	h.cb.ForceOpen()
	var want []string
	for i := range 40 {
		v := fmt.Sprintf("v%02d", i)
		h.publish(t, "k", v)
		if i != 10 {
			want = append(want, v)
		}
	}
	h.prod.mu.Lock()
	h.prod.poison["v10"] = &ProduceError{Topic: "t", Err: ErrMessageTooLarge}
	h.prod.mu.Unlock()
	calls := 0
	h.prod.onCall = func(int) {
		calls++
		h.prod.setDown(calls == 6) // one batch in the middle fails
	}
	h.cb.Reset()
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })

	var first []string
	seen := map[string]bool{}
	for _, v := range h.prod.delivered() {
		if !seen[v] {
			seen[v] = true
			first = append(first, v)
		}
	}
	if !slices.Equal(first, want) {
		t.Fatalf("first deliveries %v\nwant %v", first, want)
	}
	if dl := q.DeadLetters(); len(dl) != 1 || string(dl[0].Entry.Value) != "v10" {
		t.Fatalf("dead letters %+v, want v10 alone", dl)
	}
	if calls < 14 {
		t.Fatalf("%d produce calls: the backlog was not replayed in batches of 3 plus a retry", calls)
	}
}

// slowAsyncProducer completes each ProduceAsync call from a goroutine
// after a pause, so several are in flight at once, and records the
// record slices it was handed.
type slowAsyncProducer struct {
	*fakeProducer
	mu       sync.Mutex
	inFlight map[*event.Record]bool // the arrays of calls not yet done
	reused   int                    // calls whose array an earlier call had
	seen     map[*event.Record]bool
	overlap  int // calls handed an array still in flight
}

func (p *slowAsyncProducer) ProduceAsync(ctx context.Context, recs []event.Record, done func([]error)) {
	data := unsafe.SliceData(recs)
	p.mu.Lock()
	if p.inFlight[data] {
		p.overlap++
	}
	if p.seen[data] {
		p.reused++
	}
	p.inFlight[data], p.seen[data] = true, true
	p.mu.Unlock()
	errs := p.fakeProducer.Produce(ctx, recs)
	go func() {
		time.Sleep(time.Millisecond)
		// The producer is through with recs before it reports.
		for i := range recs {
			recs[i] = event.Record{}
		}
		p.mu.Lock()
		delete(p.inFlight, data)
		p.mu.Unlock()
		done(errs)
	}()
}

// The drainer hands every replay batch its own slice of records and
// reuses a slice only once the producer has reported that batch done:
// a slice still in flight is never filled with the next batch's records.
func TestReplayReusesRecordSlicesOnlyOnceDone(t *testing.T) {
	q, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	prod := &slowAsyncProducer{fakeProducer: &fakeProducer{poison: map[string]error{}}, inFlight: map[*event.Record]bool{}, seen: map[*event.Record]bool{}}
	bus, err := NewResilientBus(prod, ResilientOptions{Breaker: cb, Queue: q, DrainBatch: 10, DrainInFlight: 4, OpenPoll: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bus.Close(context.Background())
	cb.ForceOpen()
	var want []string
	for i := range 400 {
		v := fmt.Sprintf("v%03d", i)
		want = append(want, v)
		if err := bus.PublishRecord(context.Background(), rec("k", v)); err != nil {
			t.Fatal(err)
		}
	}
	cb.Reset()
	eventually(t, "drain", func() bool { return bus.Stats().Queue.Records == 0 })
	if got := prod.delivered(); !slices.Equal(got, want) {
		t.Fatalf("delivered %v,\nwant %v", got, want)
	}
	prod.mu.Lock()
	defer prod.mu.Unlock()
	if prod.overlap > 0 {
		t.Fatalf("%d replay batches were handed a record slice still in flight", prod.overlap)
	}
	if prod.reused == 0 {
		t.Fatal("no record slice was reused over 40 batches")
	}
}
