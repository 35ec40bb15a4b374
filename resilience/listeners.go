package resilience

import (
	"slices"
	"sync"
	"sync/atomic"
)

// How listeners are called
//
// A transition happens under cb.mu and appends a stateEvent to cb.pending,
// together with the listener list of that moment (copy-on-write, so the
// slice is never modified afterwards). After releasing the lock, the
// goroutine that made the transition calls deliver. deliver lets only one
// goroutine at a time be the deliverer (the delivering flag, guarded by
// cb.mu): it takes the pending events in FIFO order and calls the
// listeners with no lock held, then looks again, until nothing is pending.
// A goroutine that finds a delivery in progress leaves its events to that
// deliverer. Hence:
//   - every listener sees the transitions in the order they happened;
//   - listeners never run under a lock and may call into the breaker: a
//     Reset from inside a listener queues its event, and the running
//     deliverer delivers it after the listener returns;
//   - a listener may run on another goroutine than the one that caused
//     the transition, and a method that caused a transition may return
//     before its listeners ran if another goroutine is delivering.
// A slow listener delays the delivery of later transitions to every
// listener of the breaker (never the calls themselves).

// listener is one subscribed callback.
type listener struct {
	fn     func(name string, from, to State)
	active atomic.Bool // false once cancelled
}

func newListener(fn func(name string, from, to State)) *listener {
	l := &listener{fn: fn}
	l.active.Store(true)
	return l
}

// subscribe appends fn to the copy-on-write list *ls (guarded by mu) and
// returns its cancel: after cancel returns, fn is skipped by deliveries
// that have not reached it yet and dropped from the list. A nil fn is
// ignored. CircuitBreaker.Subscribe and Registry.Subscribe share it.
func subscribe(mu sync.Locker, ls *[]*listener, fn func(name string, from, to State)) (cancel func()) {
	if fn == nil {
		return func() {}
	}
	l := newListener(fn)
	mu.Lock()
	*ls = append(slices.Clip(*ls), l)
	mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.active.Store(false)
			mu.Lock()
			*ls = slices.DeleteFunc(slices.Clone(*ls), func(x *listener) bool { return x == l })
			mu.Unlock()
		})
	}
}

// stateEvent is a transition waiting to be delivered.
type stateEvent struct {
	from, to  State
	listeners []*listener
}

// Subscribe registers fn to be called after every state transition from
// now on, with the same guarantees as Settings.OnStateChange. The returned
// cancel removes it; after cancel returns fn is not called again, except
// for a call that had already started on a delivering goroutine. A nil fn
// is ignored.
func (cb *CircuitBreaker) Subscribe(fn func(name string, from, to State)) (cancel func()) {
	return subscribe(&cb.mu, &cb.listeners, fn)
}

// needsDelivery reports whether the caller, about to release mu, must call
// deliver (mu held).
func (cb *CircuitBreaker) needsDelivery() bool {
	return len(cb.pending) > 0 && !cb.delivering
}

// unlockAndDeliver releases mu and delivers pending transitions.
func (cb *CircuitBreaker) unlockAndDeliver() {
	notify := cb.needsDelivery()
	cb.mu.Unlock()
	if notify {
		cb.deliver()
	}
}

// deliver calls the listeners of pending transitions, in order, unless
// another goroutine is already doing so.
func (cb *CircuitBreaker) deliver() {
	cb.mu.Lock()
	if cb.delivering || len(cb.pending) == 0 {
		cb.mu.Unlock()
		return
	}
	cb.delivering = true
	var batch []stateEvent
	next := 0
	finished := false
	defer func() {
		if finished {
			return
		}
		// A listener panicked: the panic goes on to our caller, and the
		// events not yet delivered go back to the front of the queue for
		// the next deliverer.
		cb.mu.Lock()
		cb.pending = append(slices.Clone(batch[next:]), cb.pending...)
		cb.delivering = false
		cb.mu.Unlock()
	}()
	for len(cb.pending) > 0 {
		batch, cb.pending, next = cb.pending, nil, 0
		cb.mu.Unlock()
		for next < len(batch) {
			ev := batch[next]
			next++
			for _, l := range ev.listeners {
				if l.active.Load() {
					l.fn(cb.settings.Name, ev.from, ev.to)
				}
			}
		}
		cb.mu.Lock()
	}
	cb.delivering = false
	finished = true
	cb.mu.Unlock()
}
