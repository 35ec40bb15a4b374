package spool

import (
	"context"
	"testing"

	"github.com/huleedu/huleedu/event"
)

// When an append takes the last spare block, a spare is prepared in the
// background, so the appender that fills the current block finds the next
// one ready.
func TestMemoryPreparesASpareWhenItTakesTheLast(t *testing.T) {
	m, err := NewMemory(MemoryOptions{MaxRecords: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if got := len(m.entries.spares); got != 1 {
		t.Fatalf("a new queue has %d spare blocks, want 1", got)
	}
	r := event.Record{Topic: "t", Value: []byte("v")}
	if err := m.Append(context.Background(), r); err != nil { // takes the spare
		t.Fatal(err)
	}
	m.spares.Wait()
	m.mu.Lock()
	defer m.mu.Unlock()
	if got := len(m.entries.spares); got != 1 {
		t.Fatalf("after the first append took the only spare: %d spares, want 1 prepared", got)
	}
	if s := m.entries.spares[0]; len(s) != 0 || cap(s) != maxBlockLen {
		t.Fatalf("prepared spare has len %d cap %d, want an empty block of %d", len(s), cap(s), maxBlockLen)
	}
}

// A small queue's blocks are no larger than the queue.
func TestMemoryBlocksAreNoLargerThanTheQueue(t *testing.T) {
	m, err := NewMemory(MemoryOptions{MaxRecords: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if c := cap(m.entries.spares[0]); c != 10 {
		t.Fatalf("block capacity %d for a queue of 10 records, want 10", c)
	}
}
