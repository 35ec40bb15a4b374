//go:build !race

// Allocation budgets. The race detector allocates on its own account, so
// these run without -race: scripts/test.sh runs them in a step of their
// own.

package resilience

import (
	"context"
	"errors"
	"testing"
)

// The closed path with default settings allocates nothing (Call's doc and
// the package doc promise it for Call and Execute): not for a success, not
// for a failure below the threshold.
func TestClosedCallDoesNotAllocate(t *testing.T) {
	cb, err := NewCircuitBreaker(Settings{Name: "allocs", FailureThreshold: 1 << 30})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok := func(context.Context) error { return nil }
	boom := errors.New("boom")
	fail := func(context.Context) error { return boom }
	for name, fn := range map[string]func(context.Context) error{"success": ok, "failure": fail} {
		if n := testing.AllocsPerRun(1000, func() { _ = cb.Call(ctx, fn) }); n != 0 {
			t.Errorf("Call (%s) allocated %v times per call, want 0", name, n)
		}
		valueFn := func(ctx context.Context) (int, error) { return 1, fn(ctx) }
		if n := testing.AllocsPerRun(1000, func() { _, _ = Execute(ctx, cb, valueFn) }); n != 0 {
			t.Errorf("Execute (%s) allocated %v times per call, want 0", name, n)
		}
	}
	if st := cb.State(); st != StateClosed {
		t.Fatalf("breaker %v after the calls, want closed", st)
	}
}
