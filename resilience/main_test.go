package resilience

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/huleedu/huleedu/internal/testwait"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
)

// Half-open probes start context.AfterFunc goroutines and the transport
// tests start HTTP servers: none may outlive its test.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	errBoom   = errors.New("boom")
	testStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

// newBreaker returns a breaker on a fake clock. Settings without a Clock
// get a fresh one starting at testStart.
func newBreaker(t testing.TB, s Settings) (*CircuitBreaker, *resiliencetest.Clock) {
	t.Helper()
	clock, _ := s.Clock.(*resiliencetest.Clock)
	if clock == nil {
		clock = resiliencetest.NewClock(testStart)
		s.Clock = clock
	}
	if s.Name == "" {
		s.Name = "test"
	}
	cb, err := NewCircuitBreaker(s)
	if err != nil {
		t.Fatalf("NewCircuitBreaker(%+v): %v", s, err)
	}
	return cb, clock
}

// call runs one call that returns err and reports whether it ran.
func call(cb *CircuitBreaker, err error) (ran bool, got error) {
	got = cb.Call(context.Background(), func(context.Context) error {
		ran = true
		return err
	})
	return ran, got
}

// fail makes n failing calls.
func fail(t testing.TB, cb *CircuitBreaker, n int) {
	t.Helper()
	for range n {
		if ran, _ := call(cb, errBoom); !ran {
			t.Fatalf("failing call was rejected in state %v", cb.State())
		}
	}
}

// succeed makes n successful calls.
func succeedN(t testing.TB, cb *CircuitBreaker, n int) {
	t.Helper()
	for range n {
		if ran, err := call(cb, nil); !ran || err != nil {
			t.Fatalf("successful call: ran=%v err=%v in state %v", ran, err, cb.State())
		}
	}
}

// openBreaker returns a breaker with FailureThreshold 1 that is already
// open.
func openBreaker(t testing.TB, s Settings) (*CircuitBreaker, *resiliencetest.Clock) {
	t.Helper()
	if s.FailureThreshold == 0 {
		s.FailureThreshold = 1
	}
	cb, clock := newBreaker(t, s)
	fail(t, cb, s.FailureThreshold)
	if got := cb.State(); got != StateOpen {
		t.Fatalf("state %v after %d failures, want open", got, s.FailureThreshold)
	}
	return cb, clock
}

// halfOpenBreaker returns a breaker that is half-open with no probe in
// flight.
func halfOpenBreaker(t testing.TB, s Settings) (*CircuitBreaker, *resiliencetest.Clock) {
	t.Helper()
	cb, clock := openBreaker(t, s)
	clock.Advance(cb.Settings().RecoveryTimeout)
	if got := cb.State(); got != StateHalfOpen {
		t.Fatalf("state %v after the recovery timeout, want half_open", got)
	}
	return cb, clock
}

func wantState(t testing.TB, cb *CircuitBreaker, want State) {
	t.Helper()
	if got := cb.State(); got != want {
		t.Fatalf("state = %v, want %v", got, want)
	}
}

// waitFor polls cond until it holds, for up to 5s (t may be a *rapid.T).
func waitFor(t testwait.T, what string, cond func() bool) {
	t.Helper()
	testwait.For(t, 5*time.Second, what, cond)
}

// recorder collects transitions delivered to a listener.
type recorder struct {
	ch chan [2]State
}

func newRecorder() *recorder { return &recorder{ch: make(chan [2]State, 100)} }

func (r *recorder) listen(_ string, from, to State) { r.ch <- [2]State{from, to} }

// drain returns the transitions delivered so far.
func (r *recorder) drain() [][2]State {
	var got [][2]State
	for {
		select {
		case tr := <-r.ch:
			got = append(got, tr)
		default:
			return got
		}
	}
}
