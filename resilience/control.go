package resilience

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
	cb.advance(to, set, clear, now)
	cb.unlockAndDeliver()
}
