package resilience_test

// The examples in this file are the patterns of docs/migrating.md, for
// code coming from sony/gobreaker v2 or failsafe-go.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
)

// gobreaker's README trips on a failure ratio over the counts since the
// circuit closed; ReadyToTrip takes the same function, over TripCounts.
func ExampleSettings_readyToTrip() {
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{
		Name: "essay-service",
		// gobreaker: ReadyToTrip: func(c gobreaker.Counts) bool { ... c.Requests ... c.TotalFailures }
		ReadyToTrip: func(c resilience.TripCounts) bool {
			calls := c.Successes + c.Failures
			return calls >= 3 && float64(c.Failures)/float64(calls) >= 0.6
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for _, fails := range []bool{false, true, true} {
		_ = cb.Call(ctx, func(context.Context) error {
			if fails {
				return errors.New("503")
			}
			return nil
		})
	}
	fmt.Println(cb.State()) // 2 of 3 calls failed: 67% >= 60%
	// Output: open
}

// failsafe-go's WithFailureThresholdRatio(3, 5) opens when 3 of the last 5
// executions failed: a count-based window of 5 that ReadyToTrip reads.
func ExampleSettings_failureThresholdRatio() {
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{
		Name:        "class-management",
		WindowSize:  5,
		ReadyToTrip: func(c resilience.TripCounts) bool { return c.WindowFailures >= 3 },
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	timeout := errors.New("timeout")
	for _, e := range []error{timeout, nil, nil, nil, timeout, timeout} {
		_ = cb.Call(ctx, func(context.Context) error { return e })
	}
	fmt.Println(cb.State()) // the first failure has left the window: 2 of 5
	_ = cb.Call(ctx, func(context.Context) error { return timeout })
	fmt.Println(cb.State()) // 3 of the last 5
	// Output:
	// closed
	// open
}

// gobreaker's IsSuccessful and IsExcluded, and failsafe-go's HandleErrors
// and HandleIf, are one function here: Classify maps each error to an
// Outcome.
func ExampleSettings_classify() {
	errNotFound := errors.New("essay not found")
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{
		Name:             "essay-service",
		FailureThreshold: 1,
		Classify: func(err error) resilience.Outcome {
			switch {
			case err == nil, errors.Is(err, errNotFound):
				return resilience.OutcomeSuccess // gobreaker IsSuccessful: the service answered
			case errors.Is(err, context.Canceled):
				return resilience.OutcomeIgnore // gobreaker IsExcluded
			default:
				return resilience.OutcomeFailure
			}
		},
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = cb.Call(ctx, func(context.Context) error { return errNotFound })
	_ = cb.Call(ctx, func(context.Context) error { return context.Canceled })
	fmt.Println(cb.State(), cb.Snapshot().Totals.Successes, cb.Snapshot().Totals.Ignored)
	// Output: closed 1 1
}

// gobreaker returns ErrOpenState while open and ErrTooManyRequests while
// half-open with every probe slot taken. Both rejections match
// ErrCircuitOpen here; the half-open one also matches ErrTooManyProbes.
func ExampleErrTooManyProbes() {
	clock := resiliencetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{
		Name: "spellchecker", FailureThreshold: 1, RecoveryTimeout: time.Minute, Clock: clock,
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	_ = cb.Call(ctx, func(context.Context) error { return errors.New("connection refused") })
	describe := func(err error) string {
		switch {
		case errors.Is(err, resilience.ErrTooManyProbes):
			return "half-open and full: retry soon"
		case errors.Is(err, resilience.ErrCircuitOpen):
			return "open: fail fast"
		}
		return fmt.Sprint(err)
	}
	fmt.Println(describe(cb.Call(ctx, func(context.Context) error { return nil })))

	clock.Advance(time.Minute)
	probe, err := cb.Acquire(ctx) // the one half-open probe, still in flight
	if err != nil {
		panic(err)
	}
	fmt.Println(describe(cb.Call(ctx, func(context.Context) error { return nil })))
	probe.Report(nil)
	// Output:
	// open: fail fast
	// half-open and full: retry soon
}

// A dependency that answers 429 with Retry-After says when to come back;
// OpenUntil keeps the breaker open until then. (failsafe-go's
// WithDelayFunc computes the open period from the failure in the same
// way.)
func ExampleCircuitBreaker_OpenUntil() {
	clock := resiliencetest.NewClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC))
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "llm-provider", Clock: clock})
	if err != nil {
		panic(err)
	}
	resp := &http.Response{StatusCode: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"120"}}}
	if resp.StatusCode == http.StatusTooManyRequests {
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			cb.OpenUntil(clock.Now().Add(time.Duration(secs) * time.Second))
		}
	}
	err = cb.Call(context.Background(), func(context.Context) error { return nil })
	var oe *resilience.OpenError
	if errors.As(err, &oe) {
		fmt.Println("retry at", oe.RetryAt.Format(time.TimeOnly))
	}
	// Output: retry at 12:02:00
}

// failsafe-go's cb.Open() and cb.Close() are operator controls here:
// ForceOpen holds the circuit open until Reset, Disable holds it closed.
func ExampleCircuitBreaker_ForceOpen() {
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "file-service"})
	if err != nil {
		panic(err)
	}
	cb.ForceOpen()
	fmt.Println(cb.State(), cb.Snapshot().ForcedOpen)
	cb.Reset()
	fmt.Println(cb.State())
	// Output:
	// open true
	// closed
}
