package kafkabus

import (
	"context"
	"strings"
	"testing"

	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/resilience"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"
)

func tracedHarness(t *testing.T) (*harness, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	h := newHarness(t, nil, func(o *ResilientOptions, _ *resilience.Settings) { o.Tracer = tp.Tracer("test") })
	return h, rec
}

func spansNamed(rec *tracetest.SpanRecorder, name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// The record's traceparent names the publish span, so a consumer joins
// the publisher's trace.
func TestPublishSpanIsTheParentOfTheRecordsTraceparent(t *testing.T) {
	h, rec := tracedHarness(t)
	env, err := event.NewEnvelope("test.v1", "test", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.bus.Publish(context.Background(), "t", "k", env); err != nil {
		t.Fatal(err)
	}
	spans := spansNamed(rec, spanPublish)
	if len(spans) != 1 || attr(spans[0], string(attrPath)) != pathDirect {
		t.Fatalf("publish spans %v, want one with path direct", spans)
	}
	h.prod.mu.Lock()
	tp := string(h.prod.log[0].Header("traceparent"))
	h.prod.mu.Unlock()
	sc := spans[0].SpanContext()
	if !strings.Contains(tp, sc.TraceID().String()) || !strings.Contains(tp, sc.SpanID().String()) {
		t.Fatalf("traceparent %q does not name the publish span %s/%s", tp, sc.TraceID(), sc.SpanID())
	}
}

func TestSpansShowSpoolingRejectionsAndReplay(t *testing.T) {
	h, rec := tracedHarness(t)
	h.cb.ForceOpen()
	h.publish(t, "k", "a") // empty queue, open breaker: rejected, spooled
	h.publish(t, "k", "b") // behind a non-empty queue: spooled without asking
	h.cb.Reset()
	eventually(t, "drain", func() bool { return h.bus.Stats().Queue.Records == 0 })

	pubs := spansNamed(rec, spanPublish)
	if len(pubs) != 2 {
		t.Fatalf("%d publish spans, want 2", len(pubs))
	}
	for _, s := range pubs {
		if attr(s, string(attrPath)) != pathSpooled {
			t.Errorf("publish span path %q, want spooled", attr(s, string(attrPath)))
		}
	}
	rejections := func(i int) (n int) {
		for _, e := range pubs[i].Events() {
			if e.Name == eventOpen {
				n++
			}
		}
		return n
	}
	if rejections(0) != 1 || rejections(1) != 0 {
		t.Errorf("rejection events %d and %d, want 1 (open breaker) and 0 (queued behind the first)", rejections(0), rejections(1))
	}
	eventually(t, "replay spans ended", func() bool { return len(spansNamed(rec, spanReplay)) > 0 })
}

// A bus built before the global tracer provider is installed (the usual
// order: packages are wired, then tracing is set up) still records its
// publish spans once it is: it only skips them while none is installed.
func TestPublishSpansFollowAGlobalProviderInstalledLater(t *testing.T) {
	if otel.GetTracerProvider() != unsetProvider {
		// Only the initial global provider delegates to one installed
		// later; once one is installed (an earlier run of this test,
		// with -count), tracers come from it directly.
		t.Skip("a global tracer provider is already installed in this process")
	}
	h := newHarness(t, nil) // no Tracer of its own: the global provider's
	h.publish(t, "k", "before")

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() {
		// The unset provider cannot be put back; a no-op one is the same
		// to every other test.
		otel.SetTracerProvider(noop.NewTracerProvider())
		_ = tp.Shutdown(context.Background())
	})
	h.publish(t, "k", "after")
	if spans := spansNamed(rec, spanPublish); len(spans) != 1 || attr(spans[0], string(attrPath)) != pathDirect {
		t.Fatalf("publish spans after installing a provider: %d, want 1 (path direct)", len(spans))
	}
}
