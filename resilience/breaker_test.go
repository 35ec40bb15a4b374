package resilience

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestClosedBreakerRunsFnAndReturnsItsError(t *testing.T) {
	cb, _ := newBreaker(t, Settings{})
	ran, err := call(cb, errBoom)
	if !ran || err != errBoom {
		t.Fatalf("ran=%v err=%v, want fn run and its error returned unchanged", ran, err)
	}
	ran, err = call(cb, nil)
	if !ran || err != nil {
		t.Fatalf("ran=%v err=%v, want fn run and nil", ran, err)
	}
}

func TestConsecutiveFailuresOpenCircuit(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 3})
	fail(t, cb, 2)
	wantState(t, cb, StateClosed)
	fail(t, cb, 1)
	wantState(t, cb, StateOpen)
}

func TestSuccessResetsConsecutiveFailures(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 3})
	fail(t, cb, 2)
	succeedN(t, cb, 1)
	fail(t, cb, 2)
	wantState(t, cb, StateClosed)
	if got := cb.Snapshot().Window.ConsecutiveFailures; got != 2 {
		t.Fatalf("ConsecutiveFailures = %d, want 2", got)
	}
}

func TestIgnoredOutcomeLeavesConsecutiveCountAlone(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 3})
	fail(t, cb, 2)
	call(cb, context.Canceled)
	wantState(t, cb, StateClosed)
	fail(t, cb, 1)
	wantState(t, cb, StateOpen)
	if got := cb.Snapshot().Totals.Ignored; got != 1 {
		t.Fatalf("Totals.Ignored = %d, want 1", got)
	}
}

func TestOpenBreakerRejectsWithoutCallingFn(t *testing.T) {
	cb, clock := openBreaker(t, Settings{Name: "essays", RecoveryTimeout: 30 * time.Second})
	openedAt := clock.Now()
	clock.Advance(10 * time.Second)
	ran, err := call(cb, nil)
	if ran {
		t.Fatal("fn ran while the circuit was open")
	}
	if !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("error %v does not wrap ErrCircuitOpen", err)
	}
	var oe *OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("error %T is not an *OpenError", err)
	}
	if oe.Name != "essays" || oe.State != StateOpen || !oe.RetryAt.Equal(openedAt.Add(30*time.Second)) {
		t.Fatalf("OpenError = %+v, want name essays, state open, RetryAt %v", oe, openedAt.Add(30*time.Second))
	}
	if got := cb.Snapshot().Totals.Rejected; got != 1 {
		t.Fatalf("Totals.Rejected = %d, want 1", got)
	}
}

func TestExecuteReturnsFnValue(t *testing.T) {
	cb, _ := newBreaker(t, Settings{})
	v, err := Execute(context.Background(), cb, func(context.Context) (string, error) { return "essay", nil })
	if v != "essay" || err != nil {
		t.Fatalf("Execute = %q, %v", v, err)
	}
	v, err = Execute(context.Background(), cb, func(context.Context) (string, error) { return "partial", errBoom })
	if v != "partial" || err != errBoom {
		t.Fatalf("Execute = %q, %v: want fn's value and error unchanged", v, err)
	}
}

func TestExecuteOnOpenBreakerReturnsZeroValueWithoutCallingFn(t *testing.T) {
	cb, _ := openBreaker(t, Settings{})
	v, err := Execute(context.Background(), cb, func(context.Context) (int, error) {
		t.Fatal("fn ran while the circuit was open")
		return 1, nil
	})
	if v != 0 || !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("Execute = %d, %v; want 0 and ErrCircuitOpen", v, err)
	}
}

func TestExecuteCountsFailuresLikeCall(t *testing.T) {
	for _, s := range []Settings{{FailureThreshold: 2}, {FailureThreshold: 2, FailureRateThreshold: 100, WindowSize: 50, MinimumCalls: 50}} {
		cb, _ := newBreaker(t, s)
		for range 2 {
			Execute(context.Background(), cb, func(context.Context) (int, error) { return 0, errBoom })
		}
		wantState(t, cb, StateOpen)
	}
}

func TestOpenBreakerStaysOpenBeforeRecoveryTimeout(t *testing.T) {
	cb, clock := openBreaker(t, Settings{RecoveryTimeout: time.Minute})
	clock.Advance(time.Minute - time.Nanosecond)
	wantState(t, cb, StateOpen)
	if ran, _ := call(cb, nil); ran {
		t.Fatal("fn ran before the open period ended")
	}
}

func TestOpenBreakerMovesToHalfOpenWhenInspectedAfterRecoveryTimeout(t *testing.T) {
	for _, inspect := range []struct {
		name string
		fn   func(*CircuitBreaker) State
	}{
		{"State", (*CircuitBreaker).State},
		{"Snapshot", func(cb *CircuitBreaker) State { return cb.Snapshot().State }},
	} {
		t.Run(inspect.name, func(t *testing.T) {
			cb, clock := openBreaker(t, Settings{RecoveryTimeout: time.Minute})
			clock.Advance(time.Minute)
			if got := inspect.fn(cb); got != StateHalfOpen {
				t.Fatalf("%s = %v, want half_open", inspect.name, got)
			}
		})
	}
}

func TestCallAfterRecoveryTimeoutRunsAsProbe(t *testing.T) {
	cb, clock := openBreaker(t, Settings{RecoveryTimeout: time.Minute})
	clock.Advance(time.Minute)
	var during State
	err := cb.Call(context.Background(), func(context.Context) error {
		during = cb.State()
		return nil
	})
	if err != nil || during != StateHalfOpen {
		t.Fatalf("probe: err=%v state during call=%v, want nil and half_open", err, during)
	}
}

func TestHalfOpenClosesAfterSuccessThreshold(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{SuccessThreshold: 3})
	succeedN(t, cb, 2)
	wantState(t, cb, StateHalfOpen)
	if got := cb.Snapshot().Window.ConsecutiveSuccesses; got != 2 {
		t.Fatalf("ConsecutiveSuccesses = %d, want 2", got)
	}
	succeedN(t, cb, 1)
	wantState(t, cb, StateClosed)
}

func TestHalfOpenFailureReopens(t *testing.T) {
	cb, clock := halfOpenBreaker(t, Settings{SuccessThreshold: 3, RecoveryTimeout: time.Minute})
	succeedN(t, cb, 2)
	call(cb, errBoom)
	wantState(t, cb, StateOpen)
	if got, want := cb.Snapshot().NextProbeAt, clock.Now().Add(time.Minute); !got.Equal(want) {
		t.Fatalf("NextProbeAt = %v, want %v", got, want)
	}
}

func TestHalfOpenIgnoredProbeFreesSlotWithoutDeciding(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{})
	call(cb, context.Canceled)
	wantState(t, cb, StateHalfOpen)
	if s := cb.Snapshot(); s.ProbesInFlight != 0 || s.Window.ConsecutiveSuccesses != 0 {
		t.Fatalf("after an ignored probe: in flight %d, successes %d", s.ProbesInFlight, s.Window.ConsecutiveSuccesses)
	}
	succeedN(t, cb, 2)
	wantState(t, cb, StateClosed)
}

func TestHalfOpenRejectsCallsBeyondMaxCalls(t *testing.T) {
	cb, clock := halfOpenBreaker(t, Settings{HalfOpenMaxCalls: 2, SuccessThreshold: 3})
	p1, err1 := cb.Acquire(context.Background())
	p2, err2 := cb.Acquire(context.Background())
	if err1 != nil || err2 != nil {
		t.Fatalf("two probes: %v, %v", err1, err2)
	}
	ran, err := call(cb, nil)
	if ran {
		t.Fatal("third call ran with two probes in flight")
	}
	var oe *OpenError
	if !errors.As(err, &oe) || oe.State != StateHalfOpen || !oe.RetryAt.Equal(clock.Now()) {
		t.Fatalf("rejection = %#v, want *OpenError in half_open with RetryAt now", err)
	}
	if !errors.Is(err, ErrCircuitOpen) {
		t.Fatalf("half-open rejection %v does not wrap ErrCircuitOpen", err)
	}
	p1.Report(nil)
	if ran, _ := call(cb, nil); !ran {
		t.Fatal("call rejected after a probe slot was freed")
	}
	p2.Report(nil)
	wantState(t, cb, StateClosed)
}

func TestRecoveryBackoffGrowsOpenPeriodUpToCap(t *testing.T) {
	cb, clock := openBreaker(t, Settings{RecoveryTimeout: time.Second, RecoveryBackoff: 2, MaxRecoveryTimeout: 5 * time.Second})
	for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second} {
		clock.Advance(cb.Snapshot().OpenPeriod)
		call(cb, errBoom) // failed probe
		s := cb.Snapshot()
		if s.State != StateOpen || s.OpenPeriod != want || !s.NextProbeAt.Equal(clock.Now().Add(want)) {
			t.Fatalf("after failed probe: state %v, period %v, next probe %v; want open, %v", s.State, s.OpenPeriod, s.NextProbeAt, want)
		}
	}
}

func TestOpenPeriodReturnsToRecoveryTimeoutWhenCircuitCloses(t *testing.T) {
	cb, clock := openBreaker(t, Settings{RecoveryTimeout: time.Second, RecoveryBackoff: 3, SuccessThreshold: 1})
	clock.Advance(time.Second)
	call(cb, errBoom)
	if got := cb.Snapshot().OpenPeriod; got != 3*time.Second {
		t.Fatalf("OpenPeriod = %v after one failed probe, want 3s", got)
	}
	clock.Advance(3 * time.Second)
	succeedN(t, cb, 1)
	wantState(t, cb, StateClosed)
	fail(t, cb, 1)
	if s := cb.Snapshot(); s.OpenPeriod != time.Second || !s.NextProbeAt.Equal(clock.Now().Add(time.Second)) {
		t.Fatalf("reopened with period %v, next probe %v; want 1s", s.OpenPeriod, s.NextProbeAt)
	}
}

func TestForceOpenRejectsUntilReset(t *testing.T) {
	cb, clock := newBreaker(t, Settings{RecoveryTimeout: time.Second})
	cb.ForceOpen()
	clock.Advance(time.Hour)
	ran, err := call(cb, nil)
	var oe *OpenError
	if ran || !errors.As(err, &oe) || !oe.RetryAt.IsZero() {
		t.Fatalf("forced open: ran=%v err=%v; want rejection with zero RetryAt", ran, err)
	}
	s := cb.Snapshot()
	if s.State != StateOpen || !s.ForcedOpen || !s.NextProbeAt.IsZero() {
		t.Fatalf("snapshot %+v: want forced open with no next probe", s)
	}
	cb.Reset()
	if ran, _ := call(cb, nil); !ran {
		t.Fatal("call rejected after Reset")
	}
}

func TestDisableKeepsCircuitClosedButCounts(t *testing.T) {
	cb, _ := openBreaker(t, Settings{FailureThreshold: 2})
	cb.Disable()
	wantState(t, cb, StateClosed)
	fail(t, cb, 10)
	wantState(t, cb, StateClosed)
	s := cb.Snapshot()
	if !s.Disabled || s.Totals.Failures != 12 || s.Window.ConsecutiveFailures != 10 {
		t.Fatalf("snapshot %+v: want disabled, 12 failures in total, 10 consecutive", s)
	}
	cb.Reset()
	fail(t, cb, 2)
	wantState(t, cb, StateOpen)
}

func TestForceOpenAndDisableReplaceEachOther(t *testing.T) {
	cb, _ := newBreaker(t, Settings{})
	cb.Disable()
	cb.ForceOpen()
	if s := cb.Snapshot(); s.Disabled || !s.ForcedOpen || s.State != StateOpen {
		t.Fatalf("after Disable, ForceOpen: %+v", s)
	}
	cb.Disable()
	if s := cb.Snapshot(); !s.Disabled || s.ForcedOpen || s.State != StateClosed {
		t.Fatalf("after ForceOpen, Disable: %+v", s)
	}
}

func TestResetClearsTripPolicyButNotTotals(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 3})
	fail(t, cb, 2)
	succeedN(t, cb, 1)
	fail(t, cb, 2)
	cb.Reset()
	s := cb.Snapshot()
	if s.Window.ConsecutiveFailures != 0 {
		t.Fatalf("ConsecutiveFailures = %d after Reset", s.Window.ConsecutiveFailures)
	}
	if s.Totals.Failures != 4 || s.Totals.Successes != 1 {
		t.Fatalf("Totals = %+v after Reset, want 4 failures and 1 success kept", s.Totals)
	}
	fail(t, cb, 2)
	wantState(t, cb, StateClosed)
}

func TestResetClosesOpenCircuit(t *testing.T) {
	cb, _ := openBreaker(t, Settings{})
	cb.Reset()
	wantState(t, cb, StateClosed)
	if ran, _ := call(cb, nil); !ran {
		t.Fatal("call rejected after Reset")
	}
}

func TestNameReturnsSettingsName(t *testing.T) {
	cb, _ := newBreaker(t, Settings{Name: "kafka"})
	if cb.Name() != "kafka" {
		t.Fatalf("Name() = %q", cb.Name())
	}
}

func TestBreakerWorksWithRealClock(t *testing.T) {
	cb, err := NewCircuitBreaker(Settings{Name: "real", FailureThreshold: 1, RecoveryTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fail(t, cb, 1)
	wantState(t, cb, StateOpen)
	waitFor(t, "half-open on the real clock", func() bool { return cb.State() == StateHalfOpen })
	succeedN(t, cb, 2)
	wantState(t, cb, StateClosed)
}

// countingClock counts its reads.
type countingClock struct{ reads atomic.Int64 }

func (c *countingClock) Now() time.Time { c.reads.Add(1); return testStart }

// The package doc promises that with default settings the closed path of
// Call and Execute reads no clock (a clock read is what makes other
// breakers cost 100 ns a call).
func TestClosedSuccessDoesNotReadClock(t *testing.T) {
	clock := &countingClock{}
	cb, err := NewCircuitBreaker(Settings{Name: "clock", Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	before := clock.reads.Load()
	for range 10 {
		if ran, err := call(cb, nil); !ran || err != nil {
			t.Fatalf("Call: ran=%v err=%v", ran, err)
		}
		if _, err := Execute(context.Background(), cb, func(context.Context) (int, error) { return 1, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := clock.reads.Load() - before; n != 0 {
		t.Fatalf("20 closed successes read the clock %d times, want 0", n)
	}
}
