package resilience

import (
	"context"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience/resiliencetest"
)

// rateSettings turns the consecutive policy out of the way so that only
// the rate policy can open the circuit.
func rateSettings(s Settings) Settings {
	s.FailureThreshold = 1000
	return s
}

// run makes calls following pattern: 'F' fails, 'S' succeeds, 'I' is
// ignored, 'W' succeeds slowly (the fn advances the clock by 2s).
func run(t *testing.T, cb *CircuitBreaker, clock *resiliencetest.Clock, pattern string) {
	t.Helper()
	for i, c := range pattern {
		var err error
		switch c {
		case 'F':
			err = errBoom
		case 'I':
			err = context.Canceled
		case 'S':
		case 'W':
			cb.Call(context.Background(), func(context.Context) error { clock.Advance(2 * time.Second); return nil })
			continue
		default:
			t.Fatalf("bad pattern rune %q", c)
		}
		if ran, _ := call(cb, err); !ran {
			t.Fatalf("call %d (%c) of %q rejected", i, c, pattern)
		}
	}
}

func TestCountWindowOpensAtFailureRate(t *testing.T) {
	tests := []struct {
		name      string
		settings  Settings
		pattern   string
		wantState State
		window    WindowCounts
	}{
		{"below minimum calls never trips", Settings{FailureRateThreshold: 50, WindowSize: 10},
			"FFFFFFFFF", StateClosed, WindowCounts{Calls: 9, Failures: 9, ConsecutiveFailures: 9}},
		{"trips at minimum calls with rate at threshold", Settings{FailureRateThreshold: 50, WindowSize: 10},
			"SFSFSFSFSF", StateOpen, WindowCounts{}},
		{"stays closed just below threshold", Settings{FailureRateThreshold: 50, WindowSize: 10},
			"SFSFSFSFSS", StateClosed, WindowCounts{Calls: 10, Failures: 4, ConsecutiveFailures: 0}},
		{"success completing minimum calls trips", Settings{FailureRateThreshold: 80, WindowSize: 10},
			"FFFFFFFFFS", StateOpen, WindowCounts{}},
		{"smaller minimum calls evaluates earlier", Settings{FailureRateThreshold: 50, WindowSize: 10, MinimumCalls: 4},
			"SSFF", StateOpen, WindowCounts{}},
		{"old calls fall out of the window", Settings{FailureRateThreshold: 60, WindowSize: 4},
			"FFSSSS" + "F", StateClosed, WindowCounts{Calls: 4, Failures: 1, ConsecutiveFailures: 1}},
		{"overwriting a failure slot with a failure keeps the count", Settings{FailureRateThreshold: 60, WindowSize: 4},
			"FSSS" + "F", StateClosed, WindowCounts{Calls: 4, Failures: 1, ConsecutiveFailures: 1}},
		{"ignored calls are not in the window", Settings{FailureRateThreshold: 50, WindowSize: 4},
			"FIIIF", StateClosed, WindowCounts{Calls: 2, Failures: 2, ConsecutiveFailures: 2}},
		{"100 percent needs every call failed", Settings{FailureRateThreshold: 100, WindowSize: 3},
			"FSF" + "F" + "F", StateOpen, WindowCounts{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb, clock := newBreaker(t, rateSettings(tt.settings))
			run(t, cb, clock, tt.pattern)
			s := cb.Snapshot()
			if s.State != tt.wantState {
				t.Fatalf("state %v, want %v (window %+v)", s.State, tt.wantState, s.Window)
			}
			if tt.wantState == StateClosed && s.Window != tt.window {
				t.Fatalf("window %+v, want %+v", s.Window, tt.window)
			}
		})
	}
}

func TestCountWindowClearedWhenCircuitCloses(t *testing.T) {
	cb, clock := newBreaker(t, rateSettings(Settings{FailureRateThreshold: 50, WindowSize: 4, SuccessThreshold: 1}))
	run(t, cb, clock, "FFFF")
	wantState(t, cb, StateOpen)
	clock.Advance(time.Minute)
	run(t, cb, clock, "S")
	wantState(t, cb, StateClosed)
	if w := cb.Snapshot().Window; w.Calls != 0 || w.Failures != 0 {
		t.Fatalf("window after closing: %+v, want empty", w)
	}
	run(t, cb, clock, "FSS")
	wantState(t, cb, StateClosed)
}

func TestWindowAndConsecutivePoliciesBothApply(t *testing.T) {
	cb, clock := newBreaker(t, Settings{FailureThreshold: 3, FailureRateThreshold: 90, WindowSize: 100})
	run(t, cb, clock, "SSSSFFF")
	wantState(t, cb, StateOpen)
}

func TestTimeWindowOpensAtFailureRate(t *testing.T) {
	cb, clock := newBreaker(t, rateSettings(Settings{FailureRateThreshold: 50, WindowType: WindowTimeBased, WindowDuration: 10 * time.Second, MinimumCalls: 4}))
	run(t, cb, clock, "SSF")
	clock.Advance(3 * time.Second)
	run(t, cb, clock, "S")
	wantState(t, cb, StateClosed)
	run(t, cb, clock, "F")
	wantState(t, cb, StateClosed) // 2 of 5
	run(t, cb, clock, "F")
	wantState(t, cb, StateOpen) // 3 of 6
}

func TestTimeWindowForgetsCallsOlderThanDuration(t *testing.T) {
	cb, clock := newBreaker(t, rateSettings(Settings{FailureRateThreshold: 50, WindowType: WindowTimeBased, WindowDuration: 10 * time.Second, MinimumCalls: 4}))
	run(t, cb, clock, "FFF")
	if w := cb.Snapshot().Window; w.Calls != 3 || w.Failures != 3 {
		t.Fatalf("window %+v, want 3 failures", w)
	}
	clock.Advance(11 * time.Second)
	if w := cb.Snapshot().Window; w.Calls != 0 || w.Failures != 0 {
		t.Fatalf("window %+v after 11s, want empty", w)
	}
	run(t, cb, clock, "SSSF")
	wantState(t, cb, StateClosed)
}

func TestTimeWindowSuccessReachingMinimumCallsTrips(t *testing.T) {
	cb, clock := newBreaker(t, rateSettings(Settings{FailureRateThreshold: 50, WindowType: WindowTimeBased, MinimumCalls: 4}))
	run(t, cb, clock, "FFF")
	wantState(t, cb, StateClosed)
	run(t, cb, clock, "S")
	wantState(t, cb, StateOpen)
}

func TestTimeWindowKeepsCountsAcrossBuckets(t *testing.T) {
	cb, clock := newBreaker(t, rateSettings(Settings{FailureRateThreshold: 90, WindowType: WindowTimeBased, WindowDuration: 60 * time.Second}))
	for range 30 {
		run(t, cb, clock, "SF")
		clock.Advance(time.Second)
	}
	if w := cb.Snapshot().Window; w.Calls != 60 || w.Failures != 30 {
		t.Fatalf("window %+v, want 60 calls, 30 failures", w)
	}
	clock.Advance(45 * time.Second)
	if w := cb.Snapshot().Window; w.Calls >= 60 || w.Calls < 20 || w.Failures*2 != w.Calls {
		t.Fatalf("window %+v after 45s, want the older calls expired", w)
	}
}

func TestTimeWindowToleratesClockGoingBack(t *testing.T) {
	cb, clock := newBreaker(t, rateSettings(Settings{FailureRateThreshold: 50, WindowType: WindowTimeBased, WindowDuration: 10 * time.Second, MinimumCalls: 4}))
	run(t, cb, clock, "SS")
	clock.Advance(-time.Hour)
	run(t, cb, clock, "FF")
	wantState(t, cb, StateOpen)
}

func TestSlowCallsCountInTotals(t *testing.T) {
	cb, clock := newBreaker(t, Settings{SlowCallDuration: time.Second})
	run(t, cb, clock, "SWWS")
	if got := cb.Snapshot().Totals; got.Slow != 2 || got.Successes != 4 {
		t.Fatalf("Totals = %+v, want 4 successes of which 2 slow", got)
	}
}

func TestSlowCallRateOpensCircuit(t *testing.T) {
	tests := []struct {
		name     string
		settings Settings
	}{
		{"count window", Settings{WindowSize: 4}},
		{"time window", Settings{WindowType: WindowTimeBased, WindowDuration: time.Hour, MinimumCalls: 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := rateSettings(tt.settings)
			s.SlowCallDuration = time.Second
			s.SlowCallRateThreshold = 50
			cb, clock := newBreaker(t, s)
			run(t, cb, clock, "SWS")
			if w := cb.Snapshot().Window; w.SlowCalls != 1 || w.Calls != 3 {
				t.Fatalf("window %+v, want 3 calls, 1 slow", w)
			}
			run(t, cb, clock, "W")
			wantState(t, cb, StateOpen)
		})
	}
}

func TestSlowCallWindowSlotClearedWhenOverwritten(t *testing.T) {
	s := rateSettings(Settings{WindowSize: 2, SlowCallDuration: time.Second, SlowCallRateThreshold: 100})
	cb, clock := newBreaker(t, s)
	run(t, cb, clock, "WSS")
	if w := cb.Snapshot().Window; w.SlowCalls != 0 || w.Calls != 2 {
		t.Fatalf("window %+v, want 2 calls, none slow", w)
	}
}

func TestNewTimeWindowBucketLayout(t *testing.T) {
	tests := []struct {
		d     time.Duration
		n     int64
		width time.Duration
	}{
		{time.Second, 10, 100 * time.Millisecond},
		{10 * time.Second, 10, time.Second},
		{60 * time.Second, 60, time.Second},
		{100 * time.Second, 100, time.Second},
		{time.Hour, 100, 36 * time.Second},
		{time.Millisecond, 10, 100 * time.Microsecond},
	}
	for _, tt := range tests {
		tw := newTimeWindow(tt.d)
		if tw.n != tt.n || time.Duration(tw.width) != tt.width {
			t.Errorf("newTimeWindow(%v): %d buckets of %v, want %d of %v", tt.d, tw.n, time.Duration(tw.width), tt.n, tt.width)
		}
	}
}
