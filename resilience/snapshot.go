package resilience

import "time"

// Snapshot is a point-in-time, copyable view of one breaker. It is what the
// Registry's HTTP handler serves as JSON and what the Prometheus collector in
// package observability reads at scrape time, so the breaker's hot path never
// touches a metric.
type Snapshot struct {
	Name  string    `json:"name"`
	State State     `json:"state"`
	Since time.Time `json:"since"` // when the current state was entered

	// Disabled is true while the breaker is disabled (always closed, still
	// counting); ForcedOpen while an operator holds it open.
	Disabled   bool `json:"disabled"`
	ForcedOpen bool `json:"forced_open"`

	// NextProbeAt is, while open, the earliest time a probe is admitted.
	// Zero in other states.
	NextProbeAt time.Time `json:"next_probe_at,omitzero"`
	// OpenPeriod is the open period in force (RecoveryTimeout, grown by the
	// optional backoff while probes keep failing).
	OpenPeriod time.Duration `json:"open_period_ns"`
	// ProbesInFlight is, while half-open, the number of admitted probes
	// whose outcome has not arrived yet. Zero in other states.
	ProbesInFlight int `json:"probes_in_flight"`

	// Totals are cumulative since the breaker was created; they never reset
	// (Reset clears the trip policy, not the history), so they can back
	// Prometheus counters.
	Totals Counts `json:"totals"`
	// Window is what the trip policy currently sees: the consecutive counts,
	// or the sliding window's contents.
	Window WindowCounts `json:"window"`

	// Transitions counts state changes by (from, to), cumulative.
	Transitions []TransitionCount `json:"transitions"`

	// LastFailure is the most recent call counted as a failure, or nil.
	LastFailure *FailureRecord `json:"last_failure,omitempty"`
}

// Counts are cumulative call outcomes.
type Counts struct {
	Successes uint64 `json:"successes"`
	Failures  uint64 `json:"failures"`
	Ignored   uint64 `json:"ignored"`  // errors classified as neither success nor failure
	Rejected  uint64 `json:"rejected"` // calls refused without running (open, or half-open and full)
	Slow      uint64 `json:"slow"`     // calls slower than the slow-call threshold (also counted as success or failure)
}

// WindowCounts are what the trip policy sees now.
type WindowCounts struct {
	ConsecutiveFailures  uint64 `json:"consecutive_failures"`
	ConsecutiveSuccesses uint64 `json:"consecutive_successes"`
	// Calls, Failures and SlowCalls are the sliding window's contents; zero
	// when no window policy is configured.
	Calls     uint64 `json:"calls"`
	Failures  uint64 `json:"failures"`
	SlowCalls uint64 `json:"slow_calls"`
}

// TransitionCount is how often the breaker went From -> To.
type TransitionCount struct {
	From  State  `json:"from"`
	To    State  `json:"to"`
	Count uint64 `json:"count"`
}

// FailureRecord describes a call counted as a failure.
type FailureRecord struct {
	At    time.Time `json:"at"`
	Error string    `json:"error"`
}
