// Package testwait waits in tests for a condition that another goroutine
// makes true, by polling it with a deadline: for states that have no
// channel to wait on (a breaker's state, a queue's depth, a file on disk).
//
//	testwait.For(t, 10*time.Second, "the queue to drain", func() bool {
//		return q.Stats().Records == 0
//	})
package testwait

import "time"

// T is the part of testing.TB (or rapid.T) that For needs.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
}

// pollEvery is how often For asks again: often enough that a test waits
// at most a millisecond more than it must, rarely enough to leave the CPU
// to what it waits for.
const pollEvery = time.Millisecond

// For polls cond until it holds, failing t (naming what it waited for)
// if it still does not after timeout.
func For(t T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pollEvery)
	}
}
