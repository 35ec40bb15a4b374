package resiliencetest_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
)

var start = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// The fake clock must satisfy the breaker's Clock interface.
var _ resilience.Clock = (*resiliencetest.Clock)(nil)

func TestClockStartsAtGivenTime(t *testing.T) {
	c := resiliencetest.NewClock(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("Now() = %v, want %v", got, start)
	}
}

func TestClockAdvanceMovesForwardAndReturnsNewTime(t *testing.T) {
	c := resiliencetest.NewClock(start)
	if got := c.Advance(90 * time.Second); !got.Equal(start.Add(90 * time.Second)) {
		t.Fatalf("Advance returned %v", got)
	}
	if got := c.Now(); !got.Equal(start.Add(90 * time.Second)) {
		t.Fatalf("Now() = %v after Advance", got)
	}
}

func TestClockSetJumpsToTime(t *testing.T) {
	c := resiliencetest.NewClock(start)
	later := start.Add(time.Hour)
	c.Set(later)
	if got := c.Now(); !got.Equal(later) {
		t.Fatalf("Now() = %v, want %v", got, later)
	}
}

func TestZeroClockReadsZeroTime(t *testing.T) {
	var c resiliencetest.Clock
	if !c.Now().IsZero() {
		t.Fatalf("zero Clock reads %v", c.Now())
	}
}

func TestClockIsSafeForConcurrentUse(t *testing.T) {
	c := resiliencetest.NewClock(start)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(800*time.Millisecond); !got.Equal(want) {
		t.Fatalf("Now() = %v, want %v", got, want)
	}
}

func TestClockDrivesBreakerRecoveryWithoutSleeping(t *testing.T) {
	c := resiliencetest.NewClock(start)
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "x", FailureThreshold: 1, RecoveryTimeout: time.Minute, Clock: c})
	if err != nil {
		t.Fatal(err)
	}
	p, err := cb.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	p.Report(errFailure)
	if cb.State() != resilience.StateOpen {
		t.Fatalf("state %v after a failure, want open", cb.State())
	}
	c.Advance(time.Minute)
	if cb.State() != resilience.StateHalfOpen {
		t.Fatalf("state %v after the recovery timeout, want half_open", cb.State())
	}
}

var errFailure = errors.New("boom")
