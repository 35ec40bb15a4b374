package resilience

import (
	"context"
	"math"
	"time"
)

// ticket is what an admitted call carries from admission to its outcome.
type ticket struct {
	w     uint64  // the state word at admission (state and generation)
	start int64   // admission time in ns since base, when calls are timed
	probe *Permit // set for half-open probes: the outcome is raced with the context's end
}

// begin admits a call on every route but the fast closed one, or returns
// the rejection.
func (cb *CircuitBreaker) begin(ctx context.Context, w uint64) (ticket, error) {
	if wordState(w) == StateClosed {
		t := ticket{w: w}
		if cb.slowNs > 0 {
			t.start = cb.now()
		}
		return t, nil
	}
	return cb.admit(ctx, w)
}

// admit handles a call that found the breaker open or half-open.
func (cb *CircuitBreaker) admit(ctx context.Context, w uint64) (ticket, error) {
	now := cb.now()
	if wordState(w) == StateOpen && (w&forcedBit != 0 || now < cb.openUntil.Load()) {
		// Still inside the open period: reject without the lock.
		cb.shard().rejected.Add(1)
		return ticket{}, cb.openErr.Load()
	}
	cb.mu.Lock()
	cb.promote(now)
	w = cb.word.Load()
	var p *Permit
	var rejection *OpenError
	switch wordState(w) {
	case StateClosed: // closed meanwhile
	case StateOpen: // reopened or forced meanwhile
		rejection = cb.openErr.Load()
	case StateHalfOpen:
		if cb.hoInFlight >= cb.settings.HalfOpenMaxCalls {
			rejection = &OpenError{Name: cb.settings.Name, State: StateHalfOpen, RetryAt: cb.timeAt(now)}
			break
		}
		cb.hoInFlight++
		p = &Permit{cb: cb}
		p.t = ticket{w: w, start: now, probe: p}
	}
	cb.unlockAndDeliver()
	if rejection != nil {
		cb.shard().rejected.Add(1)
		return ticket{}, rejection
	}
	if p == nil {
		return ticket{w: w, start: now}, nil
	}
	// Only probes watch their context, so the closed path never pays for
	// it: a probe whose outcome never arrives frees its slot when ctx ends.
	if ctx.Done() != nil {
		p.stop = context.AfterFunc(ctx, func() { p.expire(ctx) })
	}
	return p.t, nil
}

// end records the outcome of a call admitted by begin. A probe's outcome
// counts only if it beats the end of the probe's context.
func (cb *CircuitBreaker) end(t ticket, o Outcome, err error) {
	if p := t.probe; p != nil {
		if !p.done.CompareAndSwap(false, true) {
			return
		}
		if p.stop != nil {
			p.stop()
		}
	}
	cb.record(t, o, err)
}

// record counts one outcome: always in Totals, and in the trip policy if
// the call's generation is still current.
func (cb *CircuitBreaker) record(t ticket, o Outcome, err error) {
	if o != OutcomeSuccess && o != OutcomeIgnore {
		o = OutcomeFailure
		if err == nil {
			err = errUnexplainedFailure
		}
	}
	var now int64
	if cb.slowNs > 0 || cb.tw != nil {
		now = cb.now()
	}
	slow := cb.slowNs > 0 && o != OutcomeIgnore && now-t.start > cb.slowNs
	sh := cb.shard()
	if slow {
		sh.slow.Add(1)
	}
	switch {
	case o == OutcomeFailure && t.probe == nil && wordState(t.w) == StateClosed:
		cb.closedFailure(t.w, err, slow)
		return
	case o == OutcomeFailure:
		sh.failures.Add(1)
	case o == OutcomeSuccess:
		sh.successes.Add(1)
		if wordState(t.w) == StateClosed {
			cb.closedSuccess(t.w, slow, now)
			return
		}
	default:
		sh.ignored.Add(1)
		if wordState(t.w) == StateClosed {
			return
		}
	}
	// A half-open probe's outcome.
	now = cb.now()
	cb.mu.Lock()
	if o == OutcomeFailure {
		cb.lastErr, cb.lastErrAt = err, now
	}
	if sameGen(cb.word.Load(), t.w) {
		cb.hoInFlight--
		switch o {
		case OutcomeSuccess:
			cb.hoSuccesses++
			if cb.hoSuccesses >= cb.settings.SuccessThreshold {
				cb.advance(StateClosed, 0, 0, now, 0)
			}
		case OutcomeFailure:
			cb.growOpenPeriod()
			cb.advance(StateOpen, 0, 0, now, 0)
		}
	}
	cb.unlockAndDeliver()
}

// closedSuccess applies a success of a call admitted while closed. It
// takes the lock only when the window needs it.
func (cb *CircuitBreaker) closedSuccess(w uint64, slow bool, now int64) {
	if c := cb.consec.Load(); uint32(c) != 0 {
		cb.clearConsec(c, w)
	}
	switch {
	case cb.cw != nil:
		cb.countWindowSuccess(w, slow)
	case cb.tw != nil:
		cb.timeWindowSuccess(w, slow, now)
	}
}

// closedFailure counts a failure of a call admitted while closed and opens
// the circuit if a policy trips.
func (cb *CircuitBreaker) closedFailure(w uint64, err error, slow bool) {
	cb.shard().failures.Add(1)
	now := cb.now()
	var q tripQuestion
	ask := false
	cb.mu.Lock()
	cb.lastErr, cb.lastErrAt = err, now
	if sameGen(cb.word.Load(), w) {
		// Add, not load-and-store: a success may clear the count without
		// the lock at any moment, and must not be overwritten. (The count
		// saturates so that it never carries into the generation bits
		// while disabled.)
		n := uint32(cb.consec.Load())
		if n != math.MaxUint32 {
			n = uint32(cb.consec.Add(1))
		}
		predicate := cb.settings.ReadyToTrip != nil
		trip := !predicate && int64(n) >= int64(cb.settings.FailureThreshold)
		switch {
		case cb.cw != nil:
			trip = cb.countWindowRecordLocked(w, true, slow) || trip
		case cb.tw != nil:
			trip = cb.timeWindowRecordLocked(now, true, slow) || trip
		}
		if predicate && !trip && w&disabledBit == 0 {
			// ReadyToTrip is user code: it runs after the unlock.
			ask, q = true, cb.tripQuestionLocked(w, n, now)
		}
		cb.tripLocked(w, trip, now)
	}
	cb.unlockAndDeliver()
	if ask {
		cb.askReadyToTrip(q)
	}
}

// rateTrips reports whether window contents trip the rate policy.
func (cb *CircuitBreaker) rateTrips(calls, failures, slows uint64) bool {
	s := &cb.settings
	if calls == 0 || calls < uint64(s.MinimumCalls) {
		return false
	}
	if s.FailureRateThreshold > 0 && float64(failures)*100 >= s.FailureRateThreshold*float64(calls) {
		return true
	}
	return s.SlowCallRateThreshold > 0 && float64(slows)*100 >= s.SlowCallRateThreshold*float64(calls)
}

// tripLocked opens the circuit if a policy tripped, unless the breaker is
// disabled (mu held, generation of w checked by the caller).
func (cb *CircuitBreaker) tripLocked(w uint64, trip bool, now int64) {
	if trip && w&disabledBit == 0 {
		cb.advance(StateOpen, 0, 0, now, 0)
	}
}

// growOpenPeriod applies RecoveryBackoff after a failed probe (mu held).
func (cb *CircuitBreaker) growOpenPeriod() {
	b := cb.settings.RecoveryBackoff
	if b <= 1 {
		return
	}
	grown := float64(cb.openPeriod) * b
	if limit := float64(cb.settings.MaxRecoveryTimeout); grown > limit {
		grown = limit
	}
	cb.openPeriod = time.Duration(grown)
}

// promote moves an open breaker whose open period is over to half-open
// (mu held). This is the only way out of the open state besides Reset:
// there is no timer.
func (cb *CircuitBreaker) promote(now int64) {
	w := cb.word.Load()
	if wordState(w) == StateOpen && w&forcedBit == 0 && now >= cb.openUntil.Load() {
		cb.advance(StateHalfOpen, 0, 0, now, 0)
	}
}

// advance starts a new generation in state to (mu held), setting and
// clearing the given flag bits. An open state that is not forced lasts
// until until, or for the open period from now if until is 0. Everything a
// lock-free reader of the new word may look at is prepared before the word
// is stored.
func (cb *CircuitBreaker) advance(to State, set, clear uint64, now, until int64) {
	w := cb.word.Load()
	from := wordState(w)
	nw := (w>>genShift+1)<<genShift | (w&^stateMask&^clear|set)&(genOne-1) | uint64(to)
	cb.consec.Store(gen32(nw) << 32)
	switch to {
	case StateOpen:
		oe := &OpenError{Name: cb.settings.Name, State: StateOpen}
		if nw&forcedBit != 0 {
			cb.openUntil.Store(math.MaxInt64)
		} else {
			if until == 0 {
				until = now + int64(cb.openPeriod)
				if until < now {
					until = math.MaxInt64
				}
			}
			cb.openUntil.Store(until)
			oe.RetryAt = cb.timeAt(until)
		}
		cb.openErr.Store(oe)
	case StateHalfOpen:
		cb.hoInFlight, cb.hoSuccesses = 0, 0
	case StateClosed:
		cb.openPeriod = cb.settings.RecoveryTimeout
		if cb.settings.ReadyToTrip != nil {
			cb.closedBase = cb.totals()
		}
	}
	// The window belongs to one generation: keying its position to the new
	// generation also shuts out calls admitted before this point.
	switch {
	case cb.cw != nil:
		cb.cw.reset(gen32(nw))
	case cb.tw != nil:
		cb.tw.reset(now)
	}
	cb.word.Store(nw)
	if from != to {
		cb.since = now
		cb.transitions[from][to]++
		if len(cb.listeners) > 0 {
			cb.pending = append(cb.pending, stateEvent{from: from, to: to, listeners: cb.listeners})
		}
	}
}
