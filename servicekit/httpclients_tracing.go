package servicekit

import (
	"errors"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

// tracingTransport runs each request of an HTTPClients client in a client
// span. It sits outside the breaker's transport, so a request the breaker
// rejects still has its span, with the event "circuit_breaker.rejected",
// and the propagating transport inside sends the span's traceparent, so
// the callee's server span is the client span's child.
//
// The span ends when RoundTrip returns, that is with the response headers:
// reading the body is the caller's business, as it is for the breaker.
type tracingTransport struct {
	tracer     trace.Tracer
	dependency string
	breaker    string // empty without a breaker
	next       http.RoundTripper
}

// clientKind is built once: span options allocate.
var clientKind = trace.WithSpanKind(trace.SpanKindClient)

func (t tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := t.tracer.Start(req.Context(), req.Method, clientKind)
	if !span.IsRecording() {
		// No provider installed: the caller's context still carries any
		// incoming trace, which the propagating transport passes on.
		span.End()
		return t.next.RoundTrip(req)
	}
	defer span.End()
	attrs := []attribute.KeyValue{
		attribute.String("http.request.method", req.Method),
		attribute.String("url.full", req.URL.Redacted()),
		attribute.String("server.address", req.URL.Hostname()),
		attribute.String("peer.service", t.dependency),
	}
	if p := req.URL.Port(); p != "" {
		if n, err := strconv.Atoi(p); err == nil {
			attrs = append(attrs, attribute.Int("server.port", n))
		}
	}
	if t.breaker != "" {
		// The key kafkabus's kafka.publish spans use for their breaker.
		attrs = append(attrs, attribute.String("circuit_breaker.name", t.breaker))
	}
	span.SetAttributes(attrs...)

	// WithContext makes a shallow copy: the caller's request is left as
	// it was, as RoundTripper requires.
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	switch {
	case errors.Is(err, resilience.ErrCircuitOpen):
		span.AddEvent(observability.EventBreakerRejected, trace.WithAttributes(
			attribute.String(observability.AttrCircuitName, t.breaker), attribute.String("error", err.Error())))
		span.SetStatus(codes.Error, err.Error())
	case err != nil:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	default:
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 400 {
			span.SetStatus(codes.Error, resp.Status)
		}
	}
	return resp, err
}
