package resilience

import (
	"context"
	"errors"
	"sync/atomic"
)

// Permit is an admitted call whose outcome is reported later, for results
// that arrive on another goroutine (a Kafka delivery callback). Get one
// from Acquire and call Report exactly once.
//
// A permit taken while half-open holds one of the HalfOpenMaxCalls probe
// slots until it is reported or until the context given to Acquire ends
// (DeadlineExceeded counts as a failure, Canceled as ignored). A half-open
// permit acquired with a context that never ends and never reported keeps
// its slot until the state changes (Reset, ForceOpen, Disable): give
// probes a deadline.
type Permit struct {
	cb   *CircuitBreaker
	t    ticket
	done atomic.Bool // the outcome has been recorded (by Report or by the context's end)
	// stop unregisters the context watch of a half-open permit. Set before
	// the permit is handed out and read only afterwards.
	stop func() bool
}

// Acquire asks for permission to make one call. It returns a permit, an
// error wrapping ErrCircuitOpen (an *OpenError) when the breaker rejects
// the call, or ctx.Err() if ctx is already done.
func (cb *CircuitBreaker) Acquire(ctx context.Context) (*Permit, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w := cb.word.Load()
	if wordState(w) == StateClosed {
		p := &Permit{cb: cb, t: ticket{w: w}}
		if cb.slowNs > 0 {
			p.t.start = cb.now()
		}
		return p, nil
	}
	t, err := cb.admit(ctx, w)
	if err != nil {
		return nil, err
	}
	if t.probe != nil {
		return t.probe, nil
	}
	return &Permit{cb: cb, t: t}, nil
}

// Report records the outcome of the permitted call, classified like the
// error of Call (Settings.Classify). It returns true the first time; later
// calls, and calls after the permit's half-open context ended, return
// false and change nothing. A permit from an earlier generation (the
// breaker changed state, or was Reset, since Acquire) counts in Totals but
// leaves the state alone. Calls slower than SlowCallDuration, measured
// from Acquire, count as slow.
func (p *Permit) Report(err error) bool {
	if p == nil || !p.done.CompareAndSwap(false, true) {
		return false
	}
	if p.stop != nil {
		p.stop()
	}
	p.cb.record(p.t, p.cb.outcome(err), err)
	return true
}

// expire resolves a half-open permit whose context ended first.
func (p *Permit) expire(ctx context.Context) {
	if !p.done.CompareAndSwap(false, true) {
		return
	}
	err := ctx.Err()
	o := OutcomeIgnore
	if errors.Is(err, context.DeadlineExceeded) {
		o = OutcomeFailure
	}
	p.cb.record(p.t, o, err)
}
