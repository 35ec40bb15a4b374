package errctx_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/huleedu/huleedu/errctx"
)

func newRecorder(t *testing.T) (*tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, tp.Tracer("errctx_test")
}

func TestNewTakesTraceAndSpanIDsFromCurrentSpan(t *testing.T) {
	_, tracer := newRecorder(t)
	ctx, span := tracer.Start(context.Background(), "op")
	defer span.End()

	e := errctx.New(ctx, "t", "m")
	sc := span.SpanContext()
	if e.TraceID != sc.TraceID().String() || e.SpanID != sc.SpanID().String() {
		t.Fatalf("ids = %s/%s, want %s/%s", e.TraceID, e.SpanID, sc.TraceID(), sc.SpanID())
	}
	if len(e.TraceID) != 32 || len(e.SpanID) != 16 {
		t.Fatalf("ids are not hex W3C ids: %q %q", e.TraceID, e.SpanID)
	}
}

func TestNewWithoutSpanLeavesTraceIDsEmpty(t *testing.T) {
	e := errctx.New(context.Background(), "t", "m")
	if e.TraceID != "" || e.SpanID != "" {
		t.Fatalf("ids = %q %q, want empty", e.TraceID, e.SpanID)
	}
}

func TestWrapInheritsTraceIDsFromInnerError(t *testing.T) {
	_, tracer := newRecorder(t)
	ctx, span := tracer.Start(context.Background(), "produce")
	inner := errctx.New(ctx, "kafka", "produce failed")
	span.End()

	// A layer that did not receive the span's context.
	outer := errctx.Wrap(context.Background(), inner, "publish", "failed")
	sc := span.SpanContext()
	if outer.TraceID != sc.TraceID().String() || outer.SpanID != sc.SpanID().String() {
		t.Fatalf("ids = %q/%q, want the inner error's %s/%s", outer.TraceID, outer.SpanID, sc.TraceID(), sc.SpanID())
	}

	// A span of its own wins over the inner error's.
	ctx2, span2 := tracer.Start(context.Background(), "handle")
	defer span2.End()
	own := errctx.Wrap(ctx2, inner, "publish", "failed")
	if own.TraceID != span2.SpanContext().TraceID().String() || own.SpanID != span2.SpanContext().SpanID().String() {
		t.Fatalf("ids = %q/%q, want the context's span", own.TraceID, own.SpanID)
	}
}

func TestRecordOnSpanAddsExceptionEventAndErrorStatus(t *testing.T) {
	rec, tracer := newRecorder(t)
	ctx, span := tracer.Start(context.Background(), "publish")
	ctx = errctx.WithCorrelation(ctx, "corr-7")
	e := errctx.Wrap(ctx, errCircuitOpen, "circuit_open", "kafka breaker open",
		errctx.ForService("file_service"), errctx.WithExtra("topic", "essays"), errctx.WithExtra("attempt", 2))
	e.RecordOnSpan(span)
	span.End()

	ended := rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want 1", len(ended))
	}
	s := ended[0]
	if s.Status().Code != codes.Error || s.Status().Description != e.Error() {
		t.Fatalf("status = %+v, want Error %q", s.Status(), e.Error())
	}
	if len(s.Events()) != 1 || s.Events()[0].Name != "exception" {
		t.Fatalf("events = %+v, want one exception event", s.Events())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Events()[0].Attributes {
		attrs[kv.Key] = kv.Value
	}
	wants := map[attribute.Key]string{
		"error.type":          "circuit_open",
		"error.service":       "file_service",
		"correlation_id":      "corr-7",
		"error.extra.topic":   "essays",
		"error.extra.attempt": "2",
		"exception.message":   e.Error(),
	}
	for k, want := range wants {
		if got := attrs[k].String(); got != want {
			t.Errorf("attribute %s = %q, want %q", k, got, want)
		}
	}
	if st := attrs["exception.stacktrace"].AsString(); !strings.Contains(st, "TestRecordOnSpanAddsExceptionEventAndErrorStatus") {
		t.Errorf("exception.stacktrace does not point at the caller:\n%s", st)
	}
}

func TestRecordUsesSpanFromContext(t *testing.T) {
	rec, tracer := newRecorder(t)
	ctx, span := tracer.Start(context.Background(), "op")
	errctx.New(ctx, "t", "m").Record(ctx)
	span.End()
	if got := rec.Ended()[0].Events(); len(got) != 1 {
		t.Fatalf("events = %v, want one", got)
	}
}

func TestRecordOnNonRecordingSpanDoesNothing(t *testing.T) {
	ctx, span := noop.NewTracerProvider().Tracer("x").Start(context.Background(), "op")
	e := errctx.New(ctx, "t", "m")
	// Neither may panic; there is nothing to observe on a no-op span.
	e.RecordOnSpan(span)
	e.RecordOnSpan(nil)
	e.Record(context.Background())
	var nilErr *errctx.Error
	nilErr.Record(ctx)
}
