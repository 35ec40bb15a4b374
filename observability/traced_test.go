package observability_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

// fakeBreaker runs fn unless reject is set, in which case it returns reject
// without running fn, as an open breaker does.
type fakeBreaker struct {
	name   string
	reject error
	calls  int
}

func (b *fakeBreaker) Name() string { return b.name }

func (b *fakeBreaker) Call(ctx context.Context, fn func(context.Context) error) error {
	if b.reject != nil {
		return b.reject
	}
	b.calls++
	return fn(ctx)
}

func newTestTracer(t *testing.T) (*tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, tp.Tracer("observability_test")
}

func attrMap(kvs []attribute.KeyValue) map[attribute.Key]string {
	m := make(map[attribute.Key]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value.String()
	}
	return m
}

func TestTracedCreatesOneSpanPerCall(t *testing.T) {
	rec, tracer := newTestTracer(t)
	c := observability.Traced(tracer, &fakeBreaker{name: "kafka"})
	for range 3 {
		if err := c.Call(context.Background(), func(context.Context) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	spans := rec.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	for _, s := range spans {
		if s.Name() != "circuit_breaker.call" || attrMap(s.Attributes())["circuit_name"] != "kafka" {
			t.Errorf("span %q attrs %v", s.Name(), s.Attributes())
		}
	}
	if c.Name() != "kafka" {
		t.Errorf("Name() = %q", c.Name())
	}
}

var errErrorFromFn = errors.New("broker unreachable")

// errLocalRejection is a sentinel for the WithRejection option.
var errLocalRejection = errors.New("test: rejected")

func TestTracedRecordsOutcome(t *testing.T) {
	tests := []struct {
		name        string
		breaker     *fakeBreaker
		fnErr       error
		opts        []observability.TracedOption
		wantOutcome string
		wantStatus  codes.Code
		wantEvent   string
		wantFnRuns  int
	}{
		{"success", &fakeBreaker{name: "kafka"}, nil, nil, "success", codes.Unset, "", 1},
		{"failure", &fakeBreaker{name: "kafka"}, errErrorFromFn, nil, "failure", codes.Error, "exception", 1},
		{"rejected by ErrCircuitOpen", &fakeBreaker{name: "kafka", reject: fmt.Errorf("kafka: %w", resilience.ErrCircuitOpen)},
			nil, nil, "rejected", codes.Error, "circuit_breaker.rejected", 0},
		{"rejected by custom predicate", &fakeBreaker{name: "kafka", reject: errLocalRejection}, nil,
			[]observability.TracedOption{observability.WithRejection(func(err error) bool { return errors.Is(err, errLocalRejection) })},
			"rejected", codes.Error, "circuit_breaker.rejected", 0},
		{"custom predicate does not match a failure", &fakeBreaker{name: "kafka"}, errErrorFromFn,
			[]observability.TracedOption{observability.WithRejection(func(err error) bool { return errors.Is(err, errLocalRejection) })},
			"failure", codes.Error, "exception", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, tracer := newTestTracer(t)
			c := observability.Traced(tracer, tt.breaker, tt.opts...)
			err := c.Call(context.Background(), func(context.Context) error { return tt.fnErr })
			if tt.breaker.calls != tt.wantFnRuns {
				t.Errorf("fn ran %d times, want %d", tt.breaker.calls, tt.wantFnRuns)
			}
			if (err != nil) != (tt.fnErr != nil || tt.breaker.reject != nil) {
				t.Errorf("Call returned %v", err)
			}
			s := rec.Ended()[0]
			if got := attrMap(s.Attributes())["outcome"]; got != tt.wantOutcome {
				t.Errorf("outcome = %q, want %q", got, tt.wantOutcome)
			}
			if s.Status().Code != tt.wantStatus {
				t.Errorf("status = %v, want %v", s.Status().Code, tt.wantStatus)
			}
			var events []string
			for _, e := range s.Events() {
				events = append(events, e.Name)
			}
			if tt.wantEvent == "" && len(events) != 0 || tt.wantEvent != "" && (len(events) != 1 || events[0] != tt.wantEvent) {
				t.Errorf("events = %v, want [%s]", events, tt.wantEvent)
			}
		})
	}
}

func TestTracedRejectionEventDescribesOpenError(t *testing.T) {
	retryAt := time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)
	rec, tracer := newTestTracer(t)
	c := observability.Traced(tracer, &fakeBreaker{name: "content_service",
		reject: &resilience.OpenError{Name: "content_service", State: resilience.StateOpen, RetryAt: retryAt}})
	_ = c.Call(context.Background(), func(context.Context) error { return nil })
	got := attrMap(rec.Ended()[0].Events()[0].Attributes)
	want := map[attribute.Key]string{
		"circuit_name": "content_service",
		"state":        "open",
		"retry_at":     "2025-06-01T12:00:30Z",
		"error":        `resilience: circuit "content_service" is open until 2025-06-01T12:00:30Z`,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("event attribute %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestTracedRejectionEventOmitsRetryAtWhileForcedOpen(t *testing.T) {
	rec, tracer := newTestTracer(t)
	c := observability.Traced(tracer, &fakeBreaker{name: "kafka",
		reject: &resilience.OpenError{Name: "kafka", State: resilience.StateOpen}})
	_ = c.Call(context.Background(), func(context.Context) error { return nil })
	got := attrMap(rec.Ended()[0].Events()[0].Attributes)
	if _, ok := got["retry_at"]; ok || got["state"] != "open" {
		t.Fatalf("event attributes %v: want state open and no retry_at (forced open lasts until Reset)", got)
	}
}

func TestTracedWithNilTracerUsesPackageTracerOfGlobalProvider(t *testing.T) {
	setTracingEnv(t, nil) // restores the global provider afterwards
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	otel.SetTracerProvider(tp)

	c := observability.Traced(nil, &fakeBreaker{name: "kafka"})
	_ = c.Call(context.Background(), func(context.Context) error { return nil })
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].InstrumentationScope().Name != "github.com/huleedu/huleedu/observability" {
		t.Fatalf("spans %v: want one from the tracer named after the package", spans)
	}
}

func TestTracedGivesFnTheCallSpanAsParent(t *testing.T) {
	rec, tracer := newTestTracer(t)
	c := observability.Traced(tracer, &fakeBreaker{name: "kafka"})
	_ = c.Call(context.Background(), func(ctx context.Context) error {
		_, child := tracer.Start(ctx, "produce")
		child.End()
		return nil
	})
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	child, call := spans[0], spans[1]
	if child.Parent().SpanID() != call.SpanContext().SpanID() {
		t.Fatalf("produce span's parent is %s, want the call span %s", child.Parent().SpanID(), call.SpanContext().SpanID())
	}
}

func TestTracedRecordsErrctxFieldsOnFailure(t *testing.T) {
	rec, tracer := newTestTracer(t)
	c := observability.Traced(tracer, &fakeBreaker{name: "kafka"})
	_ = c.Call(context.Background(), func(ctx context.Context) error {
		return errctx.Wrap(ctx, errErrorFromFn, "kafka_unavailable", "produce failed")
	})
	ev := rec.Ended()[0].Events()[0]
	if got := attrMap(ev.Attributes)["error.type"]; got != "kafka_unavailable" {
		t.Fatalf("exception event error.type = %q; attrs %v", got, ev.Attributes)
	}
}
