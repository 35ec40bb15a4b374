package resilience

import (
	"math"
	"time"
)

// TripUntil opens the circuit now, as a tripped failure policy would, and
// keeps it open until at least until: the open period ends at the later
// of until and the end of the breaker's own open period (RecoveryTimeout,
// grown by RecoveryBackoff). It is for dependencies that say how long
// they want to be left alone, such as an HTTP 429 or 503 with a
// Retry-After header.
//
// From closed or half-open the breaker moves to open (a transition, with
// listeners called); in-flight calls of the earlier state count in Totals
// only. While already open it only extends the open period, if until is
// later than its end. A breaker that is forced open or disabled is left
// as it is: operator controls win. Calls rejected meanwhile get an
// *OpenError whose RetryAt is the extended end.
func (cb *CircuitBreaker) TripUntil(until time.Time) {
	now := cb.now()
	u := int64(math.MaxInt64)
	if d := until.Sub(cb.base); d < time.Duration(math.MaxInt64) {
		u = int64(d)
	}
	cb.mu.Lock()
	w := cb.word.Load()
	if w&(disabledBit|forcedBit) == 0 {
		if wordState(w) != StateOpen || now >= cb.openUntil.Load() {
			cb.advance(StateOpen, 0, 0, now)
		}
		// A lock-free reader that still sees the shorter period only
		// takes the locked path (admit), which waits for this update.
		if u > cb.openUntil.Load() {
			cb.openErr.Store(&OpenError{Name: cb.settings.Name, State: StateOpen, RetryAt: cb.timeAt(u)})
			cb.openUntil.Store(u)
		}
	}
	cb.unlockAndDeliver()
}
