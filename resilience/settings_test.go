package resilience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestNewCircuitBreakerRejectsInvalidSettings(t *testing.T) {
	tests := []struct {
		name     string
		settings Settings
		field    string
		wantMsg  string
	}{
		{"empty name", Settings{}, "Name",
			`resilience: Settings.Name = "": must not be empty: it names the breaker in errors, snapshots and the circuit_name metric label`},
		{"name not UTF-8", Settings{Name: "kafka\xff"}, "Name",
			`resilience: Settings.Name = "kafka\xff": must be valid UTF-8: it is exported as a Prometheus label value`},
		{"failure threshold next to ReadyToTrip", Settings{FailureThreshold: 3, ReadyToTrip: func(TripCounts) bool { return false }}, "FailureThreshold", ""},
		{"negative failure threshold", Settings{FailureThreshold: -1}, "FailureThreshold",
			"resilience: Settings.FailureThreshold = -1: must be between 0 and 2147483647 (0 means default 5)"},
		{"failure threshold beyond int32", Settings{FailureThreshold: math.MaxInt32 + 1}, "FailureThreshold", ""},
		{"negative success threshold", Settings{SuccessThreshold: -2}, "SuccessThreshold", ""},
		{"negative half-open calls", Settings{HalfOpenMaxCalls: -1}, "HalfOpenMaxCalls", ""},
		{"negative recovery timeout", Settings{RecoveryTimeout: -time.Second}, "RecoveryTimeout",
			"resilience: Settings.RecoveryTimeout = -1s: must be >= 0 (0 means default 1m0s)"},
		{"backoff below one", Settings{RecoveryBackoff: 0.5}, "RecoveryBackoff", ""},
		{"negative backoff", Settings{RecoveryBackoff: -2}, "RecoveryBackoff", ""},
		{"NaN backoff", Settings{RecoveryBackoff: math.NaN()}, "RecoveryBackoff", ""},
		{"infinite backoff", Settings{RecoveryBackoff: math.Inf(1)}, "RecoveryBackoff", ""},
		{"negative max recovery", Settings{MaxRecoveryTimeout: -1}, "MaxRecoveryTimeout", ""},
		{"max recovery below recovery", Settings{RecoveryTimeout: time.Minute, MaxRecoveryTimeout: time.Second}, "MaxRecoveryTimeout",
			"resilience: Settings.MaxRecoveryTimeout = 1s: must be >= RecoveryTimeout (1m0s), or 0 for the default"},
		{"negative failure rate", Settings{FailureRateThreshold: -1}, "FailureRateThreshold", ""},
		{"failure rate above 100", Settings{FailureRateThreshold: 100.5}, "FailureRateThreshold",
			"resilience: Settings.FailureRateThreshold = 100.5: must be a percentage in (0,100], or 0 for off"},
		{"NaN failure rate", Settings{FailureRateThreshold: math.NaN()}, "FailureRateThreshold", ""},
		{"unknown window type", Settings{WindowType: 7}, "WindowType", ""},
		{"negative window size", Settings{WindowSize: -1}, "WindowSize", ""},
		{"window size too large", Settings{WindowSize: MaxWindowSize + 1}, "WindowSize", ""},
		{"negative window duration", Settings{WindowDuration: -time.Second}, "WindowDuration", ""},
		{"window duration below 1ms", Settings{WindowDuration: time.Microsecond}, "WindowDuration", ""},
		{"negative minimum calls", Settings{MinimumCalls: -1}, "MinimumCalls", ""},
		{"minimum calls above window size", Settings{FailureRateThreshold: 50, WindowSize: 10, MinimumCalls: 11}, "MinimumCalls",
			"resilience: Settings.MinimumCalls = 11: must be <= WindowSize (10) for a count-based window"},
		{"negative slow call duration", Settings{SlowCallDuration: -1}, "SlowCallDuration", ""},
		{"slow rate above 100", Settings{SlowCallDuration: time.Second, SlowCallRateThreshold: 101}, "SlowCallRateThreshold", ""},
		{"slow rate without duration", Settings{SlowCallRateThreshold: 50}, "SlowCallRateThreshold",
			"resilience: Settings.SlowCallRateThreshold = 50: requires SlowCallDuration > 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.field != "Name" {
				tt.settings.Name = "x"
			}
			cb, err := NewCircuitBreaker(tt.settings)
			if err == nil {
				t.Fatalf("NewCircuitBreaker accepted %+v", tt.settings)
			}
			if cb != nil {
				t.Errorf("returned a breaker along with the error")
			}
			if !errors.Is(err, ErrInvalidSettings) {
				t.Errorf("error %v does not match ErrInvalidSettings", err)
			}
			var se *SettingsError
			if !errors.As(err, &se) || se.Field != tt.field {
				t.Fatalf("error %v: want a *SettingsError for field %s", err, tt.field)
			}
			if !strings.Contains(err.Error(), "Settings."+tt.field+" = ") {
				t.Errorf("error %q does not name the field and value", err)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("error = %q\n want %q", err, tt.wantMsg)
			}
		})
	}
}

func TestZeroSettingsTakeDefaults(t *testing.T) {
	cb, err := NewCircuitBreaker(Settings{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	got := cb.Settings()
	want := Settings{
		Name:             "x",
		FailureThreshold: 5,
		RecoveryTimeout:  60 * time.Second,
		SuccessThreshold: 2,
		HalfOpenMaxCalls: 1,
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("Settings() = %+v\nwant %+v", got, want)
	}
}

func TestWindowDefaultsDependOnWindowType(t *testing.T) {
	tests := []struct {
		name     string
		settings Settings
		check    func(Settings) bool
	}{
		{"count-based window defaults to 100 calls, all required",
			Settings{FailureRateThreshold: 50},
			func(s Settings) bool { return s.WindowSize == 100 && s.MinimumCalls == 100 }},
		{"count-based minimum calls defaults to the given window size",
			Settings{FailureRateThreshold: 50, WindowSize: 20},
			func(s Settings) bool { return s.WindowSize == 20 && s.MinimumCalls == 20 }},
		{"time-based window defaults to 60s and 10 calls",
			Settings{FailureRateThreshold: 50, WindowType: WindowTimeBased},
			func(s Settings) bool { return s.WindowDuration == time.Minute && s.MinimumCalls == 10 }},
		{"window settings untouched without a rate policy",
			Settings{},
			func(s Settings) bool { return s.WindowSize == 0 && s.WindowDuration == 0 && s.MinimumCalls == 0 }},
		{"backoff caps the open period at 10x by default",
			Settings{RecoveryTimeout: time.Second, RecoveryBackoff: 2},
			func(s Settings) bool { return s.MaxRecoveryTimeout == 10*time.Second }},
		{"ReadyToTrip leaves FailureThreshold at 0 and keeps no window by itself",
			Settings{ReadyToTrip: func(TripCounts) bool { return false }},
			func(s Settings) bool { return s.FailureThreshold == 0 && s.WindowSize == 0 && s.MinimumCalls == 0 }},
		{"ReadyToTrip with a WindowSize keeps a count-based window",
			Settings{ReadyToTrip: func(TripCounts) bool { return false }, WindowSize: 10},
			func(s Settings) bool { return s.WindowSize == 10 && s.MinimumCalls == 10 }},
		{"ReadyToTrip with WindowTimeBased keeps a 60s window",
			Settings{ReadyToTrip: func(TripCounts) bool { return false }, WindowType: WindowTimeBased},
			func(s Settings) bool { return s.WindowDuration == time.Minute }},
		{"explicit max recovery timeout is kept",
			Settings{RecoveryTimeout: time.Second, RecoveryBackoff: 2, MaxRecoveryTimeout: 3 * time.Second},
			func(s Settings) bool { return s.MaxRecoveryTimeout == 3*time.Second }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.settings.Name = "x"
			cb, err := NewCircuitBreaker(tt.settings)
			if err != nil {
				t.Fatal(err)
			}
			if s := cb.Settings(); !tt.check(s) {
				t.Fatalf("effective settings %+v", s)
			}
		})
	}
}

func TestDefaultClassify(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Outcome
	}{
		{"nil is a success", nil, OutcomeSuccess},
		{"plain error is a failure", errBoom, OutcomeFailure},
		{"canceled is ignored", context.Canceled, OutcomeIgnore},
		{"wrapped canceled is ignored", fmt.Errorf("get essay: %w", context.Canceled), OutcomeIgnore},
		{"deadline exceeded is a failure", context.DeadlineExceeded, OutcomeFailure},
		{"wrapped deadline exceeded is a failure", fmt.Errorf("get essay: %w", context.DeadlineExceeded), OutcomeFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DefaultClassify(tt.err); got != tt.want {
				t.Fatalf("DefaultClassify(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

var errNotFound = errors.New("not found")

func TestCustomClassifyDecidesOutcome(t *testing.T) {
	classify := func(err error) Outcome {
		switch {
		case err == nil, errors.Is(err, errNotFound):
			return OutcomeSuccess
		case errors.Is(err, errBoom):
			return OutcomeFailure
		default:
			return OutcomeIgnore
		}
	}
	tests := []struct {
		name      string
		err       error
		wantState State
		wantTotal Counts
	}{
		{"error classified as success does not trip", errNotFound, StateClosed, Counts{Successes: 1}},
		{"error classified as failure trips", errBoom, StateOpen, Counts{Failures: 1}},
		{"error classified as ignored does not trip", errors.New("other"), StateClosed, Counts{Ignored: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, _ := newBreaker(t, Settings{FailureThreshold: 1, Classify: classify})
			if _, err := call(cb, tt.err); err != tt.err {
				t.Fatalf("Call returned %v, want fn's error %v", err, tt.err)
			}
			wantState(t, cb, tt.wantState)
			if got := cb.Snapshot().Totals; got != tt.wantTotal {
				t.Fatalf("Totals = %+v, want %+v", got, tt.wantTotal)
			}
		})
	}
}

func TestClassifyOutOfRangeCountsAsFailure(t *testing.T) {
	cb, _ := newBreaker(t, Settings{FailureThreshold: 1, Classify: func(error) Outcome { return 42 }})
	call(cb, nil)
	wantState(t, cb, StateOpen)
}

func TestStringers(t *testing.T) {
	tests := []struct{ got, want string }{
		{OutcomeSuccess.String(), "success"},
		{OutcomeFailure.String(), "failure"},
		{OutcomeIgnore.String(), "ignore"},
		{Outcome(9).String(), "Outcome(9)"},
		{WindowCountBased.String(), "count_based"},
		{WindowTimeBased.String(), "time_based"},
		{WindowType(5).String(), "WindowType(5)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
