package kafkabus

import (
	"errors"
	"fmt"
	"slices"
	"sync"
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
	// Replayed is counted just after the queue's Ack: wait for both.
	eventually(t, "drain", func() bool { st := h.bus.Stats(); return st.Queue.Records == 0 && st.Replayed >= 2 })
	if st := h.bus.Stats(); st.Replayed != 2 {
		t.Fatalf("replayed %d after the drain, want 2 (a and b, each counted once)", st.Replayed)
	}
	eventually(t, "breaker closed", func() bool { return h.cb.State() == resilience.StateClosed })

	h.publish(t, "k", "c")
	if st := h.bus.Stats(); st.Published != 1 || st.Spooled != 2 {
		t.Fatalf("stats %+v after the queue drained: want c published directly", st)
	}
}

// countingAckMemory is a memory queue that counts its Acks.
type countingAckMemory struct {
	*spool.Memory
	acks atomic.Int64
}

func (q *countingAckMemory) Ack(seq uint64) error {
	q.acks.Add(1)
	return q.Memory.Ack(seq)
}

// A drain acknowledges once per ackEvery records, and once more when it
// has nothing left to send, not after every batch that happens to leave
// nothing in flight: on disk every Ack is a head-file write with two
// fsyncs, and a drain one batch at a time used to pay them per batch.
func TestDrainAcknowledgesInGroupsNotPerBatch(t *testing.T) {
	mem, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	q := &countingAckMemory{Memory: mem}
	h := newHarness(t, q, func(o *ResilientOptions, _ *resilience.Settings) {
		o.DrainBatch, o.DrainInFlight = 100, 1
	})
	h.openBreaker(t, "r0")
	want := []string{"r0"}
	for i := 1; i < 2000; i++ {
		v := fmt.Sprint("r", i)
		h.publish(t, "k", v)
		want = append(want, v)
	}
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })
	if got := h.prod.delivered(); !slices.Equal(got, want) {
		t.Fatalf("delivered %d records, want all 2000 in order", len(got))
	}
	// Two probes while half-open, then 20 batches of 100.
	if n := q.acks.Load(); n > 3 {
		t.Fatalf("%d Acks for a drain of 2000 records in batches of 100, want at most 3", n)
	}
}

// blockingAckMemory is a memory queue whose first Ack tells its seq on
// first and then waits for release.
type blockingAckMemory struct {
	*spool.Memory
	first          chan uint64
	release        chan struct{}
	once, released sync.Once
}

func (q *blockingAckMemory) releaseAck() { q.released.Do(func() { close(q.release) }) }

func (q *blockingAckMemory) Ack(seq uint64) error {
	q.once.Do(func() {
		q.first <- seq
		<-q.release
	})
	return q.Memory.Ack(seq)
}

// The drainer's periodic Ack (every ackEvery records) runs behind the
// drain: while the disk spool writes its head file, the next batches are
// already being produced, and a periodic Ack still under way when the next
// is due does not stop the drain either (the next one covers both). Only
// the final Ack, with nothing left to send, is waited for. The backlog
// drops only once an Ack is done.
func TestDrainGoesOnWhileAPeriodicAckRuns(t *testing.T) {
	mem, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	q := &blockingAckMemory{Memory: mem, first: make(chan uint64, 1), release: make(chan struct{})}
	h := newHarness(t, q, func(o *ResilientOptions, _ *resilience.Settings) { o.DrainBatch = 500 })
	t.Cleanup(q.releaseAck) // registered after the harness: runs before its Close
	const n = 4 * ackEvery
	h.openBreaker(t, "r0")
	for i := 1; i < n; i++ {
		h.publish(t, "k", fmt.Sprint("r", i))
	}
	h.prod.setDown(false)
	h.clock.Advance(31 * time.Second)
	// Seqs run from 1: the first Ack covers the first seq records. Blocked
	// in it, the drainer would produce at most the batches already in
	// flight (under ackEvery records) beyond them; waiting for it at the
	// next periodic Ack, ackEvery more. Going on, it delivers everything.
	seq := int(<-q.first)
	if seq+2*ackEvery >= n {
		t.Fatalf("the first Ack covers %d of %d records: too late to test periodic Acks", seq, n)
	}
	eventually(t, "the drain to go on while the first Ack waits", func() bool { return len(h.prod.delivered()) == n })
	if st := h.bus.Stats(); st.Replayed != 0 {
		t.Fatalf("replayed %d while the first Ack waits, want 0: the backlog drops only after the Ack", st.Replayed)
	}
	q.releaseAck()
	eventually(t, "drain", func() bool { st := h.bus.Stats(); return st.Queue.Records == 0 && st.Replayed >= n })
	if got := h.bus.Stats().Replayed; got != n {
		t.Fatalf("replayed %d, want %d", got, n)
	}
}
