package observability

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/resilience"
)

// Span name, event name and attribute keys of Traced, as the original
// platform's traced circuit breaker named them.
const (
	SpanBreakerCall      = "circuit_breaker.call"
	EventBreakerRejected = "circuit_breaker.rejected"
	AttrCircuitName      = "circuit_name"
	AttrOutcome          = "outcome"
)

// Outcome attribute values of a circuit_breaker.call span.
const (
	OutcomeSuccess  = "success"
	OutcomeFailure  = "failure"
	OutcomeRejected = "rejected"
)

// Caller is a circuit breaker seen from the outside: a name and a way to run
// a call through it. resilience.CircuitBreaker implements it.
type Caller interface {
	Name() string
	Call(ctx context.Context, fn func(context.Context) error) error
}

// TracedOption configures Traced.
type TracedOption func(*tracedCaller)

// WithRejection sets how Traced recognizes a call the breaker refused
// without running it (default: errors.Is(err, resilience.ErrCircuitOpen)).
// A nil isRejection keeps the default.
func WithRejection(isRejection func(error) bool) TracedOption {
	return func(t *tracedCaller) {
		if isRejection != nil {
			t.isRejection = isRejection
		}
	}
}

// Traced returns a Caller that runs each call through c inside a
// "circuit_breaker.call" span with the attributes circuit_name and outcome
// (success, failure or rejected). fn receives the span's context, so spans
// it starts are children of the breaker's span.
//
// A failure records the error on the span (with its errctx fields when it is
// an *errctx.Error) and sets the span status to Error. A rejection adds the
// event "circuit_breaker.rejected" instead, since no call was made, with the
// attributes circuit_name, error and, for a *resilience.OpenError, state and
// retry_at (RFC 3339, absent while forced open); it also sets the status to
// Error. The outcome reflects the error c returned, not how the breaker
// classified it (an error the breaker ignores still reads "failure" here).
// A nil tracer means Tracer of this package's import path.
func Traced(tracer trace.Tracer, c Caller, opts ...TracedOption) Caller {
	if tracer == nil {
		tracer = Tracer(instrumentationName)
	}
	t := &tracedCaller{
		tracer:      tracer,
		next:        c,
		name:        c.Name(),
		isRejection: defaultIsRejection,
	}
	for _, opt := range opts {
		opt(t)
	}
	return t
}

// rejectionAttributes describes a rejection; a *resilience.OpenError adds
// the breaker's state and when it admits calls again.
func rejectionAttributes(name string, err error) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		attribute.String(AttrCircuitName, name),
		attribute.String("error", err.Error()),
	}
	var oe *resilience.OpenError
	if errors.As(err, &oe) {
		attrs = append(attrs, attribute.String("state", oe.State.String()))
		if !oe.RetryAt.IsZero() {
			attrs = append(attrs, attribute.String("retry_at", oe.RetryAt.UTC().Format(time.RFC3339Nano)))
		}
	}
	return attrs
}

func defaultIsRejection(err error) bool {
	return errors.Is(err, resilience.ErrCircuitOpen)
}

type tracedCaller struct {
	tracer      trace.Tracer
	next        Caller
	name        string
	isRejection func(error) bool
}

func (t *tracedCaller) Name() string { return t.name }

func (t *tracedCaller) Call(ctx context.Context, fn func(context.Context) error) error {
	ctx, span := t.tracer.Start(ctx, SpanBreakerCall,
		trace.WithAttributes(attribute.String(AttrCircuitName, t.name)))
	defer span.End()

	err := t.next.Call(ctx, fn)
	if !span.IsRecording() {
		return err
	}
	switch {
	case err == nil:
		span.SetAttributes(attribute.String(AttrOutcome, OutcomeSuccess))
	case t.isRejection(err):
		span.SetAttributes(attribute.String(AttrOutcome, OutcomeRejected))
		span.AddEvent(EventBreakerRejected, trace.WithAttributes(rejectionAttributes(t.name, err)...))
		span.SetStatus(codes.Error, err.Error())
	default:
		span.SetAttributes(attribute.String(AttrOutcome, OutcomeFailure))
		if e, ok := err.(*errctx.Error); ok && e != nil {
			e.RecordOnSpan(span)
		} else {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
	}
	return err
}
