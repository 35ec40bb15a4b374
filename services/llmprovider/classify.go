package llmprovider

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/huleedu/huleedu/resilience"
)

// ErrInvalidVerdict is wrapped by Compare errors for an answer that names
// neither essay or cannot be read as a verdict. The provider is up but
// misbehaving: it counts as a failure and is retried.
var ErrInvalidVerdict = errors.New("llmprovider: invalid verdict")

// ErrMalformedResponse is wrapped by Compare errors for a response the SDK
// could not decode, or one without an answer in it. It counts as a
// failure and is retried.
var ErrMalformedResponse = errors.New("llmprovider: malformed response")

// StatusOverloaded is Anthropic's "overloaded" status (overloaded_error).
const StatusOverloaded = 529

// ProviderError is an LLM API's refusal or failure, as an HTTP status.
type ProviderError struct {
	// Provider is the provider's name.
	Provider string
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Type is the provider's error type ("rate_limit_error",
	// "overloaded_error"), when it sent one.
	Type string
	// RetryAfter is how long the provider asked to be left alone
	// (retry-after, retry-after-ms or the latest anthropic-ratelimit-*-reset
	// header); 0 when it did not say.
	RetryAfter time.Duration
	// Err is the SDK's error.
	Err error
}

// Error names the provider, the status and the SDK's message.
func (e *ProviderError) Error() string {
	msg := fmt.Sprintf("llmprovider: %s answered %d %s", e.Provider, e.StatusCode, http.StatusText(e.StatusCode))
	if e.StatusCode == StatusOverloaded {
		msg = fmt.Sprintf("llmprovider: %s answered %d overloaded", e.Provider, e.StatusCode)
	}
	if e.Type != "" {
		msg += " (" + e.Type + ")"
	}
	if e.RetryAfter > 0 {
		msg += fmt.Sprintf(", retry after %v", e.RetryAfter)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the SDK's error.
func (e *ProviderError) Unwrap() error { return e.Err }

// Class is what the outcome of one provider call means to the service.
type Class int

const (
	// ClassSuccess: a usable judgement.
	ClassSuccess Class = iota
	// ClassRetriable: the provider failed (5xx, 408, a timeout, a
	// connection error, a malformed response, an unusable verdict). It
	// counts against the provider's breaker and is retried with backoff.
	ClassRetriable
	// ClassRateLimited: 429 or 529 (overloaded). It counts as a failure
	// and opens the provider's breaker for at least the Retry-After the
	// provider gave; the request moves on to the next provider.
	ClassRateLimited
	// ClassRejected: 400, 401, 403, 404 and any other 4xx: the caller's
	// problem (bad input, key, model). Not a failure of the provider,
	// not retried; the request fails with reason "rejected".
	ClassRejected
	// ClassCanceled: the service gave up on the call (shutdown); says
	// nothing about the provider.
	ClassCanceled
)

// String returns "success", "retriable", "rate_limited", "rejected" or
// "canceled": the outcome label of llm_provider_calls_total.
func (c Class) String() string {
	switch c {
	case ClassSuccess:
		return "success"
	case ClassRetriable:
		return "retriable"
	case ClassRateLimited:
		return "rate_limited"
	case ClassRejected:
		return "rejected"
	case ClassCanceled:
		return "canceled"
	}
	return fmt.Sprintf("Class(%d)", int(c))
}

// Classify maps a Compare error to its Class. Errors that are not a
// *ProviderError (connection errors, timeouts, malformed responses,
// invalid verdicts) are retriable, except context.Canceled.
func Classify(err error) Class {
	if err == nil {
		return ClassSuccess
	}
	var pe *ProviderError
	if errors.As(err, &pe) {
		return classifyStatus(pe.StatusCode)
	}
	if errors.Is(err, context.Canceled) {
		return ClassCanceled
	}
	return ClassRetriable
}

func classifyStatus(code int) Class {
	switch {
	case code == http.StatusTooManyRequests, code == StatusOverloaded:
		return ClassRateLimited
	case code == http.StatusRequestTimeout, code >= 500:
		return ClassRetriable
	case code >= 400:
		return ClassRejected
	}
	// A 1xx-3xx the SDK refused: nothing a retry would fix on our side,
	// but nothing the caller did either; treat it as a provider failure.
	return ClassRetriable
}

// breakerOutcome is the breakers' Classify: provider failures count, the
// caller's problems and cancellations do not.
func breakerOutcome(err error) resilience.Outcome {
	switch Classify(err) {
	case ClassSuccess:
		return resilience.OutcomeSuccess
	case ClassRetriable, ClassRateLimited:
		return resilience.OutcomeFailure
	}
	return resilience.OutcomeIgnore
}

// RetryAfter reads how long a provider asked to be left alone from an
// answer's headers, relative to now: retry-after-ms (OpenAI), retry-after
// (seconds or an HTTP date), and on a 429 without them the latest of
// Anthropic's anthropic-ratelimit-*-reset times (RFC 3339). 0 when none
// is set or parses; a negative value counts as 0.
func RetryAfter(h http.Header, now time.Time) time.Duration {
	if h == nil {
		return 0
	}
	if v := strings.TrimSpace(h.Get("retry-after-ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && !math.IsInf(ms, 0) {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	if v := strings.TrimSpace(h.Get("retry-after")); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil {
			if s > 0 && s < 1e9 {
				return time.Duration(s * float64(time.Second))
			}
			return 0
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0)
		}
	}
	var latest time.Duration
	for _, name := range []string{"anthropic-ratelimit-requests-reset", "anthropic-ratelimit-tokens-reset",
		"anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset"} {
		if t, err := time.Parse(time.RFC3339, strings.TrimSpace(h.Get(name))); err == nil {
			latest = max(latest, t.Sub(now))
		}
	}
	return latest
}

// newProviderError builds the error of an HTTP answer; RetryAfter is read
// only for the statuses it means something for (429, 529).
func newProviderError(provider string, status int, typ string, h http.Header, now time.Time, err error) *ProviderError {
	pe := &ProviderError{Provider: provider, StatusCode: status, Type: typ, Err: err}
	if classifyStatus(status) == ClassRateLimited {
		pe.RetryAfter = RetryAfter(h, now)
	}
	return pe
}
