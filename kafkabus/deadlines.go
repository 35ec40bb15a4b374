package kafkabus

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// deadlines hands out the record contexts of calls whose own context can
// never end (context.Background and the like): contexts that end a
// publish timeout after the call, shared by every call that starts within
// the same short window. A context per call would cost a runtime timer per
// record, and a context franz-go must watch on every produce request.
//
// A shared context ends up to one window later than a context of the call's
// own would, never earlier.
type deadlines struct {
	timeout time.Duration
	window  time.Duration
	now     func() time.Time

	cur atomic.Pointer[sharedDeadline]
	mu  sync.Mutex // serialises replacing cur
}

// sharedDeadline is one window's context: calls starting before issueUntil
// get ctx, whose deadline is issueUntil plus the timeout.
type sharedDeadline struct {
	ctx        context.Context
	cancel     context.CancelFunc
	issueUntil time.Time
}

// deadlineWindow is the width of a window: a hundredth of the publish
// timeout, between 1ms and 10ms. At most timeout/window contexts (and
// their timers) are alive at once: 1,000 with the default 10s.
func deadlineWindow(timeout time.Duration) time.Duration {
	return min(max(timeout/100, time.Millisecond), 10*time.Millisecond)
}

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, window: deadlineWindow(timeout), now: time.Now}
}

// get returns a context that ends between timeout and timeout+window from
// now.
func (d *deadlines) get() context.Context {
	now := d.now()
	if s := d.cur.Load(); s != nil && now.Before(s.issueUntil) {
		return s.ctx
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.cur.Load(); s != nil && now.Before(s.issueUntil) {
		return s.ctx // another call replaced it meanwhile
	}
	s := &sharedDeadline{issueUntil: now.Add(d.window)}
	s.ctx, s.cancel = context.WithDeadline(context.Background(), s.issueUntil.Add(d.timeout))
	d.cur.Store(s)
	return s.ctx
}

// stop releases the current window's timer; earlier windows' end by
// themselves within a timeout. Calls must no longer be using them, nor
// call get afterwards.
func (d *deadlines) stop() {
	if s := d.cur.Swap(nil); s != nil {
		s.cancel()
	}
}
