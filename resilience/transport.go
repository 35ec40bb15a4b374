package resilience

import (
	"context"
	"errors"
	"fmt"
	"net/http"
)

// Transport is an http.RoundTripper that sends requests through a breaker.
//
// By default transport errors, 5xx and 429 responses are failures, other
// responses are successes, and a request whose context the caller
// cancelled is ignored. A failed response is still returned to the caller
// intact: the breaker counts it, it does not turn it into an error.
//
// A rejected request returns an *OpenError (wrapping ErrCircuitOpen)
// without being sent, after closing the request body as RoundTripper
// requires. http.Client wraps it in a *url.Error, through which errors.Is
// and errors.As still find it.
//
// The outcome is decided when RoundTrip returns, i.e. on the response
// headers; reading the body is not part of the guarded call.
type Transport struct {
	// Breaker guards the requests. Required.
	Breaker *CircuitBreaker
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// IsFailure decides whether a round trip counts as a failure; nil
	// means DefaultIsFailure. It is not consulted for requests whose
	// context the caller cancelled: those are always ignored.
	IsFailure func(*http.Response, error) bool
}

// NewTransport returns a Transport that guards base (nil =
// http.DefaultTransport) with cb.
func NewTransport(cb *CircuitBreaker, base http.RoundTripper) *Transport {
	return &Transport{Breaker: cb, Base: base}
}

// DefaultIsFailure treats transport errors, 5xx and 429 Too Many Requests
// as failures.
func DefaultIsFailure(resp *http.Response, err error) bool {
	if err != nil {
		return true
	}
	return resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests
}

// errNilBreaker is returned by a Transport without a Breaker.
var errNilBreaker = errors.New("resilience: Transport.Breaker is nil")

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	cb := t.Breaker
	if cb == nil {
		closeBody(req)
		return nil, errNilBreaker
	}
	ctx := req.Context()
	tk, err := cb.begin(ctx, cb.word.Load())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var returned uintptr
	defer func() {
		if returned == 0 {
			cb.end(tk, OutcomeFailure, errNoReturn)
		}
	}()
	resp, err := base.RoundTrip(req)
	returned = 1
	o, cause := t.classify(ctx, resp, err)
	cb.end(tk, o, cause)
	return resp, err
}

// classify maps a round trip to an outcome and the error recorded as the
// breaker's LastFailure.
func (t *Transport) classify(ctx context.Context, resp *http.Response, err error) (Outcome, error) {
	if err != nil && errors.Is(ctx.Err(), context.Canceled) {
		return OutcomeIgnore, err
	}
	isFailure := t.IsFailure
	if isFailure == nil {
		isFailure = DefaultIsFailure
	}
	if !isFailure(resp, err) {
		return OutcomeSuccess, nil
	}
	if err == nil {
		err = &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	}
	return OutcomeFailure, err
}

// StatusError describes an HTTP response counted as a failure. It appears
// in Snapshot.LastFailure; RoundTrip itself returns the response, not this
// error.
type StatusError struct {
	StatusCode int
	Status     string
}

// Error returns e.g. "resilience: HTTP response 503 Service Unavailable".
func (e *StatusError) Error() string {
	if e.Status != "" {
		return "resilience: HTTP response " + e.Status
	}
	return fmt.Sprintf("resilience: HTTP response %d", e.StatusCode)
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}
