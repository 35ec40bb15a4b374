package resilience

import "time"

// Reset returns the breaker to the closed state: it clears the trip
// policies (consecutive counts, window, half-open probes, grown open
// period) and the forced-open and disabled modes. Totals and Transitions
// are not reset. Results of calls admitted before Reset count in Totals
// only.
func (cb *CircuitBreaker) Reset() {
	cb.control(StateClosed, 0, disabledBit|forcedBit)
}

// ForceOpen opens the circuit until Reset: every call is rejected with an
// *OpenError whose RetryAt is zero. It replaces Disable.
func (cb *CircuitBreaker) ForceOpen() {
	cb.control(StateOpen, forcedBit, disabledBit)
}

// Disable keeps the circuit closed until Reset: calls always run and are
// still counted (Totals, window), but no policy opens the circuit. It
// replaces ForceOpen.
func (cb *CircuitBreaker) Disable() {
	cb.control(StateClosed, disabledBit, forcedBit)
}

func (cb *CircuitBreaker) control(to State, set, clear uint64) {
	now := cb.now()
	cb.mu.Lock()
	cb.advance(to, set, clear, now, 0)
	cb.unlockAndDeliver()
}

// OpenUntil opens the circuit until t, for a dependency that said when to
// come back (an HTTP 429 or 503 with Retry-After, a quota reset): calls
// are rejected with an *OpenError whose RetryAt is t, and once t has
// passed the breaker probes as it does after RecoveryTimeout (a failed
// probe reopens it for the usual open period).
//
// From closed or half-open this is a transition to open (listeners are
// called, calls in flight count in Totals only). An open period already in
// force is extended to t, never shortened, without a transition. A forced
// open or disabled breaker is left alone: operator modes win until Reset.
// A t that is not after now does nothing. OpenUntil reports whether it
// changed anything.
func (cb *CircuitBreaker) OpenUntil(t time.Time) bool {
	now := cb.now()
	until := cb.sinceBase(t)
	if until <= now {
		return false
	}
	cb.mu.Lock()
	defer cb.unlockAndDeliver()
	w := cb.word.Load()
	switch {
	case w&(forcedBit|disabledBit) != 0:
		return false
	case wordState(w) == StateOpen:
		if until <= cb.openUntil.Load() {
			return false
		}
		// The error first: a lock-free rejection that sees the new end
		// then also sees its RetryAt.
		cb.openErr.Store(&OpenError{Name: cb.settings.Name, State: StateOpen, RetryAt: cb.timeAt(until)})
		cb.openUntil.Store(until)
		return true
	default:
		cb.advance(StateOpen, 0, 0, now, until)
		return true
	}
}
