// Package resiliencetest provides test helpers for code that uses package
// resilience, in this module and in others: a fake Clock that tests advance
// by hand instead of sleeping through recovery timeouts.
//
//	clock := resiliencetest.NewClock(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
//	cb, _ := resilience.NewCircuitBreaker(resilience.Settings{
//		Name:            "kafka",
//		RecoveryTimeout: 30 * time.Second,
//		Clock:           clock,
//	})
//	// ... make the breaker open ...
//	clock.Advance(30 * time.Second)
//	// the next call is admitted as a half-open probe
package resiliencetest
