package servicekit

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/resilience"
)

// HeaderCorrelationID is the HTTP header that carries the correlation id
// between services. The API middleware reads it (or makes one) and
// HTTPClients' requests send the one in their context.
const HeaderCorrelationID = "X-Correlation-ID"

// HTTPClients hands out one *http.Client per dependency a service calls,
// each behind its own circuit breaker registered as
// "<service>.<dependency>" (the breaker settings come from the HTTP_CIRCUIT_BREAKER_*
// variables, or CONTENT_CIRCUIT_BREAKER_* for content clients: see
// Settings.HTTPBreakerSettingsFor). A breaker's rejection surfaces from Client.Do as an error
// wrapping resilience.ErrCircuitOpen; 5xx and 429 responses count as
// failures but are returned intact.
//
// Each request runs in a client span (with the event
// "circuit_breaker.rejected" when the breaker refused it) and carries the
// context's correlation id (X-Correlation-ID) and that span's trace
// (traceparent), so the callee continues both. Without a tracer provider
// installed there is no span and the caller's own trace, if any, is passed
// on. All clients share one connection pool; CloseIdleConnections
// releases it at shutdown.
//
// With CIRCUIT_BREAKER_ENABLED=false the clients have no breaker, as
// before breakers existed. It is safe for concurrent use.
type HTTPClients struct {
	service  string
	enabled  bool
	breakers *resilience.Registry
	settings func(dependency string) resilience.Settings // Settings.HTTPBreakerSettingsFor
	timeout  time.Duration
	base     *http.Transport
	tracer   trace.Tracer // set before the first For

	mu      sync.Mutex // guards clients
	clients map[string]*http.Client
}

// NewHTTPClients returns the client factory for s.Service with breakers
// registered in breakers and spans from OpenTelemetry's global tracer
// provider.
func NewHTTPClients(s Settings, breakers *resilience.Registry) *HTTPClients {
	base := http.DefaultTransport.(*http.Transport).Clone()
	return &HTTPClients{
		service:  s.Service,
		enabled:  s.CircuitBreakerEnabled,
		breakers: breakers,
		settings: s.HTTPBreakerSettingsFor,
		timeout:  time.Duration(s.HTTPClientTimeout),
		base:     base,
		tracer:   otel.Tracer(tracerName),
		clients:  make(map[string]*http.Client),
	}
}

// For returns the client for dependency ("file_service",
// "batch_conductor"): the same client on every call with that name, its
// breaker "<service>.<dependency>" created on first use. An empty name or
// a breaker that cannot be created gives a client whose every request
// fails with that error, so the problem shows where the call is made.
func (h *HTTPClients) For(dependency string) *http.Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	if c, ok := h.clients[dependency]; ok {
		return c
	}
	var rt http.RoundTripper = propagating{base: h.base}
	breaker := ""
	switch {
	case dependency == "":
		rt = failing{err: errors.New("servicekit: HTTPClients.For: empty dependency name")}
	case h.enabled:
		cb, err := breakerFor(h.breakers, h.settings(dependency))
		if err != nil {
			rt = failing{err: fmt.Errorf("servicekit: HTTP client for %s: breaker: %w", dependency, err)}
			break
		}
		rt = resilience.NewTransport(cb, rt)
		breaker = cb.Name()
	}
	rt = tracingTransport{tracer: h.tracer, dependency: dependency, breaker: breaker, next: rt}
	c := &http.Client{Transport: rt, Timeout: h.timeout}
	h.clients[dependency] = c
	return c
}

// CloseIdleConnections closes the idle connections of every client.
func (h *HTTPClients) CloseIdleConnections() { h.base.CloseIdleConnections() }

// traceContext propagates W3C trace context whatever the global
// propagator is, like package event does for Kafka headers.
var traceContext propagation.TraceContext

// propagating adds the context's correlation id and trace to requests.
type propagating struct{ base http.RoundTripper }

func (p propagating) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	id := errctx.CorrelationID(ctx)
	carrier := propagation.HeaderCarrier{}
	traceContext.Inject(ctx, carrier)
	if (id != "" && req.Header.Get(HeaderCorrelationID) == "") || len(carrier) > 0 {
		// A RoundTripper must not modify the caller's request.
		req = req.Clone(ctx)
		if id != "" && req.Header.Get(HeaderCorrelationID) == "" {
			req.Header.Set(HeaderCorrelationID, id)
		}
		for k, v := range carrier {
			req.Header[k] = v
		}
	}
	return p.base.RoundTrip(req)
}

// failing is a RoundTripper that fails every request with err.
type failing struct{ err error }

func (f failing) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return nil, f.err
}
