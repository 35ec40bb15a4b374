package servicekit

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/errctx"
)

// tracerName is the instrumentation scope of servicekit's own spans: API
// requests and HTTPClients calls.
const tracerName = "github.com/huleedu/huleedu/servicekit"

// apiHandler is the service's API: a ServeMux of the registered routes
// behind a middleware that gives every request its identity (correlation
// id, service, trace), turns a panic into a 500 and makes every error
// answer JSON (see JSONErrors).
type apiHandler struct {
	service string
	mux     *http.ServeMux
	log     *slog.Logger
	tracer  trace.Tracer
}

// newAPIHandler registers routes on a new ServeMux. An invalid or
// conflicting pattern is an error naming it. Each request runs in a server
// span from tracer that continues the caller's traceparent.
func newAPIHandler(service string, routes []Route, log *slog.Logger, tracer trace.Tracer) (h http.Handler, err error) {
	mux := http.NewServeMux()
	for _, rt := range routes {
		if rt.Handler == nil {
			return nil, fmt.Errorf("servicekit: %s: route %q has no handler", service, rt.Pattern)
		}
		if err := register(mux, rt); err != nil {
			return nil, fmt.Errorf("servicekit: %s: %w", service, err)
		}
	}
	return &apiHandler{service: service, mux: mux, log: log, tracer: tracer}, nil
}

// register adds rt to mux; ServeMux panics on a bad or conflicting
// pattern, which is a configuration error, reported as one.
func register(mux *http.ServeMux, rt Route) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("route %q: %v", rt.Pattern, p)
		}
	}()
	mux.Handle(rt.Pattern, rt.Handler)
	return nil
}

func (h *apiHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	ctx := traceContext.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
	corr := strings.TrimSpace(req.Header.Get(HeaderCorrelationID))
	if corr == "" || len(corr) > maxCorrelationIDLen {
		corr = uuid.NewString()
	}
	w.Header().Set(HeaderCorrelationID, corr)
	ctx = errctx.WithCorrelation(errctx.WithService(ctx, h.service), corr)
	route := h.route(req)
	name := req.Method
	if route != "" {
		name += " " + route
	}
	ctx, span := h.tracer.Start(ctx, name, serverKind)
	defer span.End()
	recording := span.IsRecording()
	if recording {
		span.SetAttributes(
			attribute.String("http.request.method", req.Method),
			attribute.String("http.route", route),
			attribute.String("url.path", req.URL.Path))
	}

	// Every error answer is JSON, the mux's own 404 and 405 included.
	jw := &jsonErrorWriter{ResponseWriter: w, req: req}
	rec := &statusRecorder{ResponseWriter: jw, status: http.StatusOK}
	inner := req.WithContext(ctx)
	defer func() {
		if p := recover(); p != nil {
			h.log.ErrorContext(ctx, "API handler panicked", "method", req.Method, "path", req.URL.Path,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !rec.wrote {
				http.Error(rec, "internal error", http.StatusInternalServerError)
			}
		}
		jw.finish()
		if recording {
			span.SetAttributes(attribute.Int("http.response.status_code", rec.status))
			if rec.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rec.status))
			}
		}
		h.log.DebugContext(ctx, "request", "method", req.Method, "path", req.URL.Path,
			"status", rec.status, "duration_ms", time.Since(start).Milliseconds())
	}()
	h.mux.ServeHTTP(rec, inner)
}

// maxCorrelationIDLen bounds a caller's X-Correlation-ID: the id goes into
// every log line, span and event of the request, so a longer one is
// replaced by a new id (httpjson.CorrelationID applies the same bound).
const maxCorrelationIDLen = 128

// serverKind is built once: span options allocate, and without a tracer
// provider the span is a no-op that should cost next to nothing.
var serverKind = trace.WithSpanKind(trace.SpanKindServer)

// route returns the pattern that serves req without its method
// ("/v1/batches/{id}"), looking into a service's own ServeMux (MuxRoutes
// registers it as the one route "/"); empty when nothing matches. It names
// the server span, which a sampler sees when it starts.
func (h *apiHandler) route(req *http.Request) string {
	handler, pattern := h.mux.Handler(req)
	if sub, ok := handler.(*http.ServeMux); ok {
		_, pattern = sub.Handler(req)
	}
	if _, path, ok := strings.Cut(pattern, " "); ok {
		return path
	}
	return pattern
}

// statusRecorder remembers the response status for the log and the span.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
