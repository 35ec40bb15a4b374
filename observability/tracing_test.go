package observability_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/huleedu/huleedu/observability"
)

// tracingEnv lists every variable SetupTracing decides on; each test starts
// with all of them empty but those it sets, and the global provider is
// restored afterwards.
var tracingEnv = []string{
	"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_SERVICE_NAME",
}

func setTracingEnv(t *testing.T, env map[string]string) {
	t.Helper()
	for _, k := range tracingEnv {
		t.Setenv(k, "")
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	t.Cleanup(func() {
		otel.SetTracerProvider(prevTP)
		otel.SetTextMapPropagator(prevProp)
	})
}

func TestSetupTracingWithoutEnvInstallsNothing(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
	}{
		{"no variables", nil},
		{"exporter none", map[string]string{"OTEL_TRACES_EXPORTER": "none"}},
		{"exporter none wins over an endpoint", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1"}},
		{"SDK disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "console"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setTracingEnv(t, tt.env)
			before := otel.GetTracerProvider()
			shutdown, err := observability.SetupTracing(context.Background(), "svc")
			if err != nil {
				t.Fatal(err)
			}
			if otel.GetTracerProvider() != before {
				t.Fatalf("a tracer provider was installed: %T", otel.GetTracerProvider())
			}
			_, span := observability.Tracer("x").Start(context.Background(), "op")
			if span.IsRecording() {
				t.Fatal("span records without any exporter configured")
			}
			span.End()
			if err := shutdown(context.Background()); err != nil {
				t.Fatalf("shutdown: %v", err)
			}
		})
	}
}

func TestSetupTracingInstallsTraceContextPropagator(t *testing.T) {
	setTracingEnv(t, nil)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator())
	shutdown, err := observability.SetupTracing(context.Background(), "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = shutdown(context.Background()) }()
	fields := otel.GetTextMapPropagator().Fields()
	if !slices.Contains(fields, "traceparent") || !slices.Contains(fields, "baggage") {
		t.Fatalf("propagator fields = %v", fields)
	}
}

func TestSetupTracingConsoleExporterWritesSpansToStdout(t *testing.T) {
	setTracingEnv(t, map[string]string{"OTEL_TRACES_EXPORTER": "console"})
	var out bytes.Buffer
	shutdown, err := observability.SetupTracingTo(context.Background(), "file_service", &out)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := otel.GetTracerProvider().(*sdktrace.TracerProvider); !ok {
		t.Fatalf("provider = %T, want the SDK's", otel.GetTracerProvider())
	}
	_, span := observability.Tracer("x").Start(context.Background(), "upload")
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Name":"upload"`, `"Value":"file_service"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("console output lacks %s:\n%s", want, out.String())
		}
	}
}

func TestSetupTracingExportsOverOTLPHTTPWhenEndpointSet(t *testing.T) {
	setTracingEnv(t, nil)
	var (
		mu       sync.Mutex
		requests []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+string(body))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer srv.Close()
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)

	shutdown, err := observability.SetupTracing(context.Background(), "file_service")
	if err != nil {
		t.Fatal(err)
	}
	_, span := observability.Tracer("x").Start(context.Background(), "publish_essay")
	span.End()
	// Shutdown flushes the batch processor: the export has happened when it returns.
	if err := shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(requests) != 1 {
		t.Fatalf("%d export requests, want 1: %q", len(requests), requests)
	}
	req := requests[0]
	if !strings.HasPrefix(req, "POST /v1/traces application/x-protobuf") ||
		!strings.Contains(req, "publish_essay") || !strings.Contains(req, "file_service") {
		t.Fatalf("export request = %q", req)
	}
}

func TestSetupTracingRejectsUnsupportedSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string
	}{
		{"unknown exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"},
			`OTEL_TRACES_EXPORTER="zipkin": unsupported exporter "zipkin" (want otlp, console, stdout or none)`},
		{"unknown exporter in a list", map[string]string{"OTEL_TRACES_EXPORTER": "console,jaeger"},
			`unsupported exporter "jaeger"`},
		{"grpc protocol", map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			`OTEL_EXPORTER_OTLP_PROTOCOL="grpc": unsupported OTLP protocol (want http/protobuf)`},
		{"grpc traces protocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:1", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
			`OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="grpc"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setTracingEnv(t, tt.env)
			before := otel.GetTracerProvider()
			shutdown, err := observability.SetupTracing(context.Background(), "svc")
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if otel.GetTracerProvider() != before {
				t.Fatal("a provider was installed despite the error")
			}
			if shutdown == nil || shutdown(context.Background()) != nil {
				t.Fatal("shutdown must be a usable no-op after an error")
			}
		})
	}
}
