// Package resilience provides circuit breakers: a CircuitBreaker that
// stops calling a dependency that keeps failing and probes it until it
// recovers, a Registry of named breakers for operators and metrics, the
// Call / Execute / Acquire entry points, an http.RoundTripper (Transport),
// and a code generator (cmd/breakergen) that wraps any interface.
//
// # Usage
//
//	cb, err := resilience.NewCircuitBreaker(resilience.Settings{
//		Name:             "essay-service",
//		FailureThreshold: 5,
//		RecoveryTimeout:  30 * time.Second,
//	})
//	if err != nil {
//		return err // names the bad field and its accepted range
//	}
//	essay, err := resilience.Execute(ctx, cb, func(ctx context.Context) (Essay, error) {
//		return client.GetEssay(ctx, id)
//	})
//	if errors.Is(err, resilience.ErrCircuitOpen) {
//		// not called: the dependency is considered down; fail fast
//	}
//
// # States
//
// Closed: calls run and their outcomes are counted. The circuit opens when
// FailureThreshold consecutive calls fail (a success resets the count; an
// ignored outcome leaves it alone), or, with the failure-rate policy on
// (FailureRateThreshold > 0), when the sliding window holds at least
// MinimumCalls calls and the failure rate is >= FailureRateThreshold
// percent, or the slow-call rate is >= SlowCallRateThreshold percent. The
// rates are evaluated after every call that could change them. A custom
// Settings.ReadyToTrip (sony/gobreaker's) replaces the consecutive policy:
// it is asked after every failure, with the counts since the circuit
// closed and the window's contents.
//
// Open: calls are rejected without running fn; the error is an *OpenError
// that wraps ErrCircuitOpen and carries RetryAt, the end of the open period.
// The open period is RecoveryTimeout. Each failed half-open probe multiplies
// it by RecoveryBackoff (when > 1), up to MaxRecoveryTimeout; closing the
// circuit (or Reset) brings it back to RecoveryTimeout.
//
// A caller that learns from the dependency itself how long to stay away
// (an HTTP 429 or 503 with Retry-After) calls OpenUntil: the circuit opens
// at once and stays open until that time.
//
// Half-open: once the open period is over, the next call (or Acquire, State,
// Snapshot) moves the breaker to half-open. There are no timers or
// background goroutines: transitions are evaluated lazily when the breaker
// is used or inspected. At most HalfOpenMaxCalls probes are in flight;
// further calls are rejected with an error that also matches
// ErrTooManyProbes (RetryAt = the time of rejection, since a slot may free
// at any moment). SuccessThreshold successful probes close the
// circuit; any failed probe opens it again. Ignored probes just free their
// slot. Slow calls do not matter while half-open (they still count in
// Totals.Slow).
//
// A half-open probe never blocks the breaker: if its outcome does not arrive
// (a Call whose fn hangs, a Permit never reported) its slot is freed when
// the context given to Call or Acquire ends: DeadlineExceeded counts as a
// failure, Canceled as ignored. The result that arrives afterwards changes
// nothing. Only probes watch their context (context.AfterFunc), so the
// closed path stays allocation-free.
//
// # Outcomes
//
// Settings.Classify maps a call's error to OutcomeSuccess, OutcomeFailure
// or OutcomeIgnore; the default (DefaultClassify) treats nil as success,
// errors wrapping context.Canceled as ignored and everything else,
// including context.DeadlineExceeded, as a failure. A panic in fn (or
// runtime.Goexit) counts as a failure; the breaker does not recover it, so
// the panic continues to the caller unchanged.
//
// # Generations
//
// Every transition, and every Reset, ForceOpen and Disable, starts a new
// generation. A call remembers the generation it was admitted in; if the
// breaker has moved on by the time its outcome arrives (a slow call admitted
// while closed that fails after the circuit opened, a probe that returns
// after Reset), the outcome counts in Snapshot.Totals but does not change
// the state or the policy counts. This is how gobreaker avoids stale
// results, too.
//
// # Operator controls
//
// ForceOpen rejects every call until Reset; Disable keeps the circuit
// closed (still counting) until Reset; Reset returns to closed and clears
// the trip policy. Totals are never reset. OpenUntil opens the circuit
// until a given time, for a dependency that sent Retry-After, and then
// probes as usual.
//
// # Names
//
// Settings.Name is required by NewCircuitBreaker and the Registry alike:
// it labels the breaker's metrics, snapshots and errors.
//
// # Coming from other libraries
//
// docs/migrating.md maps sony/gobreaker v2's and failsafe-go's settings and
// calls onto these, with the behaviour that differs; the Example functions
// show the patterns.
//
// # Listeners
//
// Settings.OnStateChange and Subscribe listeners are called after each
// transition, never with a lock held, and each listener sees the
// transitions of a breaker in the order they happened. They may call back
// into the breaker (State, Snapshot, Reset, ...). Transitions are queued
// under the state lock and delivered by one goroutine at a time; a
// transition made by a listener is delivered after that listener returns.
// Consequently a listener may run on a goroutine other than the one that
// caused the transition. Keep listeners short: a slow listener delays the
// delivery of later transitions (not the calls).
//
// # Deferred outcomes
//
// When the result of a call arrives later and elsewhere (a Kafka delivery
// callback), use Acquire and Permit.Report. Report records the outcome
// exactly once; later Reports return false.
//
// # Observability
//
// Snapshot returns the state, when it was entered, the operator modes, the
// next probe time, the open period, cumulative Totals (successes, failures,
// ignored, rejected, slow), what the trip policy currently sees (Window),
// transition counts and the last failure. Window.ConsecutiveFailures is
// reported while closed and Window.ConsecutiveSuccesses while half-open
// (closed-state successes are not counted one by one, to keep the closed
// path free of shared writes). Registry.Handler serves all snapshots as
// JSON.
//
// # Performance
//
// With default settings the closed path of Call and Execute takes no lock,
// reads no clock and does not allocate: one atomic load of a packed state
// word (state, mode bits and generation), the call, and one atomic add to a
// per-core-ish counter shard (picked from the goroutine's stack address)
// padded to its own cache lines, plus a load of the consecutive-failure
// counter that is written only when it is non-zero. Failures take a mutex.
// A count-based window adds one CAS on its ring position while calls
// succeed; a time-based window and slow-call detection read the clock.
// The numbers are in breaker_bench_test.go; comparisons with other
// libraries live in the bench module.
//
// # Testing
//
// Inject a clock (Settings.Clock); package resiliencetest provides a fake
// one, so tests never sleep through recovery timeouts.
package resilience
