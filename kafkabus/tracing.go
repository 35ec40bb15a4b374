package kafkabus

import (
	"context"
	"errors"

	"github.com/huleedu/huleedu/resilience"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// tracerName is the instrumentation scope of ResilientBus's spans.
const tracerName = "github.com/huleedu/huleedu/kafkabus"

// Span names and attributes. Publish spans are the parents of the records'
// traceparent headers, so a consumer's span joins the publisher's trace.
const (
	spanPublish = "kafka.publish"
	spanReplay  = "kafka.replay"

	attrPath     = attribute.Key("huleedu.publish.path") // direct, spooled or refused
	attrRecords  = attribute.Key("huleedu.replay.records")
	attrBreaker  = attribute.Key("circuit_breaker.name")
	eventOpen    = "circuit_breaker.rejected"
	pathDirect   = "direct"
	pathSpooled  = "spooled"
	pathRefused  = "refused"
	messagingSys = "kafka"
)

// tracer returns the configured tracer, or the global provider's.
func (o *ResilientOptions) tracer() trace.Tracer {
	if o.Tracer != nil {
		return o.Tracer
	}
	return otel.Tracer(tracerName)
}

// unsetProvider is what otel.GetTracerProvider returns until a provider is
// installed (by observability.SetupTracing, say). Its tracers delegate to
// the provider installed later, but until then every Start allocates a
// non-recording span and a context for nothing.
var unsetProvider = otel.GetTracerProvider()

// tracing reports whether publish spans can be recorded: the bus has a
// tracer of its own, or a global provider has been installed. Without
// either, Publish skips its span and allocates nothing for tracing.
func (b *ResilientBus) tracing() bool {
	// Interface comparison: a provider of another dynamic type is unequal
	// without its value being compared.
	return b.opts.Tracer != nil || otel.GetTracerProvider() != unsetProvider
}

func (b *ResilientBus) startPublishSpan(ctx context.Context, topic string) (context.Context, trace.Span) {
	if !b.tracing() {
		return ctx, noop.Span{}
	}
	ctx, span := b.tracer.Start(ctx, spanPublish, producerKind)
	if span.IsRecording() {
		// Only a recording span is worth the attributes' allocations.
		span.SetAttributes(
			attribute.String("messaging.system", messagingSys),
			attribute.String("messaging.destination.name", topic),
			attrBreaker.String(b.cb.Name()),
		)
	}
	return ctx, span
}

// producerKind is built once: span options allocate.
var producerKind = trace.WithSpanKind(trace.SpanKindProducer)

// endPublishSpan records the path the record took and the outcome.
func endPublishSpan(span trace.Span, path string, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	span.SetAttributes(attrPath.String(path))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// noteRejection adds the breaker's rejection to the current span.
func noteRejection(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs := []attribute.KeyValue{}
	if oe, ok := errors.AsType[*resilience.OpenError](err); ok {
		attrs = append(attrs, attribute.String("state", oe.State.String()),
			attribute.String("retry_at", oe.RetryAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")))
	}
	span.AddEvent(eventOpen, trace.WithAttributes(attrs...))
}
