package kafkabus

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/huleedu/huleedu/spool"
)

// peekCounter is a queue that counts the drainer's reads.
type peekCounter struct {
	spool.Queue
	peeks atomic.Int64
}

func (q *peekCounter) Peek(ctx context.Context, max int) ([]spool.Entry, error) {
	q.peeks.Add(1)
	return q.Queue.Peek(ctx, max)
}

// While the breaker refuses, the drainer must not read the queue: a read
// per append (each append wakes the drainer) would copy the head under the
// lock every publisher takes, which is what made open-circuit publishes
// slow. The drainer still asks the breaker (every OpenPoll), and drains
// once it may.
func TestOpenBreakerKeepsTheDrainerOffTheQueue(t *testing.T) {
	mem, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 1000})
	if err != nil {
		t.Fatal(err)
	}
	q := &peekCounter{Queue: mem}
	h := newHarness(t, q)
	h.cb.ForceOpen()
	for i := range 100 {
		h.publish(t, "k", fmt.Sprint(i))
	}
	asked := h.cb.Snapshot().Totals.Rejected
	eventually(t, "the drainer to ask the open breaker again", func() bool {
		return h.cb.Snapshot().Totals.Rejected >= asked+3
	})
	if n := q.peeks.Load(); n != 0 {
		t.Fatalf("the drainer read the queue %d times while the breaker was open, want 0", n)
	}

	h.cb.Reset()
	eventually(t, "the drain after Reset", func() bool { return h.bus.Stats().Replayed == 100 })
	if got := h.prod.delivered(); len(got) != 100 || got[0] != "0" || got[99] != "99" {
		t.Fatalf("delivered %d records (%v...), want 0..99 in order", len(got), got[:min(3, len(got))])
	}
}
