package llmprovider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/huleedu/huleedu/resilience"
)

// ErrProvidersUnavailable is wrapped by Judge errors when no provider
// gave a judgement in time: every breaker was open, every provider was
// rate limited or kept failing, or the deadline came first. The request
// stays queued and is tried again (*UnavailableError says when).
var ErrProvidersUnavailable = errors.New("llmprovider: no provider available")

// UnavailableError is Judge's error when no provider could judge now.
type UnavailableError struct {
	// RetryAt is the earliest time a provider is expected to take calls
	// again (the end of an open period or of a Retry-After); zero when
	// none said.
	RetryAt time.Time
	// Err is the last provider's error.
	Err error
}

// Error names the last problem.
func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%v: last error: %v", ErrProvidersUnavailable, e.Err)
}

// Unwrap returns ErrProvidersUnavailable and the last error.
func (e *UnavailableError) Unwrap() []error { return []error{ErrProvidersUnavailable, e.Err} }

// RejectedError is Judge's error when a provider refused the request as
// the caller's problem (ClassRejected): no retry and no other provider
// will change that.
type RejectedError struct {
	Provider   string
	StatusCode int
	Err        error
}

// Error names the provider and its answer.
func (e *RejectedError) Error() string {
	return fmt.Sprintf("llmprovider: %s rejected the request: %v", e.Provider, e.Err)
}

// Unwrap returns the provider's error.
func (e *RejectedError) Unwrap() error { return e.Err }

// RetryPolicy is how the dispatcher retries a failing provider before it
// moves on to the next one.
type RetryPolicy struct {
	// MaxAttempts is the number of calls per provider and request,
	// the first one included. Default 3.
	MaxAttempts int
	// BaseDelay is the backoff after the first failure; it doubles per
	// attempt up to MaxDelay, and each wait is jittered to between half
	// and all of it. Defaults 500ms and 10s.
	BaseDelay, MaxDelay time.Duration
}

func (r RetryPolicy) withDefaults() RetryPolicy {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 3
	}
	if r.BaseDelay == 0 {
		r.BaseDelay = 500 * time.Millisecond
	}
	if r.MaxDelay == 0 {
		r.MaxDelay = 10 * time.Second
	}
	return r
}

// backoff is the wait after the attempt-th failure, before jitter.
func (r RetryPolicy) backoff(attempt int) time.Duration {
	d := r.BaseDelay
	for range attempt - 1 {
		if d >= r.MaxDelay/2 {
			return r.MaxDelay
		}
		d *= 2
	}
	return min(d, r.MaxDelay)
}

// DispatcherConfig configures a Dispatcher.
type DispatcherConfig struct {
	// Providers in fallback order. Required.
	Providers []Provider
	// Breakers is where the providers' breakers (BreakerName) are
	// created, with BreakerSettings (Name and Classify are set here).
	Breakers        *resilience.Registry
	BreakerSettings resilience.Settings
	// MaxConcurrency bounds the calls in flight per provider. Default 4.
	MaxConcurrency int
	// CallTimeout bounds one provider call. Default 60s.
	CallTimeout time.Duration
	Retry       RetryPolicy
	// Prices estimate the cost of calls; nil means DefaultPrices.
	Prices Prices
	// Metrics receive the calls, tokens and cost; nil records nothing.
	Metrics *Metrics
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock for Retry-After; nil means time.Now.
	Now func() time.Time
	// Sleep waits d or until ctx ends (for the backoff); nil uses a timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Dispatcher asks the providers for a judgement: the preferred one first,
// then the others in order, each behind its breaker, its concurrency
// limit and retries. It is safe for concurrent use.
type Dispatcher struct {
	slots  []*slot
	byName map[string]*slot
	cfg    DispatcherConfig
}

// slot is one provider with what guards it.
type slot struct {
	p       Provider
	breaker *resilience.CircuitBreaker
	sem     chan struct{}
}

// NewDispatcher creates the providers' breakers in cfg.Breakers and
// returns the dispatcher.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if len(cfg.Providers) == 0 {
		return nil, errors.New("llmprovider: NewDispatcher: no providers")
	}
	if cfg.Breakers == nil {
		return nil, errors.New("llmprovider: NewDispatcher: no breaker registry")
	}
	if cfg.MaxConcurrency == 0 {
		cfg.MaxConcurrency = 4
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = 60 * time.Second
	}
	cfg.Retry = cfg.Retry.withDefaults()
	if cfg.Prices == nil {
		cfg.Prices = DefaultPrices()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleep
	}
	d := &Dispatcher{byName: map[string]*slot{}, cfg: cfg}
	for _, p := range cfg.Providers {
		if _, dup := d.byName[p.Name()]; dup {
			return nil, fmt.Errorf("llmprovider: NewDispatcher: provider %q listed twice", p.Name())
		}
		s := cfg.BreakerSettings
		s.Name, s.Classify = BreakerName(p.Name()), breakerOutcome
		cb, err := cfg.Breakers.Create(s)
		if err != nil {
			return nil, fmt.Errorf("llmprovider: breaker of %s: %w", p.Name(), err)
		}
		sl := &slot{p: p, breaker: cb, sem: make(chan struct{}, cfg.MaxConcurrency)}
		d.slots = append(d.slots, sl)
		d.byName[p.Name()] = sl
		if cfg.Metrics != nil {
			cfg.Metrics.providerReady(p.Name(), p.Model())
		}
	}
	return d, nil
}

// Providers returns the providers' names in fallback order.
func (d *Dispatcher) Providers() []string {
	names := make([]string, len(d.slots))
	for i, s := range d.slots {
		names[i] = s.p.Name()
	}
	return names
}

// Has reports whether provider is configured.
func (d *Dispatcher) Has(provider string) bool { _, ok := d.byName[provider]; return ok }

// Verdict is a judgement with who gave it and what it cost.
type Verdict struct {
	Judgement
	Provider string
	// Attempts counts the provider calls made, retries included.
	Attempts int
	CostUSD  float64
}

// Judge asks for c's judgement: prefer first (if configured), then the
// providers in order. It moves on from a provider whose breaker is open,
// that is rate limited (429, 529: its breaker opens until at least the
// Retry-After) or that failed MaxAttempts times. It stops at a rejection
// (*RejectedError), at ctx's cancellation, and with an *UnavailableError
// when no provider judged before ctx's deadline or the end of the order.
func (d *Dispatcher) Judge(ctx context.Context, c Comparison, prefer string) (Verdict, error) {
	order := d.slots
	if s, ok := d.byName[prefer]; ok && order[0] != s {
		order = append([]*slot{s}, slices.DeleteFunc(slices.Clone(order), func(x *slot) bool { return x == s })...)
	}
	attempts := 0
	var retryAt time.Time
	var lastErr error
	for i, s := range order {
		v, n, err := d.try(ctx, s, c)
		attempts += n
		if err == nil {
			v.Attempts = attempts
			return v, nil
		}
		var pe *ProviderError
		if Classify(err) == ClassRejected && errors.As(err, &pe) {
			return Verdict{}, &RejectedError{Provider: s.p.Name(), StatusCode: pe.StatusCode, Err: err}
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return Verdict{}, ctx.Err()
		}
		lastErr = err
		if at := d.availableAgain(s, err); !at.IsZero() && (retryAt.IsZero() || at.Before(retryAt)) {
			retryAt = at
		}
		if ctx.Err() != nil {
			break
		}
		if i < len(order)-1 {
			if d.cfg.Metrics != nil {
				d.cfg.Metrics.fallbacks.WithLabelValues(s.p.Name()).Inc()
			}
			d.cfg.Logger.InfoContext(ctx, "provider unavailable; falling back to the next", "provider", s.p.Name(),
				"next", order[i+1].p.Name(), "error", err)
		}
	}
	return Verdict{}, &UnavailableError{RetryAt: retryAt, Err: lastErr}
}

// availableAgain is when s is expected to take calls again after err.
func (d *Dispatcher) availableAgain(s *slot, err error) time.Time {
	var oe *resilience.OpenError
	if errors.As(err, &oe) {
		return oe.RetryAt
	}
	if snap := s.breaker.Snapshot(); snap.State == resilience.StateOpen {
		return snap.NextProbeAt
	}
	return time.Time{}
}

// try asks one provider, retrying retriable failures with backoff while
// the breaker admits calls and the deadline leaves room. It returns the
// verdict, the calls made and the last error.
func (d *Dispatcher) try(ctx context.Context, s *slot, c Comparison) (Verdict, int, error) {
	name := s.p.Name()
	model := c.Model
	if model == "" {
		model = s.p.Model()
	}
	calls := 0
	for attempt := 1; ; attempt++ {
		select {
		case s.sem <- struct{}{}:
		case <-ctx.Done():
			return Verdict{}, calls, ctx.Err()
		}
		if d.cfg.Metrics != nil {
			d.cfg.Metrics.inFlight.WithLabelValues(name).Inc()
		}
		start := time.Now()
		j, err := resilience.Execute(ctx, s.breaker, func(ctx context.Context) (Judgement, error) {
			calls++
			cctx, cancel := context.WithTimeout(ctx, d.cfg.CallTimeout)
			defer cancel()
			return s.p.Compare(cctx, c)
		})
		<-s.sem
		if d.cfg.Metrics != nil {
			d.cfg.Metrics.inFlight.WithLabelValues(name).Dec()
		}
		if errors.Is(err, resilience.ErrCircuitOpen) {
			return Verdict{}, calls, err
		}
		class := Classify(err)
		if d.cfg.Metrics != nil {
			d.cfg.Metrics.observeCall(name, model, class, time.Since(start))
		}
		switch class {
		case ClassSuccess:
			if j.Model == "" {
				j.Model = model
			}
			cost := d.cfg.Prices.Cost(j.Model, j.InputTokens, j.OutputTokens)
			if d.cfg.Metrics != nil {
				d.cfg.Metrics.observeUsage(name, j.Model, j.InputTokens, j.OutputTokens, cost)
			}
			return Verdict{Judgement: j, Provider: name, CostUSD: cost}, calls, nil
		case ClassRateLimited:
			var pe *ProviderError
			errors.As(err, &pe)
			// Open for the breaker's own open period, or longer when the
			// provider asked for more.
			now := d.cfg.Now()
			s.breaker.OpenUntil(now.Add(max(pe.RetryAfter, s.breaker.Settings().RecoveryTimeout)))
			d.cfg.Logger.WarnContext(ctx, "provider rate limited; its breaker stays open until at least its Retry-After",
				"provider", name, "status", pe.StatusCode, "retry_after", pe.RetryAfter.String())
			return Verdict{}, calls, err
		case ClassRejected, ClassCanceled:
			return Verdict{}, calls, err
		}
		if attempt >= d.cfg.Retry.MaxAttempts || ctx.Err() != nil {
			return Verdict{}, calls, err
		}
		wait := d.cfg.Retry.backoff(attempt)
		wait = wait/2 + rand.N(wait/2+1)
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
			return Verdict{}, calls, err
		}
		d.cfg.Logger.DebugContext(ctx, "provider call failed; retrying", "provider", name, "attempt", attempt,
			"retry_in", wait.String(), "error", err)
		if serr := d.cfg.Sleep(ctx, wait); serr != nil {
			return Verdict{}, calls, err
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ParseProviderOrder reads LLM_PROVIDER_ORDER: comma-separated provider
// names, each known and listed once.
func ParseProviderOrder(s string) ([]string, error) {
	var order []string
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" {
			continue
		}
		if !slices.Contains(KnownProviders, name) {
			return nil, fmt.Errorf("unknown provider %q: want a comma-separated list of %s", name, strings.Join(KnownProviders, ", "))
		}
		if slices.Contains(order, name) {
			return nil, fmt.Errorf("provider %q is listed twice", name)
		}
		order = append(order, name)
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("no provider: want a comma-separated list of %s", strings.Join(KnownProviders, ", "))
	}
	return order, nil
}
