package observability

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// instrumentationName names the tracer Traced uses when given none.
const instrumentationName = "github.com/huleedu/huleedu/observability"

// Environment variables SetupTracing reads itself. The SDK and the OTLP
// exporter read the rest (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER[_ARG], OTEL_BSP_*, OTEL_EXPORTER_OTLP_HEADERS, ...).
const (
	envSDKDisabled        = "OTEL_SDK_DISABLED"
	envTracesExporter     = "OTEL_TRACES_EXPORTER"
	envOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envOTLPProtocol       = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envOTLPTracesProtocol = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
)

// Tracer returns a tracer named name from the global tracer provider. It
// follows a provider installed later by SetupTracing, so it is safe to call
// in package-level variables.
func Tracer(name string) trace.Tracer {
	return otel.Tracer(name)
}

// SetupTracing configures OpenTelemetry tracing from the standard OTEL_*
// environment variables and installs it globally, together with the W3C
// TraceContext and Baggage propagators (installed in every case, so trace
// context is passed on even when this process exports nothing).
//
// Which exporter:
//
//   - OTEL_SDK_DISABLED=true, OTEL_TRACES_EXPORTER=none, or neither
//     OTEL_TRACES_EXPORTER nor an OTLP endpoint set: nothing is installed.
//     The global provider is left as it was (the no-op default), spans do
//     not record, and tracing costs (almost) nothing.
//   - OTEL_TRACES_EXPORTER unset but OTEL_EXPORTER_OTLP_ENDPOINT (or
//     OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set: OTLP over HTTP.
//   - OTEL_TRACES_EXPORTER is a comma-separated list of otlp (OTLP over
//     HTTP/protobuf, batched), console or stdout (JSON lines on stdout,
//     synchronous, for development) and none.
//
// Any other exporter name, or an OTLP protocol other than http/protobuf,
// is an error that names the variable and the accepted values; nothing is
// installed then. The resource has service.name=service unless
// OTEL_SERVICE_NAME says otherwise.
//
// shutdown flushes buffered spans and stops the exporters; call it once,
// at exit, with a deadline. It is never nil.
func SetupTracing(ctx context.Context, service string) (shutdown func(context.Context) error, err error) {
	return SetupTracingTo(ctx, service, os.Stdout)
}

// SetupTracingTo is SetupTracing with the console exporter writing to
// console instead of stdout (stderr, say, when stdout carries the logs).
func SetupTracingTo(ctx context.Context, service string, console io.Writer) (shutdown func(context.Context) error, err error) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(
		propagation.TraceContext{}, propagation.Baggage{}))
	noShutdown := func(context.Context) error { return nil }

	names, err := exporterNames()
	if err != nil || len(names) == 0 {
		return noShutdown, err
	}

	var (
		opts      []sdktrace.TracerProviderOption
		exporters []sdktrace.SpanExporter
	)
	// On an error nothing is installed: stop the exporters built so far.
	abandon := func() {
		for _, e := range exporters {
			_ = e.Shutdown(ctx)
		}
	}
	for _, name := range names {
		exp, batched, err := newExporter(ctx, name, console)
		if err != nil {
			abandon()
			return noShutdown, err
		}
		exporters = append(exporters, exp)
		if batched {
			opts = append(opts, sdktrace.WithBatcher(exp))
		} else {
			opts = append(opts, sdktrace.WithSyncer(exp))
		}
	}

	var resOpts []resource.Option
	if service != "" {
		resOpts = append(resOpts, resource.WithAttributes(attribute.String("service.name", service)))
	}
	// WithFromEnv comes last so OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win.
	resOpts = append(resOpts, resource.WithTelemetrySDK(), resource.WithFromEnv())
	res, err := resource.New(ctx, resOpts...)
	if err != nil {
		// A partial resource (one bad OTEL_RESOURCE_ATTRIBUTES entry) is
		// still worth exporting with; anything else is a configuration bug.
		if !errors.Is(err, resource.ErrPartialResource) {
			abandon()
			return noShutdown, fmt.Errorf("observability: tracing resource: %w", err)
		}
		otel.Handle(err)
	}
	opts = append(opts, sdktrace.WithResource(res))

	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	return tp.Shutdown, nil
}

// exporterNames returns the exporters to build, without "none".
func exporterNames() ([]string, error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv(envSDKDisabled)), "true") {
		return nil, nil
	}
	raw := strings.TrimSpace(os.Getenv(envTracesExporter))
	if raw == "" {
		if os.Getenv(envOTLPEndpoint) != "" || os.Getenv(envOTLPTracesEndpoint) != "" {
			return []string{"otlp"}, nil
		}
		return nil, nil
	}
	var names []string
	for _, n := range strings.Split(raw, ",") {
		switch n = strings.ToLower(strings.TrimSpace(n)); n {
		case "none", "":
		case "otlp", "console", "stdout":
			names = append(names, n)
		default:
			return nil, fmt.Errorf("observability: %s=%q: unsupported exporter %q (want otlp, console, stdout or none)",
				envTracesExporter, raw, n)
		}
	}
	return names, nil
}

// newExporter builds one exporter; batched says whether it goes behind a
// batch processor (network) or is called synchronously (console, so a
// developer sees each span as it ends).
func newExporter(ctx context.Context, name string, console io.Writer) (exp sdktrace.SpanExporter, batched bool, err error) {
	switch name {
	case "console", "stdout":
		exp, err = stdouttrace.New(stdouttrace.WithWriter(console))
		if err != nil {
			return nil, false, fmt.Errorf("observability: %s=%s: %w", envTracesExporter, name, err)
		}
		return exp, false, nil
	default: // "otlp"; exporterNames admits nothing else.
		if err := checkOTLPProtocol(); err != nil {
			return nil, false, err
		}
		// otlptracehttp reads the endpoint, headers, timeout, compression
		// and TLS settings from the OTEL_EXPORTER_OTLP_* variables itself.
		exp, err = otlptracehttp.New(ctx)
		if err != nil {
			return nil, false, fmt.Errorf("observability: OTLP trace exporter: %w", err)
		}
		return exp, true, nil
	}
}

// checkOTLPProtocol refuses protocols this binary does not link in, rather
// than silently speaking HTTP to a gRPC collector.
func checkOTLPProtocol() error {
	for _, key := range []string{envOTLPTracesProtocol, envOTLPProtocol} {
		v := strings.TrimSpace(os.Getenv(key))
		if v == "" {
			continue
		}
		if v != "http/protobuf" {
			return fmt.Errorf("observability: %s=%q: unsupported OTLP protocol (want http/protobuf)", key, v)
		}
		return nil // the traces-specific variable wins over the general one
	}
	return nil
}
