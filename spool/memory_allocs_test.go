//go:build !race

// Allocation budgets run without -race, which allocates on its own
// account; scripts/test.sh runs them in a step of their own.

package spool

import (
	"context"
	"math"
	"runtime"
	"testing"

	"github.com/huleedu/huleedu/event"
)

// A memory queue that has held records before reuses the blocks they
// lived in: appending into them allocates nothing, so an outage that
// fills the queue again costs the publishers no allocation and no fresh
// memory.
func TestMemoryAppendDoesNotAllocateOnceWarm(t *testing.T) {
	m, err := NewMemory(MemoryOptions{MaxRecords: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	r := event.Record{Topic: "t", Key: []byte("k"), Value: []byte("v")}
	fill := func(n int) {
		for range n {
			if err := m.Append(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	fill(3 * maxBlockLen) // three blocks, then drained: they become spares
	// MemStats counts the whole process's allocations, and now and then
	// something else allocates meanwhile (1 run in 200 saw 7): the fewest
	// of three attempts is the queue's. An allocation of the queue's own
	// shows in every attempt.
	fewest := uint64(math.MaxUint64)
	for range 3 {
		if err := m.Ack(m.nextSeq - 1); err != nil {
			t.Fatal(err)
		}
		m.spares.Wait() // a spare being prepared would count below

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fill(2 * maxBlockLen)
		runtime.ReadMemStats(&after)
		if fewest = min(fewest, after.Mallocs-before.Mallocs); fewest == 0 {
			return
		}
	}
	t.Fatalf("appending %d records into a warm queue allocated %d times at the fewest of three attempts, want 0", 2*maxBlockLen, fewest)
}
