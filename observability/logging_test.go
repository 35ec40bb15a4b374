package observability_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/huleedu/huleedu/errctx"
	"github.com/huleedu/huleedu/observability"
	"github.com/huleedu/huleedu/resilience"
)

// decodeLines parses one JSON object per line.
func decodeLines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

func TestNewLoggerAddsService(t *testing.T) {
	var buf bytes.Buffer
	observability.NewLogger(&buf, "file_service", slog.LevelInfo).Info("started")
	rec := decodeLines(t, &buf)[0]
	if rec["service"] != "file_service" || rec["msg"] != "started" {
		t.Fatalf("record = %v", rec)
	}
}

func TestLoggerAddsCorrelationAndTraceIDsFromContext(t *testing.T) {
	_, tracer := newTestTracer(t)
	ctx, span := tracer.Start(context.Background(), "handle")
	defer span.End()
	ctx = errctx.WithCorrelation(ctx, "corr-42")

	var buf bytes.Buffer
	logger := observability.NewLogger(&buf, "file_service", slog.LevelInfo)
	logger.InfoContext(ctx, "uploaded", "files", 2)
	logger.With("component", "bus").WarnContext(ctx, "spooling")

	sc := span.SpanContext()
	for _, rec := range decodeLines(t, &buf) {
		if rec["correlation_id"] != "corr-42" || rec["trace_id"] != sc.TraceID().String() ||
			rec["span_id"] != sc.SpanID().String() || rec["service"] != "file_service" {
			t.Errorf("record lacks ids: %v", rec)
		}
	}
}

func TestLoggerOmitsIDsContextDoesNotHave(t *testing.T) {
	var buf bytes.Buffer
	logger := observability.NewLogger(&buf, "svc", slog.LevelInfo)
	logger.InfoContext(context.Background(), "no ids")
	logger.Info("no context")
	for _, rec := range decodeLines(t, &buf) {
		for _, k := range []string{"correlation_id", "trace_id", "span_id"} {
			if _, ok := rec[k]; ok {
				t.Errorf("record has %s without a source: %v", k, rec)
			}
		}
	}
}

func TestLoggerDropsRecordsBelowLevel(t *testing.T) {
	var buf bytes.Buffer
	level := new(slog.LevelVar)
	level.Set(slog.LevelWarn)
	logger := observability.NewLogger(&buf, "svc", level)
	logger.Info("dropped")
	logger.Warn("kept")
	level.Set(slog.LevelDebug)
	logger.Debug("kept after lowering the level")
	recs := decodeLines(t, &buf)
	if len(recs) != 2 || recs[0]["msg"] != "kept" {
		t.Fatalf("records = %v", recs)
	}
}

// fakeTransitions is a TransitionSource whose listeners the test fires.
type fakeTransitions struct {
	mu        sync.Mutex
	listeners map[int]func(string, resilience.State, resilience.State)
	next      int
}

func (f *fakeTransitions) Subscribe(fn func(name string, from, to resilience.State)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listeners == nil {
		f.listeners = map[int]func(string, resilience.State, resilience.State){}
	}
	id := f.next
	f.next++
	f.listeners[id] = fn
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.listeners, id)
	}
}

func (f *fakeTransitions) fire(name string, from, to resilience.State) {
	f.mu.Lock()
	fns := make([]func(string, resilience.State, resilience.State), 0, len(f.listeners))
	for _, fn := range f.listeners {
		fns = append(fns, fn)
	}
	f.mu.Unlock()
	for _, fn := range fns {
		fn(name, from, to)
	}
}

func TestLogTransitionsLogsEachChangeOnceAtItsLevel(t *testing.T) {
	tests := []struct {
		from, to  resilience.State
		wantLevel string
	}{
		{resilience.StateClosed, resilience.StateOpen, "WARN"},
		{resilience.StateHalfOpen, resilience.StateOpen, "WARN"},
		{resilience.StateOpen, resilience.StateHalfOpen, "INFO"},
		{resilience.StateHalfOpen, resilience.StateClosed, "INFO"},
		{resilience.StateOpen, resilience.StateClosed, "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.from.String()+"_to_"+tt.to.String(), func(t *testing.T) {
			var buf bytes.Buffer
			src := &fakeTransitions{}
			cancel := observability.LogTransitions(observability.NewLogger(&buf, "svc", slog.LevelInfo), src)
			defer cancel()
			src.fire("kafka", tt.from, tt.to)

			recs := decodeLines(t, &buf)
			if len(recs) != 1 {
				t.Fatalf("%d records, want 1", len(recs))
			}
			r := recs[0]
			if r["level"] != tt.wantLevel || r["msg"] != "circuit breaker state changed" || r["circuit_name"] != "kafka" ||
				r["from_state"] != tt.from.String() || r["to_state"] != tt.to.String() {
				t.Fatalf("record = %v", r)
			}
		})
	}
}

func TestLogTransitionsStopsAfterCancel(t *testing.T) {
	var buf bytes.Buffer
	src := &fakeTransitions{}
	cancel := observability.LogTransitions(observability.NewLogger(&buf, "svc", slog.LevelInfo), src)
	cancel()
	src.fire("kafka", resilience.StateClosed, resilience.StateOpen)
	if buf.Len() != 0 {
		t.Fatalf("logged after cancel: %s", buf.String())
	}
}

// The ContextHandler's keys are errctx's JSON field names, so that one
// query finds a request's log lines and its errors (LogKey*'s doc).
func TestLogKeysMatchErrctxJSONFieldNames(t *testing.T) {
	b, err := json.Marshal(&errctx.Error{Service: "s", CorrelationID: "c", TraceID: "t", SpanID: "p"})
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		observability.LogKeyService:       "s",
		observability.LogKeyCorrelationID: "c",
		observability.LogKeyTraceID:       "t",
		observability.LogKeySpanID:        "p",
	} {
		if fields[key] != want {
			t.Errorf("errctx JSON has %s=%v, want %q: the log key and the error field differ", key, fields[key], want)
		}
	}
}
