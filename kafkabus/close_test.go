package kafkabus

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// Close tells exactly what happened to the accepted records (issue 21):
// nil when they are all delivered or durably queued, a typed error
// counting the rest otherwise.

// Three records accepted into the disk spool while no broker answers:
// Close gives up on the drain when its context ends, and they are safe on
// disk, so Close returns nil (and the records are there for the next
// process).
func TestCloseReturnsNilWhenTheRestIsDurablySpooled(t *testing.T) {
	dir := t.TempDir()
	p, err := Open(Config{
		Options:  Options{Brokers: []string{deadAddr(t)}, PublishTimeout: 100 * time.Millisecond},
		Breaker:  BreakerConfig{FailureThreshold: 1000},
		Fallback: FallbackConfig{Mode: FallbackDisk, Dir: dir},
		Drain:    DrainConfig{RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := p.Resilient.PublishRecord(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte(v)}); err != nil {
			t.Fatalf("publish %s: %v", v, err)
		}
	}
	if st := p.Resilient.Stats(); st.Spooled != 3 {
		t.Fatalf("stats %+v, want all three spooled", st)
	}
	// The drainer keeps trying while Close waits: wait for its replays to
	// fail, so Close is cut short in the middle of a real drain.
	eventually(t, "failed replays", func() bool { return p.Resilient.Breaker().Snapshot().Totals.Failures >= 5 })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close = %v, want nil: the three records are safe in the spool", err)
	}
	q, err := spool.OpenDisk(dir, spool.DiskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	entries, err := q.Peek(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, e := range entries {
		vals = append(vals, string(e.Value))
	}
	if !slices.Equal(vals, []string{"a", "b", "c"}) {
		t.Fatalf("spool holds %v after Close, want [a b c]", vals)
	}
}

// Everything was acknowledged, and Close is called with a context that has
// already ended: there is nothing left to wait for, so Close returns nil.
// franz-go's Flush picks at random between "done" and "context ended"
// when both are ready, so the case is tried many times.
func TestCloseAfterEverythingWasAcknowledgedIgnoresAnEndedContext(t *testing.T) {
	c := embeddedkafka.NewTestCluster(t, embeddedkafka.Config{Topics: []string{kt}})
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for i := range 20 {
		p, err := Open(Config{Options: Options{Brokers: c.Addrs()}})
		if err != nil {
			t.Fatal(err)
		}
		kb := newBus(t, c.Addrs(), nil)
		for _, v := range []string{"a", "b", "c"} {
			if err := p.Resilient.PublishRecord(context.Background(), event.Record{Topic: kt, Key: []byte("k"), Value: []byte(v)}); err != nil {
				t.Fatal(err)
			}
			if err := kb.Publish(context.Background(), kt, "k", newEnvelope(t, i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Close(ended); err != nil {
			t.Fatalf("round %d: ResilientBus Close = %v, want nil: all three were acknowledged", i, err)
		}
		if err := kb.Close(ended); err != nil {
			t.Fatalf("round %d: KafkaBus Close = %v, want nil: all three were acknowledged", i, err)
		}
	}
}

// Two of five queued records are delivered before Kafka fails again; the
// memory queue's rest is exactly the three that were not.
func TestCloseCountsExactlyWhatTheMemoryQueueDidNotDeliver(t *testing.T) {
	h := newHarness(t, nil)
	h.openBreaker(t, "a")
	for _, v := range []string{"b", "c", "d", "e"} {
		h.publish(t, "k", v)
	}
	calls := 0
	h.prod.onCall = func(int) {
		calls++
		h.prod.setDown(calls > 2) // the two half-open probes succeed, then Kafka is gone
	}
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	eventually(t, "the breaker to open again", func() bool {
		return len(h.prod.delivered()) == 2 && h.cb.State() == resilience.StateOpen
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := h.bus.Close(ctx)
	ue, ok := errors.AsType[*UndeliveredError](err)
	if !ok || !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Close = %v, want an *UndeliveredError", err)
	}
	var vals []string
	for _, r := range ue.Records {
		vals = append(vals, string(r.Value))
	}
	if ue.Count != 3 || !slices.Equal(vals, []string{"c", "d", "e"}) || !slices.Equal(h.prod.delivered(), []string{"a", "b"}) {
		t.Fatalf("undelivered %d %v, delivered %v; want exactly [c d e] undelivered after [a b]", ue.Count, vals, h.prod.delivered())
	}
	if !strings.Contains(err.Error(), "3 accepted records undelivered") {
		t.Fatalf("Close = %q, want the count in the message", err)
	}
}

// closeFailingQueue is a durable-looking queue (it hides the memory
// queue's Remaining) whose Close fails, as a disk spool's last head update
// might.
type closeFailingQueue struct{ spool.Queue }

var errHeadUpdate = errors.New("head update failed")

func (q closeFailingQueue) Close() error { return errors.Join(q.Queue.Close(), errHeadUpdate) }

func TestCloseCountsWhatADurableQueueHeldWhenItDidNotCloseCleanly(t *testing.T) {
	mem, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, closeFailingQueue{mem})
	h.openBreaker(t, "a")
	h.publish(t, "k", "b")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = h.bus.Close(ctx)
	qe, ok := errors.AsType[*QueueCloseError](err)
	if !ok || qe.Left != 2 || !errors.Is(err, errHeadUpdate) {
		t.Fatalf("Close = %v, want a *QueueCloseError counting 2 records and wrapping the queue's error", err)
	}
}
