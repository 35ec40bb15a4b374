package errctx

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Span attribute keys. error.type and exception.stacktrace follow the
// OpenTelemetry semantic conventions; the others are this platform's.
const (
	attrErrorType     = "error.type"
	attrService       = "error.service"
	attrOperation     = "error.operation"
	attrCorrelationID = "correlation_id"
	attrStacktrace    = "exception.stacktrace"
	attrExtraPrefix   = "error.extra."
)

// RecordOnSpan records the Error on span: an "exception" event (the
// OpenTelemetry convention, with exception.type and exception.message)
// carrying error.type, error.service, error.operation, correlation_id,
// exception.stacktrace and one error.extra.<key> attribute per Extra entry;
// and the span's status set to Error with Error() as description. It does
// nothing when span is nil or not recording, so it is free with the no-op
// tracer.
func (e *Error) RecordOnSpan(span trace.Span) {
	if e == nil || span == nil || !span.IsRecording() {
		return
	}
	span.RecordError(e, trace.WithAttributes(e.spanAttributes()...))
	span.SetStatus(codes.Error, e.Error())
}

// Record is RecordOnSpan on the span current in ctx.
func (e *Error) Record(ctx context.Context) {
	if ctx == nil {
		return
	}
	e.RecordOnSpan(trace.SpanFromContext(ctx))
}

func (e *Error) spanAttributes() []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 5+len(e.Extra))
	attrs = append(attrs, attribute.String(attrErrorType, e.Type))
	if e.Service != "" {
		attrs = append(attrs, attribute.String(attrService, e.Service))
	}
	if e.Operation != "" {
		attrs = append(attrs, attribute.String(attrOperation, e.Operation))
	}
	if e.CorrelationID != "" {
		attrs = append(attrs, attribute.String(attrCorrelationID, e.CorrelationID))
	}
	if len(e.Stack) > 0 {
		var b strings.Builder
		for i, fr := range e.Stack {
			if i > 0 {
				b.WriteByte('\n')
			}
			fmt.Fprintf(&b, "%s\n\t%s:%d", fr.Function, fr.File, fr.Line)
		}
		attrs = append(attrs, attribute.String(attrStacktrace, b.String()))
	}
	for _, k := range slices.Sorted(maps.Keys(e.Extra)) {
		attrs = append(attrs, extraAttribute(attrExtraPrefix+k, e.Extra[k]))
	}
	return attrs
}

// extraAttribute keeps the attribute types OpenTelemetry has and prints
// everything else (fmt.Sprint calls String methods and survives a nil
// pointer whose String method would panic).
func extraAttribute(key string, v any) attribute.KeyValue {
	switch x := v.(type) {
	case string:
		return attribute.String(key, x)
	case bool:
		return attribute.Bool(key, x)
	case int:
		return attribute.Int(key, x)
	case int32:
		return attribute.Int64(key, int64(x))
	case int64:
		return attribute.Int64(key, x)
	case float64:
		return attribute.Float64(key, x)
	case error:
		return attribute.String(key, x.Error())
	default:
		return attribute.String(key, fmt.Sprint(v))
	}
}
