package resilience

// TripCounts are what Settings.ReadyToTrip decides on. They are taken right
// after the failure that asks, and include it.
type TripCounts struct {
	// ConsecutiveFailures is the number of failures since the last success
	// in the closed state (gobreaker's Counts.ConsecutiveFailures).
	ConsecutiveFailures uint64
	// Successes, Failures and Ignored count the outcomes recorded since the
	// circuit last closed (or was Reset or Disabled), like gobreaker's
	// Counts with Interval 0; Successes+Failures is its Requests without
	// the calls still in flight. They are differences of the cumulative
	// Totals, so the late outcome of a call admitted before the circuit
	// closed counts too, and under concurrency they are as exact as
	// Totals (a sum over counter shards, not an atomic cut).
	Successes uint64
	Failures  uint64
	Ignored   uint64
	// WindowCalls, WindowFailures and WindowSlowCalls are the sliding
	// window's contents when the breaker keeps one (a rate policy, or
	// WindowSize or WindowTimeBased set next to ReadyToTrip), like
	// gobreaker's Counts with Interval and BucketPeriod; zero otherwise.
	WindowCalls     uint64
	WindowFailures  uint64
	WindowSlowCalls uint64
}

// tripQuestion is what closedFailure gathers under the lock for a
// ReadyToTrip call made after it is released.
type tripQuestion struct {
	w      uint64 // the failed call's admission word
	counts TripCounts
	base   Counts // Totals when the circuit closed
}

// tripQuestionLocked prepares the ReadyToTrip call for a failure of the
// current generation w, n being the consecutive count (mu held).
func (cb *CircuitBreaker) tripQuestionLocked(w uint64, n uint32, now int64) tripQuestion {
	q := tripQuestion{w: w, base: cb.closedBase}
	q.counts.ConsecutiveFailures = uint64(n)
	q.counts.WindowCalls, q.counts.WindowFailures, q.counts.WindowSlowCalls = cb.windowCountsLocked(now)
	return q
}

// askReadyToTrip calls Settings.ReadyToTrip with no lock held and opens
// the circuit if it says so and the failure's generation is still
// current. Of concurrent failures that all ask, the first true answer
// opens the circuit; the others then belong to a past generation.
func (cb *CircuitBreaker) askReadyToTrip(q tripQuestion) {
	// The sum over the shards is taken here rather than under the lock:
	// it is 80 loads, and Totals need no lock.
	t := cb.totals()
	q.counts.Successes = t.Successes - q.base.Successes
	q.counts.Failures = t.Failures - q.base.Failures
	q.counts.Ignored = t.Ignored - q.base.Ignored
	if !cb.settings.ReadyToTrip(q.counts) {
		return
	}
	now := cb.now()
	cb.mu.Lock()
	if sameGen(cb.word.Load(), q.w) {
		cb.tripLocked(q.w, true, now)
	}
	cb.unlockAndDeliver()
}
