package errctx

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"
)

// logStackFrames is how many frames LogValue keeps: enough to see where the
// error came from, few enough that a log line stays a line.
const logStackFrames = 3

// jsonError fixes the field names and their order in MarshalJSON's output;
// dashboards and log queries depend on them.
type jsonError struct {
	ErrorType     string                     `json:"error_type"`
	Message       string                     `json:"message"`
	Service       string                     `json:"service,omitempty"`
	Operation     string                     `json:"operation,omitempty"`
	CorrelationID string                     `json:"correlation_id,omitempty"`
	TraceID       string                     `json:"trace_id,omitempty"`
	SpanID        string                     `json:"span_id,omitempty"`
	Timestamp     time.Time                  `json:"timestamp,omitzero"`
	Stack         []Frame                    `json:"stack,omitempty"`
	Extra         map[string]json.RawMessage `json:"extra,omitempty"`
	Cause         any                        `json:"cause,omitempty"`
}

// MarshalJSON encodes the Error with the field names error_type, message,
// service, operation, correlation_id, trace_id, span_id, timestamp, stack,
// extra and cause, in that order. Empty fields other than error_type and
// message are left out. A cause that is itself an *Error is nested as an
// object; any other cause is its Error() string. Extra values that cannot
// be encoded as JSON (functions, channels, cycles) are written as their
// fmt.Sprint text and error values as their Error() text, so encoding an
// Error never fails because of what someone put into Extra.
func (e *Error) MarshalJSON() ([]byte, error) {
	if e == nil {
		return []byte("null"), nil
	}
	out := jsonError{
		ErrorType:     e.Type,
		Message:       e.Message,
		Service:       e.Service,
		Operation:     e.Operation,
		CorrelationID: e.CorrelationID,
		TraceID:       e.TraceID,
		SpanID:        e.SpanID,
		Timestamp:     e.Timestamp,
		Stack:         e.Stack,
	}
	if len(e.Extra) > 0 {
		out.Extra = make(map[string]json.RawMessage, len(e.Extra))
		for k, v := range e.Extra {
			out.Extra[k] = encodeExtra(v)
		}
	}
	switch c := e.Cause.(type) {
	case nil:
	case *Error:
		out.Cause = c
	default:
		out.Cause = c.Error()
	}
	return json.Marshal(out)
}

func encodeExtra(v any) json.RawMessage {
	if err, ok := v.(error); ok {
		v = err.Error()
	}
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(fmt.Sprint(v))
	}
	return b
}

// LogValue implements slog.LogValuer: logging an *Error (slog.Any("error",
// err)) writes a group with error_type, message, the non-empty context
// fields, extra, the first three stack frames and the cause (a nested group
// when it is an *Error).
func (e *Error) LogValue() slog.Value {
	if e == nil {
		return slog.StringValue("<nil>")
	}
	attrs := make([]slog.Attr, 0, 11)
	attrs = append(attrs,
		slog.String("error_type", e.Type),
		slog.String("message", e.Message))
	for _, kv := range e.contextFields() {
		if kv[1] != "" {
			attrs = append(attrs, slog.String(kv[0], kv[1]))
		}
	}
	if len(e.Extra) > 0 {
		extra := make([]slog.Attr, 0, len(e.Extra))
		for _, k := range slices.Sorted(maps.Keys(e.Extra)) {
			extra = append(extra, slog.Any(k, e.Extra[k]))
		}
		attrs = append(attrs, slog.Attr{Key: "extra", Value: slog.GroupValue(extra...)})
	}
	if len(e.Stack) > 0 {
		n := min(len(e.Stack), logStackFrames)
		stack := make([]string, n)
		for i := range n {
			stack[i] = e.Stack[i].String()
		}
		attrs = append(attrs, slog.Any("stack", stack))
	}
	switch c := e.Cause.(type) {
	case nil:
	case *Error:
		attrs = append(attrs, slog.Any("cause", c))
	default:
		attrs = append(attrs, slog.String("cause", c.Error()))
	}
	return slog.GroupValue(attrs...)
}
