package servicekit

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/event"
	"github.com/huleedu/huleedu/kafkabus"
	"github.com/huleedu/huleedu/observability"
)

// recordSpans returns a module option that gives the app a tracer
// provider recording into the returned recorder (the global provider is
// left alone), and a tracer of that provider for the test's own spans.
func recordSpans(t *testing.T) (fx.Option, *tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return fx.Decorate(func(trace.TracerProvider) trace.TracerProvider { return tp }), rec, tp.Tracer("servicekit_test")
}

// endedSpan returns the ended span named name, failing the test if there
// is none.
func endedSpan(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	for _, s := range rec.Ended() {
		if s.Name() == name {
			return s
		}
	}
	var names []string
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
	}
	t.Fatalf("no ended span %q; ended: %q", name, names)
	return nil
}

// waitForSpan waits until a span named name has ended and returns it.
func waitForSpan(t *testing.T, rec *tracetest.SpanRecorder, name string) sdktrace.ReadOnlySpan {
	t.Helper()
	waitFor(t, 30*time.Second, "span "+name, func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == name {
				return true
			}
		}
		return false
	})
	return endedSpan(t, rec, name)
}

// traceparent formats sc as a W3C traceparent header value.
func traceparent(ctx context.Context) string {
	c := propagation.HeaderCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c.Get("traceparent")
}

func TestAPIRequestContinuesCallersTrace(t *testing.T) {
	c := newCluster(t)
	tracing, rec, tracer := recordSpans(t)
	handled := make(chan trace.SpanContext, 1)
	a := startApp(t, testEnv("thing_service", c), fx.Options(tracing,
		// MuxRoutes, as the services register their APIs: the span is
		// named after the pattern of the service's own mux.
		AsRoutes(func() []Route {
			return MuxRoutes(func(mux *http.ServeMux) {
				mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
					handled <- trace.SpanContextFromContext(r.Context())
				})
			})
		})))

	ctx, caller := tracer.Start(context.Background(), "caller")
	req, _ := http.NewRequest(http.MethodGet, a.Endpoints().API+"/v1/things/7", nil)
	req.Header.Set("traceparent", traceparent(ctx))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	caller.End()
	inHandler := <-handled

	srv := waitForSpan(t, rec, "GET /v1/things/{id}")
	if srv.SpanKind() != trace.SpanKindServer {
		t.Errorf("span kind %v, want server", srv.SpanKind())
	}
	if srv.Parent().SpanID() != caller.SpanContext().SpanID() || srv.SpanContext().TraceID() != caller.SpanContext().TraceID() {
		t.Errorf("server span has parent %v in trace %v; want the caller's span %v in trace %v",
			srv.Parent().SpanID(), srv.SpanContext().TraceID(), caller.SpanContext().SpanID(), caller.SpanContext().TraceID())
	}
	if inHandler.SpanID() != srv.SpanContext().SpanID() {
		t.Errorf("handler ran in span %v, want the server span %v", inHandler.SpanID(), srv.SpanContext().SpanID())
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestHTTPClientSpanIsParentOfCalleesTrace(t *testing.T) {
	c := newCluster(t)
	tracing, rec, tracer := recordSpans(t)
	var clients *HTTPClients
	newApp(t, testEnv("spellchecker_service", c), fx.Options(tracing, fx.Populate(&clients)))
	got := make(chan string, 1)
	callee := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("traceparent")
	}))
	defer callee.Close()

	ctx, parent := tracer.Start(context.Background(), "handler")
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, callee.URL+"/v1/content/1", nil)
	resp, err := clients.For("file_service").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	parent.End()

	client := endedSpan(t, rec, http.MethodGet)
	if client.SpanKind() != trace.SpanKindClient || client.Parent().SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("client span: kind %v, parent %v; want a client span under %v", client.SpanKind(), client.Parent().SpanID(), parent.SpanContext().SpanID())
	}
	want := traceparent(trace.ContextWithSpanContext(context.Background(), client.SpanContext()))
	if tp := <-got; tp != want {
		t.Errorf("callee saw traceparent %q, want the client span's %q", tp, want)
	}
	if req.Header.Get("traceparent") != "" {
		t.Error("the caller's request was modified")
	}
	clients.CloseIdleConnections()
}

func TestHTTPClientSpanRecordsBreakerRejection(t *testing.T) {
	c := newCluster(t)
	tracing, rec, _ := recordSpans(t)
	var clients *HTTPClients
	newApp(t, testEnv("spellchecker_service", c, "HTTP_CIRCUIT_BREAKER_FAILURE_THRESHOLD=1"),
		fx.Options(tracing, fx.Populate(&clients)))
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer down.Close()
	client := clients.For("file_service")

	for range 2 { // the first trips the breaker, the second is rejected
		if resp, err := client.Get(down.URL); err == nil {
			resp.Body.Close()
		}
	}
	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans ended, want one per request", len(spans))
	}
	if events := spans[0].Events(); len(events) != 0 {
		t.Errorf("the request that was sent has events %v, want none", events)
	}
	rejected := spans[1].Events()
	if len(rejected) != 1 || rejected[0].Name != observability.EventBreakerRejected {
		t.Fatalf("rejected request's span events = %v, want one %s", rejected, observability.EventBreakerRejected)
	}
	for _, a := range rejected[0].Attributes {
		if string(a.Key) == observability.AttrCircuitName && a.Value.AsString() != "spellchecker_service.file_service" {
			t.Errorf("rejection names breaker %q", a.Value.AsString())
		}
	}
	clients.CloseIdleConnections()
}

func TestConsumedEventContinuesThePublishSpan(t *testing.T) {
	c := newCluster(t)
	tracing, rec, tracer := recordSpans(t)
	var bus kafkabus.Bus
	consumed := make(chan trace.SpanContext, 1)
	startApp(t, testEnv("thing_service", c), fx.Options(tracing, fx.Populate(&bus),
		AsSubscriptions(func() []Subscription {
			return []Subscription{{Topic: topicA, Handler: func(ctx context.Context, _ *event.Envelope) error {
				consumed <- trace.SpanContextFromContext(ctx)
				return nil
			}}}
		})))

	ctx, handler := tracer.Start(errctx.WithCorrelation(context.Background(), "corr-span"), "handler")
	if err := bus.Publish(ctx, topicA, "k", newEnvelope(t, `{}`)); err != nil {
		t.Fatal(err)
	}
	handler.End()
	var inHandler trace.SpanContext
	select {
	case inHandler = <-consumed:
	case <-time.After(30 * time.Second):
		t.Fatal("the event was not consumed")
	}

	publish := endedSpan(t, rec, "kafka.publish")
	consume := waitForSpan(t, rec, "consume "+topicA)
	if publish.Parent().SpanID() != handler.SpanContext().SpanID() {
		t.Errorf("kafka.publish has parent %v, want the publishing handler's span", publish.Parent().SpanID())
	}
	if consume.Parent().SpanID() != publish.SpanContext().SpanID() || consume.SpanContext().TraceID() != handler.SpanContext().TraceID() {
		t.Errorf("consumer span has parent %v in trace %v; want kafka.publish %v in trace %v",
			consume.Parent().SpanID(), consume.SpanContext().TraceID(), publish.SpanContext().SpanID(), handler.SpanContext().TraceID())
	}
	if consume.SpanKind() != trace.SpanKindConsumer || inHandler.SpanID() != consume.SpanContext().SpanID() {
		t.Errorf("handler ran in span %v, want the consumer span %v", inHandler.SpanID(), consume.SpanContext().SpanID())
	}
}
