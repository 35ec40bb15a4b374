package errctx_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/huleedu/huleedu/errctx"
)

// errCircuitOpen stands in for resilience.ErrCircuitOpen: a sentinel callers
// branch on, which must stay visible through any number of wrappers.
var errCircuitOpen = errors.New("resilience: circuit open")

type temporaryError struct{ code int }

func (t *temporaryError) Error() string { return fmt.Sprintf("temporary %d", t.code) }

func TestErrorsIsSeesSentinelThroughWrap(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		err  error
	}{
		{"one layer", errctx.Wrap(ctx, errCircuitOpen, "circuit_open", "kafka breaker")},
		{"two layers", errctx.Wrap(ctx, errctx.Wrap(ctx, errCircuitOpen, "circuit_open", "inner"), "publish", "outer")},
		{"under fmt.Errorf", fmt.Errorf("handler: %w", errctx.Wrap(ctx, errCircuitOpen, "circuit_open", "x"))},
		{"over fmt.Errorf", errctx.Wrap(ctx, fmt.Errorf("bus: %w", errCircuitOpen), "publish", "x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, errCircuitOpen) {
				t.Fatalf("errors.Is(%v, errCircuitOpen) = false", tt.err)
			}
			if errors.Is(tt.err, fs.ErrNotExist) {
				t.Fatalf("errors.Is matched an unrelated sentinel")
			}
		})
	}
}

func TestErrorsAsFindsWrappedTypeThroughWrap(t *testing.T) {
	err := errctx.Wrap(context.Background(), &temporaryError{code: 7}, "kafka", "produce")
	var tmp *temporaryError
	if !errors.As(err, &tmp) || tmp.code != 7 {
		t.Fatalf("errors.As did not find *temporaryError in %v", err)
	}
}

func TestAsFindsErrorInChain(t *testing.T) {
	inner := errctx.New(context.Background(), "validation", "empty topic")
	got, ok := errctx.As(fmt.Errorf("publish: %w", inner))
	if !ok || got != inner {
		t.Fatalf("As = %v, %v; want the inner *Error", got, ok)
	}
}

func TestAsReportsFalseWithoutError(t *testing.T) {
	for _, err := range []error{nil, errCircuitOpen, fmt.Errorf("x: %w", errCircuitOpen)} {
		if got, ok := errctx.As(err); ok || got != nil {
			t.Errorf("As(%v) = %v, %v; want nil, false", err, got, ok)
		}
	}
}

func TestWrapNilCauseReturnsNil(t *testing.T) {
	if got := errctx.Wrap(context.Background(), nil, "x", "y"); got != nil {
		t.Fatalf("Wrap(nil) = %v, want nil", got)
	}
}

func TestUnwrapReturnsCause(t *testing.T) {
	e := errctx.Wrap(context.Background(), errCircuitOpen, "x", "y")
	if got := errors.Unwrap(e); got != errCircuitOpen {
		t.Fatalf("Unwrap = %v, want the cause", got)
	}
	if got := errctx.New(context.Background(), "x", "y").Unwrap(); got != nil {
		t.Fatalf("Unwrap without cause = %v, want nil", got)
	}
}

func TestErrorStringJoinsTypeMessageAndCause(t *testing.T) {
	tests := []struct {
		name string
		err  *errctx.Error
		want string
	}{
		{"all parts", &errctx.Error{Type: "kafka", Message: "publish failed", Cause: errCircuitOpen}, "kafka: publish failed: resilience: circuit open"},
		{"no cause", &errctx.Error{Type: "validation", Message: "empty topic"}, "validation: empty topic"},
		{"no message", &errctx.Error{Type: "kafka", Cause: errCircuitOpen}, "kafka: resilience: circuit open"},
		{"no type", &errctx.Error{Message: "publish failed"}, "publish failed"},
		{"nothing", &errctx.Error{}, "errctx: unspecified error"},
		{"nil receiver", nil, "<nil>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Fatalf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewTakesServiceOperationAndCorrelationFromContext(t *testing.T) {
	ctx := errctx.WithService(context.Background(), "file_service")
	ctx = errctx.WithOperation(ctx, "upload")
	ctx = errctx.WithCorrelation(ctx, "corr-1")
	before := time.Now()
	e := errctx.New(ctx, "validation", "bad")
	if e.Service != "file_service" || e.Operation != "upload" || e.CorrelationID != "corr-1" {
		t.Fatalf("context fields = %q %q %q", e.Service, e.Operation, e.CorrelationID)
	}
	if e.Timestamp.Before(before.Add(-time.Second)) || e.Timestamp.After(time.Now().Add(time.Second)) {
		t.Fatalf("Timestamp %v is not now", e.Timestamp)
	}
}

func TestOptionsOverrideContext(t *testing.T) {
	ctx := errctx.WithService(context.Background(), "from_ctx")
	ctx = errctx.WithOperation(ctx, "from_ctx")
	ctx = errctx.WithCorrelation(ctx, "from_ctx")
	at := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	e := errctx.New(ctx, "t", "m",
		errctx.ForService("svc"), errctx.ForOperation("op"), errctx.WithCorrelationID("cid"),
		errctx.WithTime(at), errctx.WithExtra("topic", "essays"), errctx.WithExtra("attempt", 3))
	if e.Service != "svc" || e.Operation != "op" || e.CorrelationID != "cid" || !e.Timestamp.Equal(at) {
		t.Fatalf("options not applied: %+v", e)
	}
	if e.Extra["topic"] != "essays" || e.Extra["attempt"] != 3 {
		t.Fatalf("Extra = %v", e.Extra)
	}
}

func TestWithExtraLaterValueForSameKeyWins(t *testing.T) {
	e := errctx.New(context.Background(), "t", "m",
		errctx.WithExtra("attempt", 1), errctx.WithExtra("topic", "essays"), errctx.WithExtra("attempt", 2))
	if len(e.Extra) != 2 || e.Extra["attempt"] != 2 || e.Extra["topic"] != "essays" {
		t.Fatalf("Extra = %v, want attempt=2 (the later value) and topic", e.Extra)
	}
}

func TestWrapInheritsCorrelationFromInnerError(t *testing.T) {
	inner := errctx.New(errctx.WithCorrelation(context.Background(), "corr-inner"), "kafka", "produce")
	outer := errctx.Wrap(context.Background(), fmt.Errorf("bus: %w", inner), "publish", "failed")
	if outer.CorrelationID != "corr-inner" {
		t.Fatalf("CorrelationID = %q, want inherited corr-inner", outer.CorrelationID)
	}
	own := errctx.Wrap(errctx.WithCorrelation(context.Background(), "corr-outer"), inner, "publish", "failed")
	if own.CorrelationID != "corr-outer" {
		t.Fatalf("CorrelationID = %q, want the context's corr-outer", own.CorrelationID)
	}
}

func TestContextHelpersIgnoreEmptyValuesAndNilContext(t *testing.T) {
	ctx := errctx.WithCorrelation(context.Background(), "a")
	ctx = errctx.WithService(ctx, "b")
	ctx = errctx.WithOperation(ctx, "c")
	ctx = errctx.WithOperation(errctx.WithService(errctx.WithCorrelation(ctx, ""), ""), "")
	if got := [3]string{errctx.CorrelationID(ctx), errctx.Service(ctx), errctx.Operation(ctx)}; got != [3]string{"a", "b", "c"} {
		t.Fatalf("empty values replaced the stored ones: %q", got)
	}
	var nilCtx context.Context
	if errctx.CorrelationID(nilCtx) != "" || errctx.Service(nilCtx) != "" || errctx.Operation(nilCtx) != "" {
		t.Fatal("nil context returned values")
	}
	if e := errctx.New(nilCtx, "t", "m"); e.Type != "t" {
		t.Fatalf("New(nil ctx) = %v", e)
	}
}

func TestStackStartsAtCaller(t *testing.T) {
	_, file, line, _ := runtime.Caller(0)
	e := errctx.New(context.Background(), "t", "m") // must be the line after runtime.Caller
	if len(e.Stack) == 0 {
		t.Fatal("no stack captured")
	}
	top := e.Stack[0]
	if !strings.HasSuffix(top.Function, ".TestStackStartsAtCaller") || top.File != file || top.Line != line+1 {
		t.Fatalf("top frame = %s, want TestStackStartsAtCaller at %s:%d", top, file, line+1)
	}
	for _, fr := range e.Stack {
		if fr.Function == "runtime.goexit" {
			t.Fatal("stack contains runtime.goexit")
		}
	}
}

// newValidationError is a helper that creates errors on behalf of its caller.
func newValidationError(ctx context.Context, msg string) *errctx.Error {
	return errctx.New(ctx, "validation", msg, errctx.WithStackSkip(1))
}

func TestWithStackSkipStartsAtHelpersCaller(t *testing.T) {
	_, _, line, _ := runtime.Caller(0)
	e := newValidationError(context.Background(), "empty topic")
	if top := e.Stack[0]; !strings.HasSuffix(top.Function, ".TestWithStackSkipStartsAtHelpersCaller") || top.Line != line+1 {
		t.Fatalf("top frame = %s, want the helper's caller at line %d", top, line+1)
	}
}

func TestNegativeStackSkipCountsAsZero(t *testing.T) {
	e := errctx.New(context.Background(), "t", "m", errctx.WithStackSkip(-3))
	if top := e.Stack[0]; !strings.HasSuffix(top.Function, ".TestNegativeStackSkipCountsAsZero") {
		t.Fatalf("top frame = %s, want the caller of New", top)
	}
}

func TestWrapStackStartsAtCaller(t *testing.T) {
	e := errctx.Wrap(context.Background(), errCircuitOpen, "t", "m")
	if top := e.Stack[0]; !strings.HasSuffix(top.Function, ".TestWrapStackStartsAtCaller") {
		t.Fatalf("top frame = %s", top)
	}
}

func TestWithStackDepthLimitsFrames(t *testing.T) {
	tests := []struct {
		depth, want int
	}{{0, 0}, {-3, 0}, {1, 1}, {2, 2}}
	for _, tt := range tests {
		e := errctx.New(context.Background(), "t", "m", errctx.WithStackDepth(tt.depth))
		if len(e.Stack) != tt.want {
			t.Errorf("WithStackDepth(%d): %d frames, want %d", tt.depth, len(e.Stack), tt.want)
		}
	}
}

// newAtDepth calls New from n nested calls down, with WithStackDepth(depth).
func newAtDepth(n, depth int) *errctx.Error {
	if n == 0 {
		return errctx.New(context.Background(), "t", "m", errctx.WithStackDepth(depth))
	}
	return newAtDepth(n-1, depth)
}

func TestWithStackDepthIsCappedAt512Frames(t *testing.T) {
	if got := len(newAtDepth(600, 10_000).Stack); got != 512 {
		t.Fatalf("WithStackDepth(10000) 600 calls deep kept %d frames, want the cap of 512", got)
	}
}

func TestFormatPlusVPrintsFieldsAndStack(t *testing.T) {
	ctx := errctx.WithCorrelation(context.Background(), "corr-9")
	e := errctx.New(ctx, "t", "m")
	got := fmt.Sprintf("%+v", e)
	for _, want := range []string{"t: m", "\ncorrelation_id=corr-9", "TestFormatPlusVPrintsFieldsAndStack", "error_test.go:"} {
		if !strings.Contains(got, want) {
			t.Errorf("%%+v output lacks %q:\n%s", want, got)
		}
	}
	if short := fmt.Sprintf("%v|%s|%q", e, e, e); short != `t: m|t: m|"t: m"` {
		t.Errorf("short forms = %s", short)
	}
}

func BenchmarkNew(b *testing.B) {
	ctx := errctx.WithCorrelation(context.Background(), "corr")
	b.ReportAllocs()
	for b.Loop() {
		_ = errctx.New(ctx, "kafka", "publish failed")
	}
}

func BenchmarkNewWithoutStack(b *testing.B) {
	ctx := errctx.WithCorrelation(context.Background(), "corr")
	b.ReportAllocs()
	for b.Loop() {
		_ = errctx.New(ctx, "kafka", "publish failed", errctx.WithStackDepth(0))
	}
}
