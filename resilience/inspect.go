package resilience

// State returns the current state. An open breaker whose open period is
// over moves to half-open here (transitions are evaluated lazily, on calls,
// State and Snapshot; there is no timer).
func (cb *CircuitBreaker) State() State {
	w := cb.word.Load()
	if wordState(w) == StateOpen && w&forcedBit == 0 {
		if now := cb.now(); now >= cb.openUntil.Load() {
			cb.mu.Lock()
			cb.promote(now)
			w = cb.word.Load()
			cb.unlockAndDeliver()
		}
	}
	return wordState(w)
}

// Snapshot returns a copy of the breaker's state and counters. Like State,
// it moves an open breaker whose open period is over to half-open.
func (cb *CircuitBreaker) Snapshot() Snapshot {
	now := cb.now()
	cb.mu.Lock()
	cb.promote(now)
	w := cb.word.Load()
	s := Snapshot{
		Name:       cb.settings.Name,
		State:      wordState(w),
		Since:      cb.timeAt(cb.since),
		Disabled:   w&disabledBit != 0,
		ForcedOpen: w&forcedBit != 0,
		OpenPeriod: cb.openPeriod,
	}
	switch s.State {
	case StateOpen:
		if !s.ForcedOpen {
			s.NextProbeAt = cb.timeAt(cb.openUntil.Load())
		}
	case StateClosed:
		s.Window.ConsecutiveFailures = uint64(uint32(cb.consec.Load()))
	case StateHalfOpen:
		s.Window.ConsecutiveSuccesses = uint64(cb.hoSuccesses)
		s.ProbesInFlight = cb.hoInFlight
	}
	s.Window.Calls, s.Window.Failures, s.Window.SlowCalls = cb.windowCountsLocked(now)
	s.Transitions = []TransitionCount{}
	for from := range cb.transitions {
		for to, n := range cb.transitions[from] {
			if n > 0 {
				s.Transitions = append(s.Transitions, TransitionCount{From: State(from), To: State(to), Count: n})
			}
		}
	}
	lastErr, lastAt := cb.lastErr, cb.lastErrAt
	cb.unlockAndDeliver()
	// Totals after the lock: they are atomics, and summing 16 shards need
	// not delay calls. The error is formatted here, outside the lock,
	// because Error is user code.
	s.Totals = cb.totals()
	if lastErr != nil {
		s.LastFailure = &FailureRecord{At: cb.timeAt(lastAt), Error: lastErr.Error()}
	}
	return s
}
