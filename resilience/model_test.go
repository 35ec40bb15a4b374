package resilience

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/huleedu/huleedu/resilience/resiliencetest"
)

// refModel is the breaker specification written as plainly as possible:
// one goroutine, no atomics, no fast paths. The property test drives it
// and a real CircuitBreaker with the same random operations and compares
// them after every step.
type refModel struct {
	s           Settings
	now         time.Time
	state       State
	forced      bool
	disabled    bool
	gen         int
	consec      int
	hoSuccesses int
	hoInFlight  int
	openUntil   time.Time
	period      time.Duration
	window      []refCall // calls in the window, oldest first
	totals      Counts
	closedBase  Counts // totals when the circuit last closed (ReadyToTrip's counts start there)
	transitions map[[2]State]uint64
}

// refCall is a call in the model's window.
type refCall struct {
	at     time.Time
	failed bool
}

// refTicket is an admitted call in the model.
type refTicket struct {
	gen   int
	probe bool
}

func newRefModel(s Settings, now time.Time) *refModel {
	return &refModel{s: s, now: now, period: s.RecoveryTimeout, transitions: map[[2]State]uint64{}}
}

func (m *refModel) transition(to State) {
	from := m.state
	m.gen++
	m.consec = 0
	m.window = nil
	switch to {
	case StateOpen:
		m.openUntil = m.now.Add(m.period)
	case StateHalfOpen:
		m.hoSuccesses, m.hoInFlight = 0, 0
	case StateClosed:
		m.period = m.s.RecoveryTimeout
		m.closedBase = m.totals
	}
	m.state = to
	if from != to {
		m.transitions[[2]State{from, to}]++
	}
}

func (m *refModel) promote() {
	if m.state == StateOpen && !m.forced && !m.now.Before(m.openUntil) {
		m.transition(StateHalfOpen)
	}
}

func (m *refModel) admit() (refTicket, bool) {
	if m.state == StateOpen {
		if m.forced || m.now.Before(m.openUntil) {
			m.totals.Rejected++
			return refTicket{}, false
		}
		m.promote()
	}
	if m.state == StateHalfOpen {
		if m.hoInFlight >= m.s.HalfOpenMaxCalls {
			m.totals.Rejected++
			return refTicket{}, false
		}
		m.hoInFlight++
		return refTicket{gen: m.gen, probe: true}, true
	}
	return refTicket{gen: m.gen}, true
}

// expire drops calls that left a time-based window: the window holds the
// 1s buckets of the last 10 seconds, i.e. calls whose bucket (whole
// seconds since the start) is within 10 of the current one.
func (m *refModel) expire(start time.Time) {
	if m.s.WindowType != WindowTimeBased {
		return
	}
	bucket := func(t time.Time) int64 { return int64(t.Sub(start) / time.Second) }
	m.window = slices.DeleteFunc(m.window, func(c refCall) bool { return bucket(c.at) <= bucket(m.now)-10 })
}

func (m *refModel) windowCounts() (calls, failures int) {
	for _, c := range m.window {
		calls++
		if c.failed {
			failures++
		}
	}
	return calls, failures
}

func (m *refModel) rateTrips() bool {
	calls, failures := m.windowCounts()
	if m.s.FailureRateThreshold == 0 || calls == 0 || calls < m.s.MinimumCalls {
		return false
	}
	return float64(failures)*100 >= m.s.FailureRateThreshold*float64(calls)
}

func (m *refModel) record(t refTicket, o Outcome) {
	switch o {
	case OutcomeSuccess:
		m.totals.Successes++
	case OutcomeFailure:
		m.totals.Failures++
	default:
		m.totals.Ignored++
	}
	if t.gen != m.gen {
		return
	}
	if t.probe {
		m.hoInFlight--
		switch o {
		case OutcomeSuccess:
			m.hoSuccesses++
			if m.hoSuccesses >= m.s.SuccessThreshold {
				m.transition(StateClosed)
			}
		case OutcomeFailure:
			if m.s.RecoveryBackoff > 1 {
				m.period = min(time.Duration(float64(m.period)*m.s.RecoveryBackoff), m.s.MaxRecoveryTimeout)
			}
			m.transition(StateOpen)
		}
		return
	}
	if o == OutcomeIgnore {
		return
	}
	if o == OutcomeFailure {
		m.consec++
	} else {
		m.consec = 0
	}
	if m.s.windowed() {
		m.expire(testStart)
		m.window = append(m.window, refCall{at: m.now, failed: o == OutcomeFailure})
		if m.s.WindowType == WindowCountBased && len(m.window) > m.s.WindowSize {
			m.window = m.window[1:]
		}
	}
	trip := m.rateTrips()
	if o == OutcomeFailure && !trip {
		if m.s.ReadyToTrip == nil {
			trip = m.consec >= m.s.FailureThreshold
		} else if !m.disabled {
			calls, failures := m.windowCounts()
			trip = m.s.ReadyToTrip(TripCounts{
				ConsecutiveFailures: uint64(m.consec),
				Successes:           m.totals.Successes - m.closedBase.Successes,
				Failures:            m.totals.Failures - m.closedBase.Failures,
				Ignored:             m.totals.Ignored - m.closedBase.Ignored,
				WindowCalls:         uint64(calls),
				WindowFailures:      uint64(failures),
			})
		}
	}
	if trip && !m.disabled {
		m.transition(StateOpen)
	}
}

// openUntilOp is OpenUntil(at) in the model.
func (m *refModel) openUntilOp(at time.Time) bool {
	switch {
	case !at.After(m.now), m.forced, m.disabled:
		return false
	case m.state == StateOpen:
		if !at.After(m.openUntil) {
			return false
		}
	default:
		m.transition(StateOpen)
	}
	m.openUntil = at
	return true
}

// modelPredicates are the ReadyToTrip functions the model test draws from:
// pure functions of the counts, so that the model can ask them too.
var modelPredicates = []func(TripCounts) bool{
	func(c TripCounts) bool { return c.ConsecutiveFailures >= 2 },
	func(c TripCounts) bool {
		calls := c.Successes + c.Failures
		return calls >= 3 && 2*c.Failures >= calls
	},
	func(c TripCounts) bool { return c.WindowFailures >= 2 || c.Ignored >= 3 },
}

// heldPermit is a permit the test has not reported yet.
type heldPermit struct {
	p      *Permit
	ctx    *manualCtx
	t      refTicket
	closed bool // its context has ended (closed-state permits stay held)
}

var outcomeErrs = map[Outcome]error{OutcomeSuccess: nil, OutcomeFailure: errBoom, OutcomeIgnore: context.Canceled}

func TestBreakerMatchesReferenceModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := Settings{
			Name:             "model",
			FailureThreshold: rapid.IntRange(1, 4).Draw(rt, "FailureThreshold"),
			SuccessThreshold: rapid.IntRange(1, 3).Draw(rt, "SuccessThreshold"),
			HalfOpenMaxCalls: rapid.IntRange(1, 3).Draw(rt, "HalfOpenMaxCalls"),
			RecoveryTimeout:  10 * time.Second,
		}
		if rapid.Bool().Draw(rt, "backoff") {
			s.RecoveryBackoff, s.MaxRecoveryTimeout = 2, 35*time.Second
		}
		if rate := rapid.SampledFrom([]float64{0, 50, 100}).Draw(rt, "FailureRateThreshold"); rate > 0 {
			s.FailureRateThreshold = rate
			if rapid.Bool().Draw(rt, "time window") {
				s.WindowType, s.WindowDuration = WindowTimeBased, 10*time.Second
				s.MinimumCalls = rapid.IntRange(1, 4).Draw(rt, "MinimumCalls")
			} else {
				s.WindowSize = rapid.IntRange(1, 6).Draw(rt, "WindowSize")
				s.MinimumCalls = rapid.IntRange(1, s.WindowSize).Draw(rt, "MinimumCalls")
			}
		}
		if p := rapid.IntRange(0, len(modelPredicates)).Draw(rt, "ReadyToTrip"); p > 0 {
			s.ReadyToTrip, s.FailureThreshold = modelPredicates[p-1], 0
			if s.FailureRateThreshold == 0 && rapid.Bool().Draw(rt, "window for ReadyToTrip") {
				s.WindowSize = rapid.IntRange(1, 6).Draw(rt, "WindowSize")
			}
		}
		clock := resiliencetest.NewClock(testStart)
		s.Clock = clock
		cb, err := NewCircuitBreaker(s)
		if err != nil {
			rt.Fatal(err)
		}
		m := newRefModel(cb.Settings(), clock.Now())
		var held []*heldPermit
		defer func() {
			for _, h := range held {
				h.p.Report(nil) // stops the context watch of probes
			}
		}()

		outcome := rapid.SampledFrom([]Outcome{OutcomeSuccess, OutcomeFailure, OutcomeIgnore})
		pick := func(rt *rapid.T) int {
			if len(held) == 0 {
				rt.Skip("no permit held")
			}
			return rapid.IntRange(0, len(held)-1).Draw(rt, "permit")
		}
		rt.Repeat(map[string]func(*rapid.T){
			"call": func(rt *rapid.T) {
				o := outcome.Draw(rt, "outcome")
				tk, admitted := m.admit()
				var ran bool
				var err error
				if rapid.Bool().Draw(rt, "execute") {
					_, err = Execute(context.Background(), cb, func(context.Context) (int, error) { ran = true; return 1, outcomeErrs[o] })
				} else {
					err = cb.Call(context.Background(), func(context.Context) error { ran = true; return outcomeErrs[o] })
				}
				if ran != admitted {
					rt.Fatalf("call ran=%v, model admitted=%v (err %v)", ran, admitted, err)
				}
				if !admitted && !errors.Is(err, ErrCircuitOpen) {
					rt.Fatalf("rejection error %v", err)
				}
				if admitted {
					m.record(tk, o)
				}
			},
			"acquire": func(rt *rapid.T) {
				if len(held) >= 6 {
					rt.Skip("enough permits held")
				}
				ctx := newManualCtx()
				tk, admitted := m.admit()
				p, err := cb.Acquire(ctx)
				if (err == nil) != admitted {
					rt.Fatalf("Acquire err=%v, model admitted=%v", err, admitted)
				}
				if admitted {
					held = append(held, &heldPermit{p: p, ctx: ctx, t: tk})
				}
			},
			"report": func(rt *rapid.T) {
				i := pick(rt)
				o := outcome.Draw(rt, "outcome")
				if !held[i].p.Report(outcomeErrs[o]) {
					rt.Fatal("Report of a held permit returned false")
				}
				m.record(held[i].t, o)
				held = slices.Delete(held, i, i+1)
			},
			"end context": func(rt *rapid.T) {
				i := pick(rt)
				h := held[i]
				if h.closed {
					rt.Skip("context already ended")
				}
				deadline := rapid.Bool().Draw(rt, "deadline")
				h.closed = true
				if !h.t.probe {
					// Closed-state permits do not watch their context.
					h.ctx.end(context.Canceled)
					return
				}
				before := cb.Snapshot().Totals
				if deadline {
					h.ctx.end(context.DeadlineExceeded)
					m.record(h.t, OutcomeFailure)
				} else {
					h.ctx.end(context.Canceled)
					m.record(h.t, OutcomeIgnore)
				}
				waitFor(rt, "the probe's context end", func() bool {
					now := cb.totals()
					return now.Failures+now.Ignored > before.Failures+before.Ignored
				})
				if h.p.Report(nil) {
					rt.Fatal("Report after the probe's context ended returned true")
				}
				held = slices.Delete(held, i, i+1)
			},
			"advance clock": func(rt *rapid.T) {
				d := rapid.SampledFrom([]time.Duration{0, time.Second, 5 * time.Second, 10 * time.Second, 25 * time.Second, time.Minute}).Draw(rt, "d")
				clock.Advance(d)
				m.now = m.now.Add(d)
			},
			"open until": func(rt *rapid.T) {
				d := rapid.SampledFrom([]time.Duration{-time.Second, 0, 5 * time.Second, 30 * time.Second, 2 * time.Minute}).Draw(rt, "d")
				at := m.now.Add(d)
				if got, want := cb.OpenUntil(at), m.openUntilOp(at); got != want {
					rt.Fatalf("OpenUntil(now%+v) = %v, model says %v", d, got, want)
				}
			},
			"reset": func(rt *rapid.T) {
				cb.Reset()
				m.forced, m.disabled = false, false
				m.transition(StateClosed)
			},
			"force open": func(rt *rapid.T) {
				cb.ForceOpen()
				m.forced, m.disabled = true, false
				m.transition(StateOpen)
			},
			"disable": func(rt *rapid.T) {
				cb.Disable()
				m.forced, m.disabled = false, true
				m.transition(StateClosed)
			},
			"": func(rt *rapid.T) {
				m.promote()
				compareWithModel(rt, cb.Snapshot(), m)
			},
		})
	})
}

func compareWithModel(rt *rapid.T, s Snapshot, m *refModel) {
	want := Snapshot{
		Name:       "model",
		State:      m.state,
		Disabled:   m.disabled,
		ForcedOpen: m.forced,
		OpenPeriod: m.period,
		Totals:     m.totals,
	}
	switch m.state {
	case StateOpen:
		if !m.forced {
			want.NextProbeAt = m.openUntil
		}
	case StateClosed:
		want.Window.ConsecutiveFailures = uint64(m.consec)
	case StateHalfOpen:
		want.Window.ConsecutiveSuccesses = uint64(m.hoSuccesses)
		want.ProbesInFlight = m.hoInFlight
	}
	m.expire(testStart)
	calls, failures := m.windowCounts()
	want.Window.Calls, want.Window.Failures = uint64(calls), uint64(failures)
	got := s
	got.Since, got.Transitions, got.LastFailure = time.Time{}, nil, nil
	if fmt.Sprint(got) != fmt.Sprint(want) {
		rt.Fatalf("breaker and model differ\nbreaker %+v\nmodel   %+v", got, want)
	}
	gotTr := map[[2]State]uint64{}
	for _, tc := range s.Transitions {
		gotTr[[2]State{tc.From, tc.To}] = tc.Count
	}
	if fmt.Sprint(gotTr) != fmt.Sprint(m.transitions) {
		rt.Fatalf("transitions: breaker %v, model %v", gotTr, m.transitions)
	}
}
