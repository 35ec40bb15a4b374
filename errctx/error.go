package errctx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// Error is an error with the context an operator needs to find its cause:
// what kind of failure it is, where it happened (service, operation, stack),
// which request it belongs to (correlation id, trace and span ids) and the
// error it wraps.
//
// Create it with New or Wrap, which fill the context fields from ctx. The
// fields are exported so handlers and tests can read them; an Error is not
// safe to modify while another goroutine reads it.
type Error struct {
	// Type classifies the failure for callers and dashboards
	// ("kafka_unavailable", "validation", "circuit_open"). Keep it a small,
	// stable vocabulary: it becomes a label and a log field.
	Type string
	// Message says what went wrong, for humans.
	Message string
	// Service and Operation say where: from WithService/WithOperation on
	// the context, or the ForService/ForOperation options.
	Service   string
	Operation string
	// CorrelationID ties the error to a request or an event across
	// services (from WithCorrelation on the context).
	CorrelationID string
	// TraceID and SpanID are the hex ids of the OpenTelemetry span that was
	// current when the error was created; empty when there was none.
	TraceID string
	SpanID  string
	// Timestamp is when the error was created.
	Timestamp time.Time
	// Stack is the call stack at creation, innermost frame (the caller of
	// New or Wrap) first.
	Stack []Frame
	// Extra holds further details (topic, key, attempt, ...).
	Extra map[string]any
	// Cause is the wrapped error, returned by Unwrap.
	Cause error
}

// New returns an Error of the given type and message, with service,
// operation, correlation id and trace/span ids taken from ctx (options
// override them), the current time and the caller's stack. A nil ctx is
// treated as context.Background().
func New(ctx context.Context, errType, msg string, opts ...Option) *Error {
	return build(ctx, nil, errType, msg, opts)
}

// Wrap is New with a cause: the returned Error unwraps to cause, so
// errors.Is and errors.As see through it. Wrap(ctx, nil, ...) returns nil.
//
// When ctx carries no correlation id (or no span) but cause already is or
// wraps an *Error that has one, the new Error inherits it, so the request's
// identity survives layers that did not receive the original context.
//
// Wrap returns the concrete type: assigning a nil result to an error
// variable gives a non-nil error, so test err before wrapping when the
// result is returned as an error:
//
//	if err != nil {
//		return errctx.Wrap(ctx, err, "storage", "append failed")
//	}
func Wrap(ctx context.Context, cause error, errType, msg string, opts ...Option) *Error {
	if cause == nil {
		return nil
	}
	return build(ctx, cause, errType, msg, opts)
}

// build is called directly by New and Wrap, so the frames to skip before the
// user's code are fixed: runtime.Callers, captureStack, build, New/Wrap.
const callerSkip = 4

func build(ctx context.Context, cause error, errType, msg string, opts []Option) *Error {
	if ctx == nil {
		ctx = context.Background()
	}
	e := &Error{
		Type:          errType,
		Message:       msg,
		Service:       Service(ctx),
		Operation:     Operation(ctx),
		CorrelationID: CorrelationID(ctx),
		Timestamp:     time.Now().UTC(),
		Cause:         cause,
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		e.TraceID = sc.TraceID().String()
		e.SpanID = sc.SpanID().String()
	}
	if inner, ok := As(cause); ok {
		if e.CorrelationID == "" {
			e.CorrelationID = inner.CorrelationID
		}
		if e.TraceID == "" {
			e.TraceID, e.SpanID = inner.TraceID, inner.SpanID
		}
	}
	cfg := config{err: e, depth: defaultStackDepth}
	for _, opt := range opts {
		if opt != nil {
			opt(&cfg)
		}
	}
	e.Stack = captureStack(callerSkip+cfg.skip, cfg.depth)
	return e
}

// Error returns "type: message: cause", leaving out empty parts.
func (e *Error) Error() string {
	if e == nil {
		return "<nil>"
	}
	parts := make([]string, 0, 3)
	if e.Type != "" {
		parts = append(parts, e.Type)
	}
	if e.Message != "" {
		parts = append(parts, e.Message)
	}
	if e.Cause != nil {
		parts = append(parts, e.Cause.Error())
	}
	if len(parts) == 0 {
		return "errctx: unspecified error"
	}
	return strings.Join(parts, ": ")
}

// Unwrap returns the cause, so errors.Is and errors.As look through the
// Error to what it wraps.
func (e *Error) Unwrap() error {
	if e == nil {
		return nil
	}
	return e.Cause
}

// Format implements fmt.Formatter: %s and %v print Error(), %q quotes it,
// and %+v adds the context fields and the stack, one frame per line.
func (e *Error) Format(f fmt.State, verb rune) {
	switch verb {
	case 'v':
		if f.Flag('+') {
			e.writeDetailed(f)
			return
		}
		_, _ = io.WriteString(f, e.Error())
	case 's':
		_, _ = io.WriteString(f, e.Error())
	case 'q':
		_, _ = fmt.Fprintf(f, "%q", e.Error())
	default:
		_, _ = fmt.Fprintf(f, "%%!%c(*errctx.Error=%s)", verb, e.Error())
	}
}

func (e *Error) writeDetailed(w io.Writer) {
	_, _ = io.WriteString(w, e.Error())
	if e == nil {
		return
	}
	for _, kv := range e.contextFields() {
		if kv[1] != "" {
			_, _ = fmt.Fprintf(w, "\n%s=%s", kv[0], kv[1])
		}
	}
	for _, fr := range e.Stack {
		_, _ = fmt.Fprintf(w, "\n\t%s\n\t\t%s:%d", fr.Function, fr.File, fr.Line)
	}
}

// contextFields pairs the context fields with their names in JSON, logs and
// %+v output.
func (e *Error) contextFields() [5][2]string {
	return [...][2]string{
		{"service", e.Service},
		{"operation", e.Operation},
		{"correlation_id", e.CorrelationID},
		{"trace_id", e.TraceID},
		{"span_id", e.SpanID},
	}
}

// As finds the first *Error in err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	if err != nil && errors.As(err, &e) && e != nil {
		return e, true
	}
	return nil, false
}
