package resilience

import (
	"context"
	"slices"
	"sync"
	"testing"
)

// tripRecorder is a ReadyToTrip that records what it was asked and answers
// with answer.
type tripRecorder struct {
	mu     sync.Mutex
	asked  []TripCounts
	answer func(TripCounts) bool
}

func (r *tripRecorder) readyToTrip(c TripCounts) bool {
	r.mu.Lock()
	r.asked = append(r.asked, c)
	r.mu.Unlock()
	return r.answer(c)
}

func (r *tripRecorder) calls() []TripCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]TripCounts(nil), r.asked...)
}

func TestReadyToTripReplacesConsecutivePolicy(t *testing.T) {
	never := &tripRecorder{answer: func(TripCounts) bool { return false }}
	cb, _ := newBreaker(t, Settings{ReadyToTrip: never.readyToTrip})
	fail(t, cb, 2*DefaultFailureThreshold)
	wantState(t, cb, StateClosed)
	if got := len(never.calls()); got != 2*DefaultFailureThreshold {
		t.Fatalf("ReadyToTrip asked %d times, want once per failure (%d)", got, 2*DefaultFailureThreshold)
	}
}

func TestReadyToTripOpensCircuitWhenItSaysSo(t *testing.T) {
	// gobreaker's README example: at least 3 requests, 60% of them failed.
	ratio := &tripRecorder{answer: func(c TripCounts) bool {
		calls := c.Successes + c.Failures
		return calls >= 3 && float64(c.Failures)/float64(calls) >= 0.6
	}}
	cb, _ := newBreaker(t, Settings{ReadyToTrip: ratio.readyToTrip})
	succeedN(t, cb, 1)
	fail(t, cb, 1) // 1 of 2
	succeedN(t, cb, 1)
	fail(t, cb, 1) // 2 of 4
	wantState(t, cb, StateClosed)
	fail(t, cb, 1) // 3 of 5
	wantState(t, cb, StateOpen)
	want := []TripCounts{
		{ConsecutiveFailures: 1, Successes: 1, Failures: 1},
		{ConsecutiveFailures: 1, Successes: 2, Failures: 2},
		{ConsecutiveFailures: 2, Successes: 2, Failures: 3},
	}
	if got := ratio.calls(); !slices.Equal(got, want) {
		t.Fatalf("ReadyToTrip saw %+v\nwant %+v", got, want)
	}
}

func TestReadyToTripIsNotAskedForSuccessesOrIgnoredOutcomes(t *testing.T) {
	r := &tripRecorder{answer: func(TripCounts) bool { return true }}
	cb, _ := newBreaker(t, Settings{ReadyToTrip: r.readyToTrip})
	succeedN(t, cb, 3)
	call(cb, context.Canceled)
	if got := r.calls(); len(got) != 0 {
		t.Fatalf("ReadyToTrip asked %+v without a failure", got)
	}
	wantState(t, cb, StateClosed)
}

func TestReadyToTripCountsStartWhenCircuitCloses(t *testing.T) {
	r := &tripRecorder{answer: func(c TripCounts) bool { return c.Failures >= 2 }}
	cb, clock := newBreaker(t, Settings{ReadyToTrip: r.readyToTrip, SuccessThreshold: 1})
	succeedN(t, cb, 4)
	call(cb, context.Canceled)
	fail(t, cb, 2)
	wantState(t, cb, StateOpen)
	clock.Advance(cb.Settings().RecoveryTimeout)
	succeedN(t, cb, 1) // the probe closes the circuit: the counts start over
	fail(t, cb, 1)
	got := r.calls()
	if last, want := got[len(got)-1], (TripCounts{ConsecutiveFailures: 1, Failures: 1}); last != want {
		t.Fatalf("first failure after closing saw %+v, want %+v", last, want)
	}
	if first, want := got[0], (TripCounts{ConsecutiveFailures: 1, Successes: 4, Failures: 1, Ignored: 1}); first != want {
		t.Fatalf("first failure saw %+v, want %+v", first, want)
	}
	cb.Reset()
	fail(t, cb, 1)
	if last := r.calls()[len(r.calls())-1]; last.Failures != 1 || last.Successes != 0 {
		t.Fatalf("after Reset ReadyToTrip saw %+v, want the counts to start over", last)
	}
}

func TestReadyToTripSeesConfiguredWindow(t *testing.T) {
	r := &tripRecorder{answer: func(c TripCounts) bool { return c.WindowFailures >= 3 }}
	cb, _ := newBreaker(t, Settings{ReadyToTrip: r.readyToTrip, WindowSize: 4})
	fail(t, cb, 1)
	succeedN(t, cb, 3)
	fail(t, cb, 2) // the first failure has left the 4-call window
	wantState(t, cb, StateClosed)
	if last := r.calls()[len(r.calls())-1]; last.WindowCalls != 4 || last.WindowFailures != 2 || last.Failures != 3 {
		t.Fatalf("ReadyToTrip saw %+v, want a full window of 4 with 2 failures, 3 failures since closed", last)
	}
	fail(t, cb, 1)
	wantState(t, cb, StateOpen)
}

func TestReadyToTripRunsWithoutLock(t *testing.T) {
	var cb *CircuitBreaker
	inside := make(chan Snapshot, 1)
	cb, _ = newBreaker(t, Settings{ReadyToTrip: func(TripCounts) bool {
		// Each of these takes the breaker's lock: called under it, the
		// test would deadlock.
		inside <- cb.Snapshot()
		cb.Subscribe(func(string, State, State) {})()
		return cb.State() == StateClosed
	}})
	fail(t, cb, 1)
	if s := <-inside; s.Totals.Failures != 1 {
		t.Fatalf("Snapshot inside ReadyToTrip: %+v", s.Totals)
	}
	wantState(t, cb, StateOpen)
}

func TestReadyToTripThatResetsLeavesCircuitClosed(t *testing.T) {
	// The predicate's own Reset starts a new generation, so its true
	// answer belongs to a past one and must not open the new circuit.
	var cb *CircuitBreaker
	cb, _ = newBreaker(t, Settings{ReadyToTrip: func(TripCounts) bool {
		cb.Reset()
		return true
	}})
	fail(t, cb, 1)
	wantState(t, cb, StateClosed)
}

func TestReadyToTripIsNotAskedWhileDisabled(t *testing.T) {
	r := &tripRecorder{answer: func(TripCounts) bool { return true }}
	cb, _ := newBreaker(t, Settings{ReadyToTrip: r.readyToTrip})
	cb.Disable()
	fail(t, cb, 3)
	wantState(t, cb, StateClosed)
	if got := r.calls(); len(got) != 0 {
		t.Fatalf("ReadyToTrip asked %+v while disabled", got)
	}
}

func TestPanickingReadyToTripLeavesBreakerConsistent(t *testing.T) {
	cb, _ := newBreaker(t, Settings{ReadyToTrip: func(TripCounts) bool { panic("predicate bug") }})
	func() {
		defer func() {
			if r := recover(); r != "predicate bug" {
				t.Fatalf("recovered %v, want the predicate's panic", r)
			}
		}()
		call(cb, errBoom)
	}()
	s := cb.Snapshot()
	if s.State != StateClosed || s.Totals.Failures != 1 || s.Window.ConsecutiveFailures != 1 {
		t.Fatalf("after a panicking ReadyToTrip: %+v", s)
	}
	succeedN(t, cb, 1) // the lock was not left held
}

func TestReadyToTripCountsPanicsAndPermitFailures(t *testing.T) {
	r := &tripRecorder{answer: func(c TripCounts) bool { return c.Failures >= 2 }}
	cb, _ := newBreaker(t, Settings{ReadyToTrip: r.readyToTrip})
	func() {
		defer func() { _ = recover() }()
		cb.Call(context.Background(), func(context.Context) error { panic("kaboom") })
	}()
	p, err := cb.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Report(errBoom)
	wantState(t, cb, StateOpen)
}

func TestRatePolicyStillAppliesNextToReadyToTrip(t *testing.T) {
	r := &tripRecorder{answer: func(TripCounts) bool { return false }}
	cb, _ := newBreaker(t, Settings{ReadyToTrip: r.readyToTrip, FailureRateThreshold: 50, WindowSize: 2})
	succeedN(t, cb, 1)
	fail(t, cb, 1)
	wantState(t, cb, StateOpen)
	if got := len(r.calls()); got != 0 {
		t.Fatalf("ReadyToTrip asked %d times for a failure the rate policy had already tripped on", got)
	}
}
