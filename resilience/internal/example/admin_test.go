package example

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/huleedu/huleedu/resilience"
)

// downAdmin fails every guarded call.
type downAdmin struct{ calls int }

func (a *downAdmin) Ping(context.Context) error { a.calls++; return errDown }
func (a *downAdmin) Compact(context.Context, int, string, string) (int, time.Duration, error) {
	a.calls++
	return 0, 0, errDown
}
func (a *downAdmin) Export(context.Context, time.Time, io.Writer) (int64, error) {
	a.calls++
	return 0, errDown
}
func (a *downAdmin) Hook(context.Context, func(io.Writer) error) (func() error, error) {
	a.calls++
	return nil, errDown
}
func (a *downAdmin) Changes(context.Context) <-chan string { return nil }
func (a *downAdmin) Error() string                         { return "admin" }

func TestResilientAdminGuardsAliasedContextMethods(t *testing.T) {
	cb, err := resilience.NewCircuitBreaker(resilience.Settings{Name: "admin", FailureThreshold: 4})
	if err != nil {
		t.Fatal(err)
	}
	inner := &downAdmin{}
	a := NewResilientAdmin(inner, cb)
	ctx := context.Background()
	_ = a.Ping(ctx)
	_, _, _ = a.Compact(ctx, 1, "a", "b")
	_, _ = a.Export(ctx, time.Now(), io.Discard)
	_, _ = a.Hook(ctx, func(io.Writer) error { return nil })
	if cb.State() != resilience.StateOpen {
		t.Fatalf("breaker %v after 4 failures through the wrapper, want open", cb.State())
	}
	if err := a.Ping(ctx); !errors.Is(err, resilience.ErrCircuitOpen) || inner.calls != 4 {
		t.Fatalf("Ping on open breaker = %v, inner calls %d", err, inner.calls)
	}
	if a.Error() != "admin" {
		t.Fatal("embedded error not passed through")
	}
}
