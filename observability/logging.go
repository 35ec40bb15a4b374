package observability

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/resilience"
)

// Log attribute keys the ContextHandler adds. They match errctx's JSON field
// names, so one query finds a request's log lines and its errors.
const (
	LogKeyService       = "service"
	LogKeyCorrelationID = "correlation_id"
	LogKeyTraceID       = "trace_id"
	LogKeySpanID        = "span_id"
)

// NewLogger returns a JSON logger writing to w at level and above; every
// record carries service=service, and records logged with a context (the
// ...Context methods, such as InfoContext) carry its correlation id and
// trace/span ids (see ContextHandler). level may be a *slog.LevelVar to
// change it at run time.
func NewLogger(w io.Writer, service string, level slog.Leveler) *slog.Logger {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	return slog.New(NewContextHandler(h)).With(LogKeyService, service)
}

// ContextHandler is a slog.Handler that adds request identity from the
// record's context before passing it on: correlation_id (from
// errctx.CorrelationID) and trace_id/span_id (from the OpenTelemetry span in
// the context, when it is valid). Empty values are left out, so records
// logged without a context look as before.
//
// Like any attribute added while handling, they land inside the innermost
// group opened with WithGroup; log without open groups (or query both
// places) when the ids must be top-level.
type ContextHandler struct {
	next slog.Handler
}

// NewContextHandler wraps next.
func NewContextHandler(next slog.Handler) *ContextHandler {
	return &ContextHandler{next: next}
}

// Enabled reports whether next handles records at level.
func (h *ContextHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

// Handle adds the context's ids to r and passes it to next.
func (h *ContextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if id := errctx.CorrelationID(ctx); id != "" {
			r.AddAttrs(slog.String(LogKeyCorrelationID, id))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			r.AddAttrs(
				slog.String(LogKeyTraceID, sc.TraceID().String()),
				slog.String(LogKeySpanID, sc.SpanID().String()))
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs returns a ContextHandler around next.WithAttrs(attrs).
func (h *ContextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &ContextHandler{next: h.next.WithAttrs(attrs)}
}

// WithGroup returns a ContextHandler around next.WithGroup(name).
func (h *ContextHandler) WithGroup(name string) slog.Handler {
	return &ContextHandler{next: h.next.WithGroup(name)}
}

// TransitionSource announces breaker state changes. resilience.Registry
// implements it.
type TransitionSource interface {
	Subscribe(fn func(name string, from, to resilience.State)) (cancel func())
}

// LogTransitions logs every breaker state change src announces, once, until
// cancel is called: at Warn when a breaker opens, at Info when it closes or
// goes half-open. The record has the message "circuit breaker state changed"
// and the attributes circuit_name, from_state and to_state (closed, open,
// half_open). A nil logger means slog.Default().
func LogTransitions(logger *slog.Logger, src TransitionSource) (cancel func()) {
	if logger == nil {
		logger = slog.Default()
	}
	return src.Subscribe(func(name string, from, to resilience.State) {
		level := slog.LevelInfo
		if to == resilience.StateOpen {
			level = slog.LevelWarn
		}
		logger.LogAttrs(context.Background(), level, "circuit breaker state changed",
			slog.String(AttrCircuitName, name),
			slog.String("from_state", from.String()),
			slog.String("to_state", to.String()))
	})
}
