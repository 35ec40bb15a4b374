package resilience

import (
	"sync/atomic"
	"unsafe"
)

// numShards is the number of Totals shards. 16 keeps two to eight busy
// cores on distinct shards most of the time at 2 KiB per breaker.
const numShards = 16

// shard holds one slice of the cumulative Totals. Each shard fills two
// cache lines of its own, so cores adding to different shards never touch
// the same line.
type shard struct {
	successes atomic.Uint64
	failures  atomic.Uint64
	ignored   atomic.Uint64
	rejected  atomic.Uint64
	slow      atomic.Uint64
	_         [128 - 5*8]byte
}

// shardIndex picks a shard from the address of a stack variable.
//
// Every goroutine has its own stack, so concurrent callers on different
// cores get different addresses. Goroutine stacks start at 2 KiB and are
// carved from the same spans, so two goroutines' stacks are often only
// 2 KiB apart: the low 11 bits are dropped (keeping the choice stable
// across nearby call depths within a goroutine) and a Fibonacci multiply
// spreads neighbouring stacks over all shards. It costs a few cycles,
// needs no runtime internals (no linkname, no per-P lookup) and is only a
// contention heuristic: two goroutines may share a shard, which is still
// correct because the counters are atomic. A goroutine whose stack moves
// (growth) may change shards; that is harmless for the same reason.
func shardIndex() uint64 {
	var marker byte
	return shardIndexOf(uintptr(unsafe.Pointer(&marker)))
}

// shardIndexOf is the shard for the stack address p.
func shardIndexOf(p uintptr) uint64 {
	return uint64(p>>11) * 0x9E3779B97F4A7C15 >> (64 - 4)
}

// shard returns the caller's shard.
func (cb *CircuitBreaker) shard() *shard { return &cb.shards[shardIndex()] }

// shardAt is shard for the fast closed route. It takes the address of a
// variable the caller keeps on its stack anyway (saving the marker's
// store) and computes the shard's byte offset directly, so that the atomic
// add addresses the counter with no further arithmetic. It picks
// &cb.shards[shardIndexOf(stackAddr)].
func (cb *CircuitBreaker) shardAt(stackAddr uintptr) *shard {
	const shardShift = 7 // log2(unsafe.Sizeof(shard{}))
	h := uint64(stackAddr>>11) * 0x9E3779B97F4A7C15
	off := uintptr(h>>(64-4-shardShift)&^(1<<shardShift-1)) + unsafe.Offsetof(cb.shards)
	return (*shard)(unsafe.Add(unsafe.Pointer(cb), off))
}

// totals sums the shards. The sum is not an atomic cut across shards, but
// every counter only grows, so successive snapshots never go backwards.
func (cb *CircuitBreaker) totals() Counts {
	var c Counts
	for i := range cb.shards {
		s := &cb.shards[i]
		c.Successes += s.successes.Load()
		c.Failures += s.failures.Load()
		c.Ignored += s.ignored.Load()
		c.Rejected += s.rejected.Load()
		c.Slow += s.slow.Load()
	}
	return c
}
