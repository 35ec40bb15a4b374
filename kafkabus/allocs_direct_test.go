//go:build !race

package kafkabus

import (
	"context"
	"runtime"
	"testing"

	"github.com/huleedu/huleedu/embeddedkafka"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/spool"
)

// mallocsPerCall runs fn n times and returns the process's heap
// allocations per call, as a fraction (AllocsPerRun rounds down).
func mallocsPerCall(n int, fn func()) float64 {
	fn() // warm up
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range n {
		fn()
	}
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n)
}

// newOneBrokerBus returns a KafkaBus on a one-broker, one-partition
// in-process cluster that closes with the test; the caller closes the bus.
func newOneBrokerBus(t *testing.T) *KafkaBus {
	t.Helper()
	c, err := embeddedkafka.Start(embeddedkafka.Config{Brokers: 1, Partitions: 1, Topics: []string{busTopic}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	kb, err := NewKafkaBus(Options{Brokers: c.Addrs()})
	if err != nil {
		t.Fatal(err)
	}
	return kb
}

// A healthy publish through ResilientBus (breaker closed, queue empty)
// allocates one object on top of KafkaBus's own one-record produce: the
// breaker's *Permit. The record itself stays on the caller's stack (when
// it escaped, the difference was two). Both are measured against the same
// in-process broker, whose allocations count on both sides alike.
func TestHealthyPublishDoesNotAllocateBeyondThePermit(t *testing.T) {
	kb := newOneBrokerBus(t)
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "allocs"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := spool.NewMemory(spool.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := NewResilientBus(kb, ResilientOptions{Breaker: cb, Queue: q})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bus.Close(context.Background()) })

	ctx := context.Background()
	r := event.Record{Topic: busTopic, Key: []byte("k"), Value: []byte("v")}
	const n = 400
	raw := mallocsPerCall(n, func() {
		if err := kb.produceOne(ctx, &r); err != nil {
			t.Fatal(err)
		}
	})
	ours := mallocsPerCall(n, func() {
		if err := bus.PublishRecord(ctx, r); err != nil {
			t.Fatal(err)
		}
	})
	if st := bus.Stats(); st.Published != n+1 {
		t.Fatalf("published %d directly, want %d", st.Published, n+1)
	}
	if ours-raw > 1.5 {
		t.Fatalf("PublishRecord: %.2f allocations per record, KafkaBus alone %.2f: want one more at most (the permit)", ours, raw)
	}
	t.Logf("heap allocations per record: PublishRecord %.2f, KafkaBus %.2f", ours, raw)
}
