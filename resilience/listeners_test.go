package resilience

import (
	"slices"
	"sync"
	"testing"
	"time"
)

func TestListenersSeeTransitionsInOrder(t *testing.T) {
	onChange, sub := newRecorder(), newRecorder()
	cb, clock := newBreaker(t, Settings{Name: "kafka", FailureThreshold: 1, SuccessThreshold: 1, OnStateChange: onChange.listen})
	cb.Subscribe(sub.listen)
	fail(t, cb, 1)
	clock.Advance(time.Minute)
	succeedN(t, cb, 1)
	want := [][2]State{{StateClosed, StateOpen}, {StateOpen, StateHalfOpen}, {StateHalfOpen, StateClosed}}
	for name, r := range map[string]*recorder{"OnStateChange": onChange, "Subscribe": sub} {
		if got := r.drain(); !slices.Equal(got, want) {
			t.Errorf("%s saw %v, want %v", name, got, want)
		}
	}
}

func TestListenerReceivesBreakerName(t *testing.T) {
	got := make(chan string, 1)
	cb, _ := newBreaker(t, Settings{Name: "essay-service", OnStateChange: func(name string, _, _ State) { got <- name }})
	cb.ForceOpen()
	if name := <-got; name != "essay-service" {
		t.Fatalf("listener got name %q", name)
	}
}

func TestListenerCanInspectBreakerWithoutDeadlock(t *testing.T) {
	var cb *CircuitBreaker
	seen := make(chan Snapshot, 1)
	cb, _ = newBreaker(t, Settings{FailureThreshold: 1, OnStateChange: func(_ string, _, to State) {
		if cb.State() != to {
			t.Errorf("State() inside listener = %v, want %v", cb.State(), to)
		}
		seen <- cb.Snapshot()
	}})
	fail(t, cb, 1)
	if s := <-seen; s.State != StateOpen {
		t.Fatalf("Snapshot inside listener: %v", s.State)
	}
}

func TestListenerCanResetBreaker(t *testing.T) {
	r := newRecorder()
	var cb *CircuitBreaker
	cb, _ = newBreaker(t, Settings{FailureThreshold: 1, OnStateChange: func(name string, from, to State) {
		r.listen(name, from, to)
		if to == StateOpen {
			cb.Reset() // e.g. an auto-healing policy
		}
	}})
	fail(t, cb, 1)
	wantState(t, cb, StateClosed)
	want := [][2]State{{StateClosed, StateOpen}, {StateOpen, StateClosed}}
	if got := r.drain(); !slices.Equal(got, want) {
		t.Fatalf("saw %v, want %v", got, want)
	}
}

func TestCancelledListenerIsNotCalled(t *testing.T) {
	r := newRecorder()
	cb, _ := newBreaker(t, Settings{})
	cancel := cb.Subscribe(r.listen)
	cb.ForceOpen()
	cancel()
	cancel() // idempotent
	cb.Reset()
	if got := r.drain(); !slices.Equal(got, [][2]State{{StateClosed, StateOpen}}) {
		t.Fatalf("saw %v, want only the transition before cancel", got)
	}
}

func TestSubscribeNilIsIgnored(t *testing.T) {
	cb, _ := newBreaker(t, Settings{})
	cancel := cb.Subscribe(nil)
	cb.ForceOpen()
	cancel()
}

func TestListenerSubscribedLaterMissesEarlierTransitions(t *testing.T) {
	cb, _ := newBreaker(t, Settings{})
	cb.ForceOpen()
	r := newRecorder()
	cb.Subscribe(r.listen)
	cb.Reset()
	if got := r.drain(); !slices.Equal(got, [][2]State{{StateOpen, StateClosed}}) {
		t.Fatalf("saw %v", got)
	}
}

func TestPanickingListenerDoesNotBlockLaterDeliveries(t *testing.T) {
	r := newRecorder()
	cb, _ := newBreaker(t, Settings{OnStateChange: func(_ string, _, to State) {
		if to == StateOpen {
			panic("listener bug")
		}
	}})
	cb.Subscribe(r.listen)
	func() {
		defer func() {
			if p := recover(); p != "listener bug" {
				t.Fatalf("recovered %v", p)
			}
		}()
		cb.ForceOpen()
	}()
	cb.Reset()
	if got := r.drain(); !slices.Equal(got, [][2]State{{StateOpen, StateClosed}}) {
		t.Fatalf("later listener saw %v, want the Reset delivered", got)
	}
}

// Concurrent transitions: every listener must see a chain in which each
// transition starts where the previous one ended, and all of them.
func TestConcurrentTransitionsReachListenersInOrder(t *testing.T) {
	var mu sync.Mutex
	var seen [][2]State
	cb, _ := newBreaker(t, Settings{OnStateChange: func(_ string, from, to State) {
		mu.Lock()
		seen = append(seen, [2]State{from, to})
		mu.Unlock()
	}})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				switch (g + i) % 3 {
				case 0:
					cb.ForceOpen()
				case 1:
					cb.Reset()
				default:
					_ = cb.State()
				}
			}
		})
	}
	wg.Wait()
	// Each method call has returned, but a transition it made may still be
	// in the hands of another goroutine's delivery loop; they have all
	// finished once wg.Wait returns, because every delivering goroutine is
	// one of ours.
	var total uint64
	for _, tc := range cb.Snapshot().Transitions {
		total += tc.Count
	}
	mu.Lock()
	defer mu.Unlock()
	if uint64(len(seen)) != total {
		t.Fatalf("listener saw %d transitions, breaker made %d", len(seen), total)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i][0] != seen[i-1][1] {
			t.Fatalf("transition %d %v does not start where %v ended", i, seen[i], seen[i-1])
		}
	}
}
