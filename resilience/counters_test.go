package resilience

import (
	"testing"
	"unsafe"
)

func TestShardAtPicksShardIndexOfTheAddress(t *testing.T) {
	cb, _ := newBreaker(t, Settings{})
	seen := map[uint64]bool{}
	for p := uintptr(0xc000000000); p < 0xc000000000+64<<11; p += 1 << 10 {
		i := shardIndexOf(p)
		seen[i] = true
		if got, want := cb.shardAt(p), &cb.shards[i]; got != want {
			t.Fatalf("shardAt(%#x) = shard %d, want %d", p, (uintptr(unsafe.Pointer(got))-uintptr(unsafe.Pointer(&cb.shards)))/unsafe.Sizeof(shard{}), i)
		}
	}
	// Neighbouring 2 KiB goroutine stacks spread over the shards.
	if len(seen) != numShards {
		t.Fatalf("64 neighbouring stacks used %d of %d shards", len(seen), numShards)
	}
}
