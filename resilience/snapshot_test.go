package resilience

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestSnapshotDescribesBreaker(t *testing.T) {
	cb, clock := newBreaker(t, Settings{Name: "kafka", FailureThreshold: 2, RecoveryTimeout: time.Minute})
	succeedN(t, cb, 3)
	call(cb, context.Canceled)
	clock.Advance(time.Second)
	fail(t, cb, 1)
	failedAt := clock.Now()
	clock.Advance(time.Second)
	fail(t, cb, 1)
	openedAt := clock.Now()
	call(cb, nil) // rejected

	s := cb.Snapshot()
	want := Snapshot{
		Name:        "kafka",
		State:       StateOpen,
		Since:       openedAt,
		NextProbeAt: openedAt.Add(time.Minute),
		OpenPeriod:  time.Minute,
		Totals:      Counts{Successes: 3, Failures: 2, Ignored: 1, Rejected: 1},
		Transitions: []TransitionCount{{From: StateClosed, To: StateOpen, Count: 1}},
		LastFailure: &FailureRecord{At: openedAt, Error: "boom"},
	}
	if s.Name != want.Name || s.State != want.State || !s.Since.Equal(want.Since) || !s.NextProbeAt.Equal(want.NextProbeAt) ||
		s.OpenPeriod != want.OpenPeriod || s.Totals != want.Totals || !slices.Equal(s.Transitions, want.Transitions) ||
		s.LastFailure == nil || !s.LastFailure.At.Equal(want.LastFailure.At) || s.LastFailure.Error != "boom" {
		t.Fatalf("Snapshot =\n %+v\nwant\n %+v", s, want)
	}
	if failedAt.Equal(openedAt) {
		t.Fatal("test bug: the two failures must be at different times")
	}
}

func TestSnapshotOfNewBreakerIsClosedAndEmpty(t *testing.T) {
	cb, clock := newBreaker(t, Settings{})
	s := cb.Snapshot()
	if s.State != StateClosed || !s.Since.Equal(clock.Now()) || !s.NextProbeAt.IsZero() || s.LastFailure != nil ||
		s.Totals != (Counts{}) || s.Transitions == nil || len(s.Transitions) != 0 {
		t.Fatalf("new breaker snapshot: %+v", s)
	}
}

func TestSnapshotCountsTransitionsCumulatively(t *testing.T) {
	cb, clock := newBreaker(t, Settings{FailureThreshold: 1, SuccessThreshold: 1})
	for range 3 {
		fail(t, cb, 1)
		clock.Advance(time.Minute)
		succeedN(t, cb, 1)
	}
	cb.ForceOpen()
	cb.Reset()
	want := []TransitionCount{
		{StateClosed, StateOpen, 4},
		{StateOpen, StateClosed, 1},
		{StateOpen, StateHalfOpen, 3},
		{StateHalfOpen, StateClosed, 3},
	}
	if got := cb.Snapshot().Transitions; !slices.Equal(got, want) {
		t.Fatalf("Transitions = %v, want %v", got, want)
	}
}

func TestSnapshotJSONUsesStateNames(t *testing.T) {
	cb, _ := openBreaker(t, Settings{Name: "x"})
	b, err := json.Marshal(cb.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["state"] != "open" || m["name"] != "x" || m["next_probe_at"] == nil {
		t.Fatalf("JSON %s", b)
	}
	var back Snapshot
	if err := json.Unmarshal(b, &back); err != nil || back.State != StateOpen || back.Totals.Failures != 1 {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

// Many goroutines with mixed outcomes while an operator flips the breaker:
// every call must be counted exactly once in Totals, whatever the state
// did, and the breaker must end in a consistent state.
func TestTotalsCountEveryCallUnderConcurrency(t *testing.T) {
	for _, s := range []Settings{
		{FailureThreshold: 3},
		{FailureThreshold: 3, FailureRateThreshold: 50, WindowSize: 16},
		{FailureThreshold: 3, FailureRateThreshold: 50, WindowType: WindowTimeBased, WindowDuration: time.Second, MinimumCalls: 5},
		{FailureThreshold: 3, HalfOpenMaxCalls: 3, SlowCallDuration: time.Millisecond},
	} {
		cb, clock := newBreaker(t, s)
		const goroutines, calls = 4, 500
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range calls {
					var err error
					switch (g*7 + i) % 5 {
					case 0:
						err = errBoom
					case 1:
						err = context.Canceled
					}
					call(cb, err)
					if i%50 == 0 {
						clock.Advance(time.Minute)
					}
				}
			})
		}
		wg.Go(func() {
			for i := range 100 {
				if i%2 == 0 {
					cb.ForceOpen()
				} else {
					cb.Reset()
				}
			}
		})
		wg.Wait()
		tot := cb.Snapshot().Totals
		if n := tot.Successes + tot.Failures + tot.Ignored + tot.Rejected; n != goroutines*calls {
			t.Fatalf("settings %+v: Totals %+v add up to %d, want %d", s, tot, n, goroutines*calls)
		}
		cb.Reset()
		succeedN(t, cb, 1)
		if w := cb.Snapshot().Window; w.ConsecutiveFailures != 0 || w.Failures != 0 {
			t.Fatalf("window after Reset and a success: %+v", w)
		}
	}
}
