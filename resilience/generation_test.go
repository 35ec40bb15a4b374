package resilience

import (
	"context"
	"testing"
	"time"
)

// startCall admits a call with Acquire (the same admission as Call) so the
// test decides when its outcome arrives.
func startCall(t *testing.T, cb *CircuitBreaker) *Permit {
	t.Helper()
	p, err := cb.Acquire(context.Background())
	if err != nil {
		t.Fatalf("Acquire in state %v: %v", cb.State(), err)
	}
	return p
}

func TestLateFailureFromClosedGenerationDoesNotExtendOpenPeriod(t *testing.T) {
	cb, clock := newBreaker(t, Settings{FailureThreshold: 2, RecoveryTimeout: time.Minute})
	slow := startCall(t, cb)
	fail(t, cb, 2)
	wantState(t, cb, StateOpen)
	nextProbe := cb.Snapshot().NextProbeAt
	clock.Advance(30 * time.Second)
	slow.Report(errBoom)
	s := cb.Snapshot()
	if s.State != StateOpen || !s.NextProbeAt.Equal(nextProbe) || s.Transitions[0].Count != 1 {
		t.Fatalf("late failure changed the open state: %+v", s)
	}
	if s.Totals.Failures != 3 {
		t.Fatalf("Totals.Failures = %d, want the late failure counted (3)", s.Totals.Failures)
	}
}

func TestLateResultsAfterResetDoNotChangeNewGeneration(t *testing.T) {
	tests := []struct {
		name     string
		settings Settings
	}{
		{"consecutive policy", Settings{FailureThreshold: 3}},
		{"count window", Settings{FailureThreshold: 3, FailureRateThreshold: 100, WindowSize: 10, MinimumCalls: 10}},
		{"time window", Settings{FailureThreshold: 3, FailureRateThreshold: 100, WindowType: WindowTimeBased, MinimumCalls: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, _ := newBreaker(t, tt.settings)
			lateSuccess, lateFailure := startCall(t, cb), startCall(t, cb)
			cb.Reset()
			fail(t, cb, 2)
			lateSuccess.Report(nil)
			if got := cb.Snapshot().Window.ConsecutiveFailures; got != 2 {
				t.Fatalf("a success from before Reset cleared the new count: %d, want 2", got)
			}
			lateFailure.Report(errBoom)
			s := cb.Snapshot()
			if s.State != StateClosed || s.Window.ConsecutiveFailures != 2 {
				t.Fatalf("a failure from before Reset counted in the new generation: %+v", s)
			}
			if tt.settings.FailureRateThreshold > 0 && (s.Window.Calls != 2 || s.Window.Failures != 2) {
				t.Fatalf("window %+v, want only the 2 new failures", s.Window)
			}
			if s.Totals.Successes != 1 || s.Totals.Failures != 3 {
				t.Fatalf("Totals = %+v, want late results counted", s.Totals)
			}
		})
	}
}

func TestLateProbeResultAfterResetLeavesCircuitClosed(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{})
	probe := startCall(t, cb)
	cb.Reset()
	probe.Report(errBoom)
	wantState(t, cb, StateClosed)
	if s := cb.Snapshot(); s.Window.ConsecutiveFailures != 0 || s.Totals.Failures != 2 {
		t.Fatalf("snapshot %+v: want closed with no new consecutive failure, 2 total failures", s)
	}
}

func TestLateProbeResultFromEarlierHalfOpenIsIgnored(t *testing.T) {
	cb, clock := halfOpenBreaker(t, Settings{HalfOpenMaxCalls: 2, SuccessThreshold: 2, RecoveryTimeout: time.Minute})
	first, second := startCall(t, cb), startCall(t, cb)
	first.Report(errBoom) // reopens
	clock.Advance(time.Minute)
	wantState(t, cb, StateHalfOpen)
	second.Report(nil) // from the previous half-open period
	if s := cb.Snapshot(); s.Window.ConsecutiveSuccesses != 0 || s.ProbesInFlight != 0 {
		t.Fatalf("stale probe counted in the new half-open period: %+v", s)
	}
	succeedN(t, cb, 2)
	wantState(t, cb, StateClosed)
}

func TestLateSuccessDoesNotCloseReopenedCircuit(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{HalfOpenMaxCalls: 2, SuccessThreshold: 1})
	first, second := startCall(t, cb), startCall(t, cb)
	first.Report(errBoom)
	second.Report(nil)
	wantState(t, cb, StateOpen)
}
