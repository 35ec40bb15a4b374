package resilience

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPermitReportRecordsOutcomeOnce(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 2})
	p := startCall(t, cb)
	if !p.Report(errBoom) {
		t.Fatal("first Report returned false")
	}
	for _, err := range []error{errBoom, nil, errBoom} {
		if p.Report(err) {
			t.Fatal("second Report returned true")
		}
	}
	s := cb.Snapshot()
	if s.State != StateClosed || s.Totals.Failures != 1 || s.Totals.Successes != 0 {
		t.Fatalf("after repeated Reports: %+v; want one failure", s)
	}
}

func TestNilPermitReportReturnsFalse(t *testing.T) {
	var p *Permit
	if p.Report(nil) {
		t.Fatal("nil permit reported")
	}
}

func TestPermitFailuresTripLikeCalls(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 3})
	for range 3 {
		startCall(t, cb).Report(errBoom)
	}
	wantState(t, cb, StateOpen)
}

func TestAcquireOnOpenBreakerIsRejected(t *testing.T) {
	cb, _ := openBreaker(t, Settings{})
	p, err := cb.Acquire(context.Background())
	var oe *OpenError
	if p != nil || !errors.Is(err, ErrCircuitOpen) || !errors.As(err, &oe) {
		t.Fatalf("Acquire = %v, %v; want nil and an *OpenError", p, err)
	}
	if got := cb.Snapshot().Totals.Rejected; got != 1 {
		t.Fatalf("Totals.Rejected = %d, want 1", got)
	}
}

func TestAcquireWithEndedContextReturnsContextError(t *testing.T) {
	cb, _ := newBreaker(t, Settings{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if p, err := cb.Acquire(ctx); p != nil || err != context.Canceled {
		t.Fatalf("Acquire = %v, %v; want nil, context.Canceled", p, err)
	}
}

func TestHalfOpenPermitSlotFreedWhenContextEnds(t *testing.T) {
	tests := []struct {
		name      string
		ctxErr    error
		wantState State
	}{
		{"deadline exceeded reopens", context.DeadlineExceeded, StateOpen},
		{"canceled frees the slot", context.Canceled, StateHalfOpen},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, _ := halfOpenBreaker(t, Settings{})
			ctx := newManualCtx()
			p, err := cb.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := cb.Acquire(context.Background()); !errors.Is(err, ErrCircuitOpen) {
				t.Fatalf("second Acquire = %v, want rejection while the slot is taken", err)
			}
			ctx.end(tt.ctxErr)
			waitFor(t, "the permit's context end to be recorded", func() bool {
				s := cb.Snapshot()
				return s.Totals.Failures+s.Totals.Ignored == 2
			})
			if s := cb.Snapshot(); s.State != tt.wantState || s.ProbesInFlight != 0 {
				t.Fatalf("state %v, probes %d; want %v, 0", s.State, s.ProbesInFlight, tt.wantState)
			}
			if p.Report(nil) {
				t.Fatal("Report after the context ended returned true")
			}
			if s := cb.Snapshot(); s.State != tt.wantState || s.Totals.Successes != 0 {
				t.Fatalf("late Report changed the breaker: %+v", s)
			}
		})
	}
}

func TestHalfOpenPermitWithRealDeadlineFreesSlot(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if _, err := cb.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the expired probe to reopen the circuit", func() bool { return cb.Snapshot().State == StateOpen })
	if lf := cb.Snapshot().LastFailure; lf == nil || lf.Error != context.DeadlineExceeded.Error() {
		t.Fatalf("LastFailure = %+v, want the deadline", lf)
	}
}

func TestPermitMeasuresSlowCallsFromAcquire(t *testing.T) {
	cb, clock := newBreaker(t, Settings{SlowCallDuration: time.Second})
	p := startCall(t, cb)
	clock.Advance(2 * time.Second)
	p.Report(nil)
	fast := startCall(t, cb)
	fast.Report(nil)
	if got := cb.Snapshot().Totals; got.Slow != 1 || got.Successes != 2 {
		t.Fatalf("Totals = %+v, want 2 successes of which 1 slow", got)
	}
}

func TestPermitClassifiesWithSettingsClassify(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1, Classify: func(err error) Outcome {
		if errors.Is(err, errNotFound) {
			return OutcomeSuccess
		}
		return DefaultClassify(err)
	}})
	startCall(t, cb).Report(errNotFound)
	wantState(t, cb, StateClosed)
	startCall(t, cb).Report(errBoom)
	wantState(t, cb, StateOpen)
}

func TestPermitReportOutcomeBypassesClassify(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
	p := startCall(t, cb)
	if !p.ReportOutcome(OutcomeIgnore) || p.ReportOutcome(OutcomeFailure) {
		t.Fatal("ReportOutcome must count only the first report")
	}
	wantState(t, cb, StateClosed)
	startCall(t, cb).ReportOutcome(OutcomeFailure)
	s := cb.Snapshot()
	if s.State != StateOpen || s.LastFailure == nil || s.LastFailure.Error != errUnexplainedFailure.Error() {
		t.Fatalf("after ReportOutcome(failure): %+v", s)
	}
}

func TestPermitFromStaleGenerationCountsOnlyInTotals(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
	stale := startCall(t, cb)
	cb.ForceOpen()
	cb.Reset()
	if !stale.Report(errBoom) {
		t.Fatal("Report of a stale permit returned false: its outcome must still be recorded once")
	}
	s := cb.Snapshot()
	if s.State != StateClosed || s.Window.ConsecutiveFailures != 0 || s.Totals.Failures != 1 {
		t.Fatalf("stale permit: %+v; want closed, no consecutive failure, 1 total failure", s)
	}
}
