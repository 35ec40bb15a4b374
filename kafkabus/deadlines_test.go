package kafkabus

import (
	"context"
	"testing"
	"time"
)

func TestDeadlineWindowIsAHundredthOfTheTimeoutWithinBounds(t *testing.T) {
	for _, tc := range []struct{ timeout, want time.Duration }{
		{10 * time.Second, 10 * time.Millisecond},
		{time.Minute, 10 * time.Millisecond},
		{500 * time.Millisecond, 5 * time.Millisecond},
		{50 * time.Millisecond, time.Millisecond},
	} {
		if got := deadlineWindow(tc.timeout); got != tc.want {
			t.Errorf("deadlineWindow(%v) = %v, want %v", tc.timeout, got, tc.want)
		}
	}
}

// Calls within one window share a context; each context ends no earlier
// than the timeout after any call it was handed to, and at most a window
// later.
func TestSharedDeadlinesBoundEveryCall(t *testing.T) {
	// The contexts' timers run on the real clock: start from real time,
	// with deadlines far off, so none ends during the test by itself.
	now := time.Now()
	d := newDeadlines(time.Hour)
	d.now = func() time.Time { return now }
	t.Cleanup(d.stop)

	check := func(ctx context.Context, at time.Time) {
		t.Helper()
		dl, ok := ctx.Deadline()
		if !ok {
			t.Fatal("shared context has no deadline")
		}
		if earliest, latest := at.Add(d.timeout), at.Add(d.timeout+d.window); dl.Before(earliest) || dl.After(latest) {
			t.Fatalf("call at %v got deadline %v, want within [%v, %v]", at, dl, earliest, latest)
		}
	}

	first := d.get()
	check(first, now)
	now = now.Add(d.window - time.Nanosecond)
	if got := d.get(); got != first {
		t.Fatal("a call within the window got a context of its own")
	}
	check(first, now)

	now = now.Add(time.Nanosecond) // the window has passed
	second := d.get()
	if second == first {
		t.Fatal("a call after the window got the previous window's context")
	}
	check(second, now)

	d.stop()
	if second.Err() == nil {
		t.Error("stop left the current window's context running")
	}
	if first.Err() != nil {
		t.Error("stop ended an earlier window's context, which calls may still be using")
	}
}

// Every call's records are handed to franz-go with a context that ends at
// the publish timeout: a shared one when the caller's context can never
// end, else the caller's, cut to the timeout.
func TestRecordContextEndsAtThePublishTimeout(t *testing.T) {
	b := newBus(t, []string{deadAddr(t)}, func(o *Options) { o.PublishTimeout = time.Hour })
	within := func(ctx context.Context, from, to time.Time) {
		t.Helper()
		if dl, ok := ctx.Deadline(); !ok || dl.Before(from) || dl.After(to) {
			t.Fatalf("record context deadline %v (set: %v), want within [%v, %v]", dl, ok, from, to)
		}
	}

	start := time.Now()
	shared, cancel := b.recordContext(context.Background())
	defer cancel()
	within(shared, start.Add(time.Hour), time.Now().Add(time.Hour+b.deadlines.window))

	parent, cancelParent := context.WithCancel(context.Background())
	start = time.Now()
	own, cancel := b.recordContext(parent)
	defer cancel()
	within(own, start.Add(time.Hour), time.Now().Add(time.Hour))
	cancelParent()
	if own.Err() == nil {
		t.Error("the record context outlived the caller's context")
	}
}

// With a real clock, a shared context really ends, at the timeout.
func TestSharedDeadlineEnds(t *testing.T) {
	d := newDeadlines(20 * time.Millisecond)
	start := time.Now()
	ctx := d.get()
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the shared context did not end")
	}
	if waited := time.Since(start); waited < d.timeout {
		t.Errorf("the shared context ended after %v, before the timeout %v", waited, d.timeout)
	}
	if ctx.Err() != context.DeadlineExceeded {
		t.Errorf("ctx.Err() = %v, want DeadlineExceeded", ctx.Err())
	}
}
