package kafkaconsumer

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"
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

func newStore(t *testing.T, opts MemoryIdempotencyOptions) *MemoryIdempotencyStore {
	t.Helper()
	s, err := NewMemoryIdempotencyStore(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompletedEventIsSeen(t *testing.T) {
	s := newStore(t, MemoryIdempotencyOptions{})
	ctx := context.Background()
	if seen, err := s.Acquire(ctx, "e1"); seen || err != nil {
		t.Fatalf("first Acquire = %v, %v; want false, nil", seen, err)
	}
	s.Complete("e1")
	if seen, err := s.Acquire(ctx, "e1"); !seen || err != nil {
		t.Fatalf("Acquire after Complete = %v, %v; want true, nil", seen, err)
	}
}

func TestReleasedEventCanBeAcquiredAgain(t *testing.T) {
	s := newStore(t, MemoryIdempotencyOptions{})
	ctx := context.Background()
	if _, err := s.Acquire(ctx, "e1"); err != nil {
		t.Fatal(err)
	}
	s.Release("e1")
	if seen, err := s.Acquire(ctx, "e1"); seen || err != nil {
		t.Fatalf("Acquire after Release = %v, %v; want false, nil (handle it again)", seen, err)
	}
}

func TestConcurrentDuplicateWaitsForFirstHandler(t *testing.T) {
	s := newStore(t, MemoryIdempotencyOptions{})
	ctx := context.Background()
	if _, err := s.Acquire(ctx, "e1"); err != nil {
		t.Fatal(err)
	}
	result := make(chan bool)
	go func() {
		seen, err := s.Acquire(ctx, "e1")
		if err != nil {
			t.Error(err)
		}
		result <- seen
	}()
	select {
	case <-result:
		t.Fatal("a concurrent duplicate did not wait for the first handler")
	case <-time.After(20 * time.Millisecond):
	}
	s.Complete("e1")
	if seen := <-result; !seen {
		t.Fatal("the waiting duplicate was not told the event was processed")
	}
}

func TestManyConcurrentDuplicatesAcquireOnce(t *testing.T) {
	s := newStore(t, MemoryIdempotencyOptions{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		acquired int
	)
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			seen, err := s.Acquire(context.Background(), "e1")
			if err != nil {
				t.Error(err)
				return
			}
			if !seen {
				mu.Lock()
				acquired++
				mu.Unlock()
				s.Complete("e1")
			}
		}()
	}
	wg.Wait()
	if acquired != 1 {
		t.Fatalf("%d callers acquired the same event, want 1", acquired)
	}
}

func TestWaitingDuplicateGivesUpWithItsContext(t *testing.T) {
	s := newStore(t, MemoryIdempotencyOptions{})
	if _, err := s.Acquire(context.Background(), "e1"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Acquire(ctx, "e1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire = %v, want context.Canceled", err)
	}
}

func TestProcessedEventIsForgottenAfterTTL(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	s := newStore(t, MemoryIdempotencyOptions{TTL: time.Minute, Now: clock.Now})
	ctx := context.Background()
	_, _ = s.Acquire(ctx, "e1")
	s.Complete("e1")
	clock.Advance(59 * time.Second)
	if seen, _ := s.Acquire(ctx, "e1"); !seen {
		t.Fatal("forgotten before its TTL")
	}
	clock.Advance(time.Second)
	if seen, _ := s.Acquire(ctx, "e1"); seen {
		t.Fatal("still remembered after its TTL")
	}
}

func TestStoreForgetsOldestBeyondMaxEntries(t *testing.T) {
	s := newStore(t, MemoryIdempotencyOptions{MaxEntries: 3})
	ctx := context.Background()
	for i := range 5 {
		id := "e" + strconv.Itoa(i)
		_, _ = s.Acquire(ctx, id)
		s.Complete(id)
	}
	if n := s.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	if seen, _ := s.Acquire(ctx, "e0"); seen {
		t.Fatal("the oldest id is still remembered beyond MaxEntries")
	}
	s.Release("e0")
	if seen, _ := s.Acquire(ctx, "e4"); !seen {
		t.Fatal("the newest id was forgotten")
	}
}

func TestAcquireRejectsEmptyEventID(t *testing.T) {
	s := newStore(t, MemoryIdempotencyOptions{})
	if _, err := s.Acquire(context.Background(), ""); !errors.Is(err, ErrEmptyEventID) {
		t.Fatalf("Acquire(\"\") = %v, want ErrEmptyEventID", err)
	}
}

func TestNewMemoryIdempotencyStoreRejectsNegativeOptions(t *testing.T) {
	for _, o := range []MemoryIdempotencyOptions{{TTL: -1}, {MaxEntries: -1}} {
		if _, err := NewMemoryIdempotencyStore(o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
}
