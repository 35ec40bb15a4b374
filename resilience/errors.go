package resilience

import (
	"errors"
	"fmt"
	"time"
)

// ErrCircuitOpen is wrapped by every rejection: errors.Is(err,
// ErrCircuitOpen) tells a caller that fn did not run because the breaker
// refused it.
var ErrCircuitOpen = errors.New("resilience: circuit open")

// ErrTooManyProbes is matched, next to ErrCircuitOpen, by the rejection of
// a call that found the breaker half-open with all HalfOpenMaxCalls probe
// slots taken: errors.Is(err, ErrTooManyProbes) tells it apart from a
// rejection by an open circuit. It is sony/gobreaker's ErrTooManyRequests.
// Unlike an open circuit, this condition may clear at any moment (when a
// probe finishes), so a caller may retry soon.
var ErrTooManyProbes = errors.New("resilience: half-open, all probe slots taken")

// errNoReturn is recorded as the failure of a call whose fn panicked (or
// called runtime.Goexit): the breaker does not recover the panic, so it
// never sees its value.
var errNoReturn = errors.New("resilience: fn panicked or exited without returning")

// errUnexplainedFailure is recorded as LastFailure for a failure reported
// without an error (Permit.ReportOutcome).
var errUnexplainedFailure = errors.New("resilience: failure reported without an error")

// OpenError is the error returned for a rejected call. It wraps
// ErrCircuitOpen, and while half-open also matches ErrTooManyProbes.
//
// State is StateOpen or StateHalfOpen. RetryAt is when a call may next be
// admitted:
//   - open: the end of the open period (zero while the breaker is forced
//     open, which lasts until Reset);
//   - half-open with every probe slot taken: the time of the rejection,
//     since a slot may free at any moment.
//
// Rejections during one open period share a single *OpenError, so treat it
// as read-only.
type OpenError struct {
	Name    string
	State   State
	RetryAt time.Time
}

// Error describes the rejection.
func (e *OpenError) Error() string {
	switch {
	case e.State == StateHalfOpen:
		return fmt.Sprintf("resilience: circuit %q is half-open and all probe slots are taken", e.Name)
	case e.RetryAt.IsZero():
		return fmt.Sprintf("resilience: circuit %q is forced open", e.Name)
	default:
		return fmt.Sprintf("resilience: circuit %q is open until %s", e.Name, e.RetryAt.Format(time.RFC3339Nano))
	}
}

// Unwrap returns ErrCircuitOpen.
func (e *OpenError) Unwrap() error { return ErrCircuitOpen }

// Is reports whether target is ErrTooManyProbes and the rejection is a
// half-open one.
func (e *OpenError) Is(target error) bool {
	return target == ErrTooManyProbes && e.State == StateHalfOpen
}
