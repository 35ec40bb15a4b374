package llmprovider_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience"
	"github.com/huleedu/huleedu/resilience/resiliencetest"
	"github.com/huleedu/huleedu/services/llmprovider"
)

// dispatch is a dispatcher on a fake clock that never really sleeps.
type dispatch struct {
	d        *llmprovider.Dispatcher
	breakers *resilience.Registry
	clock    *resiliencetest.Clock
	metrics  *llmprovider.Metrics
	sleeps   []time.Duration
	mu       sync.Mutex // guards sleeps
}

func newDispatch(t *testing.T, providers []llmprovider.Provider, tweak func(*llmprovider.DispatcherConfig)) *dispatch {
	t.Helper()
	x := &dispatch{breakers: resilience.NewRegistry(resilience.Settings{}), clock: resiliencetest.NewClock(t0),
		metrics: llmprovider.NewMetrics("llm_provider_service", nil, nil)}
	cfg := llmprovider.DispatcherConfig{
		Providers: providers, Breakers: x.breakers,
		BreakerSettings: resilience.Settings{FailureThreshold: 3, RecoveryTimeout: 120 * time.Second, SuccessThreshold: 2, Clock: x.clock},
		Retry:           llmprovider.RetryPolicy{MaxAttempts: 3, BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second},
		Metrics:         x.metrics, Now: x.clock.Now,
		Sleep: func(ctx context.Context, d time.Duration) error {
			x.mu.Lock()
			x.sleeps = append(x.sleeps, d)
			x.mu.Unlock()
			return ctx.Err()
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	var err error
	if x.d, err = llmprovider.NewDispatcher(cfg); err != nil {
		t.Fatal(err)
	}
	return x
}

func (x *dispatch) breaker(t *testing.T, provider string) *resilience.CircuitBreaker {
	t.Helper()
	cb, ok := x.breakers.Get(llmprovider.BreakerName(provider))
	if !ok {
		t.Fatalf("no breaker %s", llmprovider.BreakerName(provider))
	}
	return cb
}

func TestRateLimitOpensTheBreakerForRetryAfterAndFallsBack(t *testing.T) {
	for name, tc := range map[string]struct {
		reply     reply
		openUntil time.Duration
	}{
		// Retry-After longer than the recovery timeout decides.
		"429 with retry-after 300": {anthropic429("300", t0.Add(300*time.Second)), 300 * time.Second},
		// Without one, the breaker's own open period.
		"529 overloaded": {anthropic529(), 120 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			api := newAnthropicAPI(t, always(tc.reply))
			x := newDispatch(t, []llmprovider.Provider{newAnthropic(t, api), llmprovider.LocalProvider{}}, nil)
			v, err := x.d.Judge(context.Background(), pair, "")
			if err != nil || v.Provider != llmprovider.ProviderLocal || v.Winner != "e-1" || v.Attempts != 2 {
				t.Fatalf("Judge = %+v, %v; want the local provider's verdict after one anthropic call", v, err)
			}
			snap := x.breaker(t, llmprovider.ProviderAnthropic).Snapshot()
			if snap.State != resilience.StateOpen || !snap.NextProbeAt.Equal(t0.Add(tc.openUntil)) {
				t.Fatalf("llm_anthropic %v until %v, want open until %v", snap.State, snap.NextProbeAt, t0.Add(tc.openUntil))
			}
			// While open, anthropic is not asked at all.
			if _, err := x.d.Judge(context.Background(), pair, ""); err != nil {
				t.Fatal(err)
			}
			x.clock.Advance(tc.openUntil - time.Second)
			if _, err := x.d.Judge(context.Background(), pair, ""); err != nil {
				t.Fatal(err)
			}
			if n := api.calls.Load(); n != 1 {
				t.Errorf("anthropic called %d times, want 1: rate limited, then skipped until the open period ends", n)
			}
			if got := metricValue(t, x.metrics, "llm_provider_fallbacks_total", "provider", "anthropic"); got != 3 {
				t.Errorf("llm_provider_fallbacks_total{provider=anthropic} = %v, want 3", got)
			}
			// After it, one probe goes through; a success answers.
			api.set(always(anthropicOK("B")))
			x.clock.Advance(time.Second)
			if v, err := x.d.Judge(context.Background(), pair, ""); err != nil || v.Provider != llmprovider.ProviderAnthropic {
				t.Errorf("after the open period: %+v, %v; want anthropic's verdict", v, err)
			}
		})
	}
}

func TestServerErrorBurstIsRetriedWithBackoffThenSucceeds(t *testing.T) {
	api := newAnthropicAPI(t, func(n int) reply {
		if n <= 2 {
			return anthropic500()
		}
		return anthropicOK("A")
	})
	x := newDispatch(t, []llmprovider.Provider{newAnthropic(t, api), llmprovider.LocalProvider{}}, nil)
	v, err := x.d.Judge(context.Background(), pair, "")
	if err != nil || v.Provider != llmprovider.ProviderAnthropic || v.Attempts != 3 {
		t.Fatalf("Judge = %+v, %v; want anthropic's verdict on the third attempt", v, err)
	}
	if len(x.sleeps) != 2 || x.sleeps[0] < 50*time.Millisecond || x.sleeps[0] > 100*time.Millisecond ||
		x.sleeps[1] < 100*time.Millisecond || x.sleeps[1] > 200*time.Millisecond {
		t.Errorf("backoff waits %v, want two jittered waits within [50ms,100ms] and [100ms,200ms]", x.sleeps)
	}
	cb := x.breaker(t, llmprovider.ProviderAnthropic)
	if s := cb.Snapshot(); s.State != resilience.StateClosed || s.Totals.Failures != 2 || s.Window.ConsecutiveFailures != 0 {
		t.Errorf("llm_anthropic %+v: want closed, 2 failures counted, the streak reset by the success", s)
	}
	if got := metricValue(t, x.metrics, "llm_tokens_total", "provider", "anthropic", "direction", "input"); got != 420 {
		t.Errorf("input tokens %v, want 420", got)
	}
	if got := metricValue(t, x.metrics, "llm_cost_usd_total", "provider", "anthropic", "model", "claude-haiku-4-5"); got < 0.000599 || got > 0.000601 {
		t.Errorf("cost %v, want 420*1/1e6 + 36*5/1e6 = 0.0006", got)
	}
	if got := metricValue(t, x.metrics, "llm_provider_calls_total", "provider", "anthropic", "outcome", "retriable"); got != 2 {
		t.Errorf("retriable calls %v, want 2", got)
	}
}

func TestPersistentFailuresOpenTheBreakerAndFallBack(t *testing.T) {
	api := newAnthropicAPI(t, always(anthropic500()))
	x := newDispatch(t, []llmprovider.Provider{newAnthropic(t, api), llmprovider.LocalProvider{}}, nil)
	v, err := x.d.Judge(context.Background(), pair, "")
	if err != nil || v.Provider != llmprovider.ProviderLocal || v.Attempts != 4 {
		t.Fatalf("Judge = %+v, %v; want local after three anthropic attempts", v, err)
	}
	if st := x.breaker(t, llmprovider.ProviderAnthropic).State(); st != resilience.StateOpen {
		t.Errorf("llm_anthropic %v after 3 failures, want open", st)
	}
}

func TestCallersProblemIsNeitherRetriedNorCountedNorPassedOn(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404} {
		api := newAnthropicAPI(t, always(anthropicError(status, "invalid_request_error", "bad", nil)))
		x := newDispatch(t, []llmprovider.Provider{newAnthropic(t, api), llmprovider.LocalProvider{}}, nil)
		_, err := x.d.Judge(context.Background(), pair, "")
		var rej *llmprovider.RejectedError
		if !errors.As(err, &rej) || rej.StatusCode != status || rej.Provider != llmprovider.ProviderAnthropic {
			t.Errorf("%d: err = %v, want a RejectedError naming anthropic and the status", status, err)
		}
		if n := api.calls.Load(); n != 1 {
			t.Errorf("%d: anthropic called %d times, want 1 (no retry)", status, n)
		}
		if s := x.breaker(t, llmprovider.ProviderAnthropic).Snapshot(); s.Totals.Failures != 0 || s.Totals.Ignored != 1 {
			t.Errorf("%d: breaker totals %+v, want the call ignored, not a failure", status, s.Totals)
		}
		if s := x.breaker(t, llmprovider.ProviderLocal).Snapshot(); s.Totals.Successes != 0 {
			t.Errorf("%d: the local provider was asked; a rejected request must not fall back", status)
		}
	}
}

func TestSlowProviderPastTheCallTimeoutFallsBack(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	api := newAnthropicAPI(t, always(reply{status: http.StatusOK, block: release}))
	x := newDispatch(t, []llmprovider.Provider{newAnthropic(t, api), llmprovider.LocalProvider{}}, func(c *llmprovider.DispatcherConfig) {
		c.CallTimeout = 50 * time.Millisecond
		c.Retry.MaxAttempts = 2
	})
	v, err := x.d.Judge(context.Background(), pair, "")
	if err != nil || v.Provider != llmprovider.ProviderLocal {
		t.Fatalf("Judge = %+v, %v; want local after anthropic timed out twice", v, err)
	}
	if s := x.breaker(t, llmprovider.ProviderAnthropic).Snapshot(); s.Totals.Failures != 2 {
		t.Errorf("breaker totals %+v: the timeouts must count as failures", s.Totals)
	}
}

func TestNoProviderAvailableReturnsWhenOneIsExpectedBack(t *testing.T) {
	api := newAnthropicAPI(t, always(anthropic429("600", t0.Add(600*time.Second))))
	x := newDispatch(t, []llmprovider.Provider{newAnthropic(t, api)}, nil)
	_, err := x.d.Judge(context.Background(), pair, "")
	var un *llmprovider.UnavailableError
	if !errors.As(err, &un) || !errors.Is(err, llmprovider.ErrProvidersUnavailable) || !un.RetryAt.Equal(t0.Add(600*time.Second)) {
		t.Fatalf("err = %v, want an UnavailableError with RetryAt in 600s", err)
	}
	_, err = x.d.Judge(context.Background(), pair, "")
	if !errors.As(err, &un) || !errors.Is(un.Err, resilience.ErrCircuitOpen) || api.calls.Load() != 1 {
		t.Errorf("second Judge: %v after %d calls; want ErrCircuitOpen without calling", err, api.calls.Load())
	}
}

func TestPreferredProviderIsAskedFirst(t *testing.T) {
	api := newOpenAIAPI(t, always(openAIOK("B", "gpt-5.4-mini")))
	x := newDispatch(t, []llmprovider.Provider{llmprovider.LocalProvider{}, newOpenAI(t, api, llmprovider.ProviderOpenAI)}, nil)
	if v, err := x.d.Judge(context.Background(), pair, llmprovider.ProviderOpenAI); err != nil || v.Provider != llmprovider.ProviderOpenAI {
		t.Errorf("Judge preferring openai = %+v, %v", v, err)
	}
	if v, err := x.d.Judge(context.Background(), pair, ""); err != nil || v.Provider != llmprovider.ProviderLocal {
		t.Errorf("Judge without a preference = %+v, %v; want the first in order", v, err)
	}
}

func TestConcurrencyLimitBoundsCallsInFlightPerProvider(t *testing.T) {
	release := make(chan struct{})
	api := newAnthropicAPI(t, func(int) reply { r := anthropicOK("A"); r.block = release; return r })
	x := newDispatch(t, []llmprovider.Provider{newAnthropic(t, api)}, func(c *llmprovider.DispatcherConfig) { c.MaxConcurrency = 2 })
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() {
			_, err := x.d.Judge(context.Background(), pair, "")
			errs <- err
		})
	}
	waitFor(t, "two calls in flight", func() bool { return api.inFlight.Load() == 2 })
	if got := metricValue(t, x.metrics, "llm_provider_in_flight", "provider", "anthropic"); got != 2 {
		t.Errorf("llm_provider_in_flight = %v, want 2", got)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if m := api.maxSeen.Load(); m != 2 || api.calls.Load() != 6 {
		t.Errorf("at most %d calls in flight over %d calls, want 2 over 6", m, api.calls.Load())
	}
}
