package resilience

import (
	"math"
	"sync/atomic"
	"time"
)

// The sliding windows of the rate policies. Both are read and written by
// the closed path without the lock as long as calls succeed; anything that
// can change the verdict (a failure, a slow call, a success that overwrites
// a bad slot or may complete MinimumCalls) takes CircuitBreaker.mu.
//
// Accuracy: with calls that complete one after another the windows are
// exact. Under concurrency a call that races with the window wrapping all
// the way round (more than WindowSize calls completing during the
// nanoseconds between its slot claim and its bit update), or with a time
// bucket rotation, may be attributed to a neighbouring slot or bucket; the
// aggregate counts stay consistent with the slots.
//
// A window belongs to one generation: it is emptied on every transition
// (and Reset, ForceOpen, Disable), so while open or half-open it is empty.

// countWindow keeps the outcomes of the last size calls as two bitsets
// (failed, slow) indexed by a ring position.
type countWindow struct {
	// pos is gen32<<32 | full<<31 | next slot. Successes advance it with a
	// CAS that checks the generation, so a call from an earlier
	// generation can never take a slot in the current window.
	pos atomic.Uint64
	_   pad

	size uint32
	// fail and slow are bitsets of size bits; slow is nil when calls are
	// not timed. Written only under mu, read by successes without it.
	fail, slow []atomic.Uint64
	// failures and slows are the popcounts of fail and slow; written under
	// mu, read without it.
	failures, slows atomic.Uint64
}

const posFull = 1 << 31

func newCountWindow(size int, timed bool) *countWindow {
	words := (size + 63) / 64
	cw := &countWindow{size: uint32(size), fail: make([]atomic.Uint64, words)}
	if timed {
		cw.slow = make([]atomic.Uint64, words)
	}
	return cw
}

// claim takes the next slot for a call of generation g and returns it with
// the number of calls the window holds including this one. ok is false if
// the window belongs to another generation.
func (cw *countWindow) claim(g uint64) (slot uint32, calls uint64, ok bool) {
	for {
		p := cw.pos.Load()
		if p>>32 != g {
			return 0, 0, false
		}
		idx := uint32(p) &^ posFull
		next := p + 1
		if idx+1 == cw.size {
			next = g<<32 | posFull
		}
		if cw.pos.CompareAndSwap(p, next) {
			calls = uint64(idx) + 1
			if uint32(p)&posFull != 0 {
				calls = uint64(cw.size)
			}
			return idx, calls, true
		}
	}
}

// calls is the number of calls the window holds.
func (cw *countWindow) calls() uint64 {
	p := cw.pos.Load()
	if uint32(p)&posFull != 0 {
		return uint64(cw.size)
	}
	return uint64(uint32(p))
}

// occupied reports whether slot holds a failed or slow call.
func (cw *countWindow) occupied(slot uint32) bool {
	i, m := slot/64, uint64(1)<<(slot%64)
	if cw.fail[i].Load()&m != 0 {
		return true
	}
	return cw.slow != nil && cw.slow[i].Load()&m != 0
}

// setLocked stores a call's outcome in slot (mu held).
func (cw *countWindow) setLocked(slot uint32, fail, slow bool) {
	i, m := slot/64, uint64(1)<<(slot%64)
	setBit(&cw.fail[i], &cw.failures, m, fail)
	if cw.slow != nil {
		setBit(&cw.slow[i], &cw.slows, m, slow)
	}
}

func setBit(word, count *atomic.Uint64, m uint64, on bool) {
	old := word.Load()
	switch {
	case on && old&m == 0:
		word.Store(old | m)
		count.Add(1)
	case !on && old&m != 0:
		word.Store(old &^ m)
		count.Add(^uint64(0))
	}
}

// reset empties the window for generation g (mu held).
func (cw *countWindow) reset(g uint64) {
	cw.pos.Store(g << 32)
	for i := range cw.fail {
		cw.fail[i].Store(0)
	}
	for i := range cw.slow {
		cw.slow[i].Store(0)
	}
	cw.failures.Store(0)
	cw.slows.Store(0)
}

// countWindowSuccess records a success of generation w in the count
// window, taking the lock only if the verdict may change.
func (cb *CircuitBreaker) countWindowSuccess(w uint64, slow bool) {
	cw := cb.cw
	slot, calls, ok := cw.claim(gen32(w))
	if !ok {
		return
	}
	if !slow && !cw.occupied(slot) {
		f, s := cw.failures.Load(), cw.slows.Load()
		if f|s == 0 || !cb.rateTrips(calls, f, s) {
			return
		}
	}
	now := cb.now()
	cb.mu.Lock()
	if sameGen(cb.word.Load(), w) {
		cw.setLocked(slot, false, slow)
		cb.tripLocked(w, cb.rateTrips(cw.calls(), cw.failures.Load(), cw.slows.Load()), now)
	}
	cb.unlockAndDeliver()
}

// countWindowRecordLocked records a call of the current generation w and
// returns the rate verdict (mu held).
func (cb *CircuitBreaker) countWindowRecordLocked(w uint64, fail, slow bool) bool {
	cw := cb.cw
	slot, _, ok := cw.claim(gen32(w))
	if !ok {
		return false
	}
	cw.setLocked(slot, fail, slow)
	return cb.rateTrips(cw.calls(), cw.failures.Load(), cw.slows.Load())
}

// timeWindow keeps per-bucket counts for the epochs (head-n, head], where
// an epoch is a bucket-width slice of time since the breaker's base, plus
// running sums over those buckets.
type timeWindow struct {
	width   int64 // bucket width in ns
	n       int64 // number of buckets
	buckets []timeBucket
	head    int64 // newest epoch rolled in; guarded by mu

	// Sums over the live buckets. calls is added to without the lock;
	// failures and slows change only under mu.
	calls, failures, slows atomic.Uint64
}

type timeBucket struct {
	epoch                  atomic.Int64 // epoch the counts belong to; written under mu
	calls, failures, slows atomic.Uint64
}

// newTimeWindow splits d into 1s buckets when that gives 10 to 100 of
// them, else into 10 (short windows) or 100 (long windows) buckets.
func newTimeWindow(d time.Duration) *timeWindow {
	n := min(max(int64(d/time.Second), 10), 100)
	tw := &timeWindow{width: int64(d) / n, n: n, buckets: make([]timeBucket, n)}
	tw.reset(0)
	return tw
}

func (tw *timeWindow) epochOf(now int64) int64 {
	e := now / tw.width
	if now%tw.width < 0 {
		e--
	}
	return e
}

func (tw *timeWindow) bucket(e int64) *timeBucket {
	i := e % tw.n
	if i < 0 {
		i += tw.n
	}
	return &tw.buckets[i]
}

// reset empties the window (mu held).
func (tw *timeWindow) reset(now int64) {
	tw.head = tw.epochOf(now) - 1
	for i := range tw.buckets {
		b := &tw.buckets[i]
		b.epoch.Store(math.MinInt64)
		b.calls.Store(0)
		b.failures.Store(0)
		b.slows.Store(0)
	}
	tw.calls.Store(0)
	tw.failures.Store(0)
	tw.slows.Store(0)
}

// rollLocked advances the window to epoch e, expiring the buckets that
// fall out of it, and returns the bucket a call at e belongs to (mu held).
// A call older than the window (a clock that went back) is attributed to
// the newest bucket.
func (tw *timeWindow) rollLocked(e int64) *timeBucket {
	if e > tw.head {
		from := tw.head + 1
		if e-from >= tw.n {
			from = e - tw.n + 1
		}
		for ep := from; ep <= e; ep++ {
			b := tw.bucket(ep)
			// Swap, so that an add racing with the expiry lands in either
			// the bucket or the sum, never in one without the other.
			tw.calls.Add(-b.calls.Swap(0))
			tw.failures.Add(-b.failures.Swap(0))
			tw.slows.Add(-b.slows.Swap(0))
			b.epoch.Store(ep)
		}
		tw.head = e
	}
	if e <= tw.head-tw.n {
		return tw.bucket(tw.head)
	}
	return tw.bucket(e)
}

// timeWindowSuccess records a success of generation w in the time window,
// taking the lock only for a bucket rotation, a slow call, or when the
// sums say the verdict may change.
func (cb *CircuitBreaker) timeWindowSuccess(w uint64, slow bool, now int64) {
	tw := cb.tw
	e := tw.epochOf(now)
	if b := tw.bucket(e); !slow && b.epoch.Load() == e {
		if !sameGen(cb.word.Load(), w) {
			return
		}
		b.calls.Add(1)
		calls := tw.calls.Add(1)
		f, s := tw.failures.Load(), tw.slows.Load()
		if f|s == 0 || !cb.rateTrips(calls, f, s) {
			return
		}
		cb.mu.Lock()
		if sameGen(cb.word.Load(), w) {
			tw.rollLocked(e)
			cb.tripLocked(w, cb.rateTrips(tw.calls.Load(), tw.failures.Load(), tw.slows.Load()), now)
		}
		cb.unlockAndDeliver()
		return
	}
	cb.mu.Lock()
	if sameGen(cb.word.Load(), w) {
		cb.tripLocked(w, cb.timeWindowRecordLocked(now, false, slow), now)
	}
	cb.unlockAndDeliver()
}

// timeWindowRecordLocked records a call at now and returns the rate
// verdict (mu held, generation checked by the caller).
func (cb *CircuitBreaker) timeWindowRecordLocked(now int64, fail, slow bool) bool {
	tw := cb.tw
	b := tw.rollLocked(tw.epochOf(now))
	b.calls.Add(1)
	tw.calls.Add(1)
	if fail {
		b.failures.Add(1)
		tw.failures.Add(1)
	}
	if slow {
		b.slows.Add(1)
		tw.slows.Add(1)
	}
	return cb.rateTrips(tw.calls.Load(), tw.failures.Load(), tw.slows.Load())
}

// windowCountsLocked returns the window's contents at now (mu held).
func (cb *CircuitBreaker) windowCountsLocked(now int64) (calls, failures, slows uint64) {
	switch {
	case cb.cw != nil:
		return cb.cw.calls(), cb.cw.failures.Load(), cb.cw.slows.Load()
	case cb.tw != nil:
		cb.tw.rollLocked(cb.tw.epochOf(now))
		return cb.tw.calls.Load(), cb.tw.failures.Load(), cb.tw.slows.Load()
	}
	return 0, 0, 0
}
