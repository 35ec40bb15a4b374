package resilience

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func TestOpenUntilRejectsUntilThenProbes(t *testing.T) {
	r := newRecorder()
	cb, clock := newBreaker(t, Settings{Name: "llm", SuccessThreshold: 1, OnStateChange: r.listen})
	retryAt := clock.Now().Add(90 * time.Second)
	if !cb.OpenUntil(retryAt) {
		t.Fatal("OpenUntil on a closed breaker reported no change")
	}
	ran, err := call(cb, nil)
	var oe *OpenError
	if ran || !errors.As(err, &oe) || oe.State != StateOpen || !oe.RetryAt.Equal(retryAt) {
		t.Fatalf("call after OpenUntil: ran=%v err=%v, want a rejection with RetryAt %v", ran, err, retryAt)
	}
	if s := cb.Snapshot(); !s.NextProbeAt.Equal(retryAt) || s.ForcedOpen {
		t.Fatalf("Snapshot: NextProbeAt %v forced %v, want %v and not forced", s.NextProbeAt, s.ForcedOpen, retryAt)
	}
	clock.Advance(90*time.Second - time.Nanosecond)
	if ran, _ := call(cb, nil); ran {
		t.Fatal("call ran before the Retry-After time")
	}
	clock.Advance(time.Nanosecond)
	if ran, err := call(cb, nil); !ran || err != nil {
		t.Fatalf("probe at the Retry-After time: ran=%v err=%v", ran, err)
	}
	want := [][2]State{{StateClosed, StateOpen}, {StateOpen, StateHalfOpen}, {StateHalfOpen, StateClosed}}
	if got := r.drain(); !slices.Equal(got, want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
}

func TestOpenUntilExtendsButNeverShortensOpenPeriod(t *testing.T) {
	r := newRecorder()
	cb, clock := openBreaker(t, Settings{RecoveryTimeout: time.Minute, OnStateChange: r.listen})
	r.drain()
	scheduled := cb.Snapshot().NextProbeAt
	if cb.OpenUntil(clock.Now().Add(10 * time.Second)) {
		t.Fatal("OpenUntil before the scheduled probe reported a change")
	}
	if got := cb.Snapshot().NextProbeAt; !got.Equal(scheduled) {
		t.Fatalf("NextProbeAt moved to %v, want %v", got, scheduled)
	}
	later := clock.Now().Add(5 * time.Minute)
	if !cb.OpenUntil(later) {
		t.Fatal("OpenUntil past the scheduled probe reported no change")
	}
	clock.Advance(time.Minute)
	_, err := call(cb, nil)
	var oe *OpenError
	if !errors.As(err, &oe) || !oe.RetryAt.Equal(later) {
		t.Fatalf("rejection after the recovery timeout = %v, want RetryAt %v", err, later)
	}
	if got := r.drain(); len(got) != 0 {
		t.Fatalf("extending the open period made transitions %v", got)
	}
}

func TestOpenUntilExtendsExpiredOpenPeriod(t *testing.T) {
	// The open period is over but nothing has looked at the breaker yet:
	// it is still open, and the new end applies without a probe first.
	cb, clock := openBreaker(t, Settings{RecoveryTimeout: time.Second})
	clock.Advance(time.Minute)
	if !cb.OpenUntil(clock.Now().Add(time.Minute)) {
		t.Fatal("OpenUntil reported no change")
	}
	if ran, _ := call(cb, nil); ran {
		t.Fatal("a probe ran before the new end")
	}
}

func TestOpenUntilLeavesOperatorModesAlone(t *testing.T) {
	cb, clock := newBreaker(t, Settings{})
	until := clock.Now().Add(time.Minute)
	cb.ForceOpen()
	if cb.OpenUntil(until) {
		t.Fatal("OpenUntil changed a forced-open breaker")
	}
	if s := cb.Snapshot(); !s.ForcedOpen {
		t.Fatalf("no longer forced open: %+v", s)
	}
	cb.Disable()
	if cb.OpenUntil(until) {
		t.Fatal("OpenUntil changed a disabled breaker")
	}
	wantState(t, cb, StateClosed)
}

func TestOpenUntilNowOrInThePastDoesNothing(t *testing.T) {
	cb, clock := newBreaker(t, Settings{})
	for _, at := range []time.Time{clock.Now(), clock.Now().Add(-time.Second), {}} {
		if cb.OpenUntil(at) {
			t.Fatalf("OpenUntil(%v) at %v reported a change", at, clock.Now())
		}
	}
	wantState(t, cb, StateClosed)
}

func TestOpenUntilFromHalfOpenDropsProbesToTotals(t *testing.T) {
	cb, clock := halfOpenBreaker(t, Settings{SuccessThreshold: 1})
	p, err := cb.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !cb.OpenUntil(clock.Now().Add(time.Minute)) {
		t.Fatal("OpenUntil on a half-open breaker reported no change")
	}
	before := cb.Snapshot().Totals.Successes
	p.Report(nil) // would close the circuit if it still counted
	s := cb.Snapshot()
	if s.State != StateOpen || s.Totals.Successes != before+1 {
		t.Fatalf("after the dropped probe's success: state %v, successes %d; want open, %d", s.State, s.Totals.Successes, before+1)
	}
}

func TestFailedProbeAfterOpenUntilReopensForRecoveryTimeout(t *testing.T) {
	cb, clock := newBreaker(t, Settings{RecoveryTimeout: 30 * time.Second})
	cb.OpenUntil(clock.Now().Add(time.Hour))
	clock.Advance(time.Hour)
	if ran, _ := call(cb, errBoom); !ran {
		t.Fatal("no probe after the OpenUntil time")
	}
	if s := cb.Snapshot(); s.State != StateOpen || !s.NextProbeAt.Equal(clock.Now().Add(30*time.Second)) {
		t.Fatalf("after the failed probe: %v until %v, want open for RecoveryTimeout", s.State, s.NextProbeAt)
	}
}
