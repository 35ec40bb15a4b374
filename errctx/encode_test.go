package errctx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/errctx"
)

// goldenError has every field set, with a fixed stack and time, so its JSON
// is byte-for-byte stable.
func goldenError() *errctx.Error {
	return &errctx.Error{
		Type:          "kafka_publish_failed",
		Message:       "publish essay event",
		Service:       "file_service",
		Operation:     "publish_event",
		CorrelationID: "corr-1",
		TraceID:       "0102030405060708090a0b0c0d0e0f10",
		SpanID:        "0102030405060708",
		Timestamp:     time.Date(2025, 3, 4, 5, 6, 7, 8000, time.UTC),
		Stack:         []errctx.Frame{{Function: "main.publish", File: "/src/main.go", Line: 42}},
		Extra:         map[string]any{"topic": "essays", "attempt": 3},
		Cause:         errCircuitOpen,
	}
}

func TestMarshalJSONHasGoldenShape(t *testing.T) {
	got, err := json.Marshal(goldenError())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error_type":"kafka_publish_failed","message":"publish essay event",` +
		`"service":"file_service","operation":"publish_event","correlation_id":"corr-1",` +
		`"trace_id":"0102030405060708090a0b0c0d0e0f10","span_id":"0102030405060708",` +
		`"timestamp":"2025-03-04T05:06:07.000008Z",` +
		`"stack":[{"function":"main.publish","file":"/src/main.go","line":42}],` +
		`"extra":{"attempt":3,"topic":"essays"},` +
		`"cause":"resilience: circuit open"}`
	if string(got) != want {
		t.Fatalf("JSON shape changed\n got: %s\nwant: %s", got, want)
	}
}

func TestMarshalJSONLeavesOutEmptyFields(t *testing.T) {
	got, err := json.Marshal(&errctx.Error{Type: "validation", Message: "empty topic"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"error_type":"validation","message":"empty topic"}`; string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestMarshalJSONNestsErrorCause(t *testing.T) {
	inner := &errctx.Error{Type: "kafka", Message: "not leader", Cause: errors.New("NOT_LEADER_FOR_PARTITION")}
	outer := &errctx.Error{Type: "publish", Message: "failed", Cause: inner}
	got, err := json.Marshal(outer)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"error_type":"publish","message":"failed","cause":` +
		`{"error_type":"kafka","message":"not leader","cause":"NOT_LEADER_FOR_PARTITION"}}`
	if string(got) != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestMarshalJSONSurvivesUnencodableExtra(t *testing.T) {
	e := &errctx.Error{Type: "t", Message: "m", Extra: map[string]any{
		"fn":    func() {},
		"ch":    make(chan int),
		"err":   errCircuitOpen,
		"plain": 1.5,
	}}
	got, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("Marshal failed: %v", err)
	}
	var decoded struct {
		Extra map[string]any `json:"extra"`
	}
	if err := json.Unmarshal(got, &decoded); err != nil {
		t.Fatal(err)
	}
	if decoded.Extra["err"] != "resilience: circuit open" || decoded.Extra["plain"] != 1.5 {
		t.Fatalf("extra = %v", decoded.Extra)
	}
	for _, k := range []string{"fn", "ch"} {
		if s, ok := decoded.Extra[k].(string); !ok || !strings.HasPrefix(s, "0x") {
			t.Errorf("extra[%s] = %#v, want its printed pointer", k, decoded.Extra[k])
		}
	}
}

func TestSlogJSONHandlerWritesErrorFields(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	e := goldenError()
	e.Stack = append(e.Stack,
		errctx.Frame{Function: "main.b", File: "b.go", Line: 2},
		errctx.Frame{Function: "main.c", File: "c.go", Line: 3},
		errctx.Frame{Function: "main.d", File: "d.go", Line: 4})
	// Logged as a plain error value, as callers do.
	var err error = errctx.Wrap(context.Background(), e, "handler", "upload failed", errctx.WithStackDepth(0))
	logger.Error("request failed", "error", err)

	var line struct {
		Error struct {
			ErrorType string `json:"error_type"`
			Message   string `json:"message"`
			Cause     struct {
				ErrorType     string         `json:"error_type"`
				Service       string         `json:"service"`
				Operation     string         `json:"operation"`
				CorrelationID string         `json:"correlation_id"`
				TraceID       string         `json:"trace_id"`
				SpanID        string         `json:"span_id"`
				Extra         map[string]any `json:"extra"`
				Stack         []string       `json:"stack"`
				Cause         string         `json:"cause"`
			} `json:"cause"`
		} `json:"error"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("log line is not JSON: %v\n%s", err, buf.String())
	}
	le, c := line.Error, line.Error.Cause
	if le.ErrorType != "handler" || le.Message != "upload failed" {
		t.Errorf("outer fields = %+v", le)
	}
	if c.ErrorType != "kafka_publish_failed" || c.Service != "file_service" || c.Operation != "publish_event" ||
		c.CorrelationID != "corr-1" || c.TraceID == "" || c.SpanID == "" || c.Cause != "resilience: circuit open" {
		t.Errorf("cause fields = %+v", c)
	}
	if c.Extra["topic"] != "essays" {
		t.Errorf("extra = %v", c.Extra)
	}
	if len(c.Stack) != 3 || c.Stack[0] != "main.publish /src/main.go:42" {
		t.Errorf("stack = %q, want the first 3 of 4 frames", c.Stack)
	}
}
