package kafkabus

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// failingAckQueue is a queue whose next Ack fails once armed.
type failingAckQueue struct {
	spool.Queue
	failNext atomic.Bool
}

func (q *failingAckQueue) Ack(seq uint64) error {
	if q.failNext.CompareAndSwap(true, false) {
		return errors.New("injected ack failure")
	}
	return q.Queue.Ack(seq)
}

// A failed Ack makes the drainer replay from the head (duplicates, never
// loss). The records it delivers again must not be counted twice: the
// backlog would reach zero with records still queued, so the drainer would
// stop (nothing drains them without new traffic) and new publishes would
// go straight to Kafka, overtaking them.
func TestFailedAckDoesNotMiscountTheBacklog(t *testing.T) {
	mem, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 100})
	if err != nil {
		t.Fatal(err)
	}
	q := &failingAckQueue{Queue: mem}
	h := newHarness(t, q)
	h.openBreaker(t, "a")
	h.publish(t, "k", "b")

	q.failNext.Store(true)
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if st := h.bus.Stats(); st.Replayed != 2 {
		t.Fatalf("replayed %d after the drain, want 2 (a and b, each counted once)", st.Replayed)
	}
	eventually(t, "breaker closed", func() bool { return h.cb.State() == resilience.StateClosed })

	h.publish(t, "k", "c")
	if st := h.bus.Stats(); st.Published != 1 || st.Spooled != 2 {
		t.Fatalf("stats %+v after the queue drained: want c published directly", st)
	}
}
