package observability_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

// staticBreakers stands in for a resilience.Registry.
type staticBreakers []resilience.Snapshot

func (s staticBreakers) Snapshots() []resilience.Snapshot { return s }

func ExampleNewBreakerCollector() {
	breakers := staticBreakers{{
		Name:   "kafka",
		State:  resilience.StateOpen,
		Totals: resilience.Counts{Successes: 41, Failures: 5, Rejected: 12},
	}}
	c := observability.NewBreakerCollector("file_service", breakers)

	// A real service registers c on observability.NewRegistry and serves it
	// with observability.Handler; here we print one scrape.
	out, _ := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, "circuit_breaker_state", "circuit_breaker_calls_total")
	for _, line := range strings.Split(string(out), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			fmt.Println(line)
		}
	}
	// Output:
	// circuit_breaker_calls_total{circuit_name="kafka",result="blocked",service="file_service"} 12
	// circuit_breaker_calls_total{circuit_name="kafka",result="failure",service="file_service"} 5
	// circuit_breaker_calls_total{circuit_name="kafka",result="ignored",service="file_service"} 0
	// circuit_breaker_calls_total{circuit_name="kafka",result="success",service="file_service"} 41
	// circuit_breaker_state{circuit_name="kafka",service="file_service"} 1
}

// passThrough is a Caller standing in for a resilience.CircuitBreaker.
type passThrough string

func (p passThrough) Name() string { return string(p) }
func (p passThrough) Call(ctx context.Context, fn func(context.Context) error) error {
	return fn(ctx)
}

func ExampleTraced() {
	// Usually observability.Tracer("file_service") after SetupTracing.
	tracer := noop.NewTracerProvider().Tracer("example")
	breaker := observability.Traced(tracer, passThrough("content_service"))

	err := breaker.Call(context.Background(), func(ctx context.Context) error {
		// ctx carries the circuit_breaker.call span: spans started here
		// are its children.
		return nil
	})
	fmt.Println(breaker.Name(), err)
	// Output: content_service <nil>
}

func ExampleNewContextHandler() {
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the example's output stable
			}
			return a
		},
	})
	logger := slog.New(observability.NewContextHandler(h)).With("service", "file_service")

	ctx := errctx.WithCorrelation(context.Background(), "4f1c")
	logger.InfoContext(ctx, "essay uploaded")
	// Output:
	// {"level":"INFO","msg":"essay uploaded","service":"file_service","correlation_id":"4f1c"}
}

func ExampleSetupTracing() {
	// With no OTEL_* variables this installs nothing; with
	// OTEL_EXPORTER_OTLP_ENDPOINT=http://collector:4318 it exports over OTLP.
	shutdown, err := observability.SetupTracing(context.Background(), "file_service")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = shutdown(context.Background()) }()

	_, span := observability.Tracer("file_service").Start(context.Background(), "upload")
	defer span.End()
}
