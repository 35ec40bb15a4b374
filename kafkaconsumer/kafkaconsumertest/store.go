// Package kafkaconsumertest checks an implementation of
// kafkaconsumer.IdempotencyStore against the rules the consumer relies
// on, so every store (in memory, PostgreSQL, SQLite) passes one suite:
//
//	func TestProcessedEventsStore(t *testing.T) {
//		kafkaconsumertest.TestIdempotencyStore(t, func(t *testing.T) kafkaconsumer.IdempotencyStore {
//			return sqlstore.New(openTestDB(t)) // a fresh, empty table per call
//		})
//	}
//
// The rules: a processed event is a duplicate and its handle does not run;
// a failed handle does not mark the event and its error comes back
// intact; consumers are independent; of concurrent duplicates exactly one
// handle succeeds; a duplicate that waits gives up when its context ends.
// Whether a failed handle's state change rolls back with it is for the
// store's own tests: only it knows where the state lives.
package kafkaconsumertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/huleedu/huleedu/kafkaconsumer"
)

// TestIdempotencyStore runs the suite as subtests; open returns a new,
// empty store each time it is called.
func TestIdempotencyStore(t *testing.T, open func(t *testing.T) kafkaconsumer.IdempotencyStore) {
	t.Helper()
	for _, tc := range []struct {
		name string
		test func(t *testing.T, s kafkaconsumer.IdempotencyStore)
	}{
		{"ProcessedEventIsADuplicate", processedEventIsADuplicate},
		{"FailedHandleDoesNotMarkTheEvent", failedHandleDoesNotMarkTheEvent},
		{"HandleErrorComesBackIntact", handleErrorComesBackIntact},
		{"HandleSeesTheCallersContext", handleSeesTheCallersContext},
		{"ConsumersAreIndependent", consumersAreIndependent},
		{"ConcurrentDuplicatesSucceedOnce", concurrentDuplicatesSucceedOnce},
		{"DuplicateWaitingForAFailedHandleRunsItself", duplicateWaitingForAFailedHandleRunsItself},
		{"DuplicateGivesUpWithItsContext", duplicateGivesUpWithItsContext},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.test(t, open(t)) })
	}
}

// newKey returns a key no earlier test used.
func newKey(consumer string) kafkaconsumer.EventKey {
	return kafkaconsumer.EventKey{Consumer: consumer, EventID: uuid.NewString()}
}

// process calls s.Process and counts handle's runs in *runs.
func process(ctx context.Context, s kafkaconsumer.IdempotencyStore, key kafkaconsumer.EventKey, runs *atomic.Int32, result error) (bool, error) {
	return s.Process(ctx, key, func(context.Context) error {
		runs.Add(1)
		return result
	})
}

func processedEventIsADuplicate(t *testing.T, s kafkaconsumer.IdempotencyStore) {
	key := newKey("reader")
	var runs atomic.Int32
	if dup, err := process(t.Context(), s, key, &runs, nil); dup || err != nil {
		t.Fatalf("first Process = %v, %v; want false, nil", dup, err)
	}
	if dup, err := process(t.Context(), s, key, &runs, nil); !dup || err != nil {
		t.Fatalf("second Process = %v, %v; want true, nil (a duplicate)", dup, err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handle ran %d times, want 1", n)
	}
}

func failedHandleDoesNotMarkTheEvent(t *testing.T, s kafkaconsumer.IdempotencyStore) {
	key := newKey("reader")
	var runs atomic.Int32
	if dup, err := process(t.Context(), s, key, &runs, errors.New("database on fire")); dup || err == nil {
		t.Fatalf("Process with a failing handle = %v, %v; want false and its error", dup, err)
	}
	if dup, err := process(t.Context(), s, key, &runs, nil); dup || err != nil {
		t.Fatalf("Process after a failure = %v, %v; want false, nil (handled again)", dup, err)
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("handle ran %d times, want 2: a failure must not mark the event processed", n)
	}
}

func handleErrorComesBackIntact(t *testing.T, s kafkaconsumer.IdempotencyStore) {
	var runs atomic.Int32
	cause := kafkaconsumer.Permanent(errors.New("payload does not decode"))
	_, err := process(t.Context(), s, newKey("reader"), &runs, cause)
	if !errors.Is(err, kafkaconsumer.ErrPermanent) {
		t.Fatalf("Process = %v, want the handle's error, in which errors.Is finds ErrPermanent", err)
	}
}

type ctxKey struct{}

func handleSeesTheCallersContext(t *testing.T, s kafkaconsumer.IdempotencyStore) {
	ctx := context.WithValue(t.Context(), ctxKey{}, "corr-1")
	var got any
	_, err := s.Process(ctx, newKey("reader"), func(ctx context.Context) error {
		got = ctx.Value(ctxKey{})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != "corr-1" {
		t.Fatalf("handle's context has %v, want the caller's values (correlation id, trace)", got)
	}
}

func consumersAreIndependent(t *testing.T, s kafkaconsumer.IdempotencyStore) {
	a := newKey("essay_lifecycle_service")
	b := kafkaconsumer.EventKey{Consumer: "batch_conductor_service", EventID: a.EventID}
	var runs atomic.Int32
	for _, key := range []kafkaconsumer.EventKey{a, b} {
		if dup, err := process(t.Context(), s, key, &runs, nil); dup || err != nil {
			t.Fatalf("Process(%+v) = %v, %v; want false, nil: another consumer's mark must not count", key, dup, err)
		}
	}
}

func concurrentDuplicatesSucceedOnce(t *testing.T, s kafkaconsumer.IdempotencyStore) {
	const n = 8
	key := newKey("reader")
	var (
		runs    atomic.Int32
		entered = make(chan struct{})
		release = make(chan struct{})
		once    sync.Once
		wg      sync.WaitGroup
		dups    atomic.Int32
	)
	handle := func(context.Context) error {
		runs.Add(1)
		once.Do(func() { close(entered) })
		<-release
		return nil
	}
	for range n {
		wg.Go(func() {
			dup, err := s.Process(t.Context(), key, handle)
			if err != nil {
				t.Errorf("Process: %v", err)
			}
			if dup {
				dups.Add(1)
			}
		})
	}
	<-entered
	close(release)
	wg.Wait()
	if r, d := runs.Load(), dups.Load(); r != 1 || d != n-1 {
		t.Fatalf("handle ran %d times and %d calls were duplicates; want 1 and %d", r, d, n-1)
	}
}

func duplicateWaitingForAFailedHandleRunsItself(t *testing.T, s kafkaconsumer.IdempotencyStore) {
	key := newKey("reader")
	var (
		runs    atomic.Int32
		entered = make(chan struct{})
		release = make(chan struct{})
		wg      sync.WaitGroup
	)
	wg.Go(func() {
		_, err := s.Process(t.Context(), key, func(context.Context) error {
			runs.Add(1)
			close(entered)
			<-release
			return errors.New("first attempt fails")
		})
		if err == nil {
			t.Error("the failing Process returned nil")
		}
	})
	<-entered
	second := make(chan error, 1)
	go func() {
		dup, err := process(t.Context(), s, key, &runs, nil)
		if err == nil && dup {
			err = fmt.Errorf("reported a duplicate of an event whose only handle failed")
		}
		second <- err
	}()
	close(release)
	wg.Wait()
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the second Process did not return within 30s of the first one failing")
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("handle ran %d times, want 2 (the failure, then the duplicate's own run)", n)
	}
}

func duplicateGivesUpWithItsContext(t *testing.T, s kafkaconsumer.IdempotencyStore) {
	key := newKey("reader")
	entered := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		_, _ = s.Process(t.Context(), key, func(context.Context) error {
			close(entered)
			<-release
			return nil
		})
	})
	defer wg.Wait()
	defer close(release)
	<-entered
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var runs atomic.Int32
	dup, err := process(ctx, s, key, &runs, nil)
	if err == nil || dup || runs.Load() != 0 {
		t.Fatalf("Process with an ended context while another holds the event = %v, %v (handle ran %d times); want an error and no run",
			dup, err, runs.Load())
	}
}
