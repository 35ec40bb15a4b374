package resilience

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestTripUntilOpensClosedBreakerUntilTheLaterTime(t *testing.T) {
	cb, clock := newBreaker(t, Settings{FailureThreshold: 3, RecoveryTimeout: 10 * time.Second})
	rec := newRecorder()
	cb.Subscribe(rec.listen)
	cb.TripUntil(clock.Now().Add(time.Minute))
	wantState(t, cb, StateOpen)
	ran, err := call(cb, nil)
	var oe *OpenError
	if ran || !errors.As(err, &oe) || !oe.RetryAt.Equal(clock.Now().Add(time.Minute)) {
		t.Fatalf("call after TripUntil: ran=%v err=%v, want a rejection with RetryAt in a minute", ran, err)
	}
	// The recovery timeout alone would have admitted a probe by now.
	clock.Advance(59 * time.Second)
	wantState(t, cb, StateOpen)
	clock.Advance(time.Second)
	wantState(t, cb, StateHalfOpen)
	waitFor(t, "the closed -> open transition delivered", func() bool { return len(rec.ch) >= 2 })
	if got := rec.drain(); len(got) != 2 || got[0] != [2]State{StateClosed, StateOpen} {
		t.Errorf("transitions %v, want closed -> open, then open -> half_open", got)
	}
}

func TestTripUntilKeepsTheLongerOwnOpenPeriod(t *testing.T) {
	cb, clock := newBreaker(t, Settings{RecoveryTimeout: time.Minute})
	cb.TripUntil(clock.Now().Add(5 * time.Second))
	clock.Advance(30 * time.Second)
	wantState(t, cb, StateOpen)
	clock.Advance(30 * time.Second)
	wantState(t, cb, StateHalfOpen)
}

func TestTripUntilExtendsAnOpenBreakerWithoutATransition(t *testing.T) {
	cb, clock := openBreaker(t, Settings{RecoveryTimeout: 10 * time.Second})
	opened := cb.Snapshot().Transitions
	cb.TripUntil(clock.Now().Add(time.Minute))
	if s := cb.Snapshot(); !s.NextProbeAt.Equal(clock.Now().Add(time.Minute)) || len(s.Transitions) != len(opened) || s.Transitions[0].Count != opened[0].Count {
		t.Errorf("snapshot %+v: want the probe a minute away and no new transition", s)
	}
	// An earlier time does not shorten it.
	cb.TripUntil(clock.Now().Add(time.Second))
	clock.Advance(30 * time.Second)
	wantState(t, cb, StateOpen)
}

func TestTripUntilReopensHalfOpenBreaker(t *testing.T) {
	cb, clock := halfOpenBreaker(t, Settings{RecoveryTimeout: 10 * time.Second})
	cb.TripUntil(clock.Now().Add(20 * time.Second))
	wantState(t, cb, StateOpen)
	clock.Advance(19 * time.Second)
	wantState(t, cb, StateOpen)
	clock.Advance(time.Second)
	wantState(t, cb, StateHalfOpen)
}

func TestTripUntilLeavesOperatorModesAlone(t *testing.T) {
	cb, clock := newBreaker(t, Settings{})
	cb.Disable()
	cb.TripUntil(clock.Now().Add(time.Minute))
	wantState(t, cb, StateClosed)
	cb.ForceOpen()
	cb.TripUntil(clock.Now().Add(time.Minute))
	if s := cb.Snapshot(); !s.ForcedOpen || !s.NextProbeAt.IsZero() {
		t.Errorf("snapshot %+v: want still forced open, without a probe time", s)
	}
}

func TestCallAdmittedBeforeTripUntilDoesNotChangeTheNewState(t *testing.T) {
	cb, clock := newBreaker(t, Settings{FailureThreshold: 1, SuccessThreshold: 1})
	err := cb.Call(t.Context(), func(ctx context.Context) error {
		cb.TripUntil(clock.Now().Add(time.Minute))
		return nil // a success of the closed generation must not close it
	})
	if err != nil {
		t.Fatal(err)
	}
	wantState(t, cb, StateOpen)
}
