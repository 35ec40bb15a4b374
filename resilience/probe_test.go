package resilience

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// manualCtx is a context whose end the test controls, so it can end with
// DeadlineExceeded without waiting for a real deadline.
type manualCtx struct {
	context.Context
	done chan struct{}
	mu   sync.Mutex
	err  error
}

func newManualCtx() *manualCtx {
	return &manualCtx{Context: context.Background(), done: make(chan struct{})}
}

func (c *manualCtx) Done() <-chan struct{} { return c.done }

func (c *manualCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *manualCtx) end(err error) {
	c.mu.Lock()
	c.err = err
	c.mu.Unlock()
	close(c.done)
}

// hangingProbe starts a Call (a probe when the breaker is half-open) whose
// fn blocks until release is closed, and returns the channel with Call's
// result.
func hangingProbe(t *testing.T, cb *CircuitBreaker, ctx context.Context, fnErr error) (release chan struct{}, result chan error) {
	t.Helper()
	release, result = make(chan struct{}), make(chan error, 1)
	started := make(chan struct{})
	go func() {
		result <- cb.Call(ctx, func(context.Context) error {
			close(started)
			<-release
			return fnErr
		})
	}()
	<-started
	return release, result
}

func TestHalfOpenProbeSlotFreedWhenContextEnds(t *testing.T) {
	tests := []struct {
		name       string
		ctxErr     error
		wantState  State
		wantTotals Counts
	}{
		{"deadline exceeded counts as failure and reopens", context.DeadlineExceeded, StateOpen, Counts{Failures: 2}},
		{"canceled is ignored and frees the slot", context.Canceled, StateHalfOpen, Counts{Failures: 1, Ignored: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, _ := halfOpenBreaker(t, Settings{})
			ctx := newManualCtx()
			release, result := hangingProbe(t, cb, ctx, nil)
			if ran, _ := call(cb, nil); ran {
				t.Fatal("second call ran while the only probe slot was taken")
			}
			ctx.end(tt.ctxErr)
			waitFor(t, "the probe's context end to be recorded", func() bool {
				s := cb.Snapshot()
				return s.Totals.Failures+s.Totals.Ignored == tt.wantTotals.Failures+tt.wantTotals.Ignored
			})
			s := cb.Snapshot()
			if s.State != tt.wantState || s.ProbesInFlight != 0 {
				t.Fatalf("after context end: state %v, probes in flight %d; want %v, 0", s.State, s.ProbesInFlight, tt.wantState)
			}
			// The hanging fn's own result arrives late and changes nothing.
			close(release)
			if err := <-result; err != nil {
				t.Fatalf("Call returned %v, want fn's nil", err)
			}
			s = cb.Snapshot()
			if s.State != tt.wantState || s.Totals.Successes != 0 || s.Totals.Failures != tt.wantTotals.Failures || s.Totals.Ignored != tt.wantTotals.Ignored {
				t.Fatalf("after the late result: state %v totals %+v; want %v %+v", s.State, s.Totals, tt.wantState, tt.wantTotals)
			}
		})
	}
}

func TestHalfOpenProbeWithEndedSlotAdmitsNextProbe(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{SuccessThreshold: 1})
	ctx := newManualCtx()
	release, result := hangingProbe(t, cb, ctx, nil)
	ctx.end(context.Canceled)
	waitFor(t, "the slot to free", func() bool { return cb.Snapshot().ProbesInFlight == 0 })
	succeedN(t, cb, 1)
	wantState(t, cb, StateClosed)
	close(release)
	<-result
	wantState(t, cb, StateClosed)
}

func TestProbeFinishingFirstStopsContextWatch(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{SuccessThreshold: 2})
	ctx := newManualCtx()
	if err := cb.Call(ctx, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	ctx.end(context.DeadlineExceeded)
	// Nothing may be recorded for the ended context: the probe already
	// reported. Make a second probe succeed and check the totals.
	succeedN(t, cb, 1)
	wantState(t, cb, StateClosed)
	if s := cb.Snapshot().Totals; s.Failures != 1 || s.Successes != 2 {
		t.Fatalf("Totals = %+v, want the opening failure and 2 successes", s)
	}
}

func TestClosedCallDoesNotWatchContext(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
	ctx := newManualCtx()
	release, result := hangingProbe(t, cb, ctx, nil)
	ctx.end(context.DeadlineExceeded)
	close(release)
	<-result
	if s := cb.Snapshot(); s.State != StateClosed || s.Totals.Successes != 1 || s.Totals.Failures != 0 {
		t.Fatalf("closed call with an ended context: %+v; want one success", s)
	}
}

func TestPanicInFnCountsAsFailureAndPropagates(t *testing.T) {
	type runner func(cb *CircuitBreaker)
	tests := []struct {
		name string
		s    Settings
		run  runner
	}{
		{"Call fast path", Settings{FailureThreshold: 1}, func(cb *CircuitBreaker) {
			cb.Call(context.Background(), func(context.Context) error { panic("kaboom") })
		}},
		{"Execute fast path", Settings{FailureThreshold: 1}, func(cb *CircuitBreaker) {
			Execute(context.Background(), cb, func(context.Context) (int, error) { panic("kaboom") })
		}},
		{"Call with window", Settings{FailureThreshold: 1, FailureRateThreshold: 50}, func(cb *CircuitBreaker) {
			cb.Call(context.Background(), func(context.Context) error { panic("kaboom") })
		}},
		{"Execute with window", Settings{FailureThreshold: 1, FailureRateThreshold: 50}, func(cb *CircuitBreaker) {
			Execute(context.Background(), cb, func(context.Context) (int, error) { panic("kaboom") })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, _ := newBreaker(t, tt.s)
			func() {
				defer func() {
					if r := recover(); r != "kaboom" {
						t.Fatalf("recovered %v, want the original panic value", r)
					}
				}()
				tt.run(cb)
			}()
			s := cb.Snapshot()
			if s.State != StateOpen || s.Totals.Failures != 1 || s.LastFailure == nil || s.LastFailure.Error != errNoReturn.Error() {
				t.Fatalf("after panic: %+v", s)
			}
		})
	}
}

func TestPanickingProbeReopensAndFreesSlot(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{})
	func() {
		defer func() { _ = recover() }()
		cb.Call(context.Background(), func(context.Context) error { panic("kaboom") })
	}()
	if s := cb.Snapshot(); s.State != StateOpen || s.ProbesInFlight != 0 {
		t.Fatalf("after panicking probe: state %v, probes %d; want open, 0", s.State, s.ProbesInFlight)
	}
}

func TestGoexitInFnCountsAsFailure(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1})
	done := make(chan struct{})
	go func() {
		defer close(done)
		cb.Call(context.Background(), func(context.Context) error {
			runtime.Goexit()
			return nil
		})
	}()
	<-done
	wantState(t, cb, StateOpen)
}

func TestHalfOpenNeverRunsMoreThanMaxCallsConcurrently(t *testing.T) {
	cb, _ := halfOpenBreaker(t, Settings{HalfOpenMaxCalls: 2})
	var inFlight, peak atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				cb.Call(context.Background(), func(context.Context) error {
					n := inFlight.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
					runtime.Gosched()
					inFlight.Add(-1)
					return context.Canceled // ignored: stays half-open, frees the slot
				})
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 || p < 1 {
		t.Fatalf("peak concurrent probes = %d, want 1..2", p)
	}
	s := cb.Snapshot()
	if s.State != StateHalfOpen || s.ProbesInFlight != 0 || s.Totals.Ignored+s.Totals.Rejected != 1600 {
		t.Fatalf("after the storm: %+v", s)
	}
}
