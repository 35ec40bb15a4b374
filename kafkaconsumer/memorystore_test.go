package kafkaconsumer_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/kafkaconsumer"
	"github.com/huleedu/huleedu/kafkaconsumer/kafkaconsumertest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newStore(t *testing.T, opts kafkaconsumer.MemoryIdempotencyOptions) *kafkaconsumer.MemoryIdempotencyStore {
	t.Helper()
	s, err := kafkaconsumer.NewMemoryIdempotencyStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMemoryIdempotencyStoreKeepsTheStoreRules(t *testing.T) {
	kafkaconsumertest.TestIdempotencyStore(t, func(t *testing.T) kafkaconsumer.IdempotencyStore {
		return newStore(t, kafkaconsumer.MemoryIdempotencyOptions{})
	})
}

// processed reports whether Process treats key as processed; if not, it
// marks it.
func processed(t *testing.T, s *kafkaconsumer.MemoryIdempotencyStore, id string) bool {
	t.Helper()
	dup, err := s.Process(context.Background(), kafkaconsumer.EventKey{Consumer: "c", EventID: id},
		func(context.Context) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return dup
}

func TestProcessedEventIsForgottenAfterTTL(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	s := newStore(t, kafkaconsumer.MemoryIdempotencyOptions{TTL: time.Minute, Now: clock.Now})
	processed(t, s, "e1")
	clock.Advance(59 * time.Second)
	if !processed(t, s, "e1") {
		t.Fatal("forgotten before its TTL")
	}
	clock.Advance(time.Second)
	if processed(t, s, "e1") {
		t.Fatal("still remembered after its TTL")
	}
}

func TestStoreForgetsOldestBeyondMaxEntries(t *testing.T) {
	s := newStore(t, kafkaconsumer.MemoryIdempotencyOptions{MaxEntries: 3})
	for i := range 5 {
		processed(t, s, "e"+strconv.Itoa(i))
	}
	if n := s.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	if !processed(t, s, "e4") {
		t.Fatal("the newest id was forgotten")
	}
	if processed(t, s, "e0") {
		t.Fatal("the oldest id is still remembered beyond MaxEntries")
	}
}

func TestPanickingHandleLeavesTheEventUnheld(t *testing.T) {
	s := newStore(t, kafkaconsumer.MemoryIdempotencyOptions{})
	key := kafkaconsumer.EventKey{Consumer: "c", EventID: "e1"}
	func() {
		defer func() { _ = recover() }()
		_, _ = s.Process(context.Background(), key, func(context.Context) error { panic("handler bug") })
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ran := false
	dup, err := s.Process(ctx, key, func(context.Context) error { ran = true; return nil })
	if err != nil || dup || !ran {
		t.Fatalf("Process after a panic = %v, %v (ran %v); want the event handled: a panic must neither hold nor mark it", dup, err, ran)
	}
}

func TestProcessRejectsEmptyEventID(t *testing.T) {
	s := newStore(t, kafkaconsumer.MemoryIdempotencyOptions{})
	_, err := s.Process(context.Background(), kafkaconsumer.EventKey{Consumer: "c"}, func(context.Context) error { return nil })
	if !errors.Is(err, kafkaconsumer.ErrEmptyEventID) {
		t.Fatalf("Process with an empty event id = %v, want ErrEmptyEventID", err)
	}
}

func TestNewMemoryIdempotencyStoreRejectsNegativeOptions(t *testing.T) {
	for _, o := range []kafkaconsumer.MemoryIdempotencyOptions{{TTL: -1}, {MaxEntries: -1}} {
		if _, err := kafkaconsumer.NewMemoryIdempotencyStore(o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}

func TestEveryDeliveryRunsHandleEachTime(t *testing.T) {
	n := 0
	for range 3 {
		dup, err := kafkaconsumer.EveryDelivery{}.Process(context.Background(), kafkaconsumer.EventKey{Consumer: "c", EventID: "e1"},
			func(context.Context) error { n++; return nil })
		if dup || err != nil {
			t.Fatalf("Process = %v, %v", dup, err)
		}
	}
	if n != 3 {
		t.Fatalf("handle ran %d times, want 3", n)
	}
}
