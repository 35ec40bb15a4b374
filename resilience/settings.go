package resilience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Defaults applied to zero-valued Settings fields.
const (
	DefaultFailureThreshold = 5
	DefaultRecoveryTimeout  = 60 * time.Second
	DefaultSuccessThreshold = 2
	DefaultHalfOpenMaxCalls = 1
	// DefaultMaxRecoveryFactor is how far RecoveryBackoff may grow the open
	// period when MaxRecoveryTimeout is zero: 10x RecoveryTimeout.
	DefaultMaxRecoveryFactor = 10
	DefaultWindowSize        = 100
	DefaultWindowDuration    = 60 * time.Second
	// DefaultTimeWindowMinimumCalls is MinimumCalls for a time-based window.
	// (A count-based window defaults to WindowSize.)
	DefaultTimeWindowMinimumCalls = 10

	// MaxWindowSize bounds WindowSize; the window keeps two bits per slot.
	MaxWindowSize = 1 << 20
	// MinWindowDuration bounds WindowDuration from below.
	MinWindowDuration = time.Millisecond
)

// Settings configure a CircuitBreaker. Every field is optional: a zero value
// takes the default named in its comment. NewCircuitBreaker rejects negative
// or out-of-range values with a *SettingsError naming the field.
type Settings struct {
	// Name identifies the breaker in errors, snapshots, metrics (the
	// circuit_name label) and the Registry. Required: a non-empty, valid
	// UTF-8 string, by convention "<service>.<dependency>". There is no
	// default, because a generated one would either collide between
	// breakers or change between restarts, breaking the dashboards and
	// alerts that select on it.
	Name string

	// FailureThreshold is the number of consecutive failures (in the closed
	// state) that opens the circuit. A success resets the count; an ignored
	// outcome leaves it alone. Default 5. The consecutive policy is on
	// unless ReadyToTrip replaces it, also next to the failure-rate
	// policy; set a large value to make the rate policy the only one that
	// matters.
	FailureThreshold int
	// ReadyToTrip, if set, replaces the consecutive-failure policy (so
	// FailureThreshold must be 0): after each failure in the closed state
	// it is called with the counts of TripCounts, and the circuit opens if
	// it returns true. It is not called for successes or ignored outcomes,
	// nor while the breaker is disabled. It runs with no lock held, on the
	// goroutine that recorded the failure, and may call into the breaker;
	// a panic in it propagates to that goroutine's caller and leaves the
	// breaker consistent (the failure is counted, the circuit stays
	// closed). The rate policies, when configured, still apply next to it.
	// This is sony/gobreaker's ReadyToTrip; the closed path of successful
	// calls does not change with it.
	ReadyToTrip func(TripCounts) bool
	// RecoveryTimeout is how long the circuit stays open before a probe is
	// admitted (half-open). Default 60s.
	RecoveryTimeout time.Duration
	// SuccessThreshold is the number of successful half-open probes that
	// close the circuit. Default 2.
	SuccessThreshold int
	// HalfOpenMaxCalls is how many probes may be in flight at once while
	// half-open; further calls are rejected. Default 1.
	HalfOpenMaxCalls int
	// OnStateChange, if set, is called after every state transition. It is
	// never called with a lock held and sees transitions in the order they
	// happened; it may call back into the breaker. See Subscribe.
	OnStateChange func(name string, from, to State)

	// RecoveryBackoff (>= 1) multiplies the open period each time a
	// half-open probe fails, up to MaxRecoveryTimeout. 0 or 1 = no growth.
	// The period returns to RecoveryTimeout when the circuit closes or is
	// Reset.
	RecoveryBackoff float64
	// MaxRecoveryTimeout caps the grown open period. Default 10x
	// RecoveryTimeout when RecoveryBackoff > 1; must not be below
	// RecoveryTimeout.
	MaxRecoveryTimeout time.Duration

	// Classify maps a call's error to an outcome. nil = DefaultClassify.
	// It is called for every completed call, also with a nil error.
	// Setting it moves the closed path off the fastest route (a few ns).
	Classify func(err error) Outcome

	// FailureRateThreshold (percent, (0,100]) turns on the sliding-window
	// failure-rate policy: the circuit opens when the window holds at
	// least MinimumCalls calls and failures/calls >= the threshold. 0 = off.
	FailureRateThreshold float64
	// WindowType selects a count-based (default) or time-based window.
	WindowType WindowType
	// WindowSize is the number of most recent calls a count-based window
	// holds. Default 100, at most MaxWindowSize. With ReadyToTrip and no
	// rate policy, a non-zero WindowSize (or WindowType WindowTimeBased)
	// keeps a window only for ReadyToTrip to see in TripCounts.
	WindowSize int
	// WindowDuration is the span of a time-based window. Default 60s, at
	// least MinWindowDuration. The window is kept in buckets (1s buckets for
	// windows of 10s to 100s; otherwise 10 or 100 buckets), so it covers the
	// last WindowDuration give or take one bucket.
	WindowDuration time.Duration
	// MinimumCalls is the number of calls the window must hold before a
	// rate is evaluated. Default WindowSize for a count-based window (at
	// most WindowSize), 10 for a time-based window.
	MinimumCalls int

	// SlowCallDuration marks calls that take longer than it as slow. Slow
	// calls are counted in Snapshot.Totals.Slow and, with
	// SlowCallRateThreshold, in the window. 0 = off. Timing a call costs
	// two clock reads.
	SlowCallDuration time.Duration
	// SlowCallRateThreshold (percent, (0,100]) opens the circuit when the
	// window holds at least MinimumCalls calls and slow/calls >= the
	// threshold. Requires SlowCallDuration. 0 = off.
	SlowCallRateThreshold float64

	// Clock supplies the time. nil = the real clock. Tests inject
	// resiliencetest.Clock so that they never sleep through timeouts.
	Clock Clock
}

// Clock is the time source of a breaker.
type Clock interface {
	Now() time.Time
}

// Outcome is what a completed call means to the breaker.
type Outcome int

const (
	// OutcomeSuccess counts as a success.
	OutcomeSuccess Outcome = iota
	// OutcomeFailure counts as a failure.
	OutcomeFailure
	// OutcomeIgnore counts in Totals.Ignored only: it neither trips nor
	// heals the circuit, and a half-open probe that ends this way just frees
	// its slot.
	OutcomeIgnore
)

// String returns "success", "failure" or "ignore".
func (o Outcome) String() string {
	switch o {
	case OutcomeSuccess:
		return "success"
	case OutcomeFailure:
		return "failure"
	case OutcomeIgnore:
		return "ignore"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// DefaultClassify is the classifier used when Settings.Classify is nil:
// nil is a success, an error that wraps context.Canceled is ignored (the
// caller gave up; that says nothing about the dependency), anything else is
// a failure. context.DeadlineExceeded is a failure: a dependency that does
// not answer in time is unhealthy.
func DefaultClassify(err error) Outcome {
	if err == nil {
		return OutcomeSuccess
	}
	if errors.Is(err, context.Canceled) {
		return OutcomeIgnore
	}
	return OutcomeFailure
}

// WindowType selects how the sliding window of the failure-rate policy is
// kept.
type WindowType int

const (
	// WindowCountBased keeps the last WindowSize calls.
	WindowCountBased WindowType = iota
	// WindowTimeBased keeps the calls of the last WindowDuration.
	WindowTimeBased
)

// String returns "count_based" or "time_based".
func (t WindowType) String() string {
	switch t {
	case WindowCountBased:
		return "count_based"
	case WindowTimeBased:
		return "time_based"
	}
	return fmt.Sprintf("WindowType(%d)", int(t))
}

// ErrInvalidSettings is matched (errors.Is) by every *SettingsError.
var ErrInvalidSettings = errors.New("resilience: invalid settings")

// SettingsError reports a Settings field with an unacceptable value.
type SettingsError struct {
	Field string // e.g. "FailureThreshold"
	Value any    // the value given
	Rule  string // the accepted range, e.g. "must be >= 0 (0 means default 5)"
}

// Error returns e.g.
// "resilience: Settings.FailureThreshold = -1: must be >= 0 (0 means default 5)"
// (string values are quoted).
func (e *SettingsError) Error() string {
	if v, ok := e.Value.(string); ok {
		return fmt.Sprintf("resilience: Settings.%s = %q: %s", e.Field, v, e.Rule)
	}
	return fmt.Sprintf("resilience: Settings.%s = %v: %s", e.Field, e.Value, e.Rule)
}

// Is reports whether target is ErrInvalidSettings.
func (e *SettingsError) Is(target error) bool { return target == ErrInvalidSettings }

func invalid(field string, value any, rule string) error {
	return &SettingsError{Field: field, Value: value, Rule: rule}
}

// withDefaults validates s and returns it with every zero value replaced by
// its default. Fields are checked in declaration order; the first problem is
// reported.
func (s Settings) withDefaults() (Settings, error) {
	const maxCount = math.MaxInt32
	if s.Name == "" {
		return s, invalid("Name", s.Name, "must not be empty: it names the breaker in errors, snapshots and the circuit_name metric label")
	}
	if !utf8.ValidString(s.Name) {
		return s, invalid("Name", s.Name, "must be valid UTF-8: it is exported as a Prometheus label value")
	}
	if s.ReadyToTrip != nil && s.FailureThreshold != 0 {
		return s, invalid("FailureThreshold", s.FailureThreshold,
			"must be 0 when ReadyToTrip is set: ReadyToTrip replaces the consecutive-failure policy (test TripCounts.ConsecutiveFailures in it)")
	}
	failureDefault := DefaultFailureThreshold
	if s.ReadyToTrip != nil {
		failureDefault = 0 // the consecutive policy is off
	}
	counts := []struct {
		name string
		v    *int
		def  int
	}{
		{"FailureThreshold", &s.FailureThreshold, failureDefault},
		{"SuccessThreshold", &s.SuccessThreshold, DefaultSuccessThreshold},
		{"HalfOpenMaxCalls", &s.HalfOpenMaxCalls, DefaultHalfOpenMaxCalls},
	}
	for _, c := range counts {
		if *c.v < 0 || *c.v > maxCount {
			return s, invalid(c.name, *c.v, fmt.Sprintf("must be between 0 and %d (0 means default %d)", maxCount, c.def))
		}
		if *c.v == 0 {
			*c.v = c.def
		}
	}
	if s.RecoveryTimeout < 0 {
		return s, invalid("RecoveryTimeout", s.RecoveryTimeout, "must be >= 0 (0 means default 1m0s)")
	}
	if s.RecoveryTimeout == 0 {
		s.RecoveryTimeout = DefaultRecoveryTimeout
	}
	if b := s.RecoveryBackoff; math.IsNaN(b) || math.IsInf(b, 0) || b < 0 || (b > 0 && b < 1) {
		return s, invalid("RecoveryBackoff", b, "must be 0 (off) or a finite multiplier >= 1")
	}
	if s.MaxRecoveryTimeout < 0 {
		return s, invalid("MaxRecoveryTimeout", s.MaxRecoveryTimeout, "must be >= 0 (0 means default 10x RecoveryTimeout)")
	}
	if s.MaxRecoveryTimeout != 0 && s.MaxRecoveryTimeout < s.RecoveryTimeout {
		return s, invalid("MaxRecoveryTimeout", s.MaxRecoveryTimeout,
			fmt.Sprintf("must be >= RecoveryTimeout (%v), or 0 for the default", s.RecoveryTimeout))
	}
	if s.MaxRecoveryTimeout == 0 && s.RecoveryBackoff > 1 {
		s.MaxRecoveryTimeout = s.RecoveryTimeout * DefaultMaxRecoveryFactor
		if s.MaxRecoveryTimeout/DefaultMaxRecoveryFactor != s.RecoveryTimeout {
			s.MaxRecoveryTimeout = math.MaxInt64 // overflow: no practical cap
		}
	}
	if err := checkPercent("FailureRateThreshold", s.FailureRateThreshold); err != nil {
		return s, err
	}
	if s.WindowType != WindowCountBased && s.WindowType != WindowTimeBased {
		return s, invalid("WindowType", int(s.WindowType), "must be WindowCountBased (0) or WindowTimeBased (1)")
	}
	if s.WindowSize < 0 || s.WindowSize > MaxWindowSize {
		return s, invalid("WindowSize", s.WindowSize, fmt.Sprintf("must be between 0 and %d (0 means default %d)", MaxWindowSize, DefaultWindowSize))
	}
	if s.WindowDuration < 0 || (s.WindowDuration > 0 && s.WindowDuration < MinWindowDuration) {
		return s, invalid("WindowDuration", s.WindowDuration, fmt.Sprintf("must be 0 (default %v) or >= %v", DefaultWindowDuration, MinWindowDuration))
	}
	if s.MinimumCalls < 0 || s.MinimumCalls > maxCount {
		return s, invalid("MinimumCalls", s.MinimumCalls, fmt.Sprintf("must be between 0 and %d (0 means the window's default)", maxCount))
	}
	if s.SlowCallDuration < 0 {
		return s, invalid("SlowCallDuration", s.SlowCallDuration, "must be >= 0 (0 means off)")
	}
	if err := checkPercent("SlowCallRateThreshold", s.SlowCallRateThreshold); err != nil {
		return s, err
	}
	if s.SlowCallRateThreshold > 0 && s.SlowCallDuration == 0 {
		return s, invalid("SlowCallRateThreshold", s.SlowCallRateThreshold, "requires SlowCallDuration > 0")
	}
	if s.windowed() {
		switch s.WindowType {
		case WindowCountBased:
			if s.WindowSize == 0 {
				s.WindowSize = DefaultWindowSize
			}
			if s.MinimumCalls == 0 {
				s.MinimumCalls = s.WindowSize
			}
			if s.MinimumCalls > s.WindowSize {
				return s, invalid("MinimumCalls", s.MinimumCalls,
					fmt.Sprintf("must be <= WindowSize (%d) for a count-based window", s.WindowSize))
			}
		case WindowTimeBased:
			if s.WindowDuration == 0 {
				s.WindowDuration = DefaultWindowDuration
			}
			if s.MinimumCalls == 0 {
				s.MinimumCalls = DefaultTimeWindowMinimumCalls
			}
		}
	}
	return s, nil
}

// windowed reports whether a rate policy, or ReadyToTrip, needs the
// sliding window.
func (s *Settings) windowed() bool {
	return s.FailureRateThreshold > 0 || s.SlowCallRateThreshold > 0 ||
		(s.ReadyToTrip != nil && (s.WindowSize > 0 || s.WindowType == WindowTimeBased))
}

func checkPercent(field string, v float64) error {
	if math.IsNaN(v) || v < 0 || v > 100 {
		return invalid(field, v, "must be a percentage in (0,100], or 0 for off")
	}
	return nil
}
