package resilience

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// The packed state word. Every call starts with one atomic load of it; it
// changes only on a transition, under CircuitBreaker.mu.
//
//	bits 0-1  State
//	bit  2    disabled (always closed, still counting)
//	bit  3    forced open (rejects everything until Reset)
//	bit  4    general: the closed path needs more than the consecutive
//	          policy with DefaultClassify (a window, slow-call timing or a
//	          custom Classify), so it cannot take the fast route
//	bits 8-63 generation: incremented by every transition and by Reset,
//	          ForceOpen and Disable. A call remembers the word it was
//	          admitted with; if the generation has moved on when its result
//	          arrives, the result counts in Totals only.
const (
	stateMask   uint64 = 0b11
	disabledBit uint64 = 1 << 2
	forcedBit   uint64 = 1 << 3
	generalBit  uint64 = 1 << 4
	// fastMask is zero exactly when the state is closed and the fast route
	// applies (StateClosed is 0).
	fastMask = stateMask | generalBit
	// returnedMark replaces the fast route's local copy of the word once
	// fn has returned; it is never stored in CircuitBreaker.word. Any
	// value with a bit of fastMask set would do.
	returnedMark        = generalBit
	genShift            = 8
	genOne       uint64 = 1 << genShift
)

func wordState(w uint64) State { return State(w & stateMask) }

// sameGen reports whether two words belong to the same generation.
func sameGen(a, b uint64) bool { return a>>genShift == b>>genShift }

// gen32 is the low 32 bits of the generation, as stored next to counters
// (consec, the count window's position) that are updated without the lock.
func gen32(w uint64) uint64 { return uint64(uint32(w >> genShift)) }

// pad keeps groups of fields that are written at different rates on
// different cache lines (two lines, because adjacent-line prefetching makes
// neighbours share in practice).
type pad [128]byte

// CircuitBreaker guards calls to one dependency. Create it with
// NewCircuitBreaker; it is safe for concurrent use. See the package
// documentation for the state machine.
type CircuitBreaker struct {
	// Totals, sharded per core-ish (see shardIndex). First, so that the
	// fast route addresses a shard with one offset from cb.
	shards [numShards]shard

	// Read by every call: word (changes only on transitions) and fields
	// that are immutable after NewCircuitBreaker.
	word     atomic.Uint64
	settings Settings            // effective settings
	classify func(error) Outcome // Settings.Classify; nil = DefaultClassify
	clock    Clock               // nil = the real clock
	base     time.Time           // zero point of the int64 nanosecond timestamps
	slowNs   int64               // SlowCallDuration in ns, 0 = no timing
	cw       *countWindow        // non-nil for a count-based rate policy
	tw       *timeWindow         // non-nil for a time-based rate policy
	_        pad

	// consec is gen32<<32 | consecutive failures in the closed state. It
	// is set under mu (failures, transitions); a success clears it with a
	// CAS, and only after loading a non-zero count, so while calls succeed
	// the line stays shared between cores.
	consec atomic.Uint64
	// openUntil is the end of the open period in ns since base (MaxInt64
	// while forced open); openErr is the rejection for that period. Both
	// are set under mu before the word that makes them relevant.
	openUntil atomic.Int64
	openErr   atomic.Pointer[OpenError]
	_         pad

	// mu guards everything below and every write of word. It is never held
	// while user code (fn, Classify, ReadyToTrip, listeners, error
	// formatting) runs.
	mu          sync.Mutex
	since       int64 // when the current state was entered, ns since base
	openPeriod  time.Duration
	hoInFlight  int // half-open probes admitted and not yet resolved
	hoSuccesses int // successful probes in this half-open period
	transitions [3][3]uint64
	lastErr     error // most recent failure (formatted only by Snapshot)
	lastErrAt   int64
	listeners   []*listener // copy-on-write
	pending     []stateEvent
	delivering  bool
	closedBase  Counts // Totals when the circuit last closed, kept for ReadyToTrip
}

// NewCircuitBreaker returns a closed breaker. Invalid settings, including
// an empty Name, return a *SettingsError (errors.Is(err,
// ErrInvalidSettings)) naming the field and the accepted range.
func NewCircuitBreaker(s Settings) (*CircuitBreaker, error) {
	eff, err := s.withDefaults()
	if err != nil {
		return nil, err
	}
	cb := &CircuitBreaker{
		settings:   eff,
		classify:   eff.Classify,
		clock:      eff.Clock,
		slowNs:     int64(eff.SlowCallDuration),
		openPeriod: eff.RecoveryTimeout,
	}
	if cb.clock == nil {
		cb.base = time.Now()
	} else {
		cb.base = cb.clock.Now()
	}
	if eff.windowed() {
		if eff.WindowType == WindowTimeBased {
			cb.tw = newTimeWindow(eff.WindowDuration)
		} else {
			cb.cw = newCountWindow(eff.WindowSize, eff.SlowCallDuration > 0)
		}
	}
	var w uint64
	if cb.classify != nil || cb.slowNs > 0 || cb.cw != nil || cb.tw != nil {
		w |= generalBit
	}
	cb.word.Store(w)
	if eff.OnStateChange != nil {
		cb.listeners = []*listener{newListener(eff.OnStateChange)}
	}
	return cb, nil
}

// Name returns Settings.Name.
func (cb *CircuitBreaker) Name() string { return cb.settings.Name }

// Settings returns the effective settings: zero values replaced by their
// defaults (Clock and Classify stay nil when they were nil).
func (cb *CircuitBreaker) Settings() Settings { return cb.settings }

// Call runs fn if the breaker admits it and records the outcome.
//
// A rejected call returns an *OpenError (wrapping ErrCircuitOpen) without
// running fn. Otherwise Call returns fn's error unchanged. If fn panics the
// call counts as a failure and the panic continues unchanged (the breaker
// does not recover it).
//
// With default settings the closed path takes no lock, reads no clock and
// does not allocate.
func (cb *CircuitBreaker) Call(ctx context.Context, fn func(context.Context) error) error {
	w := cb.word.Load()
	if w&fastMask != 0 {
		return cb.callGeneral(ctx, fn, w)
	}
	f := fastCall{cb: cb, w: w}
	defer f.exit()
	err := fn(ctx)
	cb, w = f.cb, f.w
	f.w = returnedMark
	if err == nil {
		// The success, written out here rather than in a helper (the
		// call would cost a nanosecond): one add to this goroutine's
		// counter shard, and a load of the consecutive-failure count,
		// which is written only if it is non-zero.
		cb.shardAt(uintptr(unsafe.Pointer(&f))).successes.Add(1)
		if c := cb.consec.Load(); uint32(c) != 0 {
			cb.clearConsec(c, w)
		}
		// err, not the literal nil: see fastCall.
		return err
	}
	cb.fastError(w, err)
	return err
}

// Execute is Call for functions that return a value. A rejected call
// returns T's zero value and an *OpenError.
func Execute[T any](ctx context.Context, cb *CircuitBreaker, fn func(context.Context) (T, error)) (T, error) {
	w := cb.word.Load()
	if w&fastMask != 0 {
		return executeGeneral(ctx, cb, fn, w)
	}
	f := fastCall{cb: cb, w: w}
	defer f.exit()
	v, err := fn(ctx)
	cb, w = f.cb, f.w
	f.w = returnedMark
	if err == nil {
		cb.shardAt(uintptr(unsafe.Pointer(&f))).successes.Add(1)
		if c := cb.consec.Load(); uint32(c) != 0 {
			cb.clearConsec(c, w)
		}
	} else {
		cb.fastError(w, err)
	}
	return v, err
}

// fastCall is the state of a call on the fast closed route (Call and
// Execute with default settings), kept in one variable that the deferred
// exit captures by reference; Call reads cb and w back from it after fn
// rather than keeping copies of its own across the call. The shape was
// chosen by measurement (instructions under callgrind, and benchmark
// minima; see breaker_bench_test.go), where the breaker's own cost is a
// few nanoseconds:
//
//   - The admission word doubles as the "fn returned" flag (returnedMark),
//     so that nothing else is stored for it and the deferred closure
//     captures one pointer. A bool flag cost 1-3 ns more: the compiler put
//     it in the 8 bytes that also hold the function's defer bits, and
//     reading it back right after both were written stalled.
//   - The success path returns err, not the literal nil, which also cost
//     1-3 ns: a function with a defer keeps its results in memory, and the
//     literal is written there as one 16-byte store that the return, right
//     after the deferred call and the locked add, reads back as two 8-byte
//     halves.
//   - The variable's stack address picks the counter shard (shardAt), so
//     no marker variable is stored for that; a small gain.
type fastCall struct {
	cb *CircuitBreaker
	w  uint64 // the admission word; returnedMark once fn has returned
}

// exit counts the call as a failure if fn did not return: it panicked, or
// called runtime.Goexit. The breaker does not recover the panic.
func (f *fastCall) exit() {
	if f.w&fastMask == 0 {
		f.cb.closedFailure(f.w, errNoReturn, false)
	}
}

// callGeneral is Call for every case but the fast closed route.
func (cb *CircuitBreaker) callGeneral(ctx context.Context, fn func(context.Context) error, w uint64) error {
	t, err := cb.begin(ctx, w)
	if err != nil {
		return err
	}
	var returned uintptr
	defer func() {
		if returned == 0 {
			cb.end(t, OutcomeFailure, errNoReturn)
		}
	}()
	err = fn(ctx)
	returned = 1
	cb.end(t, cb.outcome(err), err)
	return err
}

func executeGeneral[T any](ctx context.Context, cb *CircuitBreaker, fn func(context.Context) (T, error), w uint64) (T, error) {
	t, err := cb.begin(ctx, w)
	if err != nil {
		var zero T
		return zero, err
	}
	var returned uintptr
	defer func() {
		if returned == 0 {
			cb.end(t, OutcomeFailure, errNoReturn)
		}
	}()
	v, err := fn(ctx)
	returned = 1
	cb.end(t, cb.outcome(err), err)
	return v, err
}

// fastError records an error on the fast closed route (DefaultClassify).
func (cb *CircuitBreaker) fastError(w uint64, err error) {
	if DefaultClassify(err) == OutcomeIgnore {
		cb.shards[shardIndex()].ignored.Add(1)
		return
	}
	cb.closedFailure(w, err, false)
}

// clearConsec resets the consecutive-failure count (loaded as c) after a
// success of generation w. A failure that adds to the count meanwhile
// makes the CAS fail and the success retry, so the success is ordered
// after it; a transition (new generation) makes the success stale.
func (cb *CircuitBreaker) clearConsec(c, w uint64) {
	g := gen32(w)
	for c>>32 == g && uint32(c) != 0 {
		if cb.consec.CompareAndSwap(c, g<<32) {
			return
		}
		c = cb.consec.Load()
	}
}

// outcome classifies a completed call.
func (cb *CircuitBreaker) outcome(err error) Outcome {
	if cb.classify == nil {
		return DefaultClassify(err)
	}
	switch o := cb.classify(err); o {
	case OutcomeSuccess, OutcomeFailure, OutcomeIgnore:
		return o
	default:
		// An out-of-range outcome from a custom classifier is treated as a
		// failure rather than silently dropped.
		return OutcomeFailure
	}
}

// now returns the clock in ns since cb.base.
func (cb *CircuitBreaker) now() int64 {
	if cb.clock == nil {
		return int64(time.Since(cb.base))
	}
	return int64(cb.clock.Now().Sub(cb.base))
}

// sinceBase converts t to ns since cb.base, saturating (the inverse of
// timeAt).
func (cb *CircuitBreaker) sinceBase(t time.Time) int64 {
	return int64(t.Sub(cb.base))
}

// timeAt converts a timestamp from now back to a time.Time.
func (cb *CircuitBreaker) timeAt(ns int64) time.Time {
	return cb.base.Add(time.Duration(ns))
}
