package observability

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/huleedu/huleedu/internal/platformtest"
	"github.com/huleedu/huleedu/services/batchconductor"
	"github.com/huleedu/huleedu/services/batchorchestrator"
	"github.com/huleedu/huleedu/services/cjassessment"
	"github.com/huleedu/huleedu/services/essaylifecycle"
	"github.com/huleedu/huleedu/services/fileservice"
	"github.com/huleedu/huleedu/services/spellchecker"
)

// tracingEssays is the size of the traced batch.
const tracingEssays = 3

// serviceNameKey is the resource attribute that names a span's service.
const serviceNameKey = attribute.Key("service.name")

// recordTraces gives each service its own tracer provider, with its name
// as service.name (as separate processes would have), all recording into
// one recorder. It returns the module decoration for startPlatform, the
// recorder, and a tracer for the test's own client spans.
func recordTraces(t *testing.T) (func(service string) fx.Option, *tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	provider := func(service string) *sdktrace.TracerProvider {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
			sdktrace.WithResource(resource.NewSchemaless(serviceNameKey.String(service))))
		t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tp
	}
	module := func(service string) fx.Option {
		tp := provider(service)
		return fx.Decorate(func(trace.TracerProvider) trace.TracerProvider { return tp })
	}
	return module, rec, provider("test_client").Tracer("e2e")
}

// settledSpans returns the ended spans once every span of the trace whose
// parent is in the trace finds that parent ended too, or when within
// passes (the caller's assertions then report what is missing).
func settledSpans(rec *tracetest.SpanRecorder, traceID trace.TraceID, within time.Duration) []sdktrace.ReadOnlySpan {
	deadline := time.Now().Add(within)
	for {
		spans := rec.Ended()
		ended := map[trace.SpanID]bool{}
		for _, s := range spans {
			ended[s.SpanContext().SpanID()] = true
		}
		settled := true
		for _, s := range spans {
			if s.SpanContext().TraceID() == traceID && s.Parent().IsValid() && !ended[s.Parent().SpanID()] {
				settled = false
				break
			}
		}
		if settled || time.Now().After(deadline) {
			return spans
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestOneBatchIsOneTraceAcrossServices(t *testing.T) {
	module, rec, tracer := recordTraces(t)
	p := startPlatform(t, module)

	// The client (a gateway, a teacher's browser) starts the trace and
	// sends it with both requests of the batch.
	ctx, client := tracer.Start(context.Background(), "client: submit batch")
	batchID, err := p.RegisterBatch(ctx, tracingEssays)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.UploadEssays(ctx, batchID, tracingEssays); err != nil {
		t.Fatal(err)
	}
	client.End()
	b := p.WaitCompleted(batchID, 60*time.Second)
	if b.Status != batchorchestrator.StatusCompletedSuccessfully {
		t.Fatalf("batch ended %s, want %s", b.Status, batchorchestrator.StatusCompletedSuccessfully)
	}
	traceID := client.SpanContext().TraceID()

	// The batch reads as completed while the handler that completed it is
	// still returning: its consumer span ends a moment after the child
	// kafka.publish. Wait (bounded) until every parent in the trace ended.
	spans := settledSpans(rec, traceID, 10*time.Second)
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
	}
	inTrace := map[string]int{} // "service: span name" -> spans in the trace
	services := map[string]bool{}
	for _, s := range spans {
		name := s.Name()
		messaging := name == "kafka.publish" || strings.HasPrefix(name, "consume ")
		if s.SpanContext().TraceID() != traceID {
			// Only the test's status polls (GET, no traceparent) and
			// what they cause may start traces of their own.
			if messaging || s.SpanKind() == trace.SpanKindClient || strings.HasPrefix(name, "POST ") {
				t.Errorf("%s span %q is in trace %s, not the batch's %s", serviceOf(s), name, s.SpanContext().TraceID(), traceID)
			}
			continue
		}
		inTrace[serviceOf(s)+": "+name]++
		services[serviceOf(s)] = true
		if s.Parent().IsValid() && byID[s.Parent().SpanID()] == nil {
			t.Errorf("%s span %q has parent %s, which no service recorded", serviceOf(s), name, s.Parent().SpanID())
		}
		if strings.HasPrefix(name, "consume ") {
			parent := byID[s.Parent().SpanID()]
			if parent == nil || parent.Name() != "kafka.publish" || serviceOf(parent) == serviceOf(s) {
				t.Errorf("%s span %q: parent %v, want another service's kafka.publish", serviceOf(s), name, describe(parent))
			}
		}
	}
	logTrace(t, inTrace)
	for _, want := range []string{
		batchorchestrator.ServiceName, batchconductor.ServiceName, fileservice.ServiceName,
		essaylifecycle.ServiceName, spellchecker.ServiceName, cjassessment.ServiceName,
	} {
		if !services[want] {
			t.Errorf("the batch's trace has no span of %s", want)
		}
	}

	// The hops of the registration, parent by parent.
	register := findSpan(t, spans, traceID, batchorchestrator.ServiceName, "POST /v1/batches")
	expectParent(t, byID, register, client.SpanContext().SpanID())
	conductorCall := findChild(t, spans, register, batchorchestrator.ServiceName, "GET", trace.SpanKindClient)
	findChild(t, spans, conductorCall, batchconductor.ServiceName, "GET /v1/pipelines/{name}", trace.SpanKindServer)
	publish := findChild(t, spans, register, batchorchestrator.ServiceName, "kafka.publish", trace.SpanKindProducer)
	findChild(t, spans, publish, essaylifecycle.ServiceName, "", trace.SpanKindConsumer)

	checkLogsCarryTrace(t, p, batchID, traceID)
}

// checkLogsCarryTrace checks the orchestrator's "batch registered" line:
// JSON with service, correlation_id and the batch's trace_id.
func checkLogsCarryTrace(t *testing.T, p *platformtest.Platform, batchID string, traceID trace.TraceID) {
	t.Helper()
	lines := p.Logs.Lines(t, "batch registered", map[string]string{"batch_id": batchID})
	if len(lines) != 1 {
		t.Fatalf("%d \"batch registered\" log lines for %s, want 1", len(lines), batchID)
	}
	l := lines[0]
	if l["service"] != batchorchestrator.ServiceName || l["correlation_id"] == nil || l["correlation_id"] == "" || l["trace_id"] != traceID.String() {
		t.Errorf("log line %v: want service %s, a correlation_id and trace_id %s", l, batchorchestrator.ServiceName, traceID)
	}
}

func serviceOf(s sdktrace.ReadOnlySpan) string {
	v, _ := s.Resource().Set().Value(serviceNameKey)
	return v.AsString()
}

func describe(s sdktrace.ReadOnlySpan) string {
	if s == nil {
		return "none"
	}
	return fmt.Sprintf("%s span %q", serviceOf(s), s.Name())
}

// findSpan returns the span of service named name in the trace.
func findSpan(t *testing.T, spans []sdktrace.ReadOnlySpan, traceID trace.TraceID, service, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.SpanContext().TraceID() == traceID && serviceOf(s) == service && s.Name() == name {
			return s
		}
	}
	t.Fatalf("no %s span %q in trace %s", service, name, traceID)
	return nil
}

// findChild returns a child of parent recorded by service with the given
// kind and, unless empty, name.
func findChild(t *testing.T, spans []sdktrace.ReadOnlySpan, parent sdktrace.ReadOnlySpan, service, name string, kind trace.SpanKind) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range spans {
		if s.Parent().SpanID() == parent.SpanContext().SpanID() && serviceOf(s) == service && s.SpanKind() == kind && (name == "" || s.Name() == name) {
			return s
		}
	}
	t.Fatalf("%s has no %v child span %q of %s", service, kind, name, describe(parent))
	return nil
}

func expectParent(t *testing.T, byID map[trace.SpanID]sdktrace.ReadOnlySpan, s sdktrace.ReadOnlySpan, parent trace.SpanID) {
	t.Helper()
	if s.Parent().SpanID() != parent {
		t.Errorf("%s has parent %s, want %s", describe(s), describe(byID[s.Parent().SpanID()]), parent)
	}
}

// logTrace logs how many spans of each service and name the trace has.
func logTrace(t *testing.T, inTrace map[string]int) {
	t.Helper()
	keys := make([]string, 0, len(inTrace))
	total := 0
	for k, n := range inTrace {
		keys = append(keys, fmt.Sprintf("%4d  %s", n, k))
		total += n
	}
	slices.SortFunc(keys, func(a, b string) int { return strings.Compare(a[6:], b[6:]) })
	t.Logf("the batch's trace: %d spans\n%s", total, strings.Join(keys, "\n"))
}
