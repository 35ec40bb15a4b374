//go:build !race

// Allocation budgets. The race detector allocates on its own account (and
// makes sync.Pool drop items), so these run without -race: scripts/test.sh
// runs them in a step of their own.

package kafkabus

import (
	"context"
	"testing"

	"github.com/huleedu/huleedu/spool"
)

// A publish while the circuit is open and the memory queue takes the
// record allocates nothing of its own (the queue's storage aside, a block
// per 512 records until the queue is warm): the caller's goroutine then never owes
// the garbage collector an assist, the cause of tens-of-microseconds
// outliers in the open-circuit latency benchmark.
func TestOpenCircuitPublishDoesNotAllocate(t *testing.T) {
	q, err := spool.NewMemory(spool.MemoryOptions{MaxRecords: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, q)
	h.cb.ForceOpen()
	r := rec("k", "value")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(500, func() {
		if err := h.bus.PublishRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("PublishRecord with the circuit open allocated %v times per record, want 0", allocs)
	}
	h.cb.Reset() // let Close drain instead of waiting out its deadline
}
